"""The environment batch.run gives the chapters' kernels lasts as long as one chapter runs."""

import os
from pathlib import Path

import evae_lite
from evae_lite.batch import _kernel_env, environment


def test_the_kernel_environment_is_restored_after_a_chapter(monkeypatch, tmp_path):
    monkeypatch.setenv("EVAE_LITE_SCALE", "smoke")
    monkeypatch.delenv("EVAE_LITE_FIGURES", raising=False)
    before = dict(os.environ)
    with _kernel_env(tmp_path / "figures", "book"):
        assert os.environ["EVAE_LITE_SCALE"] == "book"
        assert os.environ["EVAE_LITE_FIGURES"] == str(tmp_path / "figures")
        assert os.environ["EVAE_LITE_BATCH"] == "1"
        package = str(Path(evae_lite.__file__).resolve().parent.parent)
        assert package in os.environ["PYTHONPATH"].split(os.pathsep)
    assert dict(os.environ) == before


def test_environment_restores_even_when_the_block_fails(monkeypatch):
    monkeypatch.delenv("EVAE_LITE_X", raising=False)
    try:
        with environment({"EVAE_LITE_X": "1"}):
            raise RuntimeError
    except RuntimeError:
        pass
    assert "EVAE_LITE_X" not in os.environ
