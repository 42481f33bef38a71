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
from functools import partial

import torch
from torch import nn

from ..memory import keep_freed_memory
from ..model import VAE
from ..model.nets import log_normal_ratio, standard_normal

# Product of at most this many sigmoids in [1/2, 1] stays a normal float32 (>= 2^-126).
_MAX_BLOCK = 64


def bernoulli_log_prob_of_hidden(h: torch.Tensor, head: nn.Linear, x: torch.Tensor):
    """sum_p log Bernoulli(x_p; sigmoid(l_p)) for the logits l = head(h): h (..., B, Y, H),
    x (B, P) in [0, 1] -> (..., B, Y). The output layer is folded into the likelihood so that
    one sigmoid per pixel is the only transcendental (the plain form, x.l - softplus(l), costs
    an exp and a log1p per pixel). With log sigmoid(s) = min(s, 0) + log sigmoid(|s|),
    x.l - softplus(l) = (x - 1/2).l - |l|/2 + log sigmoid(|l|), and:
      - sum_p (x_p - 1/2) l_p = h . (W^T (x - 1/2)) + b . (x - 1/2): an H-long dot per row;
      - sum_p log sigmoid(|l_p|) = log of products of sigmoids in blocks of up to 64 pixels
        (each sigmoid is in [1/2, 1], so no block underflows): one log per block.
    """
    return _log_prob_given(h, head, *_data_term(head, x))


def _data_term(head: nn.Linear, x: torch.Tensor):
    """W^T (x - 1/2) (B, H) and b . (x - 1/2) (B,): what x contributes, once per batch."""
    xc = x - 0.5  # (B, P)
    return xc @ head.weight, xc @ head.bias


def _log_prob_given(h: torch.Tensor, head: nn.Linear, v: torch.Tensor, c0: torch.Tensor):
    """bernoulli_log_prob_of_hidden with x's data term (v, c0) = _data_term(head, x)."""
    W, b = head.weight, head.bias  # (P, H), (P,)
    lin = (h * v[:, None, :]).sum(-1) + c0[:, None]  # (..., B, Y)
    a = torch.addmm(b, h.reshape(-1, h.shape[-1]), W.T).abs_()  # |l|, (rows, P)
    abs_sum = a.sum(-1)
    s = a.sigmoid_()
    block = 1
    while s.shape[-1] % 2 == 0 and 2 * block <= _MAX_BLOCK:  # pairwise products, in place
        half = s.shape[-1] // 2
        s = s[:, :half].mul_(s[:, half:])
        block *= 2
    log_sig = s.log_().sum(-1)
    return lin + (log_sig - 0.5 * abs_sum).view(lin.shape)


def fused_log_weights(model, x: torch.Tensor):
    """A function (k, generator) -> model.log_weights(x, k) (k, B, Y) of a VAE or eVAE with a
    Bernoulli decoder: the same samples from the same generator, with the likelihood of
    `bernoulli_log_prob_of_hidden`. The encoder and x's data term are computed here, once
    per batch; each call only samples and decodes. As in EpitomicVAE.log_weights; the VAE is
    its one-epitome case (mask of ones)."""
    mu, logvar = model.encoder(x)  # (B, D)
    m = model.masks  # (Y, D)
    lv = m * logvar[:, None, :]  # (B, Y, D)
    mu_y, std_y = m * mu[:, None, :], torch.exp(0.5 * lv)
    v, c0 = _data_term(model.decoder.head, x)

    def log_weights(k: int, generator=None) -> torch.Tensor:
        eps = standard_normal((k, x.shape[0], 1, model.D), mu, generator) * m  # (k, B, Y, D)
        z = mu_y + std_y * eps
        log_px = _log_prob_given(model.decoder.trunk(z), model.decoder.head, v, c0)
        return log_px + (m * log_normal_ratio(z, eps, lv)).sum(-1)

    return log_weights


def fused_log_weights_apply(model) -> bool:
    """Whether `fused_log_weights` computes this model's log-weights: the VAE and eVAE with a
    Bernoulli decoder (the mVAE and Gaussian decoders use model.log_weights)."""
    return isinstance(model, VAE) and model.cfg.likelihood == "bernoulli"


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
    fused: bool = True,
) -> torch.Tensor:
    """L_k for every row of x (N, P): (N,) float64, in nats (higher is better).

    Samples are drawn in chunks so that at most ~max_rows decoder rows (chunk * batch * Y)
    are alive at once: memory is bounded whatever k is. fused: compute the VAE's and eVAE's
    Bernoulli log-weights with the output layer folded into the likelihood (the same numbers
    as model.log_weights to float32 rounding, about 1.3x faster); False: model.log_weights.
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k={k!r} is not allowed: need a positive integer")
    from tqdm.auto import tqdm

    keep_freed_memory()
    model.eval()
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(seed)
    Y = model.n_epitomes
    fused = fused and fused_log_weights_apply(model)
    out = []
    for i in tqdm(range(0, x.shape[0], batch_size), disable=not progress, desc=f"L_{k}"):
        xb = x[i : i + batch_size].to(device)
        weights = fused_log_weights(model, xb) if fused else partial(model.log_weights, xb)
        chunk = max(1, min(k, max_rows // (xb.shape[0] * Y)))
        acc = torch.full((xb.shape[0],), -math.inf, dtype=torch.float64, device=device)
        for j in range(0, k, chunk):
            log_w = weights(min(chunk, k - j), generator=g)  # (c, B, Y)
            acc = torch.logaddexp(acc, torch.logsumexp(log_w.double(), dim=0).logsumexp(-1))
        out.append(acc - math.log(k) - math.log(Y))
    return torch.cat(out)
