"""Device choice and the data's binarization: the inputs every training run starts from."""

from __future__ import annotations

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """auto -> CUDA when present, else CPU. Asking for a device that is not there (CUDA, a
    CUDA index past the last, MPS) is an error, never a silent fallback to the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device={name!r} was asked for but torch sees no CUDA device")
    if name.startswith("mps") and not torch.backends.mps.is_available():
        raise RuntimeError(f"device={name!r} was asked for but torch sees no MPS device")
    dev = torch.device(name)
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise RuntimeError(
            f"device={name!r} was asked for but torch sees {torch.cuda.device_count()} CUDA "
            f"device(s)"
        )
    return dev


def binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Stochastic binarization: each pixel is 1 with probability its grey level."""
    return (torch.rand(x.shape, generator=generator, device=x.device) < x).to(x.dtype)


def fixed_binarization(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """One fixed stochastic binarization of an evaluation set (the same every call)."""
    g = torch.Generator(device=x.device).manual_seed(seed)
    return binarize(x, g)
