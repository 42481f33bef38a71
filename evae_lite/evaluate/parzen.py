"""Parzen-window log-density of test data under samples from a model (Rifai et al., 2012).

p(x) = 1/M sum_i N(x; s_i, sigma^2 I). The bandwidth sigma is chosen on a validation split by
grid search; the squared distances ||x - s||^2 are computed once per chunk and reused for every
sigma of the grid, so a grid costs little more than one pass over the distance matrix. Narrow
kernels are summed only over the samples near enough to matter (see `_kernel_sums`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..memory import keep_freed_memory

DEFAULT_SIGMAS = tuple(float(s) for s in torch.logspace(-1, 0, 20).tolist())  # 0.1 .. 1


# A kernel term exp(-d2 / 2 sigma^2) more than TAIL nats below the row's largest (which is 1
# after the shift by the nearest sample) is left out of the sum: the terms left out change
# log p(x) by less than M * exp(-TAIL), under 1e-9 nats for M = 10,000 samples; float32 sums
# of the M terms kept are only good to about 1e-7 anyway.
TAIL = 30.0
# Below this share of the distance matrix within reach of a bandwidth, the sum for it and for
# every narrower bandwidth runs over the compacted entries within reach instead of all M.
SPARSE_BELOW = 0.15


def needs_float64(x: torch.Tensor, s: torch.Tensor, sigma_min: float, tol: float = 1e-3) -> bool:
    """Whether float32 rounding of the distance trick could move a log-kernel by > tol nats:
    the error of ||x||^2 + ||s||^2 - 2 x.s is about eps32 * (||x||^2 + ||s||^2) * a few."""
    scale = x.pow(2).sum(1).max() + s.pow(2).sum(1).max()
    err = 8 * torch.finfo(torch.float32).eps * float(scale)
    return err / (2 * sigma_min**2) > tol


def _kernel_sums(shifted: torch.Tensor, coefs: list[float]) -> torch.Tensor:
    """sum_j exp(c * shifted_ij) for every row i and coefficient c = -1/(2 sigma^2) < 0: (n, S).

    shifted (n, M) float32 is >= 0 with a 0 in every row, so every sum is >= 1. Bandwidths run
    from the widest down: a wide kernel reaches most entries and is summed densely; once under
    SPARSE_BELOW of them are within TAIL nats, the entries within reach are compacted once, and
    every narrower kernel sums (and compacts further) only those.
    """
    n, M = shifted.shape
    sums = torch.empty(n, len(coefs), dtype=torch.float64, device=shifted.device)
    probe = shifted[:, ::64]  # a sample of the columns, to estimate each kernel's reach
    far = float(shifted.max())
    buf = None  # reused buffer of the dense terms
    vals = rows = None  # compacted entries within reach, and their rows
    for k in sorted(range(len(coefs)), key=lambda k: -coefs[k]):  # widest kernel first
        c = coefs[k]
        reach = TAIL / -c  # shifted <= reach: the term is within TAIL nats of the largest
        if vals is None and float((probe <= reach).float().mean()) > SPARSE_BELOW:
            buf = torch.mul(shifted, c, out=buf)
            if c * far < -87.0:  # keep exp out of denormals (slow); adds < M * 1.7e-38
                buf.clamp_min_(-87.0)
            sums[:, k] = buf.exp_().sum(1)
            continue
        if vals is None:
            flat = torch.nonzero(shifted.view(-1) <= reach).squeeze(1)  # row-major order
            vals, rows = shifted.view(-1)[flat], flat // M
        else:
            keep = torch.nonzero(vals <= reach).squeeze(1)
            vals, rows = vals[keep], rows[keep]
        terms = torch.mul(vals, c).exp_().double()  # float64: index_add_ adds in order
        sums[:, k] = terms.new_zeros(n).index_add_(0, rows, terms)
    return sums


@torch.no_grad()
def parzen_log_density(
    x: torch.Tensor,
    samples: torch.Tensor,
    sigmas=DEFAULT_SIGMAS,
    *,
    batch_size: int = 500,
    dtype: torch.dtype | None = None,
    progress: bool = False,
    desc: str = "Parzen",
) -> torch.Tensor:
    """log p(x) under the Parzen window of `samples` for every sigma: (N, len(sigmas)), float64.

    dtype: of the distance computation; default float32 unless `needs_float64` says the
    smallest bandwidth is too narrow for float32's cancellation error. progress: a bar over
    the batches of x.
    """
    from tqdm.auto import tqdm

    sigmas = [float(s) for s in sigmas]
    if not sigmas or min(sigmas) <= 0:
        raise ValueError(f"sigmas={sigmas} is not allowed: need positive bandwidths")
    if x.shape[1:] != samples.shape[1:]:
        raise ValueError(f"x has shape {tuple(x.shape)} but samples {tuple(samples.shape)}")
    keep_freed_memory()
    if dtype is None:
        dtype = torch.float64 if needs_float64(x, samples, min(sigmas)) else torch.float32
    s = samples.to(dtype)
    s_sq = s.pow(2).sum(1)
    M, P = samples.shape
    coefs = [-0.5 / sg**2 for sg in sigmas]
    inv = torch.tensor(coefs, dtype=torch.float64, device=x.device)
    # log normaliser of each kernel: log M + P/2 log(2 pi sigma^2)
    norm = torch.tensor(
        [math.log(M) + 0.5 * P * math.log(2 * math.pi * sg**2) for sg in sigmas],
        dtype=torch.float64,
        device=x.device,
    )
    out = []
    for i in tqdm(range(0, x.shape[0], batch_size), desc=desc, disable=not progress):
        xb = x[i : i + batch_size].to(dtype)
        # ||x - s||^2 = ||x||^2 + (||s||^2 - 2 x.s): the row's own ||x||^2 is added only to
        # the row minimum, since it cancels from the shifted distances below.
        d2 = torch.addmm(s_sq[None, :], xb, s.T, alpha=-2.0)  # (n, M)
        d2_min = d2.min(1, keepdim=True).values
        # logsumexp_j(-d2_ij / 2 sigma^2) = -min_j d2_ij/2s^2 + log sum_j exp(-(d2 - min)/2s^2)
        # After the shift every exponent is <= 0 and the largest is 0, so float32 suffices
        # for the exp and for summing the M terms (each <= 1), even where the distances
        # needed float64.
        shifted = d2.sub_(d2_min).float()
        # cancellation can leave the nearest distance slightly below 0: clamp it there
        nearest = (d2_min + xb.pow(2).sum(1, keepdim=True)).clamp_min_(0.0).double()  # (n, 1)
        out.append(_kernel_sums(shifted, coefs).log() + nearest * inv)
    return torch.cat(out) - norm


@dataclass
class ParzenResult:
    sigma: float  # bandwidth chosen on the validation split
    mean: float  # mean test log-density, nats
    stderr: float  # standard error of the mean over test examples
    sigmas: list[float]
    val_means: list[float]  # validation mean log-density for every sigma of the grid
    n_samples: int
    n_test: int

    def __str__(self) -> str:
        return (
            f"Parzen log-density {self.mean:.1f} ± {self.stderr:.1f} nats "
            f"(sigma={self.sigma:.3f}, {self.n_samples} samples, {self.n_test} test points)"
        )


@torch.no_grad()
def parzen_evaluate(
    samples: torch.Tensor,
    x_val: torch.Tensor,
    x_test: torch.Tensor,
    sigmas=DEFAULT_SIGMAS,
    *,
    progress: bool = False,
) -> ParzenResult:
    """Choose sigma on x_val by the grid, then report mean and standard error on x_test."""
    bar = dict(progress=progress)
    val = parzen_log_density(x_val, samples, sigmas, desc="Parzen: bandwidth", **bar).mean(0)
    best = int(val.argmax())
    sigma = float(sigmas[best])
    if best in (0, len(sigmas) - 1) and len(sigmas) > 1:
        import warnings

        warnings.warn(
            f"the best Parzen bandwidth sigma={sigma:.3g} is at the edge of the grid "
            f"[{min(sigmas):.3g}, {max(sigmas):.3g}]; widen the grid",
            stacklevel=2,
        )
    lp = parzen_log_density(x_test, samples, [sigma], desc="Parzen: test", **bar)[:, 0]
    return ParzenResult(
        sigma=sigma,
        mean=float(lp.mean()),
        stderr=float(lp.std() / math.sqrt(lp.numel())),
        sigmas=[float(s) for s in sigmas],
        val_means=val.tolist(),
        n_samples=samples.shape[0],
        n_test=x_test.shape[0],
    )


@torch.no_grad()
def generate(model, n_samples: int, seed: int = 0) -> torch.Tensor:
    """`n_samples` generations (decoder means of prior draws), (n_samples, P), from a
    generator seeded with `seed`: the samples every measure of samples compares."""
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(seed)
    return torch.cat(
        [model.sample(min(1000, n_samples - i), generator=g) for i in range(0, n_samples, 1000)]
    )


@torch.no_grad()
def parzen_score(
    model,
    x_val,
    x_test,
    *,
    n_samples: int = 10_000,
    sigmas=DEFAULT_SIGMAS,
    seed: int = 0,
    progress: bool = False,
) -> ParzenResult:
    """Parzen score of a model: `n_samples` generations (decoder means) as the window centres."""
    device = next(model.parameters()).device
    samples = generate(model, n_samples, seed)
    x_val, x_test = x_val.to(device), x_test.to(device)
    return parzen_evaluate(samples, x_val, x_test, sigmas, progress=progress)
