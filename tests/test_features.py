"""The second measure of samples: Fréchet distance and precision / recall in a feature space,
checked on sets whose answers are known."""

import math

import numpy as np
import pytest
import torch
from scipy import linalg

from evae_lite.evaluate.features import FeatureNet, frechet_distance, precision_recall


class Identity(torch.nn.Module):
    """Features = the points themselves (what torchmetrics calls with a custom extractor)."""

    def __init__(self, d):
        super().__init__()
        self.num_features = d

    def forward(self, x):
        return x.double()


def _gaussian(n, d, mean=0.0, scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return mean + scale * torch.randn(n, d, generator=g, dtype=torch.float64)


def test_the_distance_of_a_set_to_itself_is_zero():
    x = _gaussian(500, 6)
    assert frechet_distance(x, x, Identity(6)) == pytest.approx(0.0, abs=1e-6)


def test_two_gaussian_sets_give_the_closed_form_of_their_moments():
    """||m1 - m2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)) of the sets' own means and covariances,
    and, for many points, the population value ||m||^2 + d (1 - s)^2 of N(0, I), N(m, s^2 I)."""
    d = 4
    a, b = _gaussian(4000, d, seed=1), _gaussian(4000, d, mean=0.5, scale=2.0, seed=2)
    got = frechet_distance(a, b, Identity(d))
    m1, m2 = a.mean(0).numpy(), b.mean(0).numpy()
    s1, s2 = np.cov(a.numpy(), rowvar=False), np.cov(b.numpy(), rowvar=False)
    exact = ((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert got == pytest.approx(exact, rel=1e-6)
    assert got == pytest.approx(d * 0.5**2 + d * (1 - 2.0) ** 2, rel=0.1)


def test_precision_and_recall_on_toy_manifolds():
    real = _gaussian(400, 3)
    same = precision_recall(real, real[torch.randperm(400)])
    assert same["precision"] == 1.0 and same["recall"] == 1.0
    # half of the real points: every sample is a real one (precision 1); the samples' own
    # k-NN balls, twice as wide, still cover most but not all of the real set
    half = precision_recall(real, real[:200])
    assert half["precision"] == 1.0 and 0.5 < half["recall"] < 1.0
    far = precision_recall(real, real + 100.0)  # a shifted copy, far from the data
    assert far["precision"] == 0.0 and far["recall"] == 0.0 and far["coverage"] == 0.0
    # samples collapsed onto one small region of the data: good quality, little diversity
    mode = precision_recall(real, 0.01 * _gaussian(400, 3, seed=5))
    assert mode["precision"] > 0.9 and mode["recall"] < 0.2


def test_the_features_are_the_classifiers_last_hidden_layer():
    net = FeatureNet(x_dim=10, hidden=8, num_features=4, classes=3)
    x = torch.rand(5, 10)
    f = net.features(x)
    assert f.shape == (5, 4) and (f >= 0).all()
    assert torch.allclose(net(x), net.head(f))


def test_the_measure_of_samples_in_a_job(data_dir, tmp_path, monkeypatch):
    """A job measuring 'features' reports them from Parzen's own samples, and the digit
    classifier (trained once, cached, read back with weights_only) is better than chance."""
    from evae_lite import ModelConfig, TrainConfig
    from evae_lite.runs import Job, run
    from evae_lite.runs.classifier import ClassifierSpec, classifier

    monkeypatch.setenv("EVAE_LITE_RESULTS", str(tmp_path))
    import evae_lite.runs.classifier as cl

    monkeypatch.setattr(cl, "ClassifierSpec", lambda: ClassifierSpec(hidden=32, epochs=1))
    c = classifier()
    assert c.test_accuracy > 0.8 and "test accuracy" in str(c)
    assert classifier().test_accuracy == c.test_accuracy  # from the cache
    job = Job(
        ModelConfig("vae", D=4, H=16),
        TrainConfig(epochs=1),
        train_size=500,
        eval_size=200,
        measures=("parzen", "features"),
        parzen_samples=300,
    )
    r = run(job)
    f = r.features
    assert f.n_samples == 300 and f.n_real == 200 and f.fd > 0 and math.isfinite(f.fd)
    assert 0 <= f.precision <= 1 and 0 <= f.recall <= 1
    assert "lower is better" in str(f) and "higher is better" in str(f)


def test_too_few_samples_or_test_images_for_the_feature_measures_are_named():
    from evae_lite.evaluate.features import NEAREST_K, FeatureNet, sample_features
    from evae_lite.model import ModelConfig
    from evae_lite.runs import Job
    from evae_lite.train import TrainConfig

    net = FeatureNet(784, 16, 8)
    x = torch.rand(20, 784)
    with pytest.raises(ValueError, match=r"more than k=5 images on each side: got 1 samples"):
        sample_features(x[:1], x, net)
    with pytest.raises(ValueError, match=r"parzen_samples=5: precision and recall need more"):
        Job(ModelConfig(), TrainConfig(), measures=("features",), parzen_samples=NEAREST_K)
    with pytest.raises(ValueError, match=r"eval_size=3"):
        Job(ModelConfig(), TrainConfig(), measures=("features",), eval_size=3)
    Job(ModelConfig(), TrainConfig(), measures=("parzen",), parzen_samples=1)  # Parzen alone
