"""Grids of experiments: run only what the results cache lacks, in parallel.

    jobs = [Job(ModelConfig("evae", D=D, K=4), TrainConfig(epochs=10)) for D in (8, 24, 48)]
    results = sweep(jobs)                      # worker processes, up to the cores available
    results = sweep(jobs, executor=ex)         # any concurrent.futures-style executor, e.g.
                                               # submitit.AutoExecutor (SLURM) or a Ray pool

Each job trains a model (through the cache) and measures it; its result is itself a cache
entry, so a rerun of the grid computes only the missing configurations.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

from .config import ModelConfig, TrainConfig

MEASURES = ("units", "parzen", "iwae")


@dataclass(frozen=True)
class Job:
    """One configuration of a grid and what to measure on it."""

    model: ModelConfig
    train: TrainConfig
    dataset: str = "mnist"
    train_size: int | None = None  # first N training images (None: all)
    eval_size: int | None = None  # first N validation/test images for the measurements
    measures: tuple[str, ...] = ("units", "parzen")
    parzen_samples: int = 10_000
    parzen_sigmas: tuple[float, ...] | None = None  # bandwidth grid (None: the default)
    iwae_k: int = 5000
    iwae_size: int = 1000  # test images for L_k
    tag: dict = field(default_factory=dict, compare=False)  # labels for tables, not in the key

    def __post_init__(self):
        bad = [m for m in self.measures if m not in MEASURES]
        if bad:
            raise ValueError(f"measures {bad} are not allowed: choose from {', '.join(MEASURES)}")

    def key_parts(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("tag")
        return d


def _result_key(job: Job) -> str:
    from .cache import make_key

    return make_key("job", **job.key_parts())


def _inputs(job: Job):
    """The job's data set, model config completed for it, and its train/val/test images."""
    from .data import load_dataset

    data = load_dataset(job.dataset)
    m = job.model.replace(
        x_dim=data.train.shape[1], likelihood="bernoulli" if data.binary else "gaussian"
    )
    x_train = data.train if job.train_size is None else data.train[: job.train_size]
    n = job.eval_size
    x_val, x_test = (data.val, data.test) if n is None else (data.val[:n], data.test[:n])
    return data, m, x_train, x_val, x_test


def trained(job: Job, progress: bool = False, inputs=None):
    """The job's trained model (a TrainResult), from the results cache or trained now.
    inputs: what `_inputs(job)` returns, when the caller has it already."""
    from .cache import cached_train

    data, m, x_train, x_val, _ = inputs or _inputs(job)
    return cached_train(m, job.train, x_train, x_val, binary=data.binary, progress=progress)


def run_job(job: Job, threads: int | None = None) -> dict:
    """Train (cached) and measure one job; returns a JSON-able dict. Runs in a worker."""
    import torch

    from .cache import cached_json
    from .train import fixed_binarization

    if threads:
        torch.set_num_threads(threads)
    inputs = _inputs(job)
    data, m, _, x_val, x_test = inputs

    def compute():
        res = trained(job, inputs=inputs)
        model = res.model
        dev = next(model.parameters()).device
        out = {
            "n_params": sum(p.numel() for p in model.parameters()),
            "epochs": res.history[-1].epoch,
            "val_bound": res.history[-1].val_bound,
            "D": m.D,
        }
        if getattr(model, "component_H", None):
            out["component_H"] = model.component_H
        xv = x_val.to(dev)
        if "units" in job.measures:
            from .measure import unit_report

            rep = unit_report(model, fixed_binarization(xv, 0) if data.binary else xv)
            out["active_units"] = rep.n_active
            out["active_units_0.01"] = rep.n_active_at(0.01)
            out["unit_kl"] = rep.kl.tolist()
        if "parzen" in job.measures:
            from .parzen import DEFAULT_SIGMAS, parzen_score

            sigmas = job.parzen_sigmas or DEFAULT_SIGMAS
            p = parzen_score(model, xv, x_test.to(dev), n_samples=job.parzen_samples, sigmas=sigmas)
            out["parzen"] = dataclasses.asdict(p)
        if "iwae" in job.measures:
            from .iwae import log_likelihood

            xt = x_test[: job.iwae_size].to(dev)
            ll = log_likelihood(model, fixed_binarization(xt, 0) if data.binary else xt, job.iwae_k)
            out["iwae"] = {
                "k": job.iwae_k,
                "mean": float(ll.mean()),
                "stderr": float(ll.std() / len(ll) ** 0.5),
                "n": len(ll),
                "per_image": ll.tolist(),  # for paired comparisons between models
            }
        return out

    return cached_json("job", compute, **job.key_parts())


def cached_result(job: Job) -> dict | None:
    """The job's result if the cache holds a valid entry for it, else None."""
    import json

    from .cache import Entry

    e = Entry(_result_key(job))
    return json.loads((e.dir / "result.json").read_text()) if e.valid() else None


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


def sweep(jobs: list[Job], *, workers: int | None = None, executor=None, progress=True):
    """Results of every job, in order. Jobs already in the cache are read; the others run in
    `executor` (default: the one $EVAE_LITE_EXECUTOR names, else worker processes, as many as
    cores, at most one per job), with one progress bar over the whole grid. A failed job
    raises after the others finish."""
    from tqdm.auto import tqdm

    results: list[dict | None] = [None] * len(jobs)
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
            workers = min(workers or cores, len(todo))
            # spawn, not fork: a forked copy of a process that already ran torch's thread
            # pool can hang
            executor = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"))
            threads = max(1, cores // workers)
        else:
            threads = None
        try:
            futures = {executor.submit(run_job, jobs[i], threads): i for i in todo}
            pending = as_completed(futures) if own else futures
            for f in pending:
                i = futures[f]
                try:
                    results[i] = f.result()
                except Exception as e:  # keep the others going; report at the end
                    errors.append((jobs[i], e))
                bar.update(1)
        finally:
            if own:
                executor.shutdown()
    bar.close()
    if errors:
        job, e = errors[0]
        raise RuntimeError(
            f"{len(errors)} of {len(todo)} jobs failed; first: {job.model} ({e!r})"
        ) from e
    return results
