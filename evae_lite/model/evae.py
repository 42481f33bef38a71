"""The epitomic VAE (section 4, eqs. 5-8): epitome y selects K contiguous dims of z."""

from __future__ import annotations

import torch

from .config import ModelConfig
from .epitomes import epitome_masks
from .nets import gaussian_kl, log_normal_ratio, standard_normal
from .vae import VAE, LossTerms


class EpitomicVAE(VAE):
    """eVAE (section 4): epitome y selects K contiguous dims of z via the mask m_y.

    q(z|y, x) = N(m_y * mu(x), exp(m_y * logvar(x))), p(x|y, z) = p(x | f(m_y * z)).
    With D = K = stride there is one epitome, KL_y = log 1 = 0, and this is the VAE.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.masks = epitome_masks(cfg.D, cfg.epitome_size, cfg.epitome_stride)

    def posterior(self, x, y=None):
        mu, logvar = self.encoder(x)
        m = self.masks[self._y(x, y)]  # (B, D)
        return m * mu, m * logvar

    def decode(self, z, y=None):
        return self.decoder(self.masks[self._y(z, y)] * z)

    def _y(self, x, y):
        if y is None:
            if self.n_epitomes > 1:
                raise ValueError(f"this eVAE has {self.n_epitomes} epitomes: pass y")
            return torch.zeros(x.shape[:-1], dtype=torch.long, device=x.device)
        return y

    def loss_terms(self, x, y=None, *, generator=None, eps=None) -> LossTerms:
        mu, logvar = self.posterior(x, y)  # (B, D), the prior outside epitome y
        eps = standard_normal(mu.shape, mu, generator) if eps is None else eps
        z = mu + torch.exp(0.5 * logvar) * eps
        rec = -self.decoder.log_prob(x, self.decode(z, y))
        kl_y = torch.full_like(rec, self.kl_y)
        return LossTerms(rec, gaussian_kl(mu, logvar), kl_y, self.cfg.kl_weight)

    @torch.no_grad()
    def epitome_costs(self, x, *, n_samples: int = 0, generator=None) -> torch.Tensor:
        """(B, Y) costs, all epitomes in one batched decoder pass (Algorithm 1, line 3)."""
        mu, logvar = self.encoder(x)  # (B, D)
        m = self.masks  # (Y, D)
        kl = gaussian_kl(mu, logvar) @ m.T  # (B, Y): only the K dims of epitome y pay KL
        if n_samples == 0:
            z = mu[None]  # (1, B, D)
        else:  # the same noise for every epitome: the comparison between epitomes is fair
            eps = standard_normal((n_samples, *mu.shape), mu, generator)
            z = mu + torch.exp(0.5 * logvar) * eps
        zy = z[:, :, None, :] * m  # (S, B, Y, D)
        rec = -self.decoder.log_prob(x[:, None, :], self.decoder(zy)).mean(0)  # (B, Y)
        return rec + self.cfg.kl_weight * kl + self.kl_y

    @torch.no_grad()
    def log_weights(self, x, k: int, *, generator=None) -> torch.Tensor:
        """(k, B, Y): for every epitome y, z ~ q(z|y, x) on y's K dims (the others are the
        prior under both p and q, so they cancel exactly and are left at 0)."""
        mu, logvar = self.encoder(x)  # (B, D)
        m = self.masks  # (Y, D)
        eps = standard_normal((k, x.shape[0], 1, self.D), mu, generator) * m  # (k, B, Y, D)
        lv = m * logvar[:, None, :]  # (B, Y, D)
        z = m * mu[:, None, :] + torch.exp(0.5 * lv) * eps
        log_px = self.decoder.log_prob(x[:, None, :], self.decoder(z))  # (k, B, Y)
        return log_px + (m * log_normal_ratio(z, eps, lv)).sum(-1)
