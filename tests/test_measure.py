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
