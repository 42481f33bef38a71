"""Grids of experiments: run only what the results cache lacks, in parallel.

    jobs = [Job.at(ModelConfig("evae", D=D, K=4), "book", "grids") for D in (8, 24, 48)]
    results = sweep(jobs)                      # worker processes, up to the cores available
    results = sweep(jobs, executor=ex)         # any concurrent.futures-style executor: a
                                               # Dask client's, submitit's (SLURM), Ray's
                                               # (see the README's "Grids on a cluster")

Each job runs through `evae_lite.runs.run` (train through the cache, then measure); its result
is itself a cache entry, so a rerun of the grid computes only the missing configurations.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor, as_completed

from .job import Job, JobResult, run


def describe_job(job: Job) -> str:
    """What a job is, in a line: its labels, data set, model and training seed."""
    m = job.model
    tag = ", ".join(f"{k}={v}" for k, v in job.tag.items())
    model = f"{m.model} D={m.D} K={m.epitome_size} stride={m.epitome_stride} L={m.L} H={m.H}"
    return f"{tag + '; ' if tag else ''}{job.dataset}, {model}, seed {job.seed}"


def cached_result(job: Job) -> JobResult | None:
    """The job's result if the cache holds a valid entry for it (or the configured pack
    does), else None."""
    import json

    from .cache import Entry, from_pack, make_key, served

    e = Entry(make_key("job", **job.key_parts()))
    if not (e.valid() or from_pack(e, ("result.json",), lock=True)):
        return None
    served(e)
    return JobResult.from_json(json.loads((e.dir / "result.json").read_text()))


EXECUTOR_ENV = "EVAE_LITE_EXECUTOR"


def executor_from_env():
    """The executor named by $EVAE_LITE_EXECUTOR ("module:function", a function of no
    arguments returning a concurrent.futures-style executor), or None when it is unset.

    This hands the chapters' grids to a cluster without touching the chapters, e.g. with
    ``EVAE_LITE_EXECUTOR=my_cluster:executor`` and in my_cluster.py::

        def executor():
            ex = submitit.AutoExecutor(folder="slurm_logs")   # a SLURM array
            ex.update_parameters(timeout_min=600, gpus_per_node=1)
            return ex
    """
    import importlib

    spec = os.environ.get(EXECUTOR_ENV, "").strip()
    if not spec:
        return None
    mod, sep, fn = spec.partition(":")
    if not sep or not mod or not fn:
        raise ValueError(f"{EXECUTOR_ENV}={spec!r} is not allowed: use 'module:function'")
    try:
        factory = getattr(importlib.import_module(mod), fn)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"{EXECUTOR_ENV}={spec!r}: cannot load it ({e})") from e
    return factory()


WORKERS_ENV = "EVAE_LITE_WORKERS"


def default_workers(cores: int) -> int:
    """Worker processes for a sweep that names none: $EVAE_LITE_WORKERS (e.g. 1 while another
    process trains on the other core), else one per core."""
    env = os.environ.get(WORKERS_ENV, "").strip()
    if not env:
        return cores
    if not env.isdigit() or int(env) < 1:
        raise ValueError(
            f"{WORKERS_ENV}={env!r} is not allowed: a whole number of processes, 1 or more"
        )
    return int(env)


def sweep(jobs: list[Job], *, workers: int | None = None, executor=None, progress=True):
    """Results of every job, in order. Jobs already in the cache are read; the others run in
    `executor` (default: the one $EVAE_LITE_EXECUTOR names, else worker processes, as many as
    `default_workers`, at most one per job), with one progress bar over the whole grid. A failed job
    raises after the others finish."""
    from tqdm.auto import tqdm

    results: list[JobResult | None] = [None] * len(jobs)
    todo = []
    for i, job in enumerate(jobs):
        results[i] = cached_result(job)
        if results[i] is None:
            todo.append(i)
    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc="grid", disable=not progress)
    errors = []
    if todo:
        if executor is None:
            executor = executor_from_env()
        own = executor is None
        if own:
            cores = os.cpu_count() or 1
            workers = min(workers or default_workers(cores), len(todo))
            # spawn, not fork: a forked copy of a process that already ran torch's thread
            # pool can hang
            executor = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"))
            threads = max(1, cores // workers)
        else:
            threads = None
        try:
            futures = {executor.submit(run, jobs[i], threads=threads): i for i in todo}
            pending = as_completed(futures) if own else futures
            for f in pending:
                i = futures[f]
                try:
                    results[i] = f.result()
                except Exception as e:  # keep the others going; report at the end
                    errors.append((i, e))
                bar.update(1)
        finally:
            if own:
                executor.shutdown()
    bar.close()
    if errors:
        i, e = errors[0]
        raise RuntimeError(
            f"{len(errors)} of {len(todo)} jobs failed; first: job {i} of the grid "
            f"({describe_job(jobs[i])}): {e!r}"
        ) from e
    return results
