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


def seconds_to_train(job, steps: int = 20) -> float:
    """The job's training time at this machine's pace: a few Adam steps of a fresh copy of its
    model on its own minibatch size and one assignment of a slice of the images, timed, scaled
    to the run (the per-epoch validation left out: a lower estimate)."""
    import math
    import time

    import torch

    from ..model import build_model
    from ..runs import inputs
    from ..train import resolve_device

    i = inputs(job)
    device = resolve_device(job.train.device)
    model = build_model(i.model).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    B = job.train.batch_size
    x = i.x_train[:B].to(device)
    y = torch.zeros(len(x), dtype=torch.long, device=device) if model.n_epitomes > 1 else None

    def step():
        loss = model.loss_terms(x, y).cost.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    per_step = (time.perf_counter() - t0) / steps
    per_epoch = per_step * math.ceil(len(i.x_train) / B)
    if model.n_epitomes > 1:  # Algorithm 1's assignment: every epitome for every example
        from ..train.assignment import assign_epitomes

        n = min(1000, len(i.x_train))
        t0 = time.perf_counter()
        assign_epitomes(model, i.x_train[:n].to(device))
        per_epoch += (time.perf_counter() - t0) * len(i.x_train) / n
    return per_epoch * job.train.total_epochs


def from_pack(job, given) -> bool:
    """Whether the configured pack supplied the job's trained model (nothing is trained):
    False at once where no pack is configured or the pack lacks it. given: `inputs(job)`."""
    from ..runs.cache import from_pack as fetch_entry
    from ..runs.cache import model_entry

    e = model_entry(given.model, job.train, given.x_train, given.x_val)
    return fetch_entry(e, ("checkpoint.pt",), lock=True)


def write_all(root: Path, scale: str, log=print) -> list[Path]:
    """Every explorer's files (the decoders are re-exported each build: they follow the cache).
    A model the cache lacks is trained first: the build says which, at what setting and for
    about how long on this machine, before it starts, and shows a progress bar."""
    from ..runs import describe as describe_scale
    from ..runs import trained
    from ..runs.job import inputs, is_trained

    for e in EXPLORERS:
        job = e.job(scale)
        i = inputs(job)
        if not is_trained(job, given=i) and not from_pack(job, i):
            minutes = seconds_to_train(job) / 60
            log(
                f"explorer {e.name}: its model ({e.model}, D={e.D}"
                + (f", K={e.K}, stride {e.stride}" if e.K else "")
                + f") is not trained yet; training it now, about {minutes:.0f} minutes on this "
                f"machine or more ({describe_scale(scale)})"
            )
            trained(job, progress=True, given=i)
    return [p for e in EXPLORERS for p in write(e, root, scale, log)]
