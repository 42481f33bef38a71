"""The remedies for over-pruning after the paper (train/objective.py) and the mutual
information I(x; z) (evaluate/mutual_info.py), each pinned to its definition."""

import math

import pytest
import torch

from evae_lite import ModelConfig, TrainConfig
from evae_lite.evaluate.mutual_info import gaussian_mixture_log_density, mutual_information
from evae_lite.model import build_model
from evae_lite.train import train
from evae_lite.train.objective import kl_scale, minibatch_cost


def test_warmup_starts_at_zero_and_reaches_the_true_bound():
    tc = TrainConfig(kl_schedule="warmup", kl_warmup_steps=40)
    assert [kl_scale(tc, t, 100) for t in (0, 10, 20, 39, 40, 99)] == [0, 0.25, 0.5, 39 / 40, 1, 1]


def test_one_cycle_ramping_over_the_whole_run_is_warmup_over_the_whole_run():
    cyc = TrainConfig(kl_schedule="cyclical", kl_cycles=1, kl_ramp=1.0)
    warm = TrainConfig(kl_schedule="warmup", kl_warmup_steps=90)
    assert all(kl_scale(cyc, t, 90) == kl_scale(warm, t, 90) for t in range(90))


def test_cyclical_annealing_restarts_every_cycle():
    """Fu et al.: M cycles of T / M steps; the weight ramps over the first R of each."""
    tc = TrainConfig(kl_schedule="cyclical", kl_cycles=4, kl_ramp=0.5)
    w = [kl_scale(tc, t, 100) for t in range(100)]
    assert [w[t] for t in (0, 25, 50, 75)] == [0, 0, 0, 0]
    assert w[6] == pytest.approx(6 / 12.5) and w[12] == pytest.approx(12 / 12.5)
    assert all(v == 1 for t, v in enumerate(w) if t % 25 >= 13)


def _terms(seed=0, B=7, D=5):
    m = build_model(ModelConfig("vae", D=D, H=16), torch.Generator().manual_seed(seed))
    x = (torch.rand(B, 784, generator=torch.Generator().manual_seed(seed)) < 0.5).float()
    return m, x


def test_no_remedy_is_the_papers_objective_exactly():
    m, x = _terms()
    terms = m.loss_terms(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(minibatch_cost(terms), terms.cost.mean())
    # the general form, forced (a floor far below any KL), agrees to rounding
    general = minibatch_cost(terms, 1.0, free_bits=1e-30)
    assert general.item() == pytest.approx(terms.cost.mean().item(), rel=1e-6)


def test_free_bits_charge_only_units_above_the_floor():
    m, x = _terms()
    terms = m.loss_terms(x, generator=torch.Generator().manual_seed(1))
    kl_units = terms.kl.mean(0)
    floor = kl_units.median().item()
    want = terms.rec.mean() + torch.maximum(kl_units, torch.tensor(floor)).sum()
    got = minibatch_cost(terms, 1.0, free_bits=floor)
    assert got.item() == pytest.approx(want.item(), rel=1e-6)
    # a unit under the floor gets no gradient from its KL: with the floor above every unit,
    # the gradient is the reconstruction's alone
    (g_fb,) = torch.autograd.grad(
        minibatch_cost(terms, 1.0, 1e6), [m.encoder.head.weight], retain_graph=True
    )
    (g_rec,) = torch.autograd.grad(terms.rec.mean(), [m.encoder.head.weight])
    torch.testing.assert_close(g_fb, g_rec)


def test_a_warmup_run_takes_its_first_step_on_the_reconstruction_alone():
    """At step 0 the weight is 0: the first step is that of a VAE with kl_weight = 0."""
    x = torch.rand(100, 784, generator=torch.Generator().manual_seed(0))
    tc = TrainConfig(epochs=1, batch_size=100, device="cpu")
    warm = train(
        ModelConfig("vae", D=4, H=16),
        tc.replace(kl_schedule="warmup", kl_warmup_steps=10),
        x,
        progress=False,
    )
    zero = train(ModelConfig("vae", D=4, H=16, kl_weight=0.0), tc, x, progress=False)
    plain = train(ModelConfig("vae", D=4, H=16), tc, x, progress=False)
    d = lambda a, b: max((p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters()))  # noqa: E731
    assert d(warm.model, zero.model) < 1e-6 < d(warm.model, plain.model)


def test_free_bits_zero_trains_the_vae_bitwise():
    x = torch.rand(150, 784, generator=torch.Generator().manual_seed(0))
    tc = TrainConfig(epochs=2, batch_size=50, device="cpu")
    a = train(ModelConfig("vae", D=4, H=16), tc, x, progress=False)
    b = train(ModelConfig("vae", D=4, H=16), tc.replace(free_bits=0.0), x, progress=False)
    c = train(ModelConfig("vae", D=4, H=16), tc.replace(free_bits=0.5), x, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.model.parameters(), c.model.parameters()))


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(kl_schedule="linear"), "kl_schedule='linear'"),
        (dict(kl_schedule="warmup"), "needs kl_warmup_steps"),
        (dict(kl_schedule="warmup", kl_warmup_steps=0), "kl_warmup_steps=0"),
        (dict(kl_warmup_steps=10), "kl_warmup_steps=10 is not allowed with kl_schedule='constant'"),
        (dict(kl_schedule="cyclical", kl_cycles=4), "needs kl_ramp"),
        (dict(kl_schedule="cyclical", kl_cycles=4, kl_ramp=0.0), "kl_ramp=0.0"),
        (dict(kl_schedule="cyclical", kl_cycles=4, kl_ramp=1.5), "kl_ramp=1.5"),
        (dict(kl_schedule="warmup", kl_warmup_steps=5, kl_cycles=2), "kl_cycles=2 is not allowed"),
        (dict(free_bits=-0.1), "free_bits=-0.1"),
        (dict(free_bits=float("nan")), "free_bits=nan"),
    ],
)
def test_bad_remedy_options_are_refused_by_name(kw, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kw)


