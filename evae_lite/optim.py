"""Adam inside the backward pass: each parameter takes its step as soon as its gradient is
complete, while that gradient is still in cache.

The update is torch.optim.Adam's own fused kernel applied to the optimizer's own state, so
`opt.state_dict()` and the checkpoints are unchanged and the weights are bitwise those of
``opt.zero_grad(); loss.backward(); opt.step()`` (tests/test_optim.py checks whole training
runs). It saves a pass over every gradient in memory and the optimizer's per-step Python
work: a batch-100 MNIST epoch on one CPU thread ran 1.06x faster on a quiet machine, and
0.88x to 1.17x on a busy one, inside the noise (benchmarks/run.py; README, Performance).

It is safe because every parameter of these models is used once in the forward pass: by the
time its gradient is accumulated, no backward node that still has to run reads it (autograd's
version counter would raise if one did).
"""

from __future__ import annotations

import contextlib
from functools import partial

import torch


def supports_step_in_backward(opt: torch.optim.Optimizer) -> bool:
    """True for a fused Adam without amsgrad or decoupled weight decay: the updates
    `step_in_backward` makes exactly as `opt.step()` would."""
    return isinstance(opt, torch.optim.Adam) and all(
        g["fused"]
        and not g["amsgrad"]
        and not g["differentiable"]
        and not g.get("decoupled_weight_decay", False)
        and not isinstance(g["lr"], torch.Tensor)
        for g in opt.param_groups
    )


@contextlib.contextmanager
def step_in_backward(opt: torch.optim.Adam):
    """While inside, every backward pass also takes `opt`'s step for each parameter it
    reaches, and leaves that parameter's .grad at None (as zero_grad(set_to_none=True)).
    Hold it only around the training steps: any backward inside it steps Adam (train() enters
    it for each epoch's minibatches, not for its callbacks)."""
    if not supports_step_in_backward(opt):
        raise ValueError(
            f"step_in_backward needs torch.optim.Adam(fused=True) without amsgrad, "
            f"decoupled weight decay or a tensor lr; got {type(opt).__name__} with "
            f"{[{k: v for k, v in g.items() if k != 'params'} for g in opt.param_groups]}"
        )
    handles = [
        p.register_post_accumulate_grad_hook(partial(_adam_step, group, opt.state))
        for group in opt.param_groups
        for p in group["params"]
    ]
    try:
        yield opt
    finally:
        for h in handles:
            h.remove()


def _adam_step(group: dict, state: dict, p: torch.Tensor) -> None:
    """torch.optim.Adam(fused=True).step() restricted to parameter p."""
    s = state[p]
    if not s:  # initialised as torch.optim.Adam initialises a fused group's state
        s["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
        s["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        s["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
    s["step"] += 1
    beta1, beta2 = group["betas"]
    torch._fused_adam_(
        [p],
        [p.grad],
        [s["exp_avg"]],
        [s["exp_avg_sq"]],
        [],
        [s["step"]],
        lr=group["lr"],
        beta1=beta1,
        beta2=beta2,
        weight_decay=group["weight_decay"],
        eps=group["eps"],
        amsgrad=False,
        maximize=group["maximize"],
    )
    p.grad = None
