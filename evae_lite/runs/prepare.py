"""Train a grid's models ahead of the chapter that measures them, one at a time.

    python -m evae_lite.runs.prepare length --scale book      # the 200-epoch runs
    python -m evae_lite.runs.prepare length --seeds 2         # one seed's, beside another call
    python -m evae_lite.runs.prepare fig7 table4 --seeds 0    # several grids, in that order

Runs resume from their checkpoints, so an interrupted call loses at most a few epochs, and a
model that continues a shorter one (runs/grids.length_jobs) starts from that one's end: the
models are trained shortest first, one seed at a time, so that every seed reaches the full
length early. Nothing is measured here: the chapter measures what the cache holds.
"""

from __future__ import annotations

import argparse
import sys
import time

from . import grids
from .scales import SCALE_NAMES


def _remedies(scale: str):
    from .remedies import remedies_jobs

    return remedies_jobs(scale)


GRIDS = {
    "length": grids.length_jobs,
    "fig7": grids.fig7_jobs,
    "table4": grids.table4_jobs,
    "table1": grids.table1_jobs,
    "table2": grids.table2_jobs,
    "remedies": _remedies,
}


def prepare(jobs, *, threads: int | None = 1, progress: bool = True) -> float:
    """Train every job's model (cached); returns the wall seconds it took."""
    import torch
    from tqdm.auto import tqdm

    from .job import trained
    from .sweep import describe_job

    if threads:
        torch.set_num_threads(threads)
    order = sorted(jobs, key=lambda j: (j.seed, j.model.L, j.model.model, j.train.epochs))
    t0 = time.perf_counter()
    bar = tqdm(order, desc="models", unit="model", disable=not progress)
    for job in bar:
        bar.set_postfix_str(describe_job(job))
        trained(job, progress=progress)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m evae_lite.runs.prepare", description=__doc__)
    p.add_argument("grids", nargs="+", choices=list(GRIDS), metavar="grid", help=", ".join(GRIDS))
    p.add_argument("--scale", default="book", choices=SCALE_NAMES)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument(
        "--seeds", type=int, nargs="+", help="only these seeds (e.g. one per process and core)"
    )
    a = p.parse_args(argv)
    for grid in a.grids:
        jobs = GRIDS[grid](a.scale)
        if a.seeds is not None:
            have = sorted({j.seed for j in jobs})
            bad = [s for s in a.seeds if s not in have]
            if bad:
                p.error(f"--seeds {bad} are not in the {grid} grid at {a.scale}: it has {have}")
            jobs = [j for j in jobs if j.seed in a.seeds]
        seconds = prepare(jobs, threads=a.threads)
        print(f"{grid} at scale={a.scale}: every model trained ({seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
