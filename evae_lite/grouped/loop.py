"""train_grouped: S seeds of one VAE configuration trained as one SeedGroup.

Every random draw is the single-seed run's (train/loop.py): seed s's generator gives, in
order, the epoch's minibatch order, then per minibatch its binarization, the noise of z and
(dropout VAE) the keep mask. The S losses are summed, so each seed's gradient is that of its
own mean cost, and one fused Adam step over the stacked weights does each seed's update.
"""

from __future__ import annotations

import math
import time

import torch
from tqdm.auto import tqdm

from ..memory import keep_freed_memory
from ..model import ModelConfig, build_model
from ..train import TrainConfig
from ..train.device import binarize, fixed_binarization, resolve_device
from ..train.loop import EpochStats, NonFiniteLossError, TrainResult, validation_bound
from .model import SeedGroup

GROUPED_MODELS = ("vae", "dropout_vae")


def _check(model_cfg: ModelConfig, seeds: list[int], x_train: torch.Tensor) -> None:
    if model_cfg.model not in GROUPED_MODELS:
        raise ValueError(
            f"model={model_cfg.model!r} cannot be trained grouped: "
            f"allowed are {', '.join(GROUPED_MODELS)}"
        )
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds={seeds!r}: need one or more distinct seeds")
    if x_train.dim() != 2 or x_train.shape[1] != model_cfg.x_dim:
        raise ValueError(
            f"x_train has shape {tuple(x_train.shape)}: expected (N, {model_cfg.x_dim})"
        )


def train_grouped(
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    seeds: list[int],
    x_train: torch.Tensor,
    x_val: torch.Tensor | None = None,
    *,
    binary: bool = True,
    progress: bool = True,
) -> list[TrainResult]:
    """One TrainResult per seed, each the model `train(model_cfg, train_cfg.replace(seed=s),
    ...)` gives, trained side by side. train_cfg.seed is ignored: `seeds` name them.
    There is no checkpoint: the pipeline trains its seeds one by one through the results
    cache (resumable), and this is what the benchmark measures against it."""
    keep_freed_memory()
    seeds = list(seeds)
    _check(model_cfg, seeds, x_train)
    device = resolve_device(train_cfg.device)
    x_train = x_train.to(device, torch.float32)
    dyn_binarize = binary and train_cfg.binarize
    vals = None
    if x_val is not None:
        x_val = x_val.to(device, torch.float32)
        vals = [fixed_binarization(x_val, s) if binary else x_val for s in seeds]

    models = [build_model(model_cfg, torch.Generator().manual_seed(s)).to(device) for s in seeds]
    group = SeedGroup(models).to(device)
    fused = {"fused": True} if device.type in ("cuda", "cpu") else {}
    opt = torch.optim.Adam(group.parameters(), lr=train_cfg.lr_at(0), **fused)
    gens = [torch.Generator(device=device).manual_seed(s) for s in seeds]
    histories: list[list[EpochStats]] = [[] for _ in seeds]

    N, B, D, S = x_train.shape[0], train_cfg.batch_size, model_cfg.D, len(seeds)
    p = model_cfg.dropout
    n_batches = math.ceil(N / B)
    bar = tqdm(
        total=train_cfg.total_epochs * n_batches,
        desc=f"{model_cfg.model} D={D} x{S} seeds",
        disable=not progress,
        unit="batch",
    )
    for epoch in range(train_cfg.total_epochs):
        t0 = time.perf_counter()
        lr = train_cfg.lr_at(epoch)
        for g in opt.param_groups:
            g["lr"] = lr
        orders = [torch.randperm(N, generator=g, device=device) for g in gens]
        sums = torch.zeros(S, 3, device=device)  # per seed: cost, rec, kl summed
        for b in range(n_batches):
            xs = []
            for order, g in zip(orders, gens):
                xb = x_train[order[b * B : (b + 1) * B]]
                xs.append(binarize(xb, g) if dyn_binarize else xb)
            x = torch.stack(xs)  # (S, B, P)
            eps, keep = [], []
            for g in gens:  # the single run's order: z's noise, then dropout's mask
                eps.append(torch.randn(x.shape[1], D, generator=g, device=device))
                if p > 0:
                    keep.append(torch.rand(x.shape[1], D, generator=g, device=device) >= p)
            rec, kl = group.loss_terms(x, torch.stack(eps), torch.stack(keep) if p > 0 else None)
            cost = rec + model_cfg.kl_weight * kl.sum(-1)  # (S, B)
            opt.zero_grad(set_to_none=True)
            cost.mean(-1).sum().backward()
            opt.step()
            sums += torch.stack([cost.sum(-1), rec.sum(-1), kl.sum((-2, -1))], -1).detach()
            bar.update(1)
        means = (sums / N).tolist()  # the epoch's one host sync besides validation
        seconds = time.perf_counter() - t0
        trained = group.unstack(models)
        for s, (m, h) in enumerate(zip(means, histories)):
            if not all(math.isfinite(v) for v in m):
                raise NonFiniteLossError(f"non-finite loss at epoch {epoch + 1}, seed {seeds[s]}")
            val = None
            if vals is not None:
                val = validation_bound(trained[s], vals[s], seed=seeds[s] + 1)
            h.append(EpochStats(epoch + 1, lr, *m, val, None, [N], seconds / S))
    bar.close()
    trained = [m.eval() for m in group.unstack(models)]
    return [TrainResult(m, h, None) for m, h in zip(trained, histories)]
