"""Epitome masks m_y (paper section 4, Fig. 5).

An epitome is a window of K contiguous latent dimensions out of D; windows start every
`stride` dimensions. stride = 1 gives fully overlapping epitomes, stride = K non-overlapping
ones, and D = K = stride a single epitome covering everything (the plain VAE).
"""

from __future__ import annotations

import torch


def check_epitomes(D: int, K: int, stride: int) -> None:
    """Raise ValueError naming the bad value unless (D, K, stride) tile all D dimensions."""
    for name, v in (("D", D), ("K", K), ("stride", stride)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name}={v!r} is not allowed: it must be a positive integer")
    if K > D:
        raise ValueError(f"epitome size K={K} is larger than the latent size D={D}: need K <= D")
    if stride > K:
        raise ValueError(
            f"stride={stride} is larger than the epitome size K={K}: dimensions between "
            f"epitomes would never be used; need 1 <= stride <= K"
        )
    if (D - K) % stride != 0:
        last = (D - K) // stride * stride + K
        raise ValueError(
            f"stride={stride} with K={K} leaves dimensions {last}..{D - 1} of D={D} uncovered: "
            f"need (D - K) divisible by stride, e.g. stride in "
            f"{[s for s in range(1, K + 1) if (D - K) % s == 0]}"
        )


def n_epitomes(D: int, K: int, stride: int) -> int:
    """Number of epitomes: windows of size K starting at 0, stride, 2*stride, ..."""
    check_epitomes(D, K, stride)
    return (D - K) // stride + 1


def epitome_masks(D: int, K: int, stride: int) -> torch.Tensor:
    """The masks m_y, a (Y, D) float 0/1 tensor: row y is 1 on dims y*stride .. y*stride+K-1."""
    Y = n_epitomes(D, K, stride)
    d = torch.arange(D)
    start = torch.arange(Y)[:, None] * stride
    return ((d >= start) & (d < start + K)).float()
