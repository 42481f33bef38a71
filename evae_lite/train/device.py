"""Device choice and the data's binarization: the inputs every training run starts from."""

from __future__ import annotations

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """auto -> CUDA when present, else CPU. Asking for CUDA without one is an error, never a
    silent fallback to the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device={name!r} was asked for but torch sees no CUDA device")
    return torch.device(name)


def binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Stochastic binarization: each pixel is 1 with probability its grey level."""
    return (torch.rand(x.shape, generator=generator, device=x.device) < x).to(x.dtype)


def fixed_binarization(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """One fixed stochastic binarization of an evaluation set (the same every call)."""
    g = torch.Generator(device=x.device).manual_seed(seed)
    return binarize(x, g)
