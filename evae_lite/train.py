"""Training (Algorithm 1): per-epoch epitome assignment, balanced minibatches, Adam.

Data stay on the device as one tensor; all randomness (minibatch order, dynamic
binarization, reparameterization noise, dropout) comes from one torch.Generator whose state
is checkpointed with the weights, so a killed run resumes to the same weights as an
uninterrupted one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from .assignment import assign_epitomes, balanced_order
from .config import ModelConfig, TrainConfig
from .memory import keep_freed_memory
from .models import build_model
from .optim import step_in_backward, supports_step_in_backward


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message names the epoch and the term."""


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or belongs to another configuration."""


def resolve_device(name: str = "auto") -> torch.device:
    """auto -> CUDA when present, else CPU. Asking for CUDA without one is an error, never a
    silent fallback to the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device={name!r} was asked for but torch sees no CUDA device")
    return torch.device(name)


def binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Stochastic binarization: each pixel is 1 with probability its grey level."""
    return (torch.rand(x.shape, generator=generator, device=x.device) < x).to(x.dtype)


def fixed_binarization(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """One fixed stochastic binarization of an evaluation set (the same every call)."""
    g = torch.Generator(device=x.device).manual_seed(seed)
    return binarize(x, g)


@dataclass
class EpochStats:
    epoch: int  # 1-based
    lr: float
    train_cost: float  # mean per-example cost (with lambda), nats
    train_rec: float
    train_kl: float
    val_bound: float | None  # mean negative ELBO (lambda = 1) on the validation set, nats
    changed: float | None  # share of examples whose y* changed at this epoch's assignment
    group_sizes: list[int] = field(default_factory=list)  # examples per epitome
    seconds: float = 0.0


@dataclass
class TrainResult:
    model: torch.nn.Module
    history: list[EpochStats]
    y: torch.Tensor | None  # the last assignment y* of the training examples (N,)


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Read a checkpoint written by `train`; an unreadable file is a CheckpointError."""
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # truncated or not a checkpoint
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({e}); delete it to retrain"
        ) from e
    if not isinstance(ckpt, dict) or "model_cfg" not in ckpt:
        raise CheckpointError(f"checkpoint {path} is not an evae_lite checkpoint")
    return ckpt


def model_from_checkpoint(path, map_location="cpu"):
    """Rebuild the trained model (eval mode) and return (model, checkpoint dict)."""
    ckpt = load_checkpoint(path, map_location)
    model = build_model(ModelConfig(**ckpt["model_cfg"]))
    model.load_state_dict(ckpt["model"])
    return model.eval(), ckpt


@torch.no_grad()
def validation_bound(model, x: torch.Tensor, *, seed: int = 0, batch_size: int = 1000) -> float:
    """Mean negative ELBO (nats) with one z sample per example; the eVAE uses y* = argmin cost
    at the posterior mean, which is a valid bound since any q(y|x) gives one."""
    was = model.training
    model.eval()
    g = torch.Generator(device=x.device).manual_seed(seed)
    y, _ = assign_epitomes(model, x, batch_size=batch_size)
    total = 0.0
    for i in range(0, x.shape[0], batch_size):
        t = model.loss_terms(x[i : i + batch_size], y[i : i + batch_size], generator=g)
        total += t.bound.sum().item()
    model.train(was)
    return total / x.shape[0]


