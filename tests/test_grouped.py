"""Grouped seeds (evae_lite.grouped): S seeds trained as one SeedGroup give each seed the
model that training it alone gives, to the rounding of the grouped products."""

import pytest
import torch

from evae_lite import ModelConfig, TrainConfig
from evae_lite.grouped import SeedGroup, train_grouped
from evae_lite.model import build_model
from evae_lite.train import train

SEEDS = [0, 3, 7]
TOL = 2e-5  # float32: grouped and single products round differently, a few steps apart


def _data(n=250, seed=0, binary=True):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 784, generator=g)
    return x, torch.rand(60, 784, generator=g)


def _max_diff(a, b) -> float:
    return max((p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize(
    "cfg, binary",
    [
        (ModelConfig("vae", D=5, L=1, H=24), True),
        (ModelConfig("vae", D=5, L=2, H=24, kl_weight=0.5), True),
        (ModelConfig("dropout_vae", D=5, L=1, H=24, dropout=0.5), True),
        (ModelConfig("vae", D=3, L=1, H=24, likelihood="gaussian"), False),
    ],
    ids=["vae", "vae-L2-kl0.5", "dropout", "gaussian"],
)
def test_each_seed_is_the_model_trained_alone(cfg, binary):
    tc = TrainConfig(epochs=2, batch_size=100, device="cpu")  # 250 images: a partial batch
    x, x_val = _data()
    grouped = train_grouped(cfg, tc, SEEDS, x, x_val, binary=binary, progress=False)
    alone = [train(cfg, tc.replace(seed=s), x, x_val, binary=binary, progress=False) for s in SEEDS]
    for g, a in zip(grouped, alone):
        assert _max_diff(g.model, a.model) < TOL
        for hg, ha in zip(g.history, a.history):
            assert hg.epoch == ha.epoch and hg.lr == ha.lr
            for f in ("train_cost", "train_rec", "train_kl", "val_bound"):
                assert getattr(hg, f) == pytest.approx(getattr(ha, f), rel=1e-5, abs=1e-5)
    # The tolerance discriminates: a different seed's stream gives a far larger difference,
    # so a grouped run that drew from another generator, or another order, would fail above.
    assert _max_diff(grouped[0].model, alone[1].model) > 100 * TOL


def test_one_seed_of_the_group_reproduces_its_random_stream():
    """A group whose seeds draw the single run's numbers in its order: seed s's results do not
    depend on which other seeds train beside it."""
    cfg, tc = ModelConfig("dropout_vae", D=4, L=1, H=16, dropout=0.3), TrainConfig(epochs=1)
    x, _ = _data(n=200)
    tc = tc.replace(device="cpu")
    a = train_grouped(cfg, tc, [5], x, progress=False)[0]
    b = train_grouped(cfg, tc, [1, 5, 9], x, progress=False)[1]
    assert _max_diff(a.model, b.model) < TOL


def test_the_group_stacks_and_unstacks_weights_exactly():
    cfg = ModelConfig("vae", D=4, L=2, H=16)
    models = [build_model(cfg, torch.Generator().manual_seed(s)) for s in SEEDS]
    group = SeedGroup(models)
    back = group.unstack([build_model(cfg, torch.Generator().manual_seed(99)) for _ in SEEDS])
    for m, b in zip(models, back):
        assert all(torch.equal(p, q) for p, q in zip(m.parameters(), b.parameters()))
    x = torch.rand(3, 10, 784)
    eps = torch.randn(3, 10, 4)
    rec, kl = group.loss_terms(x, eps)
    for s, m in enumerate(models):  # seed s's terms are model s's on its own minibatch
        t = m.loss_terms(x[s], eps=eps[s])
        torch.testing.assert_close(rec[s], t.rec, rtol=1e-5, atol=1e-4)
        torch.testing.assert_close(kl[s], t.kl, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(cfg=ModelConfig("evae", D=4, K=2, H=16)), "model='evae' cannot be trained grouped"),
        (dict(seeds=[]), "need one or more distinct seeds"),
        (dict(seeds=[1, 1]), "need one or more distinct seeds"),
        (dict(x=torch.rand(10, 50)), r"expected \(N, 784\)"),
    ],
)
def test_bad_input_is_refused_by_name(kwargs, match):
    args = dict(cfg=ModelConfig("vae", D=4, H=16), seeds=[0, 1], x=torch.rand(10, 784))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        train_grouped(args["cfg"], TrainConfig(epochs=1, device="cpu"), args["seeds"], args["x"])


def test_a_group_of_different_configs_is_refused():
    a = build_model(ModelConfig("vae", D=4, H=16))
    b = build_model(ModelConfig("vae", D=4, H=17))
    with pytest.raises(ValueError, match="one config"):
        SeedGroup([a, b])
