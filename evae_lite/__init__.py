"""evae-lite: epitomic variational autoencoders (Yeung, Kannan, Dauphin, Fei-Fei).

Layers, each importing only the ones above it: ``model`` (the paper's models), ``train``
(Algorithm 1), ``evaluate`` (activity, Parzen, L_k), ``runs`` (scales, jobs, the results
cache, sweeps, the paper's grids), ``book`` (chapter helpers, figures, the paper's tables).
"""

from .model import (
    VAE,
    EpitomicVAE,
    MixtureVAE,
    ModelConfig,
    build_model,
    epitome_masks,
    n_epitomes,
    param_count,
)
from .train import TrainConfig

__all__ = [
    "ModelConfig",
    "TrainConfig",
    "epitome_masks",
    "n_epitomes",
    "VAE",
    "EpitomicVAE",
    "MixtureVAE",
    "build_model",
    "param_count",
]
