"""The eVAE with a learned q(y|x) (section 4.2's future work): Gumbel-softmax (relaxed and
straight-through) and REINFORCE with a baseline, pinned to the point estimate y* and to
exact enumeration over y."""

import math

import pytest
import torch

from evae_lite import ModelConfig, TrainConfig
from evae_lite.model import build_model
from evae_lite.train import assign_epitomes, train, validation_bound
from evae_lite.train.objective import temperature

CFG = ModelConfig("evae", D=6, K=2, stride=2, H=16)  # Y = 3


def _x(n=20, seed=0, P=784):
    return (torch.rand(n, P, generator=torch.Generator().manual_seed(seed)) < 0.5).float()


def _learned(q_y, cfg=CFG, seed=0):
    return build_model(cfg.replace(q_y=q_y), torch.Generator().manual_seed(seed))


def test_a_point_estimate_evae_is_the_model_it_was():
    """No inference head, the same parameters drawn in the same order."""
    point = build_model(CFG, torch.Generator().manual_seed(0))
    learned = _learned("gumbel")
    names = [n for n, _ in point.named_parameters()]
    assert [n for n, _ in learned.named_parameters()] == names + ["q_head.weight", "q_head.bias"]
    for (_, p), (_, q) in zip(point.named_parameters(), learned.named_parameters()):
        assert torch.equal(p, q)


def test_a_q_that_is_one_hot_on_y_star_gives_the_point_estimate_cost():
    x = _x()
    model = _learned("gumbel_st").eval()
    y_star, _ = assign_epitomes(model, x)
    one_hot = torch.nn.functional.one_hot(y_star, 3).float() * 1e4
    model.q_y_logits = lambda x: one_hot  # q(y|x) = delta(y - y*)
    bound = model.expected_bound(x, generator=torch.Generator().manual_seed(3))
    point = build_model(CFG, torch.Generator().manual_seed(0)).eval()
    want = point.loss_terms(x, y_star, generator=torch.Generator().manual_seed(3)).bound
    torch.testing.assert_close(bound, want, rtol=1e-5, atol=1e-3)


def test_the_expected_bound_is_the_q_weighted_sum_of_the_epitomes_bounds():
    x = _x(8)
    model = _learned("gumbel").eval()
    q = model.q_y_probs(x)
    eps = torch.randn(8, 6, generator=torch.Generator().manual_seed(5))
    per_y = torch.stack([_point_bound(model, x, y, eps) for y in range(3)], -1) - math.log(3)
    kl_q = (q * (q.log() + math.log(3))).sum(-1)
    got = model.expected_bound(x, generator=_gen_giving(eps))
    torch.testing.assert_close(got, (q * per_y).sum(-1) + kl_q, rtol=1e-5, atol=1e-3)


def _point_bound(model, x, y, eps):
    """The eVAE's point-estimate bound at epitome y, through the point code path."""
    point = build_model(CFG, torch.Generator().manual_seed(0)).eval()
    point.load_state_dict(
        {
            k: v
            for k, v in model.state_dict().items()
            if not k.startswith("q_head") and k != "baseline"
        }
    )
    return point.loss_terms(x, torch.full((x.shape[0],), y), eps=eps).bound


class _gen_giving:
    """Stands in for a generator: standard_normal draws exactly `eps` from it."""

    def __init__(self, eps):
        self.eps = eps


@pytest.fixture(autouse=True)
def _patch_normal(monkeypatch):
    import evae_lite.model.evae as evae

    real = evae.standard_normal

    def fake(shape, like, generator):
        if isinstance(generator, _gen_giving):
            return generator.eps
        return real(shape, like, generator)

    monkeypatch.setattr(evae, "standard_normal", fake)


def test_straight_through_samples_one_epitome_and_reinforce_draws_from_q():
    x = _x(200)
    for q_y in ("gumbel_st", "reinforce"):
        model = _learned(q_y).train()
        terms = model.loss_terms(x, generator=torch.Generator().manual_seed(1), tau=0.7)
        used = (terms.kl > 0).sum(-1)  # the units whose KL is charged: exactly one epitome
        assert torch.all(used == 2), q_y
    relaxed = _learned("gumbel").train()
    terms = relaxed.loss_terms(x, generator=torch.Generator().manual_seed(1), tau=0.7)
    assert torch.all((terms.kl > 0).sum(-1) > 2)  # a soft mask touches every epitome's units
    with pytest.raises(ValueError, match="needs the temperature"):
        relaxed.loss_terms(x, generator=torch.Generator().manual_seed(1))


