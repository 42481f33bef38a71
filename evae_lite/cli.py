"""Command line: python -m evae_lite train | evaluate | sample."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import torch

from . import rundir
from .model import ModelConfig, build_model, param_count
from .model.config import MODELS, Q_Y
from .runs import Job, inputs, run
from .runs.scales import KINDS, SCALE_NAMES
from .sealed import FormatError, package_version, read_sealed_json, write_json, write_sealed_json
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
    _check_flags_apply(a, job, kind)
    if a.eval_size is not None and job.iwae_size and a.eval_size < job.iwae_size:
        raise ValueError(
            f"--eval-size={a.eval_size} is not allowed with the {a.scale} row of kind {kind}: "
            f"its L_k uses the first {job.iwae_size} test images; need --eval-size >= "
            f"{job.iwae_size}"
        )
    sizes = dict(train_size=a.train_size, eval_size=a.eval_size)
    return dataclasses.replace(job, **{k: v for k, v in sizes.items() if v is not None})


def _check_flags_apply(a, job: Job, kind: str) -> None:
    """A flag that the run's schedule or model cannot honour is refused, naming both, instead
    of being recorded and ignored."""
    t, m = job.train, job.model
    whence = "--schedule" if a.schedule else f"the {a.scale} row of kind {kind}"
    if a.epochs is not None and t.schedule == "burda":
        raise ValueError(
            f"--epochs={a.epochs} is not allowed with the burda schedule (from {whence}): its "
            f"length is set by its stages (--stages), {t.total_epochs} epochs now"
        )
    if a.stages is not None and t.schedule != "burda":
        raise ValueError(
            f"--stages={a.stages} is not allowed with the {t.schedule} schedule (from {whence}):"
            f" stages belong to --schedule burda; the length here is --epochs"
        )
    for flag, v in (("--tau-start", a.tau_start), ("--tau-end", a.tau_end)):
        if v is not None and m.q_y not in ("gumbel", "gumbel_st"):
            raise ValueError(
                f"{flag}={v} is not allowed with --q-y {m.q_y}: the temperature belongs to a "
                f"q(y|x) learned with the Gumbel-softmax (--q-y gumbel or gumbel_st)"
            )


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


def _describe_model(m: ModelConfig) -> str:
    text = f"{m.model} D={m.D} K={m.epitome_size} L={m.L} H={m.H}"
    return text + (f" component_H={m.component_H}" if m.component_H else "")


def _check_memory(job: Job, m: ModelConfig, *, training: bool = True) -> None:
    """What the job allocates must fit in memory: the model's parameters counted on torch's
    meta device (nothing allocated), with gradients and Adam's two moments when training
    (16 bytes a parameter), and the Parzen window's generated images."""
    from .model.mvae import vae_param_count

    # the VAE of the same sizes first, by arithmetic: a model of 10**20 layers is refused
    # before any is built
    n = vae_param_count(m.x_dim, m.H, m.L, m.D, m.likelihood)
    have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        if 4 * n <= have:
            with torch.device("meta"):
                n = param_count(build_model(m))
    except (TypeError, RuntimeError, OverflowError) as e:  # a size beyond a C long
        raise ValueError(
            f"the model {_describe_model(m)} cannot be built: a size beyond what torch can "
            f"allocate ({str(e).splitlines()[0][:80]})"
        ) from e
    need = (16 if training else 4) * n
    parts = [f"{n:,} parameters ({need / 2**30:.1f} GiB{' to train' if training else ''})"]
    if "parzen" in job.measures:
        window = 4 * job.parzen_samples * m.x_dim
        need += window
        parts.append(f"{job.parzen_samples:,} Parzen samples ({window / 2**30:.1f} GiB)")
    if need > have:
        raise ValueError(
            f"the job does not fit in memory: the model {_describe_model(m)} has "
            f"{' and '.join(parts)}, about {need / 2**30:.0f} GiB, and this machine has "
            f"{have / 2**30:.0f} GiB"
        )


