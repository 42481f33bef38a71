"""Parzen and L_k against closed forms on linear-Gaussian models whose p(x) is known exactly."""

import math
import warnings

import pytest
import torch
from torch.distributions import MultivariateNormal

from evae_lite import ModelConfig, build_model
from evae_lite.evaluate.iwae import log_likelihood
from evae_lite.evaluate.parzen import parzen_evaluate, parzen_log_density, parzen_score

torch.set_default_dtype(torch.float32)
NOISE_VAR = 0.3


def _inv_softplus_logvar(model, logvar_target: float) -> float:
    """Bias that makes the decoder's floored log-variance equal logvar_target."""
    lo = model.cfg.min_logvar
    return lo + math.log(math.expm1(logvar_target - lo))


def linear_gaussian(model_name: str, P: int, D: int, K: int | None = None, seed: int = 0):
    """A model with p(z) = N(0, I), p(x|y,z) = N(W (m_y*z) + b, NOISE_VAR I) and, when K
    epitomes do not overlap, an encoder equal to the exact posterior of every epitome.

    Returns the model and a function x -> exact log p(x)."""
    g = torch.Generator().manual_seed(seed)
    kw = {} if K is None else dict(K=K)
    model = build_model(
        ModelConfig(model_name, D=D, L=0, H=1, x_dim=P, likelihood="gaussian", **kw)
    ).double()
    Q, _ = torch.linalg.qr(torch.randn(P, D, generator=g, dtype=torch.float64))
    W = Q * torch.linspace(0.8, 2.0, D, dtype=torch.float64)  # orthogonal columns
    b = torch.randn(P, generator=g, dtype=torch.float64)
    # exact posterior per dim: precision 1 + |W_d|^2 / s2, mean S_d W_d.(x - b) / s2
    S = 1 / (1 + (W**2).sum(0) / NOISE_VAR)  # (D,)
    A = (S[:, None] * W.T) / NOISE_VAR  # (D, P)
    with torch.no_grad():
        dec, enc = model.decoder.head, model.encoder.head
        dec.weight.zero_()
        dec.weight[:P] = W
        dec.bias[:P] = b
        dec.bias[P:] = _inv_softplus_logvar(model, math.log(NOISE_VAR))
        enc.weight.zero_()
        enc.weight[:D] = A
        enc.bias[:D] = -A @ b
        enc.bias[D:] = S.log()
    masks = model.masks.double()

    def log_px(x):
        comps = []
        for m in masks:
            Wy = W * m
            cov = Wy @ Wy.T + NOISE_VAR * torch.eye(P, dtype=torch.float64)
            comps.append(MultivariateNormal(b, cov).log_prob(x))
        return torch.logsumexp(torch.stack(comps), 0) - math.log(len(masks))

    return model, log_px, W, b


@pytest.mark.parametrize("name,D,K", [("vae", 3, None), ("evae", 4, 2), ("evae", 6, 2)])
def test_iwae_is_exact_with_the_exact_posterior(name, D, K):
    """With q = p(z|y,x) every importance weight equals p(x|y): L_k = log p(x) for any k."""
    model, log_px, _, _ = linear_gaussian(name, P=7, D=D, K=K)
    x = torch.randn(30, 7, dtype=torch.float64) * 2
    exact = log_px(x)
    for k in (1, 7):
        torch.testing.assert_close(log_likelihood(model, x, k, batch_size=8), exact)


def test_iwae_bound_tightens_towards_log_px():
    model, log_px, _, _ = linear_gaussian("evae", P=5, D=4, K=2)
    with torch.no_grad():  # a worse posterior: shifted means, too-wide variances
        model.encoder.head.bias[:4] += 0.5
        model.encoder.head.bias[4:] += 1.0
    x = torch.randn(200, 5, dtype=torch.float64)
    exact = log_px(x).mean().item()
    l1, l10, l2000 = (log_likelihood(model, x, k).mean().item() for k in (1, 10, 2000))
    assert l1 < l10 < l2000 <= exact + 0.01
    assert exact - l1 > 0.1  # the bound is loose with one sample...
    assert exact - l2000 < 0.02  # ...and tight with many


def test_iwae_chunking_does_not_change_the_estimate():
    model, _, _, _ = linear_gaussian("evae", P=7, D=6, K=2)
    x = torch.randn(10, 7, dtype=torch.float64)
    a = log_likelihood(model, x, 50, max_rows=10**6, seed=1)
    b = log_likelihood(model, x, 50, max_rows=7, seed=1)  # one sample per chunk
    assert torch.isfinite(a).all() and torch.isfinite(b).all()
    assert abs(a.mean() - b.mean()) < 0.05  # same estimator, different draws


