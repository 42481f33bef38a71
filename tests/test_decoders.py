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
