"""Importance-weighted log-likelihood L_k (Burda et al., 2015) for VAE, eVAE and mVAE.

For the VAE: L_k(x) = log 1/k sum_i p(x, z_i) / q(z_i|x), z_i ~ q(z|x).

For the eVAE (and mVAE) the marginal is p(x) = 1/Y sum_y p(x|y), with the sum over the Y
epitomes done exactly and each p(x|y) = int p(z) p(x|y, z) dz estimated by k importance
samples from q(z|y, x):

    L_k(x) = log 1/Y sum_y 1/k sum_i p(x|y, z_iy) p(z_iy) / q(z_iy|y, x).

Each inner average is an unbiased estimate of p(x|y), so the whole average is an unbiased
estimate of p(x), and by Jensen's inequality E[L_k] <= log p(x): a valid lower bound, which
tightens as k grows. The cost is Y * k decoder passes per example. Only the K dims of epitome
y are sampled; the others are the prior under both p and q and cancel exactly.
"""

from __future__ import annotations

import math

import torch

from .memory import keep_freed_memory


@torch.no_grad()
def log_likelihood(
    model,
    x: torch.Tensor,
    k: int = 5000,
    *,
    batch_size: int = 100,
    max_rows: int = 1 << 12,
    seed: int = 0,
    progress: bool = False,
) -> torch.Tensor:
    """L_k for every row of x (N, P): (N,) float64, in nats (higher is better).

    Samples are drawn in chunks so that at most ~max_rows decoder rows (chunk * batch * Y)
    are alive at once: memory is bounded whatever k is.
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k={k!r} is not allowed: need a positive integer")
    from tqdm.auto import tqdm

    keep_freed_memory()
    model.eval()
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(seed)
    Y = model.n_epitomes
    out = []
    for i in tqdm(range(0, x.shape[0], batch_size), disable=not progress, desc=f"L_{k}"):
        xb = x[i : i + batch_size].to(device)
        chunk = max(1, min(k, max_rows // (xb.shape[0] * Y)))
        acc = torch.full((xb.shape[0],), -math.inf, dtype=torch.float64, device=device)
        for j in range(0, k, chunk):
            log_w = model.log_weights(xb, min(chunk, k - j), generator=g)  # (c, B, Y)
            acc = torch.logaddexp(acc, torch.logsumexp(log_w.double(), dim=0).logsumexp(-1))
        out.append(acc - math.log(k) - math.log(Y))
    return torch.cat(out)
