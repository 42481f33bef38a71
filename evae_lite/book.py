"""Notebook helpers for the book: scales, set-up, and figures that work live and offline.

Every chapter starts with ``S = setup(scale)``: the scale comes from the chapter's
parameters cell (papermill), else from ``EVAE_LITE_SCALE``, else ``book``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

SCALE_NAMES = ("smoke", "book", "paper")


@dataclass(frozen=True)
class Scale:
    """How big an experiment runs. smoke: seconds, for CI; book: what the rendered book shows,
    on a 2-core laptop; paper: the paper's exact settings, for a GPU."""

    name: str
    train_size: int | None  # training examples (None: all 50,000)
    epochs: int  # the paper trains 200 epochs on MNIST, 250 on TFD
    parzen_samples: int  # generated images in the Parzen window (paper: 10,000)
    eval_size: int | None  # validation / test examples used by measurements (None: all)

    def describe(self) -> str:
        n = "all 50,000" if self.train_size is None else f"{self.train_size:,}"
        ev = "all 10,000" if self.eval_size is None else f"{self.eval_size:,}"
        return (
            f"scale={self.name}: {n} MNIST training images, {self.epochs} epochs, "
            f"{self.parzen_samples:,} Parzen samples, {ev} validation/test images"
        )


SCALES = {
    "smoke": Scale("smoke", train_size=2000, epochs=2, parzen_samples=1000, eval_size=1000),
    "book": Scale("book", train_size=None, epochs=50, parzen_samples=10_000, eval_size=None),
    "paper": Scale("paper", train_size=None, epochs=200, parzen_samples=10_000, eval_size=None),
}


def get_scale(scale: str | None = None) -> Scale:
    """The named scale; None reads EVAE_LITE_SCALE (default 'book')."""
    name = scale or os.environ.get("EVAE_LITE_SCALE", "").strip() or "book"
    if name not in SCALES:
        raise ValueError(f"scale={name!r} is not allowed: choose one of {', '.join(SCALE_NAMES)}")
    return SCALES[name]


def in_colab() -> bool:
    return "google.colab" in sys.modules


def show_plotly(fig) -> None:
    """Display a plotly figure so it renders everywhere: JupyterLab uses the plotly mimetype;
    the static book uses the HTML (plotly.js is served by the book itself); Colab gets the
    HTML with plotly.js from its CDN, since it has no plotly renderer of its own."""
    import json

    from IPython.display import display

    html = fig.to_html(
        include_plotlyjs="cdn" if in_colab() else False, full_html=False, auto_play=False
    )
    bundle = {"text/html": html}
    if not in_colab():
        bundle["application/vnd.plotly.v1+json"] = json.loads(fig.to_json())
    display(bundle, raw=True)


