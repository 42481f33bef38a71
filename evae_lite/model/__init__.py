"""The paper's models: configs, epitome masks, networks, VAE / eVAE / mVAE (sections 2-5)."""

from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig
from .epitomes import epitome_masks, n_epitomes
from .evae import EpitomicVAE
from .init import init_parameters
from .mvae import MixtureVAE, matched_component_H
from .vae import VAE, LossTerms

MODEL_CLASSES = {"vae": VAE, "dropout_vae": VAE, "evae": EpitomicVAE, "mvae": MixtureVAE}


def build_model(cfg: ModelConfig, generator: torch.Generator | None = None) -> nn.Module:
    """The model named by cfg.model, its initial weights drawn from `generator` when given
    (see `init_parameters`), else from the process-wide generator."""
    model = MODEL_CLASSES[cfg.model](cfg)
    return model if generator is None else init_parameters(model, generator)


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
    "init_parameters",
    "param_count",
]