# --- I(x; z) -------------------------------------------------------------------------------


class _Fixed(torch.nn.Module):
    """A 'model' whose posterior for row n of x is given: (mu_n, logvar_n)."""

    n_epitomes = 1

    def __init__(self, mu, logvar):
        super().__init__()
        self.mu, self.logvar = mu, logvar

    def posterior(self, x, y=None):
        idx = x[:, 0].long()
        return self.mu[idx], self.logvar[idx]


def _mi(mu, logvar, **kw):
    x = torch.arange(mu.shape[0], dtype=torch.float32)[:, None]
    return mutual_information(_Fixed(mu, logvar), x, torch.zeros(len(x), dtype=torch.long), **kw)


def test_identical_posteriors_carry_no_information():
    mu = torch.full((50, 3), 0.7)
    assert abs(_mi(mu, torch.full((50, 3), -1.0), n_samples=4)) < 1e-9


def test_posteriors_that_do_not_overlap_carry_log_n():
    mu = torch.arange(8.0)[:, None] * 100  # 8 points far apart, unit variance
    g = torch.Generator().manual_seed(0)
    assert _mi(mu, torch.zeros(8, 1), n_samples=50, generator=g) == pytest.approx(
        math.log(8), abs=1e-6
    )


def test_mi_matches_quadrature_on_a_one_dimensional_mixture():
    """Three overlapping 1-d posteriors: the estimate against the integral on a fine grid."""
    mu = torch.tensor([[-1.0], [0.2], [1.5]])
    logvar = torch.tensor([[0.0], [-0.5], [0.3]])
    zs = torch.linspace(-12, 12, 200_001, dtype=torch.float64)[:, None]
    log_qz = gaussian_mixture_log_density(zs, mu, logvar)
    exact = 0.0
    for m, lv in zip(mu.double(), logvar.double()):
        log_q = -0.5 * ((zs[:, 0] - m) ** 2 / lv.exp() + lv + math.log(2 * math.pi))
        exact += (log_q.exp() * (log_q - log_qz)).sum().item() * (zs[1, 0] - zs[0, 0]).item()
    exact /= 3
    g = torch.Generator().manual_seed(0)
    est = _mi(mu, logvar, n_samples=200_000, generator=g)
    assert est == pytest.approx(exact, abs=3e-3)
    assert 0 < exact < math.log(3)


def test_mixture_density_equals_the_direct_sum():
    g = torch.Generator().manual_seed(0)
    mu, lv, z = (
        torch.randn(6, 4, generator=g),
        torch.randn(6, 4, generator=g),
        torch.randn(9, 4, generator=g),
    )
    direct = torch.stack(
        [
            torch.distributions.Normal(mu[n], (0.5 * lv[n]).exp()).log_prob(z).sum(-1)
            for n in range(6)
        ]
    ).logsumexp(0) - math.log(6)
    torch.testing.assert_close(gaussian_mixture_log_density(z, mu, lv, chunk=4).float(), direct)


def test_mi_of_an_evae_with_one_epitome_is_the_vaes():
    x = (torch.rand(40, 784, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    vae = build_model(ModelConfig("vae", D=4, H=16), torch.Generator().manual_seed(0))
    evae = build_model(ModelConfig("evae", D=4, K=4, H=16), torch.Generator().manual_seed(0))
    a = mutual_information(vae, x, generator=torch.Generator().manual_seed(1))
    b = mutual_information(evae, x, generator=torch.Generator().manual_seed(1))
    assert a == b and 0 < a <= math.log(40)


def test_mi_refuses_what_it_cannot_estimate():
    with pytest.raises(ValueError, match="n_samples=0"):
        _mi(torch.zeros(3, 1), torch.zeros(3, 1), n_samples=0)
    with pytest.raises(ValueError, match="at least 2"):
        _mi(torch.zeros(1, 1), torch.zeros(1, 1))


def test_the_remedies_grid_holds_every_model_at_every_D_over_its_seeds():
    from evae_lite.runs import get_scale
    from evae_lite.runs.remedies import remedies_jobs

    jobs = remedies_jobs("book")
    seeds = get_scale("book", "remedies").seeds
    names = {j.tag["model"] for j in jobs}
    assert len(names) == 9 and {j.tag["D"] for j in jobs} == {20, 50}
    assert len(jobs) == 9 * 2 * seeds and len(set(jobs)) == len(jobs)
    warm = next(j for j in jobs if j.tag["model"] == "warm-up")
    steps = warm.train.total_epochs * 500  # 50,000 images in minibatches of 100
    assert warm.train.kl_warmup_steps == round(0.2 * steps)
    assert all("mi" in j.measures and "iwae" in j.measures for j in jobs)


@pytest.mark.parametrize("name", ["warm-up", "free bits", "eVAE, REINFORCE"])
def test_a_remedy_job_runs_and_measures_its_information(name, data_dir, tmp_path, monkeypatch):
    from evae_lite.runs import run
    from evae_lite.runs.remedies import remedies_jobs

    monkeypatch.setenv("EVAE_LITE_RESULTS", str(tmp_path))
    job = next(j for j in remedies_jobs("smoke", Ds=(20,)) if j.tag["model"] == name)
    r = run(job)
    assert 0 <= r.mi <= math.log(job.eval_size) + 1e-9
    assert r.iwae.n == 100 and r.iwae.mean < 0 and r.units.active <= 20
