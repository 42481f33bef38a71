"""The trained models of every kind the book uses, pinned bit for bit.

Each case trains a small model of one kind for a few steps and hashes its weights and the
numbers of its history. The hashes were recorded with this code on the build machines; a
change to the model or training code that keeps them is one that changes no trained model,
so the book's committed outputs (and the results cache's models) remain what the code
computes. A change that moves them must be deliberate: rerecord with

    EVAE_LITE_GOLDEN=record python -m pytest tests/test_golden.py

and rebuild the chapters whose models it changes. Bitwise results depend on torch's build
and on the CPU (its instruction set and model, by which the math libraries pick their
kernels), so elsewhere the test skips, saying why.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import struct
from pathlib import Path

import pytest
import torch

from evae_lite import ModelConfig, TrainConfig
from evae_lite.train import train

GOLDEN = Path(__file__).with_name("golden.json")
CASES = {
    "vae": (ModelConfig("vae", D=6, H=24), {}),
    "vae, L=2, lambda=0.5": (ModelConfig("vae", D=6, L=2, H=24, kl_weight=0.5), {}),
    "dropout VAE": (ModelConfig("dropout_vae", D=6, H=24, dropout=0.5), {}),
    "eVAE, K=2, stride 1": (ModelConfig("evae", D=6, K=2, stride=1, H=24), {}),
    "eVAE, K=3, L=3": (ModelConfig("evae", D=6, K=3, L=3, H=24), {}),
    "eVAE, sampled assignment": (
        ModelConfig("evae", D=6, K=2, H=24),
        dict(assign_z="sample", assign_samples=2),
    ),
    "mVAE": (ModelConfig("mvae", D=6, K=3, H=24), {}),
    "Burda schedule, 2 stages": (
        ModelConfig("vae", D=6, L=2, H=24),
        dict(schedule="burda", stages=2),
    ),
    "Gaussian decoder": (
        ModelConfig("vae", D=4, H=24, likelihood="gaussian"),
        dict(binarize=False),
    ),
}


def _cpu_name() -> str:
    """The CPU's model name (the math libraries pick their kernels by it), or the arch."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _platform() -> dict:
    return {
        "torch": torch.__version__,
        "cpu": torch.backends.cpu.get_cpu_capability(),
        "cpu_name": _cpu_name(),
    }


def _fingerprint(cfg: ModelConfig, changes: dict) -> str:
    g = torch.Generator().manual_seed(123)
    x = torch.rand(250, cfg.x_dim, generator=g)  # 250: the last minibatch is partial
    x_val = torch.rand(40, cfg.x_dim, generator=g)
    tc = TrainConfig(epochs=2, batch_size=100, device="cpu", seed=7).replace(**changes)
    binary = cfg.likelihood == "bernoulli"
    res = train(cfg, tc, x, x_val, binary=binary, progress=False)
    h = hashlib.sha256()
    for name, t in sorted(res.model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().contiguous().cpu().numpy().tobytes())
    for e in res.history:
        for v in (e.train_cost, e.train_rec, e.train_kl, e.val_bound, e.changed or 0.0):
            h.update(struct.pack("<d", v))
        h.update(json.dumps(e.group_sizes).encode())
    if res.y is not None:
        h.update(res.y.numpy().tobytes())
    return h.hexdigest()


def _recorded() -> dict:
    return json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}


def test_record_or_check_every_kind():
    """One test: the threads and the platform are checked once, then every case."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a product's rounding can depend on how it is split
    try:
        got = {name: _fingerprint(cfg, ch) for name, (cfg, ch) in CASES.items()}
    finally:
        torch.set_num_threads(threads)
    if os.environ.get("EVAE_LITE_GOLDEN") == "record":
        GOLDEN.write_text(json.dumps({"platform": _platform(), "cases": got}, indent=1) + "\n")
        pytest.skip(f"recorded {len(got)} fingerprints in {GOLDEN.name}")
    rec = _recorded()
    if not rec:
        pytest.fail(f"{GOLDEN.name} is missing: record it (see this module's docstring)")
    if rec["platform"] != _platform():
        pytest.skip(f"fingerprints recorded on {rec['platform']}, this is {_platform()}")
    assert set(rec["cases"]) == set(CASES), "rerecord: the cases changed"
    moved = [name for name in CASES if got[name] != rec["cases"][name]]
    assert not moved, f"these kinds now train different models: {moved}"


def test_the_fingerprint_sees_a_small_change(monkeypatch):
    """A change of one grey value by 1/1000 gives another fingerprint: the hash bites (on
    the Gaussian decoder, which sees the grey values themselves)."""
    cfg = ModelConfig("vae", D=3, H=8, likelihood="gaussian")
    a = _fingerprint(cfg, dict(binarize=False))
    real = torch.rand

    def nudged(*args, **kw):
        t = real(*args, **kw)
        if t.shape == (250, 784):
            t[0, 0] += 1e-3
        return t

    monkeypatch.setattr(torch, "rand", nudged)
    assert _fingerprint(cfg, dict(binarize=False)) != a
