from pathlib import Path

import pytest
import torch

import evae_lite.train as train_mod
from evae_lite import ModelConfig, TrainConfig
from evae_lite.runs import cache
from evae_lite.runs.cache import Entry, cached_json, cached_train, make_key

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
    monkeypatch.setattr(cache, "CODE", {"model": ("m.py",)})
    v = cache.code_version("model", root=tmp_path)
    (tmp_path / "m.py").write_text('def f(x):\n    """Other words."""\n\n    return x + 1\n')
    assert cache.code_version("model", root=tmp_path) == v
    (tmp_path / "m.py").write_text("def f(x):\n    return x + 2\n")
    assert cache.code_version("model", root=tmp_path) != v


def test_a_new_module_in_a_keyed_folder_changes_the_key(tmp_path):
    """Nobody lists modules: a file added under model/ (or train/, evaluate/, runs/) is hashed
    the moment it exists, and a file outside the keyed folders (the book's) is not."""
    import shutil

    pkg = tmp_path / "evae_lite"
    shutil.copytree(cache._PKG, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    model, job = cache.code_version("model", root=pkg), cache.code_version("job", root=pkg)
    assert (model, job) == (cache.code_version("model"), cache.code_version("job"))
    (pkg / "book" / "extra.py").write_text("X = 1\n")
    assert cache.code_version("job", root=pkg) == job
    (pkg / "evaluate" / "extra.py").write_text("X = 1\n")
    assert cache.code_version("model", root=pkg) == model  # trained models stay valid
    assert cache.code_version("job", root=pkg) != job
    (pkg / "train" / "extra.py").write_text("X = 1\n")
    assert cache.code_version("model", root=pkg) != model


_LOADED = """
import sys, torch
from evae_lite import ModelConfig, TrainConfig
{body}
print(" ".join(sorted(m for m in sys.modules if m.startswith("evae_lite"))))
"""


def _modules_loaded(body: str, env=None) -> list[str]:
    import os
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _LOADED.format(body=body)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    ).stdout
    return out.strip().splitlines()[-1].split()


def _covered(module: str, kind: str) -> bool:
    """Whether module's file is among the files that key results of this kind."""
    import importlib

    f = importlib.import_module(module).__file__
    return Path(f).resolve() in {p.resolve() for p in cache.code_files(kind)}


def test_training_and_run_import_only_keyed_code(data_dir, tmp_path):
    """Every package module that training loads is hashed into a trained model's key, and
    every module that run(job) loads into a result's key (the package's top __init__, which only
    re-exports, aside). A module outside them that could change a number would fail this.
    evae_lite.pack is the one exception, on purpose: it fills a missing entry with files whose
    sha256 the pinned manifest fixes, and changes no number (tests/test_pack.py)."""
    train_body = (
        "from evae_lite.train import train\n"
        "train(ModelConfig('evae', D=4, K=2, H=8, x_dim=16), TrainConfig(epochs=1), "
        "torch.rand(20, 16), progress=False)"
    )
    for m in _modules_loaded(train_body):
        assert m == "evae_lite" or _covered(m, "model"), f"{m} trains but is not in MODEL_CODE"
    run_body = (
        "from evae_lite.runs import Job, run\n"
        "run(Job(ModelConfig('evae', D=4, K=2, H=8), TrainConfig(epochs=1), train_size=50, "
        "eval_size=20, parzen_samples=20, measures=('units', 'parzen', 'iwae'), iwae_k=2))"
    )
    env = {"EVAE_LITE_RESULTS": str(tmp_path)}
    for m in _modules_loaded(run_body, env):
        if m.split(".")[:2] == ["evae_lite", "pack"]:
            continue
        assert m == "evae_lite" or _covered(m, "job"), f"{m} runs a job but is not in RESULT_CODE"


def test_corrupt_entry_is_moved_aside_and_retrained_from_scratch(tmp_path):
    """A flipped byte in a sealed model is detected; the model is trained again from scratch
    (never resumed from the bad checkpoint, which already holds every epoch) and equals the
    original; the bad file is kept aside, and the next call reads the good entry silently."""
    good = cached_train(CFG, TCFG, _x(), progress=False, root=tmp_path)
    (entry,) = list(tmp_path.iterdir())
    ckpt = entry / "checkpoint.pt"
    data = bytearray(ckpt.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, inside the weights
    ckpt.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="corrupt"):
        r = cached_train(CFG, TCFG, _x(), progress=False, root=tmp_path)
    assert len(r.history) == 2
    for k, v in good.model.state_dict().items():
        assert torch.equal(v, r.model.state_dict()[k]), f"{k} is not the retrained weight"
    (aside,) = entry.glob("corrupt-*")
    assert (aside / "checkpoint.pt").read_bytes() == bytes(data)
    assert Entry(entry.name, tmp_path).valid()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = cached_train(CFG, TCFG, _x(), progress=False, root=tmp_path)
    assert all(torch.equal(v, again.model.state_dict()[k]) for k, v in r.model.state_dict().items())


def test_concurrent_measurements_compute_once(tmp_path):
    """Two workers asking for the same measurement at once: one computes, the other waits
    and reads its result."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    calls, lock = [], threading.Lock()

    def compute():
        with lock:
            calls.append(1)
        time.sleep(0.5)
        return {"v": 1}

    with ThreadPoolExecutor(2) as ex:
        futs = [ex.submit(cached_json, "m", compute, root=tmp_path, a=1) for _ in range(2)]
        assert [f.result() for f in futs] == [{"v": 1}, {"v": 1}]
    assert len(calls) == 1


def test_a_nan_is_never_written_as_a_result(tmp_path):
    with pytest.raises(ValueError, match="JSON"):
        cached_json("m", lambda: {"bound": float("nan")}, root=tmp_path, a=1)
    assert not list(tmp_path.glob("*/result.json"))


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


def test_job_results_are_keyed_by_every_module_that_computes_them():
    """A job trains, counts active units, Parzen and L_k: an edit to any of them must make a
    new entry; an edit to an estimator leaves trained models valid."""
    rel = {p.relative_to(cache._PKG).as_posix() for p in cache.code_files("job")}
    want = {"train/loop.py", "model/vae.py", "model/nets.py", "evaluate/activity.py"}
    assert want | {"evaluate/parzen.py", "evaluate/iwae.py", "runs/job.py"} <= rel
    model = {p.relative_to(cache._PKG).as_posix() for p in cache.code_files("model")}
    assert {"train/loop.py", "model/evae.py", "train/assignment.py"} <= model
    assert not any(p.startswith(("evaluate/", "runs/", "book/")) for p in model)


def test_a_cached_longer_run_continues_the_cached_shorter_one(tmp_path):
    """The 3-epoch model starts from the cached 2-epoch model's end (its first two epochs are
    the shorter run's, timings included) and ends with the weights of a run from scratch."""
    from evae_lite.runs.cache import cached_train
    from evae_lite.train import train

    x = _x()
    t3 = TCFG.replace(epochs=3)
    short = cached_train(CFG, t3.replace(epochs=2), x, x[:20], progress=False, root=tmp_path)
    long = cached_train(CFG, t3, x, x[:20], progress=False, root=tmp_path)
    scratch = train(CFG, t3, x, x[:20], progress=False)
    assert [h.seconds for h in long.history[:2]] == [h.seconds for h in short.history]
    sa, sb = long.model.state_dict(), scratch.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
