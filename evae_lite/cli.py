"""Command line: python -m evae_lite train | evaluate | sample."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

from .config import MODELS, SCHEDULES, ModelConfig, TrainConfig


def _add_model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model (paper notation)")
    g.add_argument("--model", default="vae", help=f"one of {', '.join(MODELS)} (default vae)")
    g.add_argument("--D", type=int, default=50, help="latent dimensions (default 50)")
    g.add_argument("--K", type=int, default=None, help="epitome size (evae, mvae)")
    g.add_argument("--stride", type=int, default=None, help="epitome stride s (default K)")
    g.add_argument("--L", type=int, default=1, help="hidden layers (default 1)")
    g.add_argument("--H", type=int, default=500, help="hidden units per layer (default 500)")
    g.add_argument("--kl-weight", type=float, default=1.0, help="lambda of section 3.1")
    g.add_argument("--dropout", type=float, default=0.0, help="dropout rate on z (dropout_vae)")
    g.add_argument("--component-H", type=int, default=None, help="mVAE component width")


def _add_train_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--dataset", default="mnist", help="mnist or faces (default mnist)")
    g.add_argument("--train-size", type=int, default=None, help="use the first N examples")
    g.add_argument("--epochs", type=int, default=200)
    g.add_argument("--batch-size", type=int, default=100)
    g.add_argument("--lr", type=float, default=1e-3)
    g.add_argument("--schedule", default="constant", help=f"one of {', '.join(SCHEDULES)}")
    g.add_argument("--stages", type=int, default=8, help="stages of the burda schedule")
    g.add_argument("--seed", type=int, default=0)
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
    return name + f"-seed{seed}"


def _load(dataset: str):
    from .data import load_dataset

    return load_dataset(dataset)


def cmd_train(a) -> int:
    from .measure import THRESHOLD_BURDA_CODE, THRESHOLD_PAPER, unit_report
    from .models import param_count
    from .train import fixed_binarization, train

    data = _load(a.dataset)
    likelihood = "bernoulli" if data.binary else "gaussian"
    m = ModelConfig(
        model=a.model,
        D=a.D,
        K=a.K,
        stride=a.stride,
        L=a.L,
        H=a.H,
        x_dim=data.train.shape[1],
        likelihood=likelihood,
        kl_weight=a.kl_weight,
        dropout=a.dropout,
        component_H=a.component_H,
    )
    t = TrainConfig(
        epochs=a.epochs,
        batch_size=a.batch_size,
        lr=a.lr,
        schedule=a.schedule,
        stages=a.stages,
        seed=a.seed,
        device=a.device,
    )
    if a.train_size is not None and not 0 < a.train_size <= data.train.shape[0]:
        raise ValueError(
            f"--train-size={a.train_size} is not allowed: need 1..{data.train.shape[0]}"
        )
    x_train = data.train if a.train_size is None else data.train[: a.train_size]
    out = Path(a.out or Path("runs") / _run_name(m, a.dataset, a.seed))
    out.mkdir(parents=True, exist_ok=True)
    print(f"data: {data.name}, {x_train.shape[0]} train / {data.val.shape[0]} val ({data.source})")
    t0 = time.perf_counter()
    res = train(
        m,
        t,
        x_train,
        data.val,
        binary=data.binary,
        checkpoint=out / "checkpoint.pt",
        progress=not a.no_progress,
    )
    model = res.model
    x_val = data.val.to(next(model.parameters()).device)
    x_val = fixed_binarization(x_val, t.seed) if data.binary else x_val
    rep = unit_report(model, x_val)
    last = res.history[-1]
    summary = {
        "run": str(out),
        "dataset": a.dataset,
        "model_cfg": dataclasses.asdict(m),
        "train_cfg": dataclasses.asdict(t),
        "n_train": x_train.shape[0],
        "params": param_count(model),
        "epochs": last.epoch,
        "seconds": time.perf_counter() - t0,
        "active_units": rep.n_active,
        "active_units_0.01": rep.n_active_at(THRESHOLD_BURDA_CODE),
        "unit_kl_sorted_by_activity": [round(v, 3) for v in rep.kl[rep.order].tolist()],
        "kl_total": float(rep.kl.sum()),
        "val_bound": last.val_bound,
        "train_cost": last.train_cost,
        "group_sizes": last.group_sizes,
    }
    if getattr(model, "component_H", None):
        from .models import EpitomicVAE

        summary["component_H"] = model.component_H
        summary["evae_params"] = param_count(EpitomicVAE(m.replace(model="evae")))
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"\n== {m.model} D={m.D} ({out.name}) after {last.epoch} epochs ==")
    print(f"parameters:       {summary['params']:,}", end="")
    if "evae_params" in summary:
        print(
            f" (eVAE of the same D, K, L, H: {summary['evae_params']:,}; "
            f"component width {model.component_H})",
            end="",
        )
    print()
    if model.n_epitomes > 1:
        print(f"epitomes:         {model.n_epitomes}, examples per epitome {last.group_sizes}")
    print(
        f"active units:     {rep.n_active} of {m.D} (A_u > {THRESHOLD_PAPER}); "
        f"{summary['active_units_0.01']} of {m.D} at {THRESHOLD_BURDA_CODE}"
    )
    kls = " ".join(f"{v:.2f}" for v in summary["unit_kl_sorted_by_activity"])
    print(f"per-unit KL:      {kls} (nats, units sorted by activity)")
    print(f"validation bound: {last.val_bound:.2f} nats (negative ELBO, lower is better)")
    print(f"time:             {summary['seconds']:.1f} s; run saved in {out}")
    return 0


def cmd_evaluate(a) -> int:
    from .iwae import log_likelihood
    from .measure import unit_report
    from .parzen import parzen_score
    from .train import fixed_binarization, model_from_checkpoint

    model, ckpt = model_from_checkpoint(Path(a.run) / "checkpoint.pt")
    summary = Path(a.run) / "summary.json"
    dataset = a.dataset or (json.loads(summary.read_text()) if summary.exists() else {}).get(
        "dataset", "mnist"
    )
    data = _load(dataset)
    x_test = data.test if a.test_size is None else data.test[: a.test_size]
    result: dict = {"run": a.run}
    seed = ckpt["train_cfg"]["seed"]
    rep = unit_report(model, fixed_binarization(data.val, seed) if data.binary else data.val)
    result["active_units"] = rep.n_active
    print(f"active units: {rep.n_active} of {model.D}")
    if a.parzen_samples:
        p = parzen_score(model, data.val, x_test, n_samples=a.parzen_samples, seed=seed)
        result["parzen"] = dataclasses.asdict(p)
        print(p)
    if a.iwae_k:
        xb = fixed_binarization(x_test, seed) if data.binary else x_test
        ll = log_likelihood(model, xb, a.iwae_k, progress=not a.no_progress)
        se = float(ll.std() / ll.numel() ** 0.5)
        result["iwae"] = {"k": a.iwae_k, "mean": float(ll.mean()), "stderr": se}
        print(f"L_{a.iwae_k}: {float(ll.mean()):.2f} ± {se:.2f} nats on {len(ll)} test images")
    (Path(a.run) / "evaluation.json").write_text(json.dumps(result, indent=1))
    return 0


def cmd_sample(a) -> int:
    from .plotting import save_grid
    from .train import model_from_checkpoint

    model, ckpt = model_from_checkpoint(Path(a.run) / "checkpoint.pt")
    side = int(round(ckpt["model_cfg"]["x_dim"] ** 0.5))
    g = torch.Generator().manual_seed(a.seed)
    x = model.sample(a.n, generator=g)
    out = Path(a.out or Path(a.run) / "samples.png")
    save_grid(out, x, (side, side), ncol=a.ncol, title=f"{Path(a.run).name}: {a.n} samples")
    print(f"wrote {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m evae_lite", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train a model and print its summary")
    _add_model_args(tr)
    _add_train_args(tr)
    tr.set_defaults(func=cmd_train)
    ev = sub.add_parser("evaluate", help="active units, Parzen and L_k of a trained run")
    ev.add_argument("--run", required=True, help="run directory written by train")
    ev.add_argument("--dataset", default=None, help="default: the one the run trained on")
    ev.add_argument("--test-size", type=int, default=None, help="first N test examples")
    ev.add_argument("--parzen-samples", type=int, default=10_000, help="0 to skip")
    ev.add_argument("--iwae-k", type=int, default=0, help="k of L_k (5000 in the paper)")
    ev.add_argument("--no-progress", action="store_true")
    ev.set_defaults(func=cmd_evaluate)
    sa = sub.add_parser("sample", help="write a PNG grid of generated images")
    sa.add_argument("--run", required=True)
    sa.add_argument("--n", type=int, default=100)
    sa.add_argument("--ncol", type=int, default=10)
    sa.add_argument("--seed", type=int, default=0)
    sa.add_argument("--out", default=None, help="PNG path (default <run>/samples.png)")
    sa.set_defaults(func=cmd_sample)
    return p


def main(argv=None) -> int:
    from .data import DataError
    from .train import CheckpointError, NonFiniteLossError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, DataError, CheckpointError, NonFiniteLossError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


__all__ = ["main", "build_parser"]
