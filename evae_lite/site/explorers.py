"""The explorers that decode in the reader's browser: which trained models they show, and
their files beside the pages (book/_static/decoders/, gitignored: weights are never
committed).

Each explorer is a trained model of a chapter (seed 0, the one its figures show) at the
build's scale: its decoder as ONNX (`decoders.export_decoder`) and a JSON description (the
planes a reader can drag over, the training examples each epitome claims, the scale). The
site build writes them for every explorer, from the results cache (training what is missing);
``explorer.js`` reads them in the page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DECODERS = Path("book/_static/decoders")
VERSION = 1  # of the JSON description that explorer.js reads


@dataclass(frozen=True)
class Explorer:
    """One explorable model: a name (its files), the chapter that shows it, and its model."""

    name: str
    chapter: str
    model: str  # "evae": drag over an epitome's plane; "vae": over two chosen units
    D: int
    K: int | None = None
    stride: int | None = None
    H: int = 500

    def job(self, scale: str):
        from ..model import ModelConfig
        from ..runs import Job

        cfg = ModelConfig(self.model, D=self.D, K=self.K, stride=self.stride, H=self.H)
        return Job.at(cfg, scale, "figures", "mnist", measures=("units",))


EXPLORERS = (
    Explorer("ch07-evae", "07_epitome_manifolds", "evae", D=20, K=2, stride=1),
    Explorer("ch08-vae", "07_epitome_manifolds", "vae", D=20),  # chapter 8's, for contrast
)


def by_name(name: str) -> Explorer:
    for e in EXPLORERS:
        if e.name == name:
            return e
    names = ", ".join(e.name for e in EXPLORERS)
    raise ValueError(f"explorer {name!r} is not one of {names}")


def describe(e: Explorer, scale: str) -> dict:
    """What explorer.js needs besides the decoder: the latent size, the planes (an epitome's
    two units, or every unit of a VAE with the two most active first), the examples each
    epitome claims, the image shape, and the scale that trained the model."""
    import torch

    from ..runs import describe as describe_scale
    from ..runs import run, trained

    job = e.job(scale)
    res = trained(job)
    model = res.model
    out = dict(
        version=VERSION,
        name=e.name,
        model=e.model,
        D=e.D,
        image_shape=[28, 28],
        scale=scale,
        setting=describe_scale(scale),
    )
    if e.model == "evae":
        masks = model.masks.cpu()
        counts = torch.bincount(res.y.cpu(), minlength=model.n_epitomes).tolist()
        out["epitomes"] = [
            dict(units=masks[y].nonzero()[:, 0].tolist(), examples=counts[y])
            for y in range(model.n_epitomes)
        ]
    else:
        activity = torch.tensor(run(job).units.activity)
        out["units"] = torch.argsort(activity, descending=True).tolist()  # most active first
        out["activity"] = [round(float(a), 4) for a in activity]
    return out


def write(e: Explorer, root: Path, scale: str, log=print) -> list[Path]:
    """The explorer's decoder and description under book/_static/decoders/."""
    from ..runs import trained
    from .decoders import export_decoder

    out = root / DECODERS
    meta = describe(e, scale)
    onnx = export_decoder(trained(e.job(scale)).model, out / f"{e.name}.onnx")
    path = out / f"{e.name}.json"
    path.write_text(json.dumps(meta, indent=1) + "\n")
    log(f"explorer {e.name}: {onnx.stat().st_size / 1e6:.1f} MB decoder, scale={scale}")
    return [onnx, path]


def write_all(root: Path, scale: str, log=print) -> list[Path]:
    """Every explorer's files (the decoders are re-exported each build: they follow the cache)."""
    return [p for e in EXPLORERS for p in write(e, root, scale, log)]
