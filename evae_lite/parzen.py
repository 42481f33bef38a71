"""Parzen-window log-density of test data under samples from a model (Rifai et al., 2012).

p(x) = 1/M sum_i N(x; s_i, sigma^2 I). The bandwidth sigma is chosen on a validation split by
grid search; the squared distances ||x - s||^2 are computed once per chunk and reused for every
sigma of the grid, so a grid costs little more than one pass over the distance matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .memory import keep_freed_memory

DEFAULT_SIGMAS = tuple(float(s) for s in torch.logspace(-1, 0, 20).tolist())  # 0.1 .. 1


def _squared_distances(x: torch.Tensor, s: torch.Tensor, s_sq: torch.Tensor) -> torch.Tensor:
    """||x_i - s_j||^2 (n, M) via ||x||^2 + ||s||^2 - 2 x.s, clamped at 0 (cancellation can
    make it slightly negative)."""
    d2 = torch.addmm(s_sq[None, :], x, s.T, alpha=-2.0)
    d2 += x.pow(2).sum(1, keepdim=True)
    return d2.clamp_min_(0.0)


def needs_float64(x: torch.Tensor, s: torch.Tensor, sigma_min: float, tol: float = 1e-3) -> bool:
    """Whether float32 rounding of the distance trick could move a log-kernel by > tol nats:
    the error of ||x||^2 + ||s||^2 - 2 x.s is about eps32 * (||x||^2 + ||s||^2) * a few."""
    scale = x.pow(2).sum(1).max() + s.pow(2).sum(1).max()
    err = 8 * torch.finfo(torch.float32).eps * float(scale)
    return err / (2 * sigma_min**2) > tol


@torch.no_grad()
def parzen_log_density(
    x: torch.Tensor,
    samples: torch.Tensor,
    sigmas=DEFAULT_SIGMAS,
    *,
    batch_size: int = 100,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """log p(x) under the Parzen window of `samples` for every sigma: (N, len(sigmas)), float64.

    dtype: of the distance computation; default float32 unless `needs_float64` says the
    smallest bandwidth is too narrow for float32's cancellation error.
    """
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
    inv = torch.tensor([-0.5 / sg**2 for sg in sigmas], dtype=dtype, device=x.device)
    # log normaliser of each kernel: log M + P/2 log(2 pi sigma^2)
    norm = torch.tensor(
        [math.log(M) + 0.5 * P * math.log(2 * math.pi * sg**2) for sg in sigmas],
        dtype=torch.float64,
        device=x.device,
    )
    inv32 = inv.float().tolist()
    e = torch.empty(min(batch_size, x.shape[0]), M, device=x.device)  # reused exp buffer
    out = []
    for i in range(0, x.shape[0], batch_size):
        d2 = _squared_distances(x[i : i + batch_size].to(dtype), s, s_sq)  # (n, M)
        # logsumexp_j(-d2_ij / 2 sigma^2) = -min_j d2_ij/2s^2 + log sum_j exp(-(d2 - min)/2s^2)
        # After the shift every exponent is <= 0 and the largest is 0, so float32 suffices
        # for the exp and the sum of M terms <= 1, even where the distances needed float64.
        # Clamping at -87 keeps exp out of denormals; it adds at most M * 1.6e-38.
        d2_min = d2.min(1, keepdim=True).values
        shifted = (d2 - d2_min).float()
        sums = []
        for c in inv32:
            torch.mul(shifted, c, out=e[: shifted.shape[0]])
            sums.append(e[: shifted.shape[0]].clamp_min_(-87.0).exp_().sum(1))
        lse = torch.stack(sums, 1).double().log()  # (n, S)
        out.append(lse + d2_min.double() * inv.double())
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
    samples: torch.Tensor, x_val: torch.Tensor, x_test: torch.Tensor, sigmas=DEFAULT_SIGMAS
) -> ParzenResult:
    """Choose sigma on x_val by the grid, then report mean and standard error on x_test."""
    val = parzen_log_density(x_val, samples, sigmas).mean(0)
    best = int(val.argmax())
    sigma = float(sigmas[best])
    if best in (0, len(sigmas) - 1) and len(sigmas) > 1:
        import warnings

        warnings.warn(
            f"the best Parzen bandwidth sigma={sigma:.3g} is at the edge of the grid "
            f"[{min(sigmas):.3g}, {max(sigmas):.3g}]; widen the grid",
            stacklevel=2,
        )
    lp = parzen_log_density(x_test, samples, [sigma])[:, 0]
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
def parzen_score(
    model, x_val, x_test, *, n_samples: int = 10_000, sigmas=DEFAULT_SIGMAS, seed: int = 0
) -> ParzenResult:
    """Parzen score of a model: `n_samples` generations (decoder means) as the window centres."""
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(seed)
    samples = torch.cat(
        [model.sample(min(1000, n_samples - i), generator=g) for i in range(0, n_samples, 1000)]
    )
    return parzen_evaluate(samples, x_val.to(device), x_test.to(device), sigmas)
