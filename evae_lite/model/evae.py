"""The epitomic VAE (section 4, eqs. 5-8): epitome y selects K contiguous dims of z."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .epitomes import epitome_masks
from .nets import gaussian_kl, log_normal_ratio, standard_normal
from .vae import VAE, LossTerms

BASELINE_DECAY = 0.9  # REINFORCE: the baseline is this moving average of the cost


class EpitomicVAE(VAE):
    """eVAE (section 4): epitome y selects K contiguous dims of z via the mask m_y.

    q(z|y, x) = N(m_y * mu(x), exp(m_y * logvar(x))), p(x|y, z) = p(x | f(m_y * z)).
    With D = K = stride there is one epitome, KL_y = log 1 = 0, and this is the VAE.

    With cfg.q_y other than "point", q(y|x) = softmax(h(x)) is learned (in training; in eval
    mode loss_terms takes the given y, as for the point estimate): h is a linear head on
    the encoder's hidden layer, and the cost is eq. 7's with the expectation over q(y|x),
    E_q(y|x)[rec + lambda KL_z] + KL[q(y|x) || p(y)], its gradient estimated by the
    Gumbel-softmax relaxation at temperature tau (relaxed, or straight-through: a one-hot y
    forward, the relaxed gradient backward) or by REINFORCE with a moving-average baseline.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.masks = epitome_masks(cfg.D, cfg.epitome_size, cfg.epitome_stride)
        if self.learns_q_y:
            self.q_head = nn.Linear(cfg.H if cfg.L > 0 else cfg.x_dim, self.n_epitomes)
            self.register_buffer("baseline", torch.zeros(()))

    @property
    def learns_q_y(self) -> bool:
        return self.cfg.q_y != "point"

    def q_y_logits(self, x: torch.Tensor) -> torch.Tensor:
        """log q(y|x) up to a constant, (B, Y)."""
        return self.q_head(self.encoder.trunk(x))

    def q_y_probs(self, x: torch.Tensor) -> torch.Tensor:
        """q(y|x), (B, Y)."""
        return self.q_y_logits(x).softmax(-1)

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

    def loss_terms(self, x, y=None, *, generator=None, eps=None, tau=None) -> LossTerms:
        if self.learns_q_y and self.training:  # in eval, the given y (the model's own mode)
            return self._learned_q_terms(x, generator, tau)
        mu, logvar = self.posterior(x, y)  # (B, D), the prior outside epitome y
        eps = standard_normal(mu.shape, mu, generator) if eps is None else eps
        z = mu + torch.exp(0.5 * logvar) * eps
        rec = -self.decoder.log_prob(x, self.decode(z, y))
        kl_y = torch.full_like(rec, self.kl_y)
        return LossTerms(rec, gaussian_kl(mu, logvar), kl_y, self.cfg.kl_weight)

    def _learned_q_terms(self, x, generator, tau) -> LossTerms:
        """One sample of y from q(y|x) (relaxed for Gumbel-softmax), one z given it; kl_y is
        KL[q(y|x) || uniform(Y)] in closed form."""
        h = self.encoder.trunk(x)
        mu, logvar = self.encoder.head(h).chunk(2, dim=-1)  # (B, D)
        log_q = F.log_softmax(self.q_head(h), dim=-1)  # (B, Y)
        kl_y = (log_q.exp() * (log_q + math.log(self.n_epitomes))).sum(-1)
        score = None
        if self.cfg.q_y == "reinforce":
            y = torch.multinomial(log_q.detach().exp(), 1, generator=generator)[:, 0]
            m = self.masks[y]  # (B, D)
        else:
            if tau is None:
                raise ValueError(f"q_y={self.cfg.q_y!r} needs the temperature tau")
            u = torch.rand(log_q.shape, generator=generator, device=x.device)
            gumbel = -torch.log(-torch.log(u.clamp_min(1e-20)))
            soft = F.softmax((log_q + gumbel) / tau, dim=-1)  # (B, Y)
            if self.cfg.q_y == "gumbel_st":
                hard = F.one_hot(soft.argmax(-1), self.n_epitomes).to(soft.dtype)
                soft = hard + soft - soft.detach()  # forward one-hot, backward relaxed
            m = soft @ self.masks  # (B, D)
        mu, logvar = m * mu, m * logvar
        eps = standard_normal(mu.shape, mu, generator)
        z = mu + torch.exp(0.5 * logvar) * eps
        rec = -self.decoder.log_prob(x, self.decoder(m * z))
        kl = gaussian_kl(mu, logvar)
        if self.cfg.q_y == "reinforce":
            f = (rec + self.cfg.kl_weight * kl.sum(-1)).detach()
            score = (f - self.baseline) * log_q.gather(1, y[:, None])[:, 0]
            if self.training:
                self.baseline.mul_(BASELINE_DECAY).add_((1 - BASELINE_DECAY) * f.mean())
        return LossTerms(rec, kl, kl_y, self.cfg.kl_weight, score)

    @torch.no_grad()
    def expected_bound(self, x, *, generator=None) -> torch.Tensor:
        """(B,) the negative ELBO with the learned q(y|x), the sum over y done exactly:
        sum_y q(y|x) [rec + KL_z](x, y) + KL[q(y|x) || p(y)], one z sample per example shared
        by every epitome (lambda = 1)."""
        log_q = F.log_softmax(self.q_y_logits(x), dim=-1)  # (B, Y)
        q = log_q.exp()
        mu, logvar = self.encoder(x)
        m = self.masks  # (Y, D)
        kl = gaussian_kl(mu, logvar) @ m.T  # (B, Y)
        eps = standard_normal(mu.shape, mu, generator)
        z = mu + torch.exp(0.5 * logvar) * eps  # (B, D)
        rec = -self.decoder.log_prob(x[:, None, :], self.decoder(z[:, None, :] * m))  # (B, Y)
        return (q * (rec + kl)).sum(-1) + (q * (log_q + math.log(self.n_epitomes))).sum(-1)

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
