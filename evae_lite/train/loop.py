"""Training (Algorithm 1): per-epoch epitome assignment, balanced minibatches, Adam.

Data stay on the device as one tensor; all randomness (minibatch order, dynamic
binarization, reparameterization noise, dropout) comes from one torch.Generator whose state
is checkpointed with the weights, so a killed run resumes to the same weights as an
uninterrupted one. `train` is a sequence of the named steps below.
"""

from __future__ import annotations

import dataclasses
import math
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from ..memory import keep_freed_memory
from ..model import ModelConfig, build_model
from ..sealed import from_fields, tensor_hash
from .assignment import assign_epitomes, balanced_order
from .checkpoint import CheckpointError, check_same_run, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .device import binarize, fixed_binarization, resolve_device
from .objective import kl_scale, minibatch_cost, temperature


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message names the epoch and the term."""


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
    active: int | None = None  # units with A_u > 0.02 on the validation images (section 3)
    activity: list[float] | None = None  # every unit's A_u on the validation images (D,)


@dataclass
class TrainResult:
    model: torch.nn.Module
    history: list[EpochStats]
    y: torch.Tensor | None  # the last assignment y* of the training examples (N,)


@dataclass
class _State:
    """Everything a checkpoint holds besides the configs."""

    model: torch.nn.Module
    opt: torch.optim.Adam
    generator: torch.Generator
    y: torch.Tensor  # y* of every training example (N,)
    history: list[EpochStats] = field(default_factory=list)

    @property
    def epoch(self) -> int:
        return len(self.history)


@torch.no_grad()
def validation_bound(model, x: torch.Tensor, *, seed: int = 0, batch_size: int = 1000) -> float:
    """Mean negative ELBO (nats) with one z sample per example; the eVAE uses y* = argmin cost
    at the posterior mean, which is a valid bound since any q(y|x) gives one."""
    return _validate(model, x, seed=seed, batch_size=batch_size)[0]


@torch.no_grad()
def _validate(model, x: torch.Tensor, *, seed: int, batch_size: int = 1000):
    """(validation bound, active units, activity): the bound as `validation_bound` says, and
    every unit's activity A_u over x and the count above the paper's 0.02, as
    evaluate.unit_report computes them."""
    from ..evaluate.activity import unit_report  # evaluate imports train: import when used

    was = model.training
    model.eval()
    g = torch.Generator(device=x.device).manual_seed(seed)
    y, _ = assign_epitomes(model, x, batch_size=batch_size)
    if getattr(model, "learns_q_y", False):  # the bound of the learned q(y|x), eq. 7
        total = sum(
            model.expected_bound(x[i : i + batch_size], generator=g).sum().item()
            for i in range(0, x.shape[0], batch_size)
        )
    else:
        total = 0.0
        for i in range(0, x.shape[0], batch_size):
            t = model.loss_terms(x[i : i + batch_size], y[i : i + batch_size], generator=g)
            total += t.bound.sum().item()
    report = unit_report(model, x, y) if x.shape[0] > 1 else None
    model.train(was)
    if report is None:
        return total / x.shape[0], None, None
    return total / x.shape[0], report.n_active, report.activity.tolist()


def _check_inputs(model_cfg: ModelConfig, x_train: torch.Tensor) -> None:
    if x_train.dim() != 2 or x_train.shape[1] != model_cfg.x_dim:
        raise ValueError(
            f"x_train has shape {tuple(x_train.shape)}: expected (N, {model_cfg.x_dim})"
        )


def _init_state(model_cfg, train_cfg, n_train: int, device) -> _State:
    """Initial weights from the seed, Adam at the first epoch's rate, the run's generator."""
    # initial weights from a generator of the run's own, never the process-wide one
    model = build_model(model_cfg, torch.Generator().manual_seed(train_cfg.seed)).to(device)
    fused = {"fused": True} if device.type in ("cuda", "cpu") else {}
    opt = torch.optim.Adam(model.parameters(), lr=train_cfg.lr_at(0), **fused)
    g = torch.Generator(device=device).manual_seed(train_cfg.seed)
    y = torch.zeros(n_train, dtype=torch.long, device=device)
    return _State(model, opt, g, y)


def _resume(state: _State, path: Path, configs: dict, device, *, shorter: bool = False) -> None:
    """Load the weights, Adam, generator, y* and history of a checkpoint of this run (or,
    with `shorter`, of a shorter run that this one continues: see TrainConfig.continues)."""
    ckpt = load_checkpoint(path, map_location=device)
    where, version = f"checkpoint {path}", ckpt.get("version")
    from_fields(ModelConfig, ckpt["model_cfg"], where, version)
    theirs = from_fields(TrainConfig, ckpt["train_cfg"], where, version)
    history = [from_fields(EpochStats, h, where, version) for h in ckpt["history"]]
    if shorter:
        mine = TrainConfig(**configs["train_cfg"])
        if not continuing(ModelConfig(**configs["model_cfg"]), mine, theirs):
            raise CheckpointError(
                f"checkpoint {path} ({theirs.epochs} epochs) is not the start of this run "
                f"({mine.epochs} epochs): only a constant-rate run with the same settings is"
            )
        configs = {**configs, "train_cfg": ckpt["train_cfg"]}
    check_same_run(ckpt, configs, path)
    state.model.load_state_dict(ckpt["model"])
    state.opt.load_state_dict(ckpt["optim"])
    state.generator.set_state(ckpt["generator"].cpu())
    state.y = ckpt["y"].to(device)
    state.history = history


def continuing(model_cfg: ModelConfig, train_cfg: TrainConfig, shorter: TrainConfig) -> bool:
    """True when training (model_cfg, train_cfg) passes exactly through the end of the run of
    (model_cfg, shorter): TrainConfig.continues, and no Gumbel temperature annealed over the
    run's length."""
    return train_cfg.continues(shorter) and model_cfg.q_y not in ("gumbel", "gumbel_st")


