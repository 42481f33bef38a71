"""The measures written out in the chapter "The measurements in code" (its cells tagged
`scratch`) compute the package's: A_u, the Parzen estimate and L_k, on the same draws."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import torch

from evae_lite.evaluate.activity import activity as package_activity
from evae_lite.evaluate.activity import posterior_stats
from evae_lite.evaluate.iwae import log_likelihood as package_log_likelihood
from evae_lite.evaluate.parzen import parzen_evaluate, parzen_log_density
from evae_lite.model import ModelConfig, build_model

CHAPTER = Path(__file__).resolve().parent.parent / "book" / "08b_measures_in_code.ipynb"


@pytest.fixture(scope="module")
def scratch() -> dict:
    nb = nbformat.read(CHAPTER, as_version=4)
    cells = [c.source for c in nb.cells if "scratch" in c.metadata.get("tags", [])]
    assert len(cells) == 3, "the chapter's three measures"
    ns: dict = {}
    exec("\n\n".join(cells), ns)
    return ns


def _model(kind):
    torch.manual_seed(0)
    cfg = ModelConfig(
        kind, D=8, K=2 if kind == "evae" else None, stride=2 if kind == "evae" else None, H=32
    )
    model = build_model(cfg).eval()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.3)
    return model


def _x(n, seed):
    return torch.bernoulli(torch.rand(n, 784, generator=torch.Generator().manual_seed(seed)))


@pytest.mark.parametrize("kind", ["vae", "evae"])
def test_activity_and_l_k_are_the_packages(scratch, kind):
    model, x = _model(kind), _x(40, 1)
    y = torch.arange(40) % model.n_epitomes if kind == "evae" else None
    a = scratch["activity"](model, x, y)
    torch.testing.assert_close(a.float(), package_activity(posterior_stats(model, x, y)[0]))
    k = 30
    eps = torch.randn(k, 40, 8, generator=torch.Generator().manual_seed(0))
    ours = scratch["log_likelihood"](model, x, eps)
    pkg = package_log_likelihood(model, x, k, batch_size=40, max_rows=k * 40 * 4, fused=False)
    torch.testing.assert_close(ours, pkg, rtol=0, atol=1e-4)


def test_parzen_is_the_packages(scratch):
    g = torch.Generator().manual_seed(2)
    samples, x_val, x_test = (torch.rand(n, 784, generator=g) for n in (300, 50, 60))
    sigmas = (0.2, 0.3, 0.5, 2.0)  # the best inside the grid
    for s in sigmas:
        pkg = parzen_log_density(x_test, samples, [s], dtype=torch.float64)[:, 0]
        torch.testing.assert_close(scratch["parzen"](x_test, samples, s), pkg, rtol=0, atol=1e-6)
    sigma, mean, se = scratch["parzen_score"](samples, x_val, x_test, sigmas)
    res = parzen_evaluate(samples, x_val, x_test, sigmas)
    assert sigma == res.sigma
    assert mean == pytest.approx(res.mean, abs=1e-4) and se == pytest.approx(res.stderr, rel=1e-3)
