"""Unit activity and per-unit KL (section 3, Fig. 1), reconstructions, unit correlations."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..model.nets import gaussian_kl
from ..train.assignment import assign_epitomes

THRESHOLD_PAPER = 0.02  # the paper's (and Burda et al.'s text) activity threshold
THRESHOLD_BURDA_CODE = 0.01  # the threshold in Burda et al.'s released code


@torch.no_grad()
def posterior_stats(model, x: torch.Tensor, y: torch.Tensor | None = None, batch_size=1000):
    """Posterior means (N, D) and per-unit KL (N, D) of q(z | y*, x), y* assigned if not given.

    For the eVAE and mVAE, dims outside the assigned epitome are the prior: mean 0, KL 0.
    """
    model.eval()
    if y is None:
        y, _ = assign_epitomes(model, x, batch_size=batch_size)
    mus, kls = [], []
    for i in range(0, x.shape[0], batch_size):
        mu, logvar = model.posterior(x[i : i + batch_size], y[i : i + batch_size])
        mus.append(mu)
        kls.append(gaussian_kl(mu, logvar))
    return torch.cat(mus), torch.cat(kls)


def activity(mu: torch.Tensor) -> torch.Tensor:
    """A_u = Cov_x(E_q[u]): the variance over examples of each unit's posterior mean, (D,)."""
    return mu.double().var(dim=0, unbiased=True).float()


@dataclass
class UnitReport:
    activity: torch.Tensor  # (D,)
    kl: torch.Tensor  # (D,) mean KL(q(z_u|x) || p(z_u)) over examples, nats
    threshold: float

    @property
    def active(self) -> torch.Tensor:
        return self.activity > self.threshold

    @property
    def n_active(self) -> int:
        return int(self.active.sum())

    def n_active_at(self, threshold: float) -> int:
        return int((self.activity > threshold).sum())

    @property
    def order(self) -> torch.Tensor:
        """Units sorted by activity, most active first (Fig. 1's x-axis)."""
        return torch.argsort(self.activity, descending=True)


def unit_report(model, x, y=None, threshold: float = THRESHOLD_PAPER) -> UnitReport:
    """Activity and mean KL of every latent unit over the examples x."""
    mu, kl = posterior_stats(model, x, y)
    return UnitReport(activity(mu).cpu(), kl.mean(0).cpu(), threshold)


@torch.no_grad()
def reconstruct(model, x: torch.Tensor, y: torch.Tensor | None = None, batch_size=1000):
    """Decoder means at the posterior mean of q(z | y*, x): what reconstructions show, (N, P)."""
    from ..model.nets import mean_image

    model.eval()
    if y is None:
        y, _ = assign_epitomes(model, x, batch_size=batch_size)
    out = []
    for i in range(0, x.shape[0], batch_size):
        mu, _ = model.posterior(x[i : i + batch_size], y[i : i + batch_size])
        out.append(mean_image(model.cfg.likelihood, model.decode(mu, y[i : i + batch_size])))
    return torch.cat(out)


def unit_correlation(mu: torch.Tensor) -> torch.Tensor:
    """Absolute correlation between units' posterior means over examples, (D, D); units with
    no variance get 0. Replicated (redundant) units show up as large off-diagonal values."""
    m = mu.double() - mu.double().mean(0)
    sd = m.pow(2).mean(0).sqrt()
    ok = sd > 1e-8
    c = torch.zeros(mu.shape[1], mu.shape[1], dtype=torch.float64)
    mo = m[:, ok] / sd[ok]
    c[ok.nonzero()[:, 0, None], ok.nonzero()[:, 0]] = (mo.T @ mo / m.shape[0]).abs()
    return c.float()