class Session:
    """What a chapter needs: the scale, the device, MNIST, cached training and measurements.

    Every trained model and measurement goes through the results cache (`evae_lite.cache`),
    so a chapter reuses what another chapter trained and a rebuild retrains nothing.
    """

    def __init__(self, scale: Scale, device, progress: bool = True):
        self.scale = scale
        self.device = device
        self.progress = progress
        self._data = {}

    def data(self, name: str = "mnist"):
        """The data set (cached in memory), loaded from EVAE_LITE_DATA or downloaded."""
        if name not in self._data:
            from .data import load_dataset

            self._data[name] = load_dataset(name)
        return self._data[name]

    def x_train(self, name: str = "mnist"):
        d = self.data(name)
        n = self.scale.train_size
        return d.train if n is None else d.train[:n]

    def x_eval(self, split: str = "val", name: str = "mnist", binarized: bool = True):
        """Validation or test images, limited to the scale's eval_size; binary data sets get
        one fixed stochastic binarization (for bounds and unit activity)."""
        from .train import fixed_binarization

        d = self.data(name)
        x = getattr(d, split)
        if self.scale.eval_size is not None:
            x = x[: self.scale.eval_size]
        x = x.to(self.device)
        return fixed_binarization(x, 0) if (binarized and d.binary) else x

    def train(self, model_cfg, *, epochs: int | None = None, seed: int = 0, name="mnist", **kw):
        """Train (or fetch from the cache) a model at this scale; returns a TrainResult."""
        from .cache import cached_train
        from .config import TrainConfig

        d = self.data(name)
        model_cfg = model_cfg.replace(
            x_dim=d.train.shape[1], likelihood="bernoulli" if d.binary else "gaussian"
        )
        tcfg = TrainConfig(epochs=epochs or self.scale.epochs, seed=seed, **kw)
        x_val = d.val if self.scale.eval_size is None else d.val[: self.scale.eval_size]
        return cached_train(
            model_cfg, tcfg, self.x_train(name), x_val, binary=d.binary, progress=self.progress
        )

    def units(self, model, name: str = "mnist"):
        """Activity and KL of every unit over the validation images (Fig. 1)."""
        from .measure import unit_report

        return unit_report(model, self.x_eval("val", name))

    def parzen(self, model, name: str = "mnist", seed: int = 0):
        """Parzen log-density of the test images under the model's samples (cached)."""
        from .cache import cached_json, tensor_hash
        from .parzen import ParzenResult, parzen_score

        def compute():
            import dataclasses

            x_val = self.x_eval("val", name, binarized=False)
            x_test = self.x_eval("test", name, binarized=False)
            r = parzen_score(model, x_val, x_test, n_samples=self.scale.parzen_samples, seed=seed)
            return dataclasses.asdict(r)

        weights = {k: tensor_hash(v) for k, v in model.state_dict().items()}
        r = cached_json(
            "parzen",
            compute,
            weights=weights,
            scale=self.scale.name,
            data=name,
            seed=seed,
        )
        return ParzenResult(**r)

    def savefig(self, fig, name: str) -> None:
        """Also write a figure to $EVAE_LITE_FIGURES (set by the batch runner), if set."""
        out = os.environ.get("EVAE_LITE_FIGURES", "").strip()
        if not out:
            return
        from pathlib import Path

        Path(out).mkdir(parents=True, exist_ok=True)
        if hasattr(fig, "savefig"):
            fig.savefig(Path(out) / f"{name}.png", dpi=120, bbox_inches="tight")
        else:  # plotly: a standalone page that loads plotly.js next to it
            fig.write_html(Path(out) / f"{name}.html", include_plotlyjs="directory")


def setup(
    scale: str | None = None,
    *,
    seed: int = 0,
    progress: bool | None = None,
    describe: bool = True,
) -> Session:
    """Start a chapter: resolve the scale, pick the GPU when there is one, seed, and say so.

    progress: show training progress bars; default on, except in headless batch runs
    (EVAE_LITE_BATCH=1), whose saved notebooks should not carry live widgets.
    describe: print what the scale means for `Session.train`; chapters whose models come
    from the grids of `evae_lite.experiments` print the grid's own description instead."""
    import torch

    from .train import resolve_device

    s = get_scale(scale)
    device = resolve_device("auto")
    torch.manual_seed(seed)
    where = torch.cuda.get_device_name(0) if device.type == "cuda" else "CPU"
    print(f"{s.describe() if describe else 'scale=' + s.name}")
    print(f"device: {where}; torch {torch.__version__}")
    if progress is None:
        progress = os.environ.get("EVAE_LITE_BATCH", "") != "1"
    return Session(s, device, progress)


def compare_table(rows, scale: Scale, caption: str = "") -> None:
    """Show 'what the paper reports | what this book measured' as a Markdown table.

    rows: (quantity, paper's value as printed, ours) triples; the scale goes in the header.
    """
    from IPython.display import Markdown, display

    lines = [
        f"| quantity | paper | this book (scale={scale.name}) |",
        "| --- | --- | --- |",
        *(f"| {q} | {p} | {o} |" for q, p, o in rows),
    ]
    if caption:
        lines += ["", caption]
    display(Markdown("\n".join(lines)))
