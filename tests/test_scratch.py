"""The from-scratch eVAE written out in the chapter "The eVAE in code" (its cells tagged
`scratch`) computes the package's model: the same costs, the same y*, the same eq. 7."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import torch

from evae_lite.model import ModelConfig, build_model

CHAPTER = Path(__file__).resolve().parent.parent / "book" / "05b_evae_in_code.ipynb"
NAMES = {"enc.0": "encoder.trunk.0", "enc.2": "encoder.head"}
NAMES |= {"dec.0": "decoder.trunk.0", "dec.2": "decoder.head"}


@pytest.fixture(scope="module")
def scratch() -> dict:
    nb = nbformat.read(CHAPTER, as_version=4)
    cells = [c.source for c in nb.cells if "scratch" in c.metadata.get("tags", [])]
    assert len(cells) >= 5, "the chapter's scratch cells are missing"
    ns: dict = {}
    exec("\n\n".join(cells), ns)
    return ns


def _pair(ns, D, K, stride, H=32, model="evae"):
    torch.manual_seed(0)
    nets = ns["Nets"](D, H)
    for p in nets.parameters():  # weights large enough that the epitomes differ clearly
        torch.nn.init.normal_(p, std=0.3)
    pkg = build_model(ModelConfig(model, D=D, K=K, stride=stride, L=1, H=H)).eval()
    state = {}
    for k, v in nets.state_dict().items():
        layer, what = k.rsplit(".", 1)
        state[f"{NAMES[layer]}.{what}"] = v
    missing = pkg.load_state_dict(state, strict=False).missing_keys
    assert not [k for k in missing if k != "masks"], missing
    return nets, ns["epitome_masks"](D, K, stride), pkg


def _x(n=64, seed=1):
    return torch.bernoulli(torch.rand(n, 784, generator=torch.Generator().manual_seed(seed)))


@pytest.mark.parametrize("D,K,stride", [(8, 2, 2), (8, 2, 1), (12, 4, 4)])
def test_the_scratch_evae_is_the_package_evae(scratch, D, K, stride):
    nets, m, pkg = _pair(scratch, D, K, stride)
    assert torch.equal(m, pkg.masks)
    x = _x()
    with torch.no_grad():
        ours, theirs = scratch["epitome_costs"](nets, m, x), pkg.epitome_costs(x)
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-3)
        y = scratch["assign"](nets, m, x, batch=16)
        assert torch.equal(y, theirs.argmin(1))
        eps = torch.randn(len(x), D, generator=torch.Generator().manual_seed(2))
        c = scratch["cost"](nets, m, x, y, eps)
        torch.testing.assert_close(c, pkg.loss_terms(x, y, eps=eps).cost, rtol=0, atol=1e-3)


def test_with_one_epitome_the_scratch_cost_is_the_vae_bound(scratch):
    nets, m, vae = _pair(scratch, 6, 6, 6, model="vae")
    x = _x()
    eps = torch.randn(len(x), 6, generator=torch.Generator().manual_seed(3))
    y = torch.zeros(len(x), dtype=torch.long)
    with torch.no_grad():
        c = scratch["cost"](nets, m, x, y, eps)
        torch.testing.assert_close(c, vae.loss_terms(x, eps=eps).cost, rtol=0, atol=1e-3)


def test_balanced_order_puts_each_group_in_every_minibatch_in_proportion(scratch):
    g = torch.Generator().manual_seed(0)
    y = torch.cat([torch.full((n,), k) for k, n in enumerate((600, 300, 90, 10))])
    order = scratch["balanced_order"](y, 4, g)
    assert sorted(order.tolist()) == list(range(len(y)))
    for b in range(0, len(y), 100):
        counts = torch.bincount(y[order[b : b + 100]], minlength=4)
        expected = torch.tensor([60, 30, 9, 1])
        assert (counts - expected).abs().max() <= 2, (b, counts.tolist())


def test_one_scratch_epoch_lowers_the_cost(scratch):
    torch.manual_seed(0)
    nets, m = scratch["Nets"](4, 32), scratch["epitome_masks"](4, 2, 2)
    x = torch.rand(300, 784, generator=torch.Generator().manual_seed(4)) * 0.3
    opt = torch.optim.Adam(nets.parameters(), lr=1e-3)
    eps = torch.zeros(len(x), 4)
    y = scratch["assign"](nets, m, x)
    before = scratch["cost"](nets, m, x, y, eps).mean().item()
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        scratch["train_epoch"](nets, m, opt, x, g, batch=50)
    y = scratch["assign"](nets, m, x)
    assert scratch["cost"](nets, m, x, y, eps).mean().item() < before - 20  # 548 -> 501 nats


def test_the_vae_chapters_tiny_vae_is_the_package_vae():
    """Chapter 2's TinyVAE (its cells tagged `scratch`) gives the package VAE's eq. 4."""
    nb = nbformat.read(CHAPTER.parent / "02_over_pruning.ipynb", as_version=4)
    ns: dict = {"torch": torch}
    exec("\n\n".join(c.source for c in nb.cells if "scratch" in c.metadata.get("tags", [])), ns)
    torch.manual_seed(0)
    tiny = ns["TinyVAE"](6, 32)
    pkg = build_model(ModelConfig("vae", D=6, L=1, H=32)).eval()
    state = {}
    for k, v in tiny.state_dict().items():
        layer, what = k.rsplit(".", 1)
        state[f"{NAMES[layer]}.{what}"] = v
    assert pkg.load_state_dict(state, strict=False).missing_keys == ["masks"]
    x = _x()
    eps = torch.randn(len(x), 6, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        torch.testing.assert_close(
            tiny.cost(x, eps), pkg.loss_terms(x, eps=eps).cost, rtol=0, atol=1e-3
        )
