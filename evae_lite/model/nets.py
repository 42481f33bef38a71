"""Fully connected encoder and decoders: L hidden ReLU layers of H units (the paper's L, H)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LOG_2PI = math.log(2 * math.pi)


def mlp(in_dim: int, H: int, L: int) -> nn.Sequential:
    """L hidden layers of H ReLU units; L = 0 is the identity."""
    layers: list[nn.Module] = []
    for i in range(L):
        layers += [nn.Linear(in_dim if i == 0 else H, H), nn.ReLU()]
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """q(z|x) = N(mu(x), exp(logvar(x))), diagonal. Returns mu, logvar, each (B, D)."""

    def __init__(self, x_dim: int, H: int, L: int, D: int):
        super().__init__()
        self.trunk = mlp(x_dim, H, L)
        self.head = nn.Linear(H if L > 0 else x_dim, 2 * D)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.head(self.trunk(x)).chunk(2, dim=-1)
        return mu, logvar


class Decoder(nn.Module):
    """p(x|z): Bernoulli (binarized data) or Gaussian with learned log-variance (eq. 2).

    forward(z) returns the distribution parameters: logits (..., P) for Bernoulli, or
    (mean, logvar) for Gaussian. The Gaussian log-variance has a soft floor at
    `min_logvar` so that constant pixels (e.g. image borders) cannot drive it to -inf.
    """

    def __init__(self, D: int, H: int, L: int, x_dim: int, likelihood: str, min_logvar: float):
        super().__init__()
        self.likelihood = likelihood
        self.min_logvar = min_logvar
        self.trunk = mlp(D, H, L)
        n_out = x_dim if likelihood == "bernoulli" else 2 * x_dim
        self.head = nn.Linear(H if L > 0 else D, n_out)

    def forward(self, z: torch.Tensor):
        return output_params(self.likelihood, self.head(self.trunk(z)), self.min_logvar)

    def log_prob(self, x: torch.Tensor, params) -> torch.Tensor:
        """log p(x|z) summed over pixels; x broadcasts against params' leading dims."""
        return log_prob(self.likelihood, x, params)


def output_params(likelihood: str, out: torch.Tensor, min_logvar: float):
    """Decoder output layer -> Bernoulli logits, or Gaussian (mean, logvar >= ~min_logvar)."""
    if likelihood == "bernoulli":
        return out
    mean, raw = out.chunk(2, dim=-1)
    return mean, min_logvar + F.softplus(raw - min_logvar)


def mean_image(likelihood: str, params) -> torch.Tensor:
    """E[x|z]: the image a sample or reconstruction is shown as."""
    return torch.sigmoid(params) if likelihood == "bernoulli" else params[0]


def log_prob(likelihood: str, x: torch.Tensor, params) -> torch.Tensor:
    """Pixel-summed log-likelihood of x under decoder parameters (Bernoulli logits or Gaussian)."""
    if likelihood == "bernoulli":
        logits = params
        # log p = x*logits - softplus(logits), stable for any logits.
        return (x * logits - F.softplus(logits)).sum(-1)
    mean, logvar = params
    return -0.5 * (LOG_2PI + logvar + (x - mean).pow(2) * torch.exp(-logvar)).sum(-1)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) per dimension, same shape as mu."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def standard_normal(shape, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """N(0, I) noise of `shape` on like's device and dtype, from `generator`."""
    return torch.randn(shape, generator=generator, device=like.device, dtype=like.dtype)


def log_normal_ratio(z: torch.Tensor, eps: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, 1) - log N(z; mu, exp(logvar)) per dim, with z = mu + exp(logvar/2) * eps."""
    return -0.5 * z.pow(2) + 0.5 * eps.pow(2) + 0.5 * logvar
