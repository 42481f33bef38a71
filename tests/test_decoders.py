"""The ONNX decoder the browser explorer runs gives the PyTorch decoder's images."""

import numpy as np
import onnxruntime as ort
import pytest
import torch

from evae_lite import ModelConfig, build_model
from evae_lite.model.nets import mean_image
from evae_lite.site.decoders import export_decoder, plane_point


@pytest.mark.parametrize(
    "cfg",
    [
        ModelConfig("evae", D=6, K=2, stride=1, H=32, L=1, x_dim=49),
        ModelConfig("vae", D=5, H=32, L=2, x_dim=49),
        ModelConfig("evae", D=4, K=2, H=16, L=1, x_dim=49, likelihood="gaussian"),
    ],
    ids=["evae-stride1", "vae", "evae-gaussian"],
)
def test_onnx_decoder_equals_the_model(cfg, tmp_path):
    model = build_model(cfg, torch.Generator().manual_seed(1)).eval()
    path = export_decoder(model, tmp_path / "decoder.onnx")
    assert not list(tmp_path.glob("*.data"))  # weights inside: one file to serve
    run = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def onnx(z):
        return run.run(None, {"z": z.numpy()})[0]

    g = torch.Generator().manual_seed(2)
    for n in (1, 7):  # any batch size
        z = torch.randn(n, cfg.D, generator=g)
        with torch.no_grad():
            want = mean_image(cfg.likelihood, model.decoder(z)).numpy()
        assert onnx(z).shape == want.shape
        np.testing.assert_allclose(onnx(z), want, rtol=0, atol=1e-5)
    # a point on an epitome's plane is what decode(z, y) decodes, whatever z holds outside
    # the epitome (a VAE has one epitome, all of z): the explorer's images
    for y in range(model.n_epitomes):
        start = y * cfg.epitome_stride
        dims = (start, start + 1)
        z = plane_point(cfg.D, dims, 0.7, -1.3)
        full = z + torch.randn(1, cfg.D, generator=g) * (model.masks[y] == 0)  # off-plane noise
        with torch.no_grad():
            want = mean_image(cfg.likelihood, model.decode(full, torch.tensor([y]))).numpy()
        np.testing.assert_allclose(onnx(z), want, rtol=0, atol=1e-5)


def test_the_build_says_which_explorer_it_must_train_and_for_how_long(
    data_dir, tmp_path, monkeypatch
):
    """An explorer whose model the cache lacks is announced (model, scale, minutes at this
    machine's pace) before it trains; a second build trains nothing and says nothing of it."""
    from evae_lite.site import explorers

    monkeypatch.setenv("EVAE_LITE_RESULTS", str(tmp_path / "cache"))
    said: list[str] = []
    explorers.write_all(tmp_path, "smoke", said.append)
    first = [s for s in said if "is not trained yet" in s]
    assert len(first) == len(explorers.EXPLORERS)
    assert "ch07-evae: its model (evae, D=20, K=2, stride 1)" in first[0]
    assert "minutes on this machine" in first[0] and "scale=smoke" in first[0]
    said.clear()
    explorers.write_all(tmp_path, "smoke", said.append)
    assert not [s for s in said if "is not trained yet" in s]
    assert explorers.seconds_to_train(explorers.EXPLORERS[0].job("smoke")) > 0
