"""Adam inside backward (optim.py) against torch.optim.Adam's own step, bit for bit."""

import pytest
import torch
from torch import nn

import evae_lite.train as train_mod
from evae_lite import ModelConfig, TrainConfig
from evae_lite.optim import step_in_backward, supports_step_in_backward
from evae_lite.train import load_checkpoint, train


def _net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))


def _loss(net, x, use_last=True):
    h = net[1](net[0](x))
    return (net[2](h) if use_last else h).pow(2).mean()


def _same_state(a: dict, b: dict) -> bool:
    """Optimizer state_dicts equal tensor for tensor."""
    if a["param_groups"] != b["param_groups"] or a["state"].keys() != b["state"].keys():
        return False
    return all(
        s.keys() == b["state"][i].keys()
        and all(torch.equal(v, b["state"][i][k]) for k, v in s.items())
        for i, s in a["state"].items()
    )


def test_step_in_backward_equals_adam_step():
    """Ten steps with a change of learning rate and a step in which the last layer gets no
    gradient (Adam skips it; so must the hooks): same weights, same optimizer state."""
    classic, mine = _net(), _net()
    opt_c = torch.optim.Adam(classic.parameters(), lr=1e-2, fused=True)
    opt_m = torch.optim.Adam(mine.parameters(), lr=1e-2, fused=True)
    g = torch.Generator().manual_seed(1)
    with step_in_backward(opt_m):
        for i in range(10):
            x = torch.randn(4, 5, generator=g)
            lr = 1e-2 if i < 5 else 3e-3
            for group in (*opt_c.param_groups, *opt_m.param_groups):
                group["lr"] = lr
            use_last = i != 3
            opt_c.zero_grad(set_to_none=True)
            _loss(classic, x, use_last).backward()
            opt_c.step()
            _loss(mine, x, use_last).backward()
            assert all(p.grad is None for p in mine.parameters())
    assert all(torch.equal(a, b) for a, b in zip(classic.parameters(), mine.parameters()))
    assert _same_state(opt_c.state_dict(), opt_m.state_dict())
    assert opt_m.state[mine[2].weight]["step"].item() == 9  # skipped once, as Adam does


def test_hooks_are_removed_on_exit_and_on_error():
    net = _net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2, fused=True)
    with pytest.raises(KeyError), step_in_backward(opt):
        raise KeyError("boom")
    before = [p.detach().clone() for p in net.parameters()]
    _loss(net, torch.randn(4, 5)).backward()  # an ordinary backward again
    assert all(torch.equal(a, p) for a, p in zip(before, net.parameters()))
    assert all(p.grad is not None for p in net.parameters())


@pytest.mark.parametrize(
    "kw",
    [{"fused": False, "foreach": False}, {"fused": True, "amsgrad": True}],
)
def test_unsupported_optimizers_are_refused(kw):
    opt = torch.optim.Adam(_net().parameters(), **kw)
    assert not supports_step_in_backward(opt)
    with pytest.raises(ValueError, match="fused=True"), step_in_backward(opt):
        pass
    assert not supports_step_in_backward(torch.optim.SGD(_net().parameters(), lr=0.1))


def _data(n=240, p=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, p, generator=g) * torch.linspace(0.05, 0.95, p)


FAST = TrainConfig(epochs=3, batch_size=40, seed=3)
CASES = {
    "vae, KL weight": (ModelConfig("vae", D=5, L=2, H=24, x_dim=64, kl_weight=0.5), FAST),
    "dropout VAE": (ModelConfig("dropout_vae", D=5, H=24, x_dim=64, dropout=0.3), FAST),
    "eVAE": (ModelConfig("evae", D=6, K=2, stride=2, L=2, H=24, x_dim=64), FAST),
    "mVAE": (ModelConfig("mvae", D=6, K=2, H=24, x_dim=64), FAST),
    "Gaussian eVAE": (ModelConfig("evae", D=4, K=2, H=16, x_dim=64, likelihood="gaussian"), FAST),
    "burda schedule": (
        ModelConfig("vae", D=4, H=16, x_dim=64),
        TrainConfig(schedule="burda", stages=2, batch_size=40, seed=3),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_training_equals_the_classic_loop(case, tmp_path, monkeypatch):
    """train() with Adam inside backward ends with bitwise the weights, optimizer state,
    assignment and epoch statistics of the loop zero_grad / backward / step."""
    cfg, tcfg = CASES[case]
    x, binary = _data(), cfg.likelihood == "bernoulli"
    entered, real = [], train_mod.step_in_backward
    monkeypatch.setattr(train_mod, "step_in_backward", lambda opt: entered.append(1) or real(opt))
    mine = train(cfg, tcfg, x, x[:40], binary=binary, checkpoint=tmp_path / "a.pt", progress=False)
    epochs = len(mine.history)
    assert entered == [1] * epochs  # the CPU trains with Adam inside backward, every epoch
    monkeypatch.setattr(train_mod, "supports_step_in_backward", lambda opt: False)
    classic = train(
        cfg, tcfg, x, x[:40], binary=binary, checkpoint=tmp_path / "b.pt", progress=False
    )
    sa, sb = mine.model.state_dict(), classic.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    ca, cb = load_checkpoint(tmp_path / "a.pt"), load_checkpoint(tmp_path / "b.pt")
    assert _same_state(ca["optim"], cb["optim"])
    assert entered == [1] * epochs and torch.equal(ca["y"], cb["y"])
    for ha, hb in zip(ca["history"], cb["history"]):
        assert {**ha, "seconds": 0} == {**hb, "seconds": 0}


def test_backward_in_a_callback_does_not_step_adam():
    """Adam steps inside the minibatches' backward passes only: a gradient an on_epoch_end
    callback takes through the model (a saliency map, a gradient norm) leaves the weights and
    Adam's state as they were."""
    x = _data()
    seen = []

    def probe(stats, model):
        before = {k: v.clone() for k, v in model.state_dict().items()}
        model.loss_terms(x[:10], None).cost.mean().backward()
        seen.append(all(torch.equal(before[k], v) for k, v in model.state_dict().items()))
        model.zero_grad(set_to_none=True)

    cfg, tc = ModelConfig("vae", D=4, L=1, H=16, x_dim=x.shape[1]), TrainConfig(epochs=2)
    probed = train(cfg, tc, x, progress=False, on_epoch_end=probe)
    plain = train(cfg, tc, x, progress=False)
    assert seen == [True, True]
    assert all(
        torch.equal(v, plain.model.state_dict()[k]) for k, v in probed.model.state_dict().items()
    )