def _checkpoint(state: _State, path: Path, configs: dict) -> None:
    save_checkpoint(
        {
            **configs,
            "model": state.model.state_dict(),
            "optim": state.opt.state_dict(),
            "generator": state.generator.get_state(),
            "y": state.y,
            "history": [dataclasses.asdict(h) for h in state.history],
            "epoch": state.epoch,
        },
        path,
    )


def _epoch_order(state: _State, x_train, train_cfg: TrainConfig, dyn_binarize: bool):
    """Algorithm 1, lines 3-4: y* = argmin cost for every example (all epitomes at once),
    then a minibatch order balanced over epitomes. Returns (order, share of y* changed)."""
    model, g = state.model, state.generator
    Y, N = model.n_epitomes, x_train.shape[0]
    if Y == 1:
        return torch.randperm(N, generator=g, device=x_train.device), None
    if getattr(model, "learns_q_y", False):  # q(y|x) picks y at every step: y is its mode
        with torch.no_grad():
            was = model.training
            model.eval()
            y_new = torch.cat(
                [model.q_y_logits(x_train[i : i + 1000]).argmax(-1) for i in range(0, N, 1000)]
            )
            model.train(was)
        changed = (y_new != state.y).float().mean().item() if state.epoch > 0 else None
        state.y = y_new
        return torch.randperm(N, generator=g, device=x_train.device), changed
    assign_x = binarize(x_train, g) if dyn_binarize else x_train
    n_s = train_cfg.assign_samples if train_cfg.assign_z == "sample" else 0
    y_new, _ = assign_epitomes(model, assign_x, n_samples=n_s, generator=g)
    changed = (y_new != state.y).float().mean().item() if state.epoch > 0 else None
    state.y = y_new
    return balanced_order(y_new, Y, g), changed


def _minibatches(state: _State, x_train, order, train_cfg, dyn_binarize, bar, log_every):
    """Algorithm 1, lines 5-7: one Adam step per minibatch. Returns the epoch's per-example
    means of cost, reconstruction and KL."""
    model, opt, g = state.model, state.opt, state.generator
    N, B = x_train.shape[0], train_cfg.batch_size
    n_batches = math.ceil(N / B)
    total_steps = train_cfg.total_epochs * n_batches
    sums = torch.zeros(3, device=x_train.device)  # cost, rec, kl summed over examples
    for b in range(n_batches):
        idx = order[b * B : (b + 1) * B]
        xb = x_train[idx]
        if dyn_binarize:
            xb = binarize(xb, g)
        if model.cfg.q_y in ("gumbel", "gumbel_st"):
            tau = temperature(train_cfg, state.epoch * n_batches + b, total_steps)
            terms = model.loss_terms(xb, state.y[idx], generator=g, tau=tau)
        else:
            terms = model.loss_terms(xb, state.y[idx], generator=g)
        cost = terms.cost
        step = state.epoch * n_batches + b
        scale = kl_scale(train_cfg, step, total_steps)
        opt.zero_grad(set_to_none=True)
        minibatch_cost(terms, scale, train_cfg.free_bits).backward()
        opt.step()
        sums += torch.stack([cost.sum(), terms.rec.sum(), terms.kl.sum()]).detach()
        if (b + 1) % log_every == 0 or b == n_batches - 1:  # the only host sync
            s = (sums / min((b + 1) * B, N)).tolist()
            _check_finite(s, state.epoch, b)
            bar.set_postfix(epoch=state.epoch + 1, cost=f"{s[0]:.2f}", refresh=False)
        bar.update(1)
    return (sums / N).tolist()


