"""Unit activity and per-unit KL (section 3, Fig. 1), reconstructions, unit correlations."""

from __future__ import annotations

import dataclasses
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
class ActivityParts:
    """A_u split by the law of total variance over two groups of examples: those whose
    assigned epitome contains u (share p_u) and the others, where an eVAE's or mVAE's
    posterior mean of u is the prior's 0.

    A_u = within_u + between_u, with within_u = c [p V_in + (1 - p) V_out] and
    between_u = c p (1 - p) (m_in - m_out)^2 (V, m: the groups' variances and means over
    examples, c = N / (N - 1) as in A_u). within_activity is the unbiased variance of u's
    posterior mean over the examples whose epitome contains u alone: the activity of u where
    it is used, which small groups dilute in A_u and which a non-zero group mean inflates.
    All (D,); a VAE has one group, so within = A and between = 0.
    """

    activity: torch.Tensor
    within: torch.Tensor
    between: torch.Tensor
    within_activity: torch.Tensor  # 0 where fewer than 2 examples use u
    group_size: torch.Tensor  # examples whose epitome contains u


def activity_parts(mu: torch.Tensor, y: torch.Tensor, masks: torch.Tensor) -> ActivityParts:
    """The decomposition of A_u for posterior means mu (N, D) of examples assigned y (N,) to
    epitomes with masks (Y, D)."""
    mu = mu.double()
    inside = masks[y].bool()  # (N, D)
    N = mu.shape[0]
    n_in = inside.sum(0)  # (D,)
    n_out = N - n_in
    p = n_in.double() / N

    def moments(where, n):
        w = where.double()
        mean = (mu * w).sum(0) / n.clamp(min=1)
        var = (((mu - mean) ** 2) * w).sum(0) / n.clamp(min=1)  # population variance
        return mean, var

    m_in, v_in = moments(inside, n_in)
    m_out, v_out = moments(~inside, n_out)
    c = N / (N - 1)
    within = c * (p * v_in + (1 - p) * v_out)
    between = c * p * (1 - p) * (m_in - m_out) ** 2
    w_act = torch.where(n_in > 1, v_in * n_in / (n_in - 1).clamp(min=1), torch.zeros_like(v_in))
    return ActivityParts(
        activity(mu),
        within.float(),
        between.float(),
        w_act.float(),
        n_in,
    )


@dataclass
class UnitReport:
    activity: torch.Tensor  # (D,)
    kl: torch.Tensor  # (D,) mean KL(q(z_u|x) || p(z_u)) over examples, nats
    threshold: float
    parts: ActivityParts | None = None  # A_u within and between epitomes

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
    """Activity (and its parts within and between epitomes) and mean KL of every latent unit
    over the examples x, assigned y* when y is not given."""
    if y is None:
        y, _ = assign_epitomes(model.eval(), x, batch_size=1000)  # as posterior_stats does
    mu, kl = posterior_stats(model, x, y)
    parts = activity_parts(mu, y, model.masks)
    parts = ActivityParts(*(t.cpu() for t in dataclasses.astuple(parts)))
    return UnitReport(parts.activity, kl.mean(0).cpu(), threshold, parts)


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
