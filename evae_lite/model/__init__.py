"""The paper's models: configs, epitome masks, networks, VAE / eVAE / mVAE (sections 2-5)."""

from __future__ import annotations

from torch import nn

from .config import ModelConfig
from .epitomes import epitome_masks, n_epitomes
from .evae import EpitomicVAE
from .mvae import MixtureVAE, matched_component_H
from .vae import VAE, LossTerms

MODEL_CLASSES = {"vae": VAE, "dropout_vae": VAE, "evae": EpitomicVAE, "mvae": MixtureVAE}


def build_model(cfg: ModelConfig) -> nn.Module:
    """The model named by cfg.model."""
    return MODEL_CLASSES[cfg.model](cfg)


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "ModelConfig",
    "epitome_masks",
    "n_epitomes",
    "VAE",
    "EpitomicVAE",
    "MixtureVAE",
    "LossTerms",
    "matched_component_H",
    "MODEL_CLASSES",
    "build_model",
    "param_count",
]