def train(
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    x_train: torch.Tensor,
    x_val: torch.Tensor | None = None,
    *,
    binary: bool = True,
    checkpoint: str | Path | None = None,
    progress: bool = True,
    log_every: int = 50,
    on_epoch_end: Callable[[EpochStats, torch.nn.Module], None] | None = None,
    start_from: str | Path | None = None,
) -> TrainResult:
    """Train a model of `model_cfg` on x_train (N, P) in [0, 1] by Algorithm 1.

    checkpoint: a file written atomically after the first and the last epoch and, between
    them, as often as keeps writing to about 1/CHECKPOINT_PACE of the time; if it exists the
    run resumes from it (it must have been made with the same configs). binary: the data are binary
    images, dynamically binarized per minibatch when train_cfg.binarize is set.
    on_epoch_end(stats, model): called after each epoch (live plots, early exit).
    start_from: the finished checkpoint of a shorter run that this one continues (the same
    settings, fewer epochs, a constant rate: TrainConfig.continues); training goes on from its
    last epoch instead of from scratch, to the same weights. Ignored when `checkpoint` exists.
    """
    keep_freed_memory()
    device = resolve_device(train_cfg.device)
    _check_inputs(model_cfg, x_train)
    x_train = x_train.to(device, torch.float32)
    dyn_binarize = binary and train_cfg.binarize
    if x_val is not None:
        x_val = x_val.to(device, torch.float32)
        x_val = fixed_binarization(x_val, train_cfg.seed) if binary else x_val

    N = x_train.shape[0]
    state = _init_state(model_cfg, train_cfg, N, device)
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    # the data's content, not only its size: a resume on other images is refused
    configs = {
        "model_cfg": asdict(model_cfg),
        "train_cfg": asdict(train_cfg),
        "N": N,
        "data": tensor_hash(x_train),
    }
    if ckpt_path is not None and ckpt_path.exists():
        _resume(state, ckpt_path, configs, device)
    elif start_from is not None:
        _resume(state, Path(start_from), configs, device, shorter=True)

    epochs = train_cfg.total_epochs
    writes = _CheckpointPace()
    bar = tqdm(
        total=(epochs - state.epoch) * math.ceil(N / train_cfg.batch_size),
        desc=f"{model_cfg.model} D={model_cfg.D}",
        disable=not progress,
        unit="batch",
    )
    state.model.train()
    while state.epoch < epochs:
        t0 = time.perf_counter()
        lr = train_cfg.lr_at(state.epoch)
        for group in state.opt.param_groups:
            group["lr"] = lr
        order, changed = _epoch_order(state, x_train, train_cfg, dyn_binarize)
        s = _minibatches(state, x_train, order, train_cfg, dyn_binarize, bar, log_every)
        val = active = activity = None
        if x_val is not None:
            val, active, activity = _validate(state.model, x_val, seed=train_cfg.seed + 1)
            if not math.isfinite(val):
                raise NonFiniteLossError(f"validation bound is {val} at epoch {state.epoch + 1}")
            bar.set_postfix(epoch=state.epoch + 1, cost=f"{s[0]:.2f}", val=f"{val:.2f}")
        Y = state.model.n_epitomes
        sizes = torch.bincount(state.y, minlength=Y).tolist() if Y > 1 else [N]
        seconds = time.perf_counter() - t0
        stats = EpochStats(state.epoch + 1, lr, *s, val, changed, sizes, seconds, active, activity)
        state.history.append(stats)
        if ckpt_path is not None and writes.due(state.epoch == epochs):
            with writes.timed():
                _checkpoint(state, ckpt_path, configs)
        if on_epoch_end is not None:
            on_epoch_end(stats, state.model)
    bar.close()
    state.model.eval()
    return TrainResult(state.model, state.history, state.y if state.model.n_epitomes > 1 else None)


class _CheckpointPace:
    """When to write the checkpoint: after the first and the last epoch, and after any other
    once training has run for CHECKPOINT_PACE times as long as the last write took. Writing
    never costs more than a small share of the run (a model of millions of weights trained on
    a few hundred images has epochs shorter than its checkpoint), and a killed run loses at
    most that much work. What is written is the same whenever it is written, so the trained
    model is too."""

    def __init__(self):
        self.cost = None  # seconds of the last write; None before the first
        self.since = time.perf_counter()  # the last write's end

    def due(self, last_epoch: bool) -> bool:
        if last_epoch or self.cost is None:
            return True
        return time.perf_counter() - self.since >= CHECKPOINT_PACE * self.cost

    @contextmanager
    def timed(self):
        t0 = time.perf_counter()
        yield
        self.since = time.perf_counter()
        self.cost = self.since - t0


CHECKPOINT_PACE = 20  # training time between writes, in units of one write's time


def _check_finite(means: list[float], epoch: int, batch: int) -> None:
    names = ("cost", "reconstruction", "KL")
    bad = [f"{n}={v}" for n, v in zip(names, means) if not math.isfinite(v)]
    if bad:
        raise NonFiniteLossError(
            f"non-finite loss at epoch {epoch + 1} (by batch {batch + 1}): {', '.join(bad)}; "
            f"try a smaller learning rate"
        )
