import pytest
import torch

import evae_lite.train as train_mod
from evae_lite import ModelConfig, TrainConfig, cache
from evae_lite.cache import Entry, cached_json, cached_train, make_key

CFG = ModelConfig("evae", D=4, K=2, H=16, x_dim=32)
TCFG = TrainConfig(epochs=2, batch_size=25)


def _x(seed=0):
    return torch.rand(100, 32, generator=torch.Generator().manual_seed(seed))


def test_second_call_trains_nothing(tmp_path, monkeypatch):
    a = cached_train(CFG, TCFG, _x(), progress=False, root=tmp_path)

    def boom(*a, **k):
        raise AssertionError("retrained a cached model")

    monkeypatch.setattr(train_mod, "train", boom)
    b = cached_train(CFG, TCFG, _x(), progress=False, root=tmp_path)
    assert all(torch.equal(v, b.model.state_dict()[k]) for k, v in a.model.state_dict().items())
    assert [h.train_cost for h in a.history] == [h.train_cost for h in b.history]
    assert torch.equal(a.y, b.y)


def test_key_changes_with_config_data_and_code(monkeypatch):
    k = make_key("model", model=CFG, train=TCFG, x_train=_x())
    assert k == make_key("model", model=CFG, train=TCFG, x_train=_x())
    assert k != make_key("model", model=CFG.replace(H=17), train=TCFG, x_train=_x())
    assert k != make_key("model", model=CFG, train=TCFG.replace(seed=1), x_train=_x())
    assert k != make_key("model", model=CFG, train=TCFG, x_train=_x(seed=1))
    monkeypatch.setattr(cache, "code_version", lambda kind: "edited")
    assert k != make_key("model", model=CFG, train=TCFG, x_train=_x())


def test_code_version_ignores_docstrings_and_comments(tmp_path, monkeypatch):
    src = 'def f(x):\n    """Doc."""\n    return x + 1  # one\n'
    (tmp_path / "m.py").write_text(src)
    monkeypatch.setattr(cache, "_PKG", tmp_path)
    monkeypatch.setattr(cache, "CODE", {"model": ("m",)})
    v = cache.code_version("model")
    (tmp_path / "m.py").write_text('def f(x):\n    """Other words."""\n\n    return x + 1\n')
    assert cache.code_version("model") == v
    (tmp_path / "m.py").write_text("def f(x):\n    return x + 2\n")
    assert cache.code_version("model") != v


def test_corrupt_entry_is_detected_and_recomputed(tmp_path):
    cached_train(CFG, TCFG, _x(), progress=False, root=tmp_path)
    (entry,) = list(tmp_path.iterdir())
    ckpt = entry / "checkpoint.pt"
    data = bytearray(ckpt.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    ckpt.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="corrupt"):
        r = cached_train(CFG, TCFG, _x(), progress=False, root=tmp_path)
    assert len(r.history) == 2
    assert Entry(entry.name, tmp_path).valid()  # sealed again, with the new file's hash


def test_cached_json(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"parzen": 1.5}

    assert cached_json("m", compute, root=tmp_path, a=1) == {"parzen": 1.5}
    assert cached_json("m", compute, root=tmp_path, a=1) == {"parzen": 1.5}
    assert len(calls) == 1
    cached_json("m", compute, root=tmp_path, a=2)
    assert len(calls) == 2
    e = tmp_path / make_key("m", a=1)
    (e / "result.json").write_text('{"parzen": 99}')  # tampered
    with pytest.warns(UserWarning, match="corrupt"):
        assert cached_json("m", compute, root=tmp_path, a=1) == {"parzen": 1.5}


def test_concurrent_requests_train_once(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    calls = []
    real = train_mod.train

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(train_mod, "train", counting)
    with ThreadPoolExecutor(2) as ex:
        futs = [
            ex.submit(cached_train, CFG, TCFG, _x(), progress=False, root=tmp_path)
            for _ in range(2)
        ]
        a, b = (f.result() for f in futs)
    assert len(calls) == 1
    assert all(torch.equal(v, b.model.state_dict()[k]) for k, v in a.model.state_dict().items())


def test_job_results_are_keyed_by_every_module_that_computes_them(monkeypatch):
    """A sweep job trains, counts active units (measure), Parzen and L_k: an edit to any of
    them must make a new entry."""
    seen = []
    monkeypatch.setattr(cache, "_code_of", lambda name: seen.append(name) or name)
    cache.code_version("job")
    assert {"train", "optim", "models", "nets", "measure", "parzen", "iwae"} <= set(seen)
