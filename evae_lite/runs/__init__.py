"""Runs: the table of scales, jobs and the one pipeline `run`, the results cache, sweeps
over grids (`runs.sweep.sweep`), and the paper's grids."""

from .job import (
    Aggregate,
    Job,
    JobResult,
    Lk,
    Spread,
    Units,
    aggregate,
    inputs,
    over_seeds,
    run,
    trained,
)
from .scales import SCALE_NAMES, SCALES, Scale, describe, get_scale, scale_name
from .sweep import cached_result, executor_from_env

__all__ = [
    "Job",
    "JobResult",
    "Units",
    "Lk",
    "Spread",
    "Aggregate",
    "run",
    "trained",
    "inputs",
    "over_seeds",
    "aggregate",
    "Scale",
    "SCALES",
    "SCALE_NAMES",
    "get_scale",
    "scale_name",
    "describe",
    "cached_result",
    "executor_from_env",
]
