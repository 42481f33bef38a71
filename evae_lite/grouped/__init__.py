"""Several seeds of one configuration trained as one grouped model.

S models that differ only in their seed run side by side: every layer is one grouped
matrix product over the S seeds, and one Adam step updates all of them, so the per-step
cost outside the products (dispatch, small element-wise ops) is paid once per step instead
of once per seed. Each seed keeps its own generator, drawn from in the single-seed run's
order, so each comes out as the model `train.train` gives it, to the rounding of the grouped
products. The benchmark (`benchmarks/run.py`) measures what that buys.
"""

from __future__ import annotations

from .loop import GROUPED_MODELS, train_grouped
from .model import SeedGroup

__all__ = ["GROUPED_MODELS", "SeedGroup", "train_grouped"]
