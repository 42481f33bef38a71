"""Command line: python -m evae_lite train | evaluate | sample."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import torch

from .model import ModelConfig, param_count
from .model.config import MODELS, Q_Y
from .runs import Job, inputs, run
from .runs.scales import KINDS, SCALE_NAMES
from .sealed import read_sealed_json, write_json, write_sealed_json
from .train.config import SCHEDULES
from .train.objective import KL_SCHEDULES


def _count(v: str, *, zero: bool = False) -> int:
    """An argparse type: a positive integer (or 0 where 0 means "skip")."""
    try:
        n = int(v)
    except ValueError:
        n = None
    if n is None or n < (0 if zero else 1):
        need = "an integer >= 0 (0 skips it)" if zero else "a positive integer"
        raise argparse.ArgumentTypeError(f"{v!r} is not allowed: need {need}")
    return n


def _count_or_zero(v: str) -> int:
    return _count(v, zero=True)


def _seed(v: str) -> int:
    """An argparse type: a seed, 0 <= seed < 2**63 (what torch's generators take)."""
    try:
        n = int(v)
    except ValueError:
        n = -1
    if not 0 <= n < 2**63:
        raise argparse.ArgumentTypeError(f"{v!r} is not allowed: need an integer 0 <= seed < 2**63")
    return n


MAX_SAMPLES = 10_000  # images in one PNG grid


def _samples(v: str) -> int:
    n = _count(v)
    if n > MAX_SAMPLES:
        raise argparse.ArgumentTypeError(f"{v!r} is not allowed: need 1..{MAX_SAMPLES}")
    return n


def _add_model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model (paper notation)")
    g.add_argument("--model", default="vae", help=f"one of {', '.join(MODELS)} (default vae)")
    g.add_argument("--D", type=_count, default=50, help="latent dimensions (default 50)")
    g.add_argument("--K", type=_count, default=None, help="epitome size (evae, mvae)")
    g.add_argument("--stride", type=_count, default=None, help="epitome stride s (default K)")
    g.add_argument("--L", type=int, default=1, help="hidden layers (default 1)")
    g.add_argument("--H", type=_count, default=500, help="hidden units per layer (default 500)")
    g.add_argument("--kl-weight", type=float, default=1.0, help="lambda of section 3.1")
    g.add_argument("--dropout", type=float, default=0.0, help="dropout rate on z (dropout_vae)")
    g.add_argument("--component-H", type=_count, default=None, help="mVAE component width")
    g.add_argument(
        "--q-y", default="point", help=f"the eVAE's q(y|x): one of {', '.join(Q_Y)} (default point)"
    )


def _add_train_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "training (defaults: the row of the table of scales that --scale and --kind name)"
    )
    g.add_argument("--dataset", default="mnist", help="mnist or faces (default mnist)")
    g.add_argument(
        "--scale", default="paper", choices=SCALE_NAMES, help="smoke, book or paper (default)"
    )
    g.add_argument(
        "--kind",
        default=None,
        choices=KINDS,
        help="which experiment's sizes (default: figures for MNIST, grids for the faces)",
    )
    g.add_argument("--train-size", type=_count, default=None, help="use the first N examples")
    g.add_argument("--eval-size", type=_count, default=None, help="first N validation images")
    g.add_argument("--epochs", type=_count, default=None)
    g.add_argument("--batch-size", type=_count, default=None, help="default 100")
    g.add_argument("--lr", type=float, default=None, help="default 1e-3")
    g.add_argument("--schedule", default=None, help=f"one of {', '.join(SCHEDULES)}")
    g.add_argument("--stages", type=_count, default=None, help="stages of the burda schedule")
    g.add_argument(
        "--kl-schedule", default=None, help=f"one of {', '.join(KL_SCHEDULES)} (default constant)"
    )
    g.add_argument("--kl-warmup-steps", type=_count, default=None, help="warmup: steps of the ramp")
    g.add_argument("--kl-cycles", type=_count, default=None, help="cyclical: number of cycles")
    g.add_argument("--kl-ramp", type=float, default=None, help="cyclical: ramp share of a cycle")
    g.add_argument("--free-bits", type=float, default=None, help="free bits: nats per unit")
    g.add_argument("--tau-start", type=float, default=None, help="Gumbel-softmax temperature")
    g.add_argument("--tau-end", type=float, default=None, help="final Gumbel-softmax temperature")
    g.add_argument("--seed", type=_seed, default=0)
    g.add_argument("--device", default="auto", help="auto, cpu, cuda (default auto)")
    g.add_argument("--out", default=None, help="run directory (default runs/<name>)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def _run_name(m: ModelConfig, dataset: str, seed: int) -> str:
    name = f"{dataset}-{m.model}-D{m.D}"
    if m.model in ("evae", "mvae"):
        name += f"-K{m.epitome_size}-s{m.epitome_stride}"
    name += f"-L{m.L}-H{m.H}"
    if m.kl_weight != 1:
        name += f"-lam{m.kl_weight:g}"
    if m.dropout:
        name += f"-p{m.dropout:g}"
    if m.q_y != "point":
        name += f"-q{m.q_y}"
    return name + f"-seed{seed}"


def _job_from_args(a, measures) -> Job:
    """The job of the table of scales' row (--scale, --kind), with the flags given on top."""
    m = ModelConfig(
        model=a.model,
        D=a.D,
        K=a.K,
        stride=a.stride,
        L=a.L,
        H=a.H,
        kl_weight=a.kl_weight,
        dropout=a.dropout,
        component_H=a.component_H,
        q_y=a.q_y,
    )
    kind = a.kind or ("grids" if a.dataset == "faces" else "figures")
    flags = dict(
        epochs=a.epochs,
        batch_size=a.batch_size,
        lr=a.lr,
        schedule=a.schedule,
        stages=a.stages,
        device=a.device,
        kl_schedule=a.kl_schedule,
        kl_warmup_steps=a.kl_warmup_steps,
        kl_cycles=a.kl_cycles,
        kl_ramp=a.kl_ramp,
        free_bits=a.free_bits,
        tau_start=a.tau_start,
        tau_end=a.tau_end,
    )
    job = Job.at(
        m,
        a.scale,
        kind,
        a.dataset,
        seed=a.seed,
        measures=measures,
        **{k: v for k, v in flags.items() if v is not None},
    )
    sizes = dict(train_size=a.train_size, eval_size=a.eval_size)
    return dataclasses.replace(job, **{k: v for k, v in sizes.items() if v is not None})


def _check_sizes(job: Job) -> None:
    """Sizes larger than the data set are a mistake, not a silent "all"."""
    from .data import load_dataset

    d = load_dataset(job.dataset)
    for name, v, n in (
        ("--train-size", job.train_size, d.train.shape[0]),
        ("--eval-size", job.eval_size, min(d.val.shape[0], d.test.shape[0])),
        ("--iwae-size", job.iwae_size, d.test.shape[0]),
    ):
        if v is not None and v > n:
            raise ValueError(f"{name}={v} is not allowed for {job.dataset}: need 1..{n}")


def _check_device(name: str) -> None:
    from .train import resolve_device

    try:
        resolve_device(name)
    except RuntimeError as e:
        raise ValueError(f"--device={name!r} is not allowed here: {e}") from e


def _check_out_dir(out: Path) -> None:
    """A run directory that can be written, checked before any training is spent on it."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out={str(out)!r} is a file: give a directory for the run")
    out.mkdir(parents=True, exist_ok=True)
    if not os.access(out, os.W_OK):
        raise ValueError(f"--out={str(out)!r} is not writable: give a directory you can write")


def _check_memory(m: ModelConfig) -> None:
    """Weights, gradients and Adam's two moments must fit in memory: 16 bytes a parameter."""
    from .model.mvae import vae_param_count

    n = vae_param_count(m.x_dim, m.H, m.L, m.D, m.likelihood)
    need = 16 * n
    have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if need > have:
        raise ValueError(
            f"--H={m.H} --L={m.L} --D={m.D} is not allowed here: {n:,} parameters need about "
            f"{need / 2**30:.0f} GiB for training, and this machine has {have / 2**30:.0f} GiB"
        )


def cmd_train(a) -> int:
    from .evaluate.activity import THRESHOLD_BURDA_CODE, THRESHOLD_PAPER

    job = _job_from_args(a, ("units",))
    _check_device(a.device)
    _check_sizes(job)
    m = job.model
    _check_memory(inputs(job).model)
    out = Path(a.out or Path("runs") / _run_name(m, a.dataset, a.seed))
    _check_out_dir(out)
    t0 = time.perf_counter()
    r = run(job, run_dir=out, progress=not a.no_progress)  # refuses another run's checkpoint
    write_sealed_json(out / "job.json", job.to_json())
    i = inputs(job)
    u = r.units
    order = sorted(range(m.D), key=lambda d: -u.activity[d])
    summary = {
        "run": str(out),
        "dataset": job.dataset,
        "model_cfg": dataclasses.asdict(i.model),
        "train_cfg": dataclasses.asdict(job.train),
        "n_train": i.x_train.shape[0],
        "seconds": time.perf_counter() - t0,
        "unit_kl_sorted_by_activity": [round(u.kl[d], 3) for d in order],
        **r.to_json(),
    }
    if r.component_H:
        from .model import EpitomicVAE

        summary["evae_params"] = param_count(EpitomicVAE(m.replace(model="evae")))
    write_json(out / "summary.json", summary)
    print(f"\n== {m.model} D={m.D} ({out.name}) after {r.epochs} epochs ==")
    print(f"parameters:       {r.n_params:,}", end="")
    if "evae_params" in summary:
        print(
            f" (eVAE of the same D, K, L, H: {summary['evae_params']:,}; "
            f"component width {r.component_H})",
            end="",
        )
    print()
    print(
        f"active units:     {u.active} of {m.D} (A_u > {THRESHOLD_PAPER}); "
        f"{u.active_burda} of {m.D} at {THRESHOLD_BURDA_CODE}"
    )
    if m.model in ("evae", "mvae"):
        print(
            f"                  {u.active_within} of {m.D} active within their epitomes "
            f"(variance over the examples assigned an epitome that holds the unit > "
            f"{THRESHOLD_PAPER})"
        )
    kls = " ".join(f"{v:.2f}" for v in summary["unit_kl_sorted_by_activity"])
    print(f"per-unit KL:      {kls} (nats, units sorted by activity)")
    print(f"validation bound: {r.val_bound:.2f} nats (negative ELBO, lower is better)")
    print(f"time:             {summary['seconds']:.1f} s; run saved in {out}")
    return 0


def _run_job(run_dir: Path) -> Job:
    path = run_dir / "job.json"
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory: it has no job.json")
    return Job.from_json(read_sealed_json(path))


def cmd_evaluate(a) -> int:
    run_dir = Path(a.run)
    job = _run_job(run_dir)
    _check_device(job.train.device)
    parzen = a.parzen_samples is None or a.parzen_samples > 0
    measures = ("units",) + (("parzen",) if parzen else ()) + (("iwae",) if a.iwae_k else ())
    job = dataclasses.replace(
        job,
        eval_size=job.eval_size if a.eval_size is None else a.eval_size,
        measures=measures,
        parzen_samples=a.parzen_samples or job.parzen_samples,
        iwae_k=a.iwae_k or job.iwae_k,
        iwae_size=job.iwae_size if a.iwae_size is None else a.iwae_size,
    )
    _check_sizes(job)
    r = run(job, run_dir=run_dir, progress=not a.no_progress)
    print(f"active units: {r.units.active} of {r.D}")
    if r.parzen:
        print(r.parzen)
    if r.iwae:
        print(
            f"L_{r.iwae.k}: {r.iwae.mean:.2f} ± {r.iwae.stderr:.2f} nats on {r.iwae.n} test images"
        )
    result = {"run": a.run, "job": job.to_json(), **r.to_json()}
    write_json(run_dir / "evaluation.json", result)
    return 0


def cmd_sample(a) -> int:
    from .book.figures import save_grid
    from .train import model_from_checkpoint

    out = Path(a.out or Path(a.run) / "samples.png")
    if out.is_dir() or not out.parent.is_dir():
        raise ValueError(
            f"--out={str(out)!r} is not allowed: name a PNG file in an existing folder"
        )
    model, ckpt = model_from_checkpoint(Path(a.run) / "checkpoint.pt")
    side = int(round(ckpt["model_cfg"]["x_dim"] ** 0.5))
    g = torch.Generator().manual_seed(a.seed)
    x = model.sample(a.n, generator=g)
    save_grid(out, x, (side, side), ncol=a.ncol, title=f"{Path(a.run).name}: {a.n} samples")
    print(f"wrote {out}")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad value reported in one line (the usage is one --help away)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m evae_lite", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train a model and print its summary")
    _add_model_args(tr)
    _add_train_args(tr)
    tr.set_defaults(func=cmd_train)
    ev = sub.add_parser("evaluate", help="active units, Parzen and L_k of a trained run")
    ev.add_argument("--run", required=True, help="run directory written by train")
    ev.add_argument(
        "--eval-size",
        type=_count,
        default=None,
        help="first N validation/test images (default: the run's)",
    )
    ev.add_argument(
        "--parzen-samples",
        type=_count_or_zero,
        default=None,
        help="generated images (default: the run's scale's; 0 skips Parzen)",
    )
    ev.add_argument(
        "--iwae-k", type=_count_or_zero, default=0, help="k of L_k (5000 in the paper; 0 skips)"
    )
    ev.add_argument("--iwae-size", type=_count, default=None, help="first N test images for L_k")
    ev.add_argument("--no-progress", action="store_true")
    ev.set_defaults(func=cmd_evaluate)
    sa = sub.add_parser("sample", help="write a PNG grid of generated images")
    sa.add_argument("--run", required=True)
    sa.add_argument("--n", type=_samples, default=100, help=f"images, 1..{MAX_SAMPLES}")
    sa.add_argument("--ncol", type=_samples, default=10)
    sa.add_argument("--seed", type=_seed, default=0)
    sa.add_argument("--out", default=None, help="PNG path (default <run>/samples.png)")
    sa.set_defaults(func=cmd_sample)
    return p


def main(argv=None) -> int:
    from .data import DataError
    from .train import CheckpointError, NonFiniteLossError

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help (0), or a bad value argparse has already named (2)
        return e.code
    try:
        return args.func(args)
    except (ValueError, DataError, CheckpointError, NonFiniteLossError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)  # a user's mistake: one line, no traceback
        return 2


__all__ = ["main", "build_parser"]
