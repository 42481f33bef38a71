import torch

from evae_lite import ModelConfig, build_model
from evae_lite.evaluate.activity import THRESHOLD_BURDA_CODE, activity, unit_report


def test_activity_is_the_variance_of_posterior_means():
    """A linear encoder: unit 0's mean is x_0 (active), unit 1's is 0.1 x_1, unit 2 constant."""
    m = build_model(ModelConfig("vae", D=3, L=0, H=1, x_dim=4))
    with torch.no_grad():
        m.encoder.head.weight.zero_()
        m.encoder.head.bias.zero_()
        m.encoder.head.weight[0, 0] = 1.0
        m.encoder.head.weight[1, 1] = 0.1
        m.encoder.head.bias[2] = 3.0  # constant mean: carries no information
    x = torch.rand(5000, 4, generator=torch.Generator().manual_seed(0))
    rep = unit_report(m, x)
    torch.testing.assert_close(rep.activity[0], x[:, 0].var(), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(rep.activity[1], 0.01 * x[:, 1].var(), rtol=1e-4, atol=1e-6)
    assert rep.activity[2] == 0
    # A_0 ~ 1/12 > 0.02; A_1 ~ 1/1200 < 0.01; A_2 = 0
    assert rep.n_active == 1 and rep.n_active_at(THRESHOLD_BURDA_CODE) == 1
    assert rep.order.tolist() == [0, 1, 2]
    assert rep.kl[2] > rep.kl[1]  # mean 3 far from the prior: large KL despite no activity


def test_evae_units_outside_the_epitome_count_as_prior():
    """In the eVAE, E_q[u] = 0 for examples assigned to epitomes that exclude u."""
    torch.manual_seed(0)
    m = build_model(ModelConfig("evae", D=4, K=2, H=8, x_dim=6))
    x = torch.rand(100, 6)
    y = torch.cat([torch.zeros(50), torch.ones(50)]).long()
    mu, logvar = m.posterior(x, y)
    rep = unit_report(m, x, y)
    torch.testing.assert_close(rep.activity, activity(mu))
    assert torch.all(mu[:50, 2:] == 0) and torch.all(mu[50:, :2] == 0)


def _parts_by_loop(mu, y, masks):
    """The same decomposition, unit by unit, from torch's own variance and mean."""
    from evae_lite.evaluate.activity import activity

    A = activity(mu).double()
    within, between, w_act = [], [], []
    N = mu.shape[0]
    for u in range(mu.shape[1]):
        inside = masks[y, u].bool()
        a, b = mu[inside, u].double(), mu[~inside, u].double()
        p = len(a) / N
        va = a.var(unbiased=False) if len(a) else torch.tensor(0.0)
        vb = b.var(unbiased=False) if len(b) else torch.tensor(0.0)
        ma = a.mean() if len(a) else torch.tensor(0.0)
        mb = b.mean() if len(b) else torch.tensor(0.0)
        c = N / (N - 1)
        within.append(c * (p * va + (1 - p) * vb))
        between.append(c * p * (1 - p) * (ma - mb) ** 2)
        w_act.append(a.var(unbiased=True) if len(a) > 1 else torch.tensor(0.0))
    return A, torch.stack(within), torch.stack(between), torch.stack(w_act)


def test_activity_parts_sum_to_the_activity_and_match_a_loop():
    from evae_lite.evaluate.activity import activity_parts, posterior_stats

    torch.manual_seed(0)
    model = build_model(ModelConfig("evae", D=6, K=2, stride=1, H=16, x_dim=10)).eval()
    x = (torch.rand(300, 10) < 0.4).float()
    y = torch.randint(model.n_epitomes, (300,))
    mu, _ = posterior_stats(model, x, y)
    parts = activity_parts(mu, y, model.masks)
    A, within, between, w_act = _parts_by_loop(mu, y, model.masks)
    # the law of total variance: the two parts make A_u exactly (to float64 rounding)
    torch.testing.assert_close((parts.within + parts.between).double(), A, rtol=1e-5, atol=1e-9)
    torch.testing.assert_close(parts.within.double(), within, rtol=1e-5, atol=1e-9)
    torch.testing.assert_close(parts.between.double(), between, rtol=1e-5, atol=1e-9)
    torch.testing.assert_close(parts.within_activity.double(), w_act, rtol=1e-5, atol=1e-9)
    assert parts.group_size.tolist() == model.masks[y].sum(0).long().tolist()
    assert (parts.between > 0).any()  # the masked zeros do count in A_u


def test_a_vae_has_one_group_so_its_activity_is_all_within():
    from evae_lite.evaluate.activity import activity, activity_parts

    torch.manual_seed(1)
    mu = torch.randn(200, 5) * torch.tensor([0.01, 0.1, 1.0, 2.0, 0.0])
    parts = activity_parts(mu, torch.zeros(200, dtype=torch.long), torch.ones(1, 5))
    torch.testing.assert_close(parts.within, activity(mu))
    torch.testing.assert_close(parts.within_activity, activity(mu))
    assert torch.equal(parts.between, torch.zeros(5))


def test_unit_report_carries_the_parts_of_the_activity_it_reports():
    from evae_lite.evaluate.activity import activity, posterior_stats

    torch.manual_seed(2)
    model = build_model(ModelConfig("evae", D=6, K=3, H=16, x_dim=10)).eval()
    x = (torch.rand(200, 10) < 0.4).float()
    rep = unit_report(model, x)
    mu, _ = posterior_stats(model, x)  # y* assigned inside, as before the parts existed
    assert torch.equal(rep.activity, activity(mu))
    torch.testing.assert_close(rep.parts.within + rep.parts.between, rep.activity)
    assert int(rep.parts.group_size.sum()) == 200 * 3  # each example uses K = 3 units


def test_a_jobs_units_report_back_the_parts_they_stored():
    """runs.Units (what the cache keeps) gives back the UnitReport it was made from."""
    import dataclasses

    from evae_lite.runs.job import Units

    torch.manual_seed(3)
    model = build_model(ModelConfig("evae", D=6, K=2, stride=2, H=16, x_dim=10)).eval()
    rep = unit_report(model, (torch.rand(150, 10) < 0.4).float())
    p = rep.parts
    units = Units(
        rep.n_active, 0, rep.activity.tolist(), rep.kl.tolist(), p.within.tolist(),
        p.between.tolist(), p.within_activity.tolist(), p.group_size.tolist(), 0,
    )  # fmt: skip
    back = units.report()
    assert torch.equal(back.activity, rep.activity) and torch.equal(back.kl, rep.kl)
    for f in dataclasses.fields(p):
        assert torch.equal(getattr(back.parts, f.name), getattr(p, f.name)), f.name
    old = Units(rep.n_active, 0, rep.activity.tolist(), rep.kl.tolist())  # cached before parts
    assert old.report().parts is None
