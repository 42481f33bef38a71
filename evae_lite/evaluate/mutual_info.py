"""The mutual information I(x; z) under the encoder, as He et al. (2019) measure posterior
collapse: with q(z) = 1/N sum_n q(z | x_n), the aggregate posterior of the N examples,

    I(x; z) = E_x E_q(z|x) [log q(z|x) - log q(z)],

estimated by sampling z from each q(z|x_n) and evaluating both densities at it, q(z) as the
mixture over all N examples. He et al.'s code takes E_q(z|x)[log q(z|x)] in closed form (minus
the Gaussian's entropy) and mixes over one minibatch; the expectation is the same, and
evaluating log q(z|x) at the sample itself removes most of the sampling noise: posteriors
that do not overlap give log N and identical ones 0, whatever the samples. The estimate lies
in [0, log N]. For the eVAE the posterior
is q(z | y*, x), the prior outside the epitome y*.
"""

from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2 * math.pi)


def gaussian_mixture_log_density(z, mu, logvar, chunk: int = 1024) -> torch.Tensor:
    """log 1/N sum_n N(z; mu_n, diag exp(logvar_n)) for every row of z (M, D): (M,).
    mu, logvar (N, D). The squared distances are expanded into matrix products, in float64
    so that narrow posteriors do not lose them to cancellation."""
    z, mu, logvar = z.double(), mu.double(), logvar.double()
    prec = torch.exp(-logvar)  # (N, D)
    const = -0.5 * ((mu.pow(2) * prec).sum(1) + logvar.sum(1) + mu.shape[1] * LOG_2PI)  # (N,)
    out = []
    for i in range(0, z.shape[0], chunk):
        zc = z[i : i + chunk]
        quad = zc.pow(2) @ prec.T - 2 * zc @ (mu * prec).T  # (m, N)
        out.append(torch.logsumexp(const - 0.5 * quad, dim=1) - math.log(mu.shape[0]))
    return torch.cat(out)


@torch.no_grad()
def mutual_information(
    model,
    x: torch.Tensor,
    y: torch.Tensor | None = None,
    *,
    n_samples: int = 1,
    generator: torch.Generator | None = None,
) -> float:
    """I(x; z) in nats over the N rows of x (N, P), n_samples draws of z per example;
    y: the examples' epitomes (assigned y* when None, for the eVAE and mVAE)."""
    if n_samples < 1:
        raise ValueError(f"n_samples={n_samples} is not allowed: need at least 1")
    if x.shape[0] < 2:
        raise ValueError(f"x has {x.shape[0]} rows: the aggregate posterior needs at least 2")
    mu, logvar = _posteriors(model, x, y)
    eps = torch.randn(n_samples, *mu.shape, generator=generator, device=mu.device).double()
    lv = logvar.double()
    z = mu.double() + torch.exp(0.5 * lv) * eps  # (S, N, D), float64 like the densities
    # log q(z|x_n) at its own sample: -(|eps|^2 + sum logvar + D log 2pi) / 2
    log_q = -0.5 * (eps.pow(2).sum(-1) + lv.sum(-1) + mu.shape[1] * LOG_2PI)
    log_qz = gaussian_mixture_log_density(z.reshape(-1, mu.shape[1]), mu, logvar)
    return float((log_q.reshape(-1) - log_qz).mean())


def _posteriors(model, x, y):
    """mu, logvar (N, D) of q(z | y, x): the prior's (0, 0) outside the assigned epitome."""
    from ..train.assignment import assign_epitomes

    model.eval()
    if y is None:
        y, _ = assign_epitomes(model, x)
    mus, lvs = [], []
    for i in range(0, x.shape[0], 1000):
        mu, lv = model.posterior(x[i : i + 1000], y[i : i + 1000])
        mus.append(mu)
        lvs.append(lv)
    return torch.cat(mus), torch.cat(lvs)
