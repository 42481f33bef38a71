import math

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from evae_lite import ModelConfig, build_model, param_count
from evae_lite.model import EpitomicVAE, MixtureVAE, matched_component_H
from evae_lite.train.assignment import assign_epitomes, balanced_order

torch.set_default_dtype(torch.float32)


def _x(n=16, p=784, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, p, generator=g) < 0.3).float()


def _reference_vae_cost(model, x, eps):
    """The VAE cost of eq. 4 written independently with torch.distributions."""
    mu, logvar = model.encoder(x)
    std = torch.exp(0.5 * logvar)
    z = mu + std * eps
    rec = -Bernoulli(logits=model.decoder(z)).log_prob(x).sum(-1)
    kl = kl_divergence(Normal(mu, std), Normal(0.0, 1.0))
    return rec, kl


@pytest.mark.parametrize("L", [1, 2])
def test_evae_with_D_eq_K_eq_s_is_the_vae(L):
    """eVAE with D = K = s has one epitome and the same cost as the VAE, same weights."""
    torch.manual_seed(0)
    vae = build_model(ModelConfig("vae", D=10, L=L, H=64))
    evae = build_model(ModelConfig("evae", D=10, K=10, stride=10, L=L, H=64))
    assert isinstance(evae, EpitomicVAE) and evae.n_epitomes == 1
    evae.load_state_dict(vae.state_dict())
    x = _x()
    eps = torch.randn(16, 10)
    y = torch.zeros(16, dtype=torch.long)
    tv, te = vae.loss_terms(x, eps=eps), evae.loss_terms(x, y, eps=eps)
    rec, kl = _reference_vae_cost(vae, x, eps)
    for t in (tv, te):
        torch.testing.assert_close(t.rec, rec, rtol=1e-5, atol=1e-4)
        torch.testing.assert_close(t.kl, kl, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(t.cost, rec + kl.sum(-1), rtol=1e-5, atol=1e-4)
    assert torch.all(te.kl_y == 0)  # KL to a uniform prior over one epitome
    torch.testing.assert_close(vae.epitome_costs(x), evae.epitome_costs(x))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    torch.testing.assert_close(
        vae.log_weights(x, 4, generator=g1), evae.log_weights(x, 4, generator=g2)
    )


def test_kl_weight_scales_only_the_kl():
    torch.manual_seed(0)
    m1 = build_model(ModelConfig("vae", D=6, H=32))
    m2 = build_model(ModelConfig("vae", D=6, H=32, kl_weight=0.2))
    m2.load_state_dict(m1.state_dict())
    x, eps = _x(), torch.randn(16, 6)
    t1, t2 = m1.loss_terms(x, eps=eps), m2.loss_terms(x, eps=eps)
    torch.testing.assert_close(t2.cost, t1.rec + 0.2 * t1.kl.sum(-1))
    torch.testing.assert_close(t2.bound, t1.bound)  # the reported bound is always lambda = 1


def test_dropout_vae_drops_z_in_training_only():
    torch.manual_seed(0)
    vae = build_model(ModelConfig("vae", D=50, H=32))
    dvae = build_model(ModelConfig("dropout_vae", D=50, H=32, dropout=0.5))
    dvae.load_state_dict(vae.state_dict())
    x, eps = _x(), torch.randn(16, 50)
    dvae.eval()
    torch.testing.assert_close(dvae.loss_terms(x, eps=eps).rec, vae.loss_terms(x, eps=eps).rec)
    dvae.train()
    seen = []
    orig = dvae.decoder.forward
    dvae.decoder.forward = lambda z: (seen.append(z), orig(z))[1]
    dvae.loss_terms(x, eps=eps, generator=torch.Generator().manual_seed(0))
    zeros = (seen[0] == 0).float().mean().item()
    assert 0.4 < zeros < 0.6  # about half the units dropped, the rest scaled by 1/(1-p)


def test_evae_masks_posterior_and_kl():
    """q(z|y,x): dims outside epitome y are the prior (mean 0, logvar 0) and pay no KL."""
    torch.manual_seed(0)
    m = build_model(ModelConfig("evae", D=8, K=2, stride=2, H=32))
    x = _x(4)
    y = torch.tensor([0, 1, 2, 3])
    mu, logvar = m.posterior(x, y)
    t = m.loss_terms(x, y)
    for i in range(4):
        outside = torch.ones(8, dtype=torch.bool)
        outside[2 * i : 2 * i + 2] = False
        assert torch.all(mu[i, outside] == 0) and torch.all(logvar[i, outside] == 0)
        assert torch.all(t.kl[i, outside] == 0)
        assert torch.all(t.kl[i, ~outside] > 0)
    torch.testing.assert_close(t.kl_y, torch.full((4,), math.log(4)))


def _loop_costs(model, x, eps=None):
    """Brute force: the cost of every epitome, one epitome at a time."""
    cols = []
    for y in range(model.n_epitomes):
        yy = torch.full((x.shape[0],), y, dtype=torch.long)
        e = torch.zeros(x.shape[0], model.D) if eps is None else eps
        cols.append(model.loss_terms(x, yy, eps=e).cost)
    return torch.stack(cols, 1)


@pytest.mark.parametrize(
    "cfg",
    [
        ModelConfig("evae", D=8, K=2, stride=2, H=32),
        ModelConfig("evae", D=20, K=2, stride=1, L=2, H=32),
        ModelConfig("evae", D=12, K=4, stride=4, H=32, kl_weight=0.5),
        ModelConfig("mvae", D=12, K=3, H=64),
        ModelConfig("mvae", D=12, K=4, L=2, H=64),
    ],
)
def test_vectorized_assignment_equals_loop(cfg):
    torch.manual_seed(1)
    model = build_model(cfg).eval()
    x = _x(20)
    vec = model.epitome_costs(x)
    loop = _loop_costs(model, x)
    torch.testing.assert_close(vec, loop, rtol=1e-5, atol=1e-3)
    y, costs = assign_epitomes(model, x, batch_size=7)  # chunking changes nothing
    assert torch.equal(y, loop.argmin(1))
    torch.testing.assert_close(costs, loop, rtol=1e-5, atol=1e-3)
    # the row cap cuts the batch to one example here (Y >= 3 rows each): same answer
    y1, costs1 = assign_epitomes(model, x, max_rows=model.n_epitomes)
    assert torch.equal(y1, y)
    torch.testing.assert_close(costs1, loop, rtol=1e-5, atol=1e-3)


def test_vectorized_sampled_assignment_equals_loop_with_shared_noise():
    torch.manual_seed(2)
    model = build_model(ModelConfig("evae", D=10, K=3, stride=1, H=32)).eval()
    x = _x(9)
    vec = model.epitome_costs(x, n_samples=1, generator=torch.Generator().manual_seed(5))
    eps = torch.randn(1, 9, 10, generator=torch.Generator().manual_seed(5))[0]
    torch.testing.assert_close(vec, _loop_costs(model, x, eps), rtol=1e-5, atol=1e-3)


def test_balanced_minibatches():
    g = torch.Generator().manual_seed(0)
    y = torch.cat([torch.full((n,), i) for i, n in enumerate([500, 300, 150, 50])])
    y = y[torch.randperm(1000, generator=g)]
    order = balanced_order(y, 4, g)
    assert torch.equal(order.sort().values, torch.arange(1000))  # a permutation
    for b in range(10):  # every minibatch of 100 holds each group in proportion (+-1)
        counts = torch.bincount(y[order[b * 100 : (b + 1) * 100]], minlength=4)
        assert torch.all((counts - torch.tensor([50, 30, 15, 5])).abs() <= 1), counts
    assert not torch.equal(order, balanced_order(y, 4, g))  # randomised every epoch


def test_mvae_parameter_count_matches_evae():
    for D, K, L, H in [(8, 4, 1, 500), (24, 3, 2, 500), (48, 4, 3, 1000)]:
        cfg = ModelConfig("mvae", D=D, K=K, L=L, H=H)
        m = MixtureVAE(cfg)
        e = build_model(cfg.replace(model="evae"))
        assert m.component_H == matched_component_H(cfg)
        assert abs(param_count(m) / param_count(e) - 1) < 0.03, (D, K, L, H)


def test_mvae_components_share_no_parameters():
    torch.manual_seed(0)
    m = build_model(ModelConfig("mvae", D=9, K=3, H=64))
    x = _x(5)
    y = torch.zeros(5, dtype=torch.long)  # everyone in component 0
    m.loss_terms(x, y).cost.sum().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None, name
        assert p.grad[0].abs().sum() > 0, name  # component 0 learns
        assert torch.all(p.grad[1:] == 0), name  # components 1, 2 untouched


def test_mvae_component_matches_a_standalone_vae():
    """Component c of the mVAE computes exactly a VAE with K latent dims and its own weights."""
    torch.manual_seed(0)
    cfg = ModelConfig("mvae", D=6, K=3, L=1, H=64)
    m = build_model(cfg)
    vae = build_model(ModelConfig("vae", D=3, L=1, H=m.component_H))
    c = 1
    enc, dec = m.encoder, m.decoder_net
    with torch.no_grad():
        vae.encoder.trunk[0].weight.copy_(enc[0].weight[c].T)
        vae.encoder.trunk[0].bias.copy_(enc[0].bias[c, 0])
        vae.encoder.head.weight.copy_(enc[2].weight[c].T)
        vae.encoder.head.bias.copy_(enc[2].bias[c, 0])
        vae.decoder.trunk[0].weight.copy_(dec[0].weight[c].T)
        vae.decoder.trunk[0].bias.copy_(dec[0].bias[c, 0])
        vae.decoder.head.weight.copy_(dec[2].weight[c].T)
        vae.decoder.head.bias.copy_(dec[2].bias[c, 0])
    x = _x(4)
    eps3 = torch.randn(4, 3)
    eps = torch.zeros(4, 6)
    eps[:, 3:6] = eps3
    t = m.loss_terms(x, torch.full((4,), c), eps=eps)
    tv = vae.loss_terms(x, eps=eps3)
    torch.testing.assert_close(t.rec, tv.rec, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(t.kl[:, 3:6], tv.kl)
    torch.testing.assert_close(t.kl_y, torch.full((4,), math.log(2)))


@pytest.mark.parametrize("model", ["vae", "evae", "mvae"])
def test_sample_shapes_and_range(model):
    kw = dict(K=2) if model != "vae" else {}
    m = build_model(ModelConfig(model, D=6, H=16, **kw))
    s = m.sample(7, generator=torch.Generator().manual_seed(0))
    assert s.shape == (7, 784) and s.min() >= 0 and s.max() <= 1
    m2 = build_model(ModelConfig(model, D=6, H=16, x_dim=20, likelihood="gaussian", **kw))
    assert m2.sample(3).shape == (3, 20)


@pytest.mark.parametrize(
    "cfg",
    [
        ModelConfig("vae", D=6, H=16, L=2, x_dim=12),
        ModelConfig("dropout_vae", D=6, H=16, L=1, x_dim=12, dropout=0.5),
        ModelConfig("evae", D=6, K=2, H=16, L=2, x_dim=12, likelihood="gaussian"),
        ModelConfig("mvae", D=6, K=2, H=16, L=2, x_dim=12),
    ],
    ids=lambda c: c.model,
)
def test_weights_from_a_generator_equal_torch_default_initialisation(cfg):
    """A generator seeded with s gives bit for bit the weights of manual_seed(s) + build."""
    torch.manual_seed(3)
    ref = build_model(cfg).state_dict()
    torch.manual_seed(123)
    mine = build_model(cfg, torch.Generator().manual_seed(3)).state_dict()
    assert ref.keys() == mine.keys()
    for k in ref:
        assert torch.equal(ref[k], mine[k]), k
    other = build_model(cfg, torch.Generator().manual_seed(4)).state_dict()
    assert any(not torch.equal(ref[k], other[k]) for k in ref)
