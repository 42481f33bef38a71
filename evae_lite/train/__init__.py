"""Training: Algorithm 1's assignment and balanced minibatches, the epoch loop, checkpoints."""

from .assignment import assign_epitomes, balanced_order
from .checkpoint import CheckpointError, load_checkpoint, model_from_checkpoint
from .config import TrainConfig
from .device import binarize, fixed_binarization, resolve_device
from .loop import EpochStats, NonFiniteLossError, TrainResult, train, validation_bound

__all__ = [
    "TrainConfig",
    "train",
    "TrainResult",
    "EpochStats",
    "NonFiniteLossError",
    "CheckpointError",
    "load_checkpoint",
    "model_from_checkpoint",
    "assign_epitomes",
    "balanced_order",
    "validation_bound",
    "binarize",
    "fixed_binarization",
    "resolve_device",
]