def cmd_train(a) -> int:
    from .evaluate.activity import THRESHOLD_BURDA_CODE, THRESHOLD_PAPER

    job = _job_from_args(a, ("units",))
    _check_device(a.device)
    _check_sizes(job)
    m = job.model
    i = inputs(job)
    _check_memory(job, i.model)
    out = Path(a.out or Path("runs") / _run_name(m, a.dataset, a.seed))
    _check_out_dir(out)
    _claim_run_dir(out, job)
    rundir.remove_stale(out)
    t0 = time.perf_counter()
    r = run(job, run_dir=out, progress=not a.no_progress)  # refuses another run's checkpoint
    rundir.remove_stale(out)  # what described the checkpoint before this training
    _write_job(out, job)
    u = r.units
    order = sorted(range(m.D), key=lambda d: -u.activity[d])
    summary = {
        "run": str(out),
        "dataset": job.dataset,
        "model_cfg": dataclasses.asdict(i.model),
        "train_cfg": dataclasses.asdict(job.train),
        "n_train": i.x_train.shape[0],
        "seconds": time.perf_counter() - t0,
        rundir.KEY: rundir.checkpoint_hash(out),
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


def _write_job(run_dir: Path, job: Job) -> None:
    write_sealed_json(run_dir / rundir.JOB, {**job.to_json(), "version": package_version()})


def _read_job(path: Path) -> Job:
    d = read_sealed_json(path)
    if not isinstance(d, dict):
        raise FormatError(f"{path} does not hold a job")
    version = d.pop("version", None)
    return Job.from_json(d, f"{path}", version)


def _claim_run_dir(out: Path, job: Job) -> None:
    """Record the job in its run directory before training (a killed run's job.json then
    describes its checkpoint); a directory whose checkpoint belongs to another job is refused.
    An unreadable job.json is left to the checkpoint's own check, and written anew after."""
    path = out / rundir.JOB
    if (out / rundir.CHECKPOINT).exists() and path.exists():
        try:
            theirs = _read_job(path)
        except ValueError:  # damaged: the checkpoint decides whose run it is, then it is rewritten
            return
        diffs = _diffs(theirs.key_parts(), job.key_parts())
        if diffs:
            raise ValueError(
                f"--out={str(out)!r} holds a run of other settings ({'; '.join(diffs[:4])}): "
                f"use another --out, or delete its {rundir.CHECKPOINT} to train anew there"
            )
        return
    _write_job(out, job)


def _diffs(old: dict, new: dict, prefix: str = "") -> list[str]:
    """'name: run A, now B' for every (nested) field that differs."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _diffs(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: run {a!r}, now {b!r}")
    return out


def _run_job(run_dir: Path) -> Job:
    path = run_dir / rundir.JOB
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory: it has no {rundir.JOB}")
    return _read_job(path)


def _trained_model(run_dir: Path, job: Job, partial: bool, command: str):
    """The run's trained model as its checkpoint holds it, never trained here: a missing
    checkpoint is an error saying how to train, an unfinished run is refused unless
    `partial`. Returns (TrainResult, finished)."""
    from .sealed import from_fields
    from .train import EpochStats, TrainResult, model_from_checkpoint

    path = run_dir / rundir.CHECKPOINT
    if not path.exists():
        raise FileNotFoundError(
            f"{run_dir} has no {rundir.CHECKPOINT}: there is no trained model to {command}; "
            f"train it first with `python -m evae_lite train ... --out {run_dir}`"
        )
    model, ck = model_from_checkpoint(path)
    where = f"checkpoint {path}"
    history = [from_fields(EpochStats, h, where, ck.get("version")) for h in ck["history"]]
    want = dataclasses.asdict(inputs(job).model), dataclasses.asdict(job.train)
    if (ck["model_cfg"], ck["train_cfg"]) != want:
        raise ValueError(
            f"{path} was not trained by the job in {run_dir / rundir.JOB}: delete the run "
            f"directory and train it again"
        )
    done, total = len(history), job.train.total_epochs
    if done < total and not partial:
        raise ValueError(
            f"{run_dir} is unfinished: {done} of {total} epochs trained. Resume it by running "
            f"its train command again, or {command} it as it is with --partial"
        )
    y = ck["y"] if model.n_epitomes > 1 else None
    return TrainResult(model, history, y), done == total


def cmd_evaluate(a) -> int:
    from .evaluate.features import NEAREST_K
    from .runs.job import default_measures, measure

    run_dir = Path(a.run)
    job = _run_job(run_dir)
    if a.iwae_size is not None and not a.iwae_k:
        raise ValueError(
            f"--iwae-size={a.iwae_size} is not allowed without --iwae-k: it sets the test "
            f"images of L_k, which is skipped unless --iwae-k is given"
        )
    parzen = a.parzen_samples is None or a.parzen_samples > 0
    # the second measure of samples rides on Parzen's samples where the data set has labels,
    # and needs more of them (and of test images) than its k nearest neighbours
    n_samples = a.parzen_samples or job.parzen_samples
    eval_size = job.eval_size if a.eval_size is None else a.eval_size
    samples = default_measures(job.dataset, n_samples, eval_size)[1:] if parzen else ()
    if parzen and "features" in default_measures(job.dataset) and "features" not in samples:
        print(
            f"the classifier-feature measure is skipped: it needs more than {NEAREST_K} "
            f"samples and test images (here {n_samples} and {eval_size or 'all'})"
        )
    measures = ("units", *samples) + (("iwae",) if a.iwae_k else ())
    job = dataclasses.replace(
        job,
        eval_size=eval_size,
        measures=measures,
        parzen_samples=n_samples,
        iwae_k=a.iwae_k or job.iwae_k,
        iwae_size=job.iwae_size if a.iwae_size is None else a.iwae_size,
    )
    _check_sizes(job)
    given = inputs(job)
    _check_memory(job, given.model, training=False)
    rundir.remove_stale(run_dir)
    res, finished = _trained_model(run_dir, job, a.partial, "evaluate")
    r = measure(job, res, given, progress=not a.no_progress)
    state = "" if finished else f" (PARTIAL: {r.epochs} of {job.train.total_epochs} epochs)"
    print(f"{run_dir.name}{state}")
    print(f"active units: {r.units.active} of {r.D} (A_u > 0.02)")
    if r.parzen:
        print(f"{r.parzen} (higher is better)")
    if r.features:
        print(f"in a digit classifier's features: {r.features}")
    if r.iwae:
        print(
            f"L_{r.iwae.k}: {r.iwae.mean:.2f} ± {r.iwae.stderr:.2f} nats on {r.iwae.n} test "
            f"images (a log-likelihood: higher is better)"
        )
    result = {
        "run": a.run,
        rundir.KEY: rundir.checkpoint_hash(run_dir),
        "partial": not finished,
        "job": job.to_json(),
        **r.to_json(),
    }
    write_json(run_dir / "evaluation.json", result)
    return 0


def cmd_sample(a) -> int:
    from .book.figures import save_grid

    run_dir = Path(a.run)
    out = Path(a.out or run_dir / "samples.png")
    if out.is_dir() or not out.parent.is_dir():
        raise ValueError(
            f"--out={str(out)!r} is not allowed: name a PNG file in an existing folder"
        )
    job = _run_job(run_dir)
    rundir.remove_stale(run_dir)
    res, finished = _trained_model(run_dir, job, a.partial, "sample")
    side = int(round(res.model.cfg.x_dim**0.5))
    g = torch.Generator().manual_seed(a.seed)
    x = res.model.sample(a.n, generator=g)
    title = f"{run_dir.name}: {a.n} samples"
    if not finished:
        title += f" (PARTIAL: {len(res.history)} of {job.train.total_epochs} epochs)"
    meta = {rundir.KEY: rundir.checkpoint_hash(run_dir)}
    save_grid(out, x, (side, side), ncol=a.ncol, title=title, metadata=meta)
    print(f"wrote {out}" + ("" if finished else " (from an unfinished run)"))
    return 0


PARTIAL_HELP = "use an unfinished run's last checkpoint (the output says it is partial)"


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
    ev.add_argument("--partial", action="store_true", help=PARTIAL_HELP)
    ev.add_argument("--no-progress", action="store_true")
    ev.set_defaults(func=cmd_evaluate)
    sa = sub.add_parser("sample", help="write a PNG grid of generated images")
    sa.add_argument("--run", required=True)
    sa.add_argument("--n", type=_samples, default=100, help=f"images, 1..{MAX_SAMPLES}")
    sa.add_argument("--ncol", type=_samples, default=10)
    sa.add_argument("--seed", type=_seed, default=0)
    sa.add_argument("--out", default=None, help="PNG path (default <run>/samples.png)")
    sa.add_argument("--partial", action="store_true", help=PARTIAL_HELP)
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
    except KeyboardInterrupt:
        print(
            "interrupted: the same train command run again resumes from the last checkpoint",
            file=sys.stderr,
        )
        return 130


__all__ = ["main", "build_parser"]