def _brute_parzen(x, s, sigma):
    x, s = x.double(), s.double()
    d2 = ((x[:, None, :] - s[None, :, :]) ** 2).sum(-1)
    P = x.shape[1]
    return (
        torch.logsumexp(-d2 / (2 * sigma**2), 1)
        - math.log(s.shape[0])
        - 0.5 * P * math.log(2 * math.pi * sigma**2)
    )


def test_parzen_equals_brute_force_for_every_sigma():
    g = torch.Generator().manual_seed(0)
    x, s = torch.rand(37, 20, generator=g), torch.rand(101, 20, generator=g)
    sigmas = [0.05, 0.2, 1.0]
    got = parzen_log_density(x, s, sigmas, batch_size=10)
    for j, sg in enumerate(sigmas):
        torch.testing.assert_close(got[:, j], _brute_parzen(x, s, sg), rtol=1e-6, atol=1e-4)


def test_parzen_float32_cancellation_is_handled():
    """Far from the origin ||x||^2 + ||s||^2 - 2 x.s loses everything in float32."""
    g = torch.Generator().manual_seed(0)
    x = 100 + 0.01 * torch.randn(5, 50, generator=g)
    s = 100 + 0.01 * torch.randn(40, 50, generator=g)
    ref = _brute_parzen(x, s, 0.01)
    torch.testing.assert_close(parzen_log_density(x, s, [0.01])[:, 0], ref, rtol=0, atol=1e-3)
    forced = parzen_log_density(x, s, [0.01], dtype=torch.float32)[:, 0]
    assert (forced - ref).abs().max() > 1.0  # what would have gone wrong


def test_parzen_of_model_samples_matches_the_smoothed_model_density():
    """Samples s = W z + b, z ~ N(0, I) have density N(b, W W^T); a Gaussian window of width
    sigma turns it into N(b, W W^T + sigma^2 I) as the number of samples grows."""
    model, _, W, b = linear_gaussian("vae", P=3, D=2)
    model = model.float()
    x_val = torch.randn(50, 3) + b.float()
    x_test = torch.randn(40, 3) + b.float()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the best sigma is inside the grid
        res = parzen_score(model, x_val, x_test, n_samples=200_000, sigmas=[0.3, 0.6, 1.0, 1.6])
    cov = W @ W.T + res.sigma**2 * torch.eye(3, dtype=torch.float64)
    exact = MultivariateNormal(b, cov).log_prob(x_test.double())
    assert abs(res.mean - exact.mean().item()) < 0.02
    assert res.stderr == pytest.approx(exact.std().item() / math.sqrt(40), rel=0.05)
    # the chosen bandwidth maximises the validation log-density
    assert res.val_means[res.sigmas.index(res.sigma)] == max(res.val_means)


def test_parzen_edge_of_grid_warns():
    g = torch.Generator().manual_seed(0)
    s = torch.rand(50, 4, generator=g)
    with pytest.warns(UserWarning, match="edge of the grid"):
        parzen_evaluate(s, torch.rand(10, 4, generator=g), torch.rand(10, 4), [5.0, 10.0])


@pytest.mark.parametrize("sparse_below", [-1.0, 0.15, 2.0], ids=["dense", "mixed", "sparse"])
def test_parzen_dense_and_compacted_sums_equal_brute_force(monkeypatch, sparse_below):
    """Every kernel summed over all entries (dense), over the compacted entries within TAIL
    nats (sparse), or switching between them as the bandwidth narrows: all equal the
    brute-force float64 logsumexp."""
    import evae_lite.evaluate.parzen as parzen

    monkeypatch.setattr(parzen, "SPARSE_BELOW", sparse_below)
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(23, 30, generator=g) < 0.5).float()
    s = torch.rand(300, 30, generator=g)
    sigmas = [0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.5]
    got = parzen.parzen_log_density(x, s, sigmas, batch_size=7)
    for j, sg in enumerate(sigmas):
        torch.testing.assert_close(got[:, j], _brute_parzen(x, s, sg), rtol=1e-6, atol=1e-5)


def test_parzen_kernel_sums_equal_a_loop():
    import evae_lite.evaluate.parzen as parzen

    g = torch.Generator().manual_seed(2)
    shifted = 40 * torch.rand(9, 500, generator=g)
    shifted[torch.arange(9), torch.randint(500, (9,), generator=g)] = 0.0  # the nearest sample
    coefs = [-0.3, -1.0, -5.0, -40.0]
    got = parzen._kernel_sums(shifted, coefs)
    for i in range(9):
        for k, c in enumerate(coefs):
            ref = sum(math.exp(c * v) for v in shifted[i].double().tolist())
            assert got[i, k].item() == pytest.approx(ref, rel=1e-6)


