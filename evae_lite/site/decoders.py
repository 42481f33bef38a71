"""Trained decoders as ONNX files, for the explorer that decodes in the reader's browser.

The exported graph maps a batch of latent points z, (n, D), to decoder means, (n, P). For an
eVAE the caller passes m_y * z, the point with every coordinate outside epitome y at 0: that
is what ``EpitomicVAE.decode(z, y)`` feeds its decoder, so one graph serves every epitome.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from ..model.nets import mean_image


class DecoderMean(nn.Module):
    """z (n, D) -> E[x | z] (n, P): the decoder and its mean, as the book draws images."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.decoder = model.decoder
        self.likelihood = model.cfg.likelihood

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return mean_image(self.likelihood, self.decoder(z))


def plane_point(D: int, dims: tuple[int, int], u: float, v: float) -> torch.Tensor:
    """The latent point (1, D) that is (u, v) on the plane of `dims` and 0 elsewhere: a point
    of a 2-d epitome (dims = its two coordinates), or of two chosen VAE units."""
    z = torch.zeros(1, D)
    z[0, dims[0]], z[0, dims[1]] = u, v
    return z


@contextlib.contextmanager
def _exporter_quiet():
    """The exporter's own chatter kept from the user: its log lines (torchvision's ops it
    skips, not being installed) and the deprecation warnings of the torch internals it
    calls. The exported graph is checked against PyTorch instead (tests/test_decoders.py)."""
    log = logging.getLogger("torch.onnx")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        log.setLevel(level)


def export_decoder(model: nn.Module, path: str | Path) -> Path:
    """Write `model`'s decoder mean to `path` as one self-contained ONNX file (weights
    inside, any batch size)."""
    from torch.export import Dim

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = DecoderMean(model).eval()
    z = torch.zeros(2, model.cfg.D)
    with torch.no_grad(), _exporter_quiet():
        torch.onnx.export(
            module,
            (z,),
            str(path),
            input_names=["z"],
            output_names=["x"],
            dynamic_shapes={"z": {0: Dim("n")}},
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    return path
