"""A second measure of samples beside Parzen: distances in a classifier's feature space.

The Parzen score rewards a window of blurry means as readily as sharp digits; these measures
compare what a digit classifier sees in the samples with what it sees in test images:

- the Fréchet distance (Heusel et al. 2017) between Gaussians fitted to the two sets of
  features (lower is better), computed by torchmetrics' FrechetInceptionDistance with the
  classifier as its feature extractor;
- precision and recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al. 2020),
  computed by `prdc` with k nearest neighbours: precision, the share of samples that fall
  inside the real images' k-NN balls (quality); recall, the share of real images inside the
  samples' balls (diversity); higher is better for all four.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

NEAREST_K = 5  # prdc's k (Naeem et al. use 5)


class FeatureNet(nn.Module):
    """An MLP digit classifier (N, P) -> logits (N, classes) whose last hidden layer,
    `features(x)` (N, num_features), is the space the samples are compared in."""

    def __init__(self, x_dim: int = 784, hidden: int = 512, num_features: int = 128, classes=10):
        super().__init__()
        self.num_features = num_features
        self.body = nn.Sequential(
            nn.Linear(x_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_features),
            nn.ReLU(),
        )
        self.head = nn.Linear(num_features, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class _Features(nn.Module):
    """The feature extractor torchmetrics calls: images (N, P) -> features (N, F)."""

    def __init__(self, net: FeatureNet):
        super().__init__()
        self.net = net
        self.num_features = net.num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.features(x.float())


@dataclass(frozen=True)
class SampleFeatures:
    """The second measure of one set of samples against test images."""

    fd: float  # Fréchet distance of the features, lower is better
    precision: float  # higher is better (quality)
    recall: float  # higher is better (diversity)
    density: float
    coverage: float
    n_samples: int
    n_real: int
    k: int

    def __str__(self) -> str:
        return (
            f"Fréchet distance {self.fd:.2f} (lower is better); precision {self.precision:.3f}, "
            f"recall {self.recall:.3f}, density {self.density:.3f}, coverage {self.coverage:.3f} "
            f"(higher is better; k = {self.k}, {self.n_samples:,} samples, {self.n_real:,} test "
            f"images)"
        )


@torch.no_grad()
def frechet_distance(real: torch.Tensor, fake: torch.Tensor, net: nn.Module) -> float:
    """The Fréchet distance between the features `net` gives real (N, P) and fake (M, P),
    by torchmetrics (its own float64 moments and matrix square root)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    extractor = net if hasattr(net, "num_features") else _Features(net)
    fid = FrechetInceptionDistance(feature=extractor, reset_real_features=True)
    for x, is_real in ((real, True), (fake, False)):
        for i in range(0, x.shape[0], 1000):
            fid.update(x[i : i + 1000], real=is_real)
    return float(fid.compute())


@torch.no_grad()
def precision_recall(
    real_features: torch.Tensor, fake_features: torch.Tensor, k: int = NEAREST_K
) -> dict[str, float]:
    """Precision, recall, density and coverage of fake against real features, by `prdc`."""
    import warnings

    from prdc import compute_prdc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # prdc prints its sizes
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            out = compute_prdc(
                real_features.double().cpu().numpy(),
                fake_features.double().cpu().numpy(),
                nearest_k=k,
            )
    return {name: float(v) for name, v in out.items()}


@torch.no_grad()
def sample_features(
    samples: torch.Tensor, x_test: torch.Tensor, net: FeatureNet, k: int = NEAREST_K
) -> SampleFeatures:
    """Both measures of `samples` (M, P) against the test images x_test (N, P). Precision and
    recall compare equal numbers of each: the first min(M, N) of both."""
    n = min(samples.shape[0], x_test.shape[0])
    if n <= k:
        raise ValueError(
            f"the feature measures need more than k={k} images on each side: got "
            f"{samples.shape[0]} samples and {x_test.shape[0]} test images"
        )
    net = net.eval()
    dev = next(net.parameters()).device
    samples, x_test = samples.to(dev), x_test.to(dev)
    fd = frechet_distance(x_test, samples, _Features(net))
    pr = precision_recall(net.features(x_test[:n]), net.features(samples[:n]), k)
    if not all(math.isfinite(v) for v in (fd, *pr.values())):
        raise FloatingPointError(f"a feature measure is not finite: fd={fd}, {pr}")
    return SampleFeatures(fd, **pr, n_samples=samples.shape[0], n_real=x_test.shape[0], k=k)