def _bernoulli_model(name: str, D: int, L: int, seed: int = 0, scale: float = 1.0, **kw):
    torch.manual_seed(seed)
    model = build_model(ModelConfig(name, D=D, L=L, H=16, x_dim=kw.pop("P", 784), **kw)).eval()
    with torch.no_grad():
        model.decoder.head.weight.mul_(scale)  # scale > 1: logits far into both tails
    return model


@pytest.mark.parametrize(
    "name, D, L, kw",
    [
        ("vae", 5, 2, {}),
        ("vae", 3, 0, {}),
        ("evae", 6, 1, dict(K=2)),
        ("evae", 7, 2, dict(K=3, stride=1)),
    ],
)
@pytest.mark.parametrize("scale", [1.0, 60.0])
def test_fused_log_weights_equal_the_models(name, D, L, kw, scale):
    """The estimator's fused Bernoulli log-weights are the model's own, sample for sample."""
    from evae_lite.evaluate.iwae import fused_log_weights, fused_log_weights_apply

    model = _bernoulli_model(name, D, L, scale=scale, **kw)
    assert fused_log_weights_apply(model)
    x = (torch.rand(6, 784, generator=torch.Generator().manual_seed(1)) < 0.3).float()
    with torch.no_grad():
        ref = model.log_weights(x, 4, generator=torch.Generator().manual_seed(2))
        got = fused_log_weights(model, x)(4, torch.Generator().manual_seed(2))
    assert got.shape == ref.shape
    torch.testing.assert_close(got, ref, rtol=2e-6, atol=2e-4)


@pytest.mark.parametrize("P", [784, 97, 4096])
def test_bernoulli_log_prob_of_hidden_equals_the_plain_form(P):
    """Against x.l - softplus(l) summed over pixels, for pixel counts that halve into blocks
    (784 = 16 x 49), do not halve (97), and would underflow in one product (4096)."""
    from evae_lite.evaluate.iwae import bernoulli_log_prob_of_hidden
    from evae_lite.model.nets import log_prob

    g = torch.Generator().manual_seed(0)
    head = torch.nn.Linear(8, P)
    with torch.no_grad():
        head.weight.copy_(3 * torch.randn(P, 8, generator=g))
    h = torch.randn(5, 4, 3, 8, generator=g)  # (k, B, Y, H)
    x = (torch.rand(4, P, generator=g) < 0.5).float()
    with torch.no_grad():
        ref = log_prob("bernoulli", x[:, None, :], head(h))
        got = bernoulli_log_prob_of_hidden(h, head, x)
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-3)
        # logits 0: every pixel has probability 1/2 whatever x is
        zero = torch.nn.Linear(8, P)
        zero.weight.zero_(), zero.bias.zero_()
        half = bernoulli_log_prob_of_hidden(h, zero, x)
        torch.testing.assert_close(half, torch.full_like(half, -P * math.log(2)))


@pytest.mark.parametrize("name, kw", [("vae", {}), ("evae", dict(K=1))])
def test_iwae_of_a_bernoulli_model_matches_quadrature(name, kw):
    """p(x) of a tiny Bernoulli decoder by quadrature over z, against L_k through the fused
    log-weights; the encoder is set to the prior, so L_k's error is its own variance."""
    D = 2 if name == "evae" else 1
    model = _bernoulli_model(name, D, 0, P=3, **kw).double()
    with torch.no_grad():
        model.encoder.head.weight.zero_(), model.encoder.head.bias.zero_()  # q = p(z)
    x = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 0.0]], dtype=torch.float64)
    z = torch.linspace(-9, 9, 20001, dtype=torch.float64)
    W, b = model.decoder.head.weight.detach(), model.decoder.head.bias.detach()
    comps = []
    for y in range(D):  # eVAE: epitome y uses latent dim y alone; VAE: D = 1
        logits = z[:, None] * W[:, y] + b  # (Z, P)
        log_pxz = (x[:, None, :] * logits - torch.nn.functional.softplus(logits)).sum(-1)
        log_pz = -0.5 * z**2 - 0.5 * math.log(2 * math.pi)
        comps.append(torch.logsumexp(log_pxz + log_pz, 1) + math.log(z[1] - z[0]))
    exact = torch.logsumexp(torch.stack(comps), 0) - math.log(D)
    got = log_likelihood(model, x, 20_000)
    torch.testing.assert_close(got, exact, rtol=0, atol=0.01)
    unfused = log_likelihood(model, x, 20_000, fused=False)
    torch.testing.assert_close(got, unfused, rtol=0, atol=1e-9)
