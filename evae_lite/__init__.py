"""evae-lite: epitomic variational autoencoders (Yeung, Kannan, Dauphin, Fei-Fei)."""

from .config import ModelConfig, TrainConfig
from .epitomes import epitome_masks, n_epitomes
from .models import VAE, EpitomicVAE, MixtureVAE, build_model, param_count

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
