"""The VAE of section 2 (eqs. 1-4), with the KL weight lambda (3.1) and dropout on z (3.2).

All models share one interface, used by training and the measurements:

- ``n_epitomes`` Y (1 for the VAEs) and ``masks`` m_y, a (Y, D) 0/1 tensor;
- ``posterior(x, y)``: mean and log-variance of q(z | y, x) in the D-dim latent space;
  dimensions outside epitome y are exactly the prior N(0, 1) (eq. 6);
- ``loss_terms(x, y)``: the per-example terms of the cost (eqs. 4 and 7) with the point
  estimate q(y|x) = delta(y - y*): reconstruction, KL per unit, and KL[q(y|x) || p(y)];
- ``epitome_costs(x)``: the cost of every example under every epitome, (B, Y), at once;
- ``log_weights(x, k)``: importance log-weights log p(x, z | y) - log q(z | y, x) for k
  samples of z under every epitome, (k, B, Y), for the L_k estimator;
- ``sample(n)`` and ``decode(z, y)`` for generation: y uniform, z ~ N(0, I), x ~ p(x | m_y * z).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .config import ModelConfig
from .nets import (
    Decoder,
    Encoder,
    gaussian_kl,
    log_normal_ratio,
    mean_image,
    standard_normal,
)


@dataclass
class LossTerms:
    """Per-example terms of the cost. rec: (B,), kl: (B, D), kl_y: (B,).

    score: (B,) or None, for a q(y|x) learned by REINFORCE: a term whose gradient is the
    score-function estimate of the gradient of E_q(y|x)[cost] with respect to q; it is added
    to the minibatch objective, never to the reported cost."""

    rec: torch.Tensor
    kl: torch.Tensor
    kl_y: torch.Tensor
    kl_weight: float = 1.0
    score: torch.Tensor | None = None

    @property
    def cost(self) -> torch.Tensor:
        """Per-example cost, (B,): rec + lambda * sum_d KL_d + KL_y (eq. 4, eq. 7)."""
        return self.rec + self.kl_weight * self.kl.sum(-1) + self.kl_y

    @property
    def bound(self) -> torch.Tensor:
        """Per-example negative ELBO with lambda = 1, (B,): the true bound, in nats."""
        return self.rec + self.kl.sum(-1) + self.kl_y


class VAE(nn.Module):
    """The VAE of section 2, with the KL weight lambda (3.1) and optional dropout on z (3.2)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.D = cfg.D
        self.encoder = Encoder(cfg.x_dim, cfg.H, cfg.L, cfg.D)
        self.decoder = Decoder(cfg.D, cfg.H, cfg.L, cfg.x_dim, cfg.likelihood, cfg.min_logvar)
        self.register_buffer("masks", torch.ones(1, cfg.D))  # one epitome: everything

    @property
    def n_epitomes(self) -> int:
        return self.masks.shape[0]

    @property
    def kl_y(self) -> float:
        """KL[delta(y - y*) || uniform(Y)] = log Y: the price of naming an epitome."""
        return math.log(self.n_epitomes)

    def posterior(self, x: torch.Tensor, y: torch.Tensor | None = None):
        """q(z|x): mean and log-variance, each (B, D). The VAE has no epitome: y is ignored."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None):
        """Decoder parameters for latent z (..., D)."""
        return self.decoder(z)

    def loss_terms(self, x, y=None, *, generator=None, eps=None) -> LossTerms:
        """Per-example terms with one reparameterized sample z = mu + sigma * eps."""
        mu, logvar = self.encoder(x)  # (B, D)
        eps = standard_normal(mu.shape, mu, generator) if eps is None else eps
        z = mu + torch.exp(0.5 * logvar) * eps
        p = self.cfg.dropout
        if self.training and p > 0:  # inverted dropout on z (section 3.2)
            keep = torch.rand(z.shape, generator=generator, device=z.device) >= p
            z = z * keep / (1 - p)
        rec = -self.decoder.log_prob(x, self.decoder(z))
        return LossTerms(rec, gaussian_kl(mu, logvar), torch.zeros_like(rec), self.cfg.kl_weight)

    @torch.no_grad()
    def epitome_costs(self, x, *, n_samples: int = 0, generator=None) -> torch.Tensor:
        """Cost of each example under each epitome, (B, Y); n_samples = 0: z at the mean."""
        eps = None if n_samples else torch.zeros(x.shape[0], self.D, device=x.device)
        return self.loss_terms(x, eps=eps, generator=generator).cost[:, None]

    @torch.no_grad()
    def log_weights(self, x, k: int, *, generator=None) -> torch.Tensor:
        """log p(x|z) + log p(z) - log q(z|x) for k samples z ~ q(z|x): (k, B, 1)."""
        mu, logvar = self.encoder(x)
        eps = standard_normal((k, *mu.shape), mu, generator)
        z = mu + torch.exp(0.5 * logvar) * eps  # (k, B, D)
        log_w = self.decoder.log_prob(x, self.decoder(z)) + log_normal_ratio(z, eps, logvar).sum(-1)
        return log_w[..., None]

    @torch.no_grad()
    def sample(self, n: int, *, generator=None, y: torch.Tensor | None = None) -> torch.Tensor:
        """n generated images as decoder means, (n, P): y ~ uniform, z ~ N(0, I)."""
        device = self.masks.device
        if y is None:
            y = torch.randint(self.n_epitomes, (n,), generator=generator, device=device)
        z = torch.randn(n, self.D, generator=generator, device=device)
        return mean_image(self.cfg.likelihood, self.decode(z, y))