def train(
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    x_train: torch.Tensor,
    x_val: torch.Tensor | None = None,
    *,
    binary: bool = True,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = True,
    log_every: int = 50,
    on_epoch_end: Callable[[EpochStats, torch.nn.Module], None] | None = None,
) -> TrainResult:
    """Train a model of `model_cfg` on x_train (N, P) in [0, 1] by Algorithm 1.

    checkpoint: a file written atomically after every epoch; if it exists the run resumes
    from it (it must have been made with the same configs). binary: the data are binary
    images, dynamically binarized per minibatch when train_cfg.binarize is set.
    on_epoch_end(stats, model): called after each epoch's checkpoint (live plots, early exit).
    """
    keep_freed_memory()
    device = resolve_device(train_cfg.device)
    if x_train.dim() != 2 or x_train.shape[1] != model_cfg.x_dim:
        raise ValueError(
            f"x_train has shape {tuple(x_train.shape)}: expected (N, {model_cfg.x_dim})"
        )
    x_train = x_train.to(device, torch.float32)
    dyn_binarize = binary and train_cfg.binarize
    if x_val is not None:
        x_val = x_val.to(device, torch.float32)
        x_val = fixed_binarization(x_val, train_cfg.seed) if binary else x_val

    torch.manual_seed(train_cfg.seed)  # initial weights
    model = build_model(model_cfg).to(device)
    fused = {"fused": True} if device.type in ("cuda", "cpu") else {}
    opt = torch.optim.Adam(model.parameters(), lr=train_cfg.lr_at(0), **fused)
    g = torch.Generator(device=device).manual_seed(train_cfg.seed)
    N, Y, B = x_train.shape[0], model.n_epitomes, train_cfg.batch_size
    y = torch.zeros(N, dtype=torch.long, device=device)
    history: list[EpochStats] = []
    start_epoch = 0

    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    configs = {"model_cfg": asdict(model_cfg), "train_cfg": asdict(train_cfg), "N": N}
    if ckpt_path is not None and ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path, map_location=device)
        mine = {k: ckpt.get(k) for k in configs}
        if mine != configs:
            raise CheckpointError(
                f"checkpoint {ckpt_path} was made with other settings ({mine}); "
                f"this run has {configs}. Use another checkpoint path or delete it."
            )
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optim"])
        g.set_state(ckpt["generator"].cpu())
        y = ckpt["y"].to(device)
        history = [EpochStats(**h) for h in ckpt["history"]]
        start_epoch = ckpt["epoch"]

    # On the CPU each parameter takes Adam's step inside backward (optim.py): bitwise the
    # same weights as opt.step() after it, without re-reading every gradient from memory.
    # On a GPU one fused step over all parameters costs fewer kernel launches.
    in_backward = device.type == "cpu" and supports_step_in_backward(opt)
    epochs = train_cfg.total_epochs
    n_batches = math.ceil(N / B)
    bar = tqdm(
        total=(epochs - start_epoch) * n_batches,
        desc=f"{model_cfg.model} D={model_cfg.D}",
        disable=not progress,
        unit="batch",
    )
    model.train()
    for epoch in range(start_epoch, epochs):
        t0 = time.perf_counter()
        lr = train_cfg.lr_at(epoch)
        for group in opt.param_groups:
            group["lr"] = lr
        changed = None
        if Y > 1:  # Algorithm 1, line 3: y* = argmin cost, all epitomes at once
            assign_x = binarize(x_train, g) if dyn_binarize else x_train
            n_s = train_cfg.assign_samples if train_cfg.assign_z == "sample" else 0
            y_new, _ = assign_epitomes(model, assign_x, n_samples=n_s, generator=g)
            changed = (y_new != y).float().mean().item() if epoch > 0 else None
            y = y_new
            order = balanced_order(y, Y, g)  # line 4
        else:
            order = torch.randperm(N, generator=g, device=device)
        sums = torch.zeros(3, device=device)  # cost, rec, kl summed over examples
        # Adam's hooks only around the minibatches: a backward pass elsewhere (a
        # callback's) leaves the weights alone. Removed on the way out, also on an error.
        with step_in_backward(opt) if in_backward else contextlib.nullcontext():
            for b in range(n_batches):
                idx = order[b * B : (b + 1) * B]
                xb = x_train[idx]
                if dyn_binarize:
                    xb = binarize(xb, g)
                terms = model.loss_terms(xb, y[idx], generator=g)
                cost = terms.cost
                loss = cost.mean()
                if in_backward:
                    loss.backward()  # Adam's step for each parameter happens in here
                else:
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                sums += torch.stack([cost.sum(), terms.rec.sum(), terms.kl.sum()]).detach()
                if (b + 1) % log_every == 0 or b == n_batches - 1:  # the only host sync
                    seen = min((b + 1) * B, N)
                    s = (sums / seen).tolist()
                    _check_finite(s, epoch, b)
                    bar.set_postfix(epoch=epoch + 1, cost=f"{s[0]:.2f}", refresh=False)
                bar.update(1)
        s = (sums / N).tolist()
        val = None
        if x_val is not None:
            val = validation_bound(model, x_val, seed=train_cfg.seed + 1)
            if not math.isfinite(val):
                raise NonFiniteLossError(f"validation bound is {val} at epoch {epoch + 1}")
        sizes = torch.bincount(y, minlength=Y).tolist() if Y > 1 else [N]
        stats = EpochStats(
            epoch + 1, lr, s[0], s[1], s[2], val, changed, sizes, time.perf_counter() - t0
        )
        history.append(stats)
        if val is not None:
            bar.set_postfix(epoch=epoch + 1, cost=f"{s[0]:.2f}", val=f"{val:.2f}", refresh=False)
        if ckpt_path is not None:
            ckpt_path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_save(
                {
                    **configs,
                    "model": model.state_dict(),
                    "optim": opt.state_dict(),
                    "generator": g.get_state(),
                    "y": y,
                    "history": [dataclasses.asdict(h) for h in history],
                    "epoch": epoch + 1,
                },
                ckpt_path,
            )
        if on_epoch_end is not None:
            on_epoch_end(stats, model)
    bar.close()
    model.eval()
    return TrainResult(model, history, y if Y > 1 else None)


def _check_finite(means: list[float], epoch: int, batch: int) -> None:
    names = ("cost", "reconstruction", "KL")
    bad = [f"{n}={v}" for n, v in zip(names, means) if not math.isfinite(v)]
    if bad:
        raise NonFiniteLossError(
            f"non-finite loss at epoch {epoch + 1} (by batch {batch + 1}): {', '.join(bad)}; "
            f"try a smaller learning rate"
        )