def test_reinforce_estimates_the_gradient_of_the_expected_cost():
    """Over many copies of one image, the score-function gradient with respect to q's head
    matches the exact gradient of sum_y q(y|x) f(y) + KL[q || p], f(y) by enumeration."""
    cfg = ModelConfig("evae", D=4, K=2, stride=2, H=8, x_dim=12, q_y="reinforce")
    model = build_model(cfg, torch.Generator().manual_seed(0)).train()
    with torch.no_grad():  # epitome 1's units feed the decoder loudly: f(1) >> f(0)
        model.decoder.trunk[0].weight[:, 2:] *= 20
    x1 = _x(1, P=12)
    n = 200_000
    # f(y) = E_eps[rec + KL_z] at each epitome, by many samples through the point code path
    with torch.no_grad():
        mu, logvar = model.encoder(x1.expand(n, -1))
        f = []
        for y in range(2):
            m = model.masks[y]
            eps = torch.randn(n, 4, generator=torch.Generator().manual_seed(10 + y))
            z = m * mu + torch.exp(0.5 * m * logvar) * eps
            rec = -model.decoder.log_prob(x1, model.decoder(m * z))
            kl = (0.5 * ((m * mu) ** 2 + (m * logvar).exp() - 1 - m * logvar)).sum(-1)
            f.append((rec + kl).mean())
        f = torch.stack(f)
    logits = model.q_y_logits(x1)[0]
    q = logits.softmax(-1)
    exact = torch.autograd.grad(
        (q * f).sum() + (q * (q.log() + math.log(2))).sum(), model.q_head.bias
    )[0]
    model.baseline.fill_((q * f).sum().item())  # a good baseline: low variance
    terms = model.loss_terms(x1.expand(n, -1), generator=torch.Generator().manual_seed(4))
    est = torch.autograd.grad((terms.score + terms.kl_y).mean(), model.q_head.bias)[0]
    assert exact.abs().max() > 0.5  # a gradient far from 0
    torch.testing.assert_close(
        est, exact, rtol=0.03, atol=0.02
    )  # the gradient is not trivially near 0


@pytest.mark.parametrize("q_y", ["gumbel", "gumbel_st", "reinforce"])
def test_every_learned_q_trains_and_reports_its_bound(q_y):
    x, x_val = _x(300), _x(50, seed=1)
    tc = TrainConfig(epochs=2, batch_size=50, device="cpu", tau_start=1.0, tau_end=0.5)
    res = train(CFG.replace(q_y=q_y), tc, x, x_val, progress=False)
    h = res.history
    assert all(math.isfinite(e.val_bound) for e in h)
    assert h[0].changed is None and 0 <= h[1].changed <= 1 and sum(h[1].group_sizes) == 300
    assert res.y is not None and res.y.shape == (300,)
    assert validation_bound(res.model, x_val, seed=tc.seed + 1) == pytest.approx(
        h[-1].val_bound, rel=1e-6
    )
    if q_y == "reinforce":
        assert res.model.baseline.item() > 0  # the moving average of the cost moved


def test_the_temperature_anneals_from_start_to_end():
    tc = TrainConfig(tau_start=2.0, tau_end=0.5)
    assert temperature(tc, 0, 101) == 2.0
    assert temperature(tc, 50, 101) == pytest.approx(1.0)
    assert temperature(tc, 100, 101) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ModelConfig("vae", q_y="gumbel"), "q_y='gumbel' is not allowed for model='vae'"),
        (lambda: ModelConfig("evae", D=4, K=4, q_y="reinforce"), "1 epitome"),
        (lambda: ModelConfig("evae", D=4, K=2, q_y="softmax"), "q_y='softmax'"),
        (lambda: TrainConfig(tau_start=0.0), "tau_start=0.0"),
        (lambda: TrainConfig(tau_start=0.5, tau_end=1.0), "tau_end=1.0 is above"),
    ],
)
def test_bad_q_y_options_are_refused_by_name(make, match):
    with pytest.raises(ValueError, match=match):
        make()
