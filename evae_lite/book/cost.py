"""What the book's models cost to train, read from the results cache: each model's seconds
are the sum of its epochs' seconds as its own checkpoint records them (assignment,
minibatches and validation; not the checkpoint writes, not the measurements), so the figure
is the same however the training was split across processes, interrupted or resumed.

    python -m evae_lite.book.cost                 # the grids of chapters 9-11 and 14, book scale
    python -m evae_lite.book.cost --scale paper

A model that is not in the cache is reported as missing, never estimated.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelCost:
    """One model of a grid: its label, seed, and training seconds (None: not trained)."""

    label: str
    seed: int
    seconds: float | None


def training_seconds(checkpoint) -> float:
    """Seconds of training recorded in a checkpoint: the sum over its epochs."""
    from ..train import load_checkpoint

    return float(sum(h["seconds"] for h in load_checkpoint(checkpoint)["history"]))


def _label(job) -> str:
    """'eVAE D=24 L=1 H=500 K=4', from the model itself (grids tag their jobs differently)."""
    m = job.model
    name = {"vae": "VAE", "evae": "eVAE", "mvae": "mVAE"}.get(m.model, m.model)
    k = f" K={m.epitome_size}" if m.model in ("evae", "mvae") else ""
    return f"{name} D={m.D} L={m.L} H={m.H}{k}"


def remedy_label(job) -> str:
    """'warm-up D=20': the remedies share their models' architecture, so their tags name them."""
    return f"{job.tag['model']} D={job.tag['D']}"


def grid_cost(jobs, seen: set | None = None, label=_label) -> list[ModelCost]:
    """Every distinct model of `jobs`, in order: a model two jobs share counts once, and so
    does one whose cache key is already in `seen` (which this call adds to). `label` names a
    job's configuration."""
    from ..runs import inputs
    from ..runs.cache import Entry, model_key

    out, seen = [], set() if seen is None else seen
    for job in jobs:
        i = inputs(job)
        key = model_key(i.model, job.train, x_train=i.x_train, x_val=i.x_val)
        if key in seen:
            continue
        seen.add(key)
        e = Entry(key)
        seconds = training_seconds(e.dir / "checkpoint.pt") if e.valid() else None
        out.append(ModelCost(label(job), job.seed, seconds))
    return out


def summary(costs: list[ModelCost]) -> list[tuple[str, int, float, float, float]]:
    """Per label: (label, models trained, fewest seconds, median, most). The median is what
    a configuration typically costs: an epoch's seconds also hold any wait for the cores
    (another process, a paused run), which the most shows."""
    by: dict[str, list[float]] = {}
    for c in costs:
        if c.seconds is not None:
            by.setdefault(c.label, []).append(c.seconds)
    return [(k, len(v), min(v), statistics.median(v), max(v)) for k, v in by.items()]


def main(argv=None) -> int:
    from ..runs import grids as E
    from ..runs.remedies import remedies_jobs

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="book", help="smoke, book or paper")
    args = parser.parse_args(argv)
    grids = {
        "Fig. 7 (chapter 9)": E.fig7_jobs(args.scale),
        "Table 4 (chapter 10)": E.table4_jobs(args.scale),
        "Table 1 (chapter 10)": E.table1_jobs(args.scale),
        "Table 2 (chapter 11)": E.table2_jobs(args.scale),
        "the remedies (chapter 13)": remedies_jobs(args.scale),
    }
    seen: set = set()  # a model of an earlier grid (Table 4's L = 1 is Fig. 7's) counts there
    for name, jobs in grids.items():
        label = remedy_label if "remedies" in name else _label
        costs = grid_cost(jobs, seen, label)
        done = [c.seconds for c in costs if c.seconds is not None]
        typical = sum(n * mid for _, n, _, mid, _ in summary(costs))
        print(
            f"{name}: {len(done)} of {len(costs)} models trained, {sum(done):,.0f} s of "
            f"training as recorded, {typical:,.0f} s at each configuration's median "
            f"(scale={args.scale})"
        )
        for label, n, lo, mid, hi in summary(costs):
            print(f"   {label:34s} {n:3d} models  {lo:6.0f} / {mid:6.0f} / {hi:6.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
