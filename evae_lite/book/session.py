"""Chapter set-up: the scale, the device, a Session over the one pipeline, and display
helpers that work live and offline.

Every chapter starts with ``S = setup(scale)``: the scale comes from the chapter's
parameters cell (papermill), else from ``EVAE_LITE_SCALE``, else ``book``.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass

from ..model import ModelConfig
from ..runs import Job, Scale, get_scale, inputs, trained
from ..runs import run as run_job
from ..runs.job import eval_images
from ..train import TrainResult

_ANY_MODEL = ModelConfig()  # for the data sizes of a job: the model does not change them


def without_paths(text: str) -> str:
    """`text` with every absolute path cut to its last part: what a page prints about its data
    names the file, not the folders of the machine that ran it."""
    return re.sub(r"(?<![\w.:/])(?:[A-Za-z]:)?[/\\](?:[^\s/\\()]+[/\\])*([^\s/\\()]+)", r"\1", text)


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
    """What a chapter needs: its scale, the device, the data sets, and `evae_lite.runs.run`.

    Every model and measurement is a `runs.Job` at a row of the table of scales (kind
    `figures` unless a call says otherwise) and goes through the results cache, so a chapter
    reuses what another chapter, a sweep or a rebuild computed, and gets the same numbers.
    """

    def __init__(self, scale: str, device, progress: bool = True):
        self.scale = get_scale(scale)
        self.device = device
        self.progress = progress
        self._data = {}

    def data(self, name: str = "mnist"):
        """The data set (cached in memory), loaded from EVAE_LITE_DATA or downloaded."""
        if name not in self._data:
            from ..data import load_dataset

            self._data[name] = load_dataset(name)
        return self._data[name]

    def job(
        self,
        model_cfg,
        *,
        name: str = "mnist",
        kind: str = "figures",
        seed: int = 0,
        measures=None,
        **train_changes,
    ) -> Job:
        """The job of `model_cfg` at this chapter's scale."""
        return Job.at(
            model_cfg, self.scale.name, kind, name, seed=seed, measures=measures, **train_changes
        )

    def train(self, model_cfg, *, name="mnist", kind="figures", seed: int = 0, **kw) -> Trained:
        """Train (or fetch from the cache) a model at this scale; returns a TrainResult that
        also knows its job (for `units` and `parzen`)."""
        job = self.job(model_cfg, name=name, kind=kind, seed=seed, **kw)
        res = trained(job, progress=self.progress)
        return Trained(res.model, res.history, res.y, job)

    def train_seeds(self, model_cfg, *, name="mnist", kind="figures", **kw) -> list[Trained]:
        """The model trained with each seed of this scale's row (seeds 0, 1, ...): seed 0 is
        the model `train` gives, so figures drawn from it show one of the seeds counted."""
        n = get_scale(self.scale.name, kind, name).seeds
        return [self.train(model_cfg, name=name, kind=kind, seed=s, **kw) for s in range(n)]

    def units(self, run: Trained):
        """Activity and KL of every unit over the validation images (Fig. 1), as a UnitReport."""
        return run_job(run.job.measuring("units")).units.report()

    def parzen(self, run: Trained):
        """Parzen log-density of the test images under the model's samples (a ParzenResult)."""
        return run_job(run.job.measuring("parzen")).parzen

    def features(self, run: Trained):
        """The second measure of the model's samples (Parzen's own samples, the same seed): the
        Fréchet distance, precision and recall in a digit classifier's features
        (evaluate.features.SampleFeatures); MNIST only, whose labels train the classifier."""
        return run_job(run.job.measuring("features")).features

    def x_train(self, name: str = "mnist"):
        return inputs(self.job(_ANY_MODEL, name=name)).x_train

    def x_eval(self, split: str = "val", name: str = "mnist", binarized: bool = True):
        """Validation or test images at this scale, on the device, as the measurements see
        them (binary data sets with their one fixed binarization), or not binarized."""
        i = inputs(self.job(_ANY_MODEL, name=name))
        x = {"val": i.x_val, "test": i.x_test}[split].to(self.device)
        return eval_images(x, i.data.binary) if binarized else x

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


@dataclass
class Trained(TrainResult):
    """A trained model (TrainResult) with the job that made it."""

    job: Job = None


def setup(
    scale: str | None = None,
    *,
    seed: int = 0,
    progress: bool | None = None,
    describe: bool = True,
) -> Session:
    """Start a chapter: resolve the scale, pick the GPU when there is one, seed, and say so.

    progress: show training progress bars; default on, except in headless batch runs
    (EVAE_LITE_BATCH=1), whose saved notebooks should not carry live widgets. On a CPU a live
    kernel also says what keeps the chapter short (`cpu_note`); a batch run, whose outputs
    are the book's pages, does not.
    describe: print what the scale means for `Session.train`; chapters whose models come
    from the grids of `evae_lite.runs.grids` print the grid's own description instead."""
    import torch

    from ..train import resolve_device

    s = get_scale(scale)
    device = resolve_device("auto")
    torch.manual_seed(seed)
    where = torch.cuda.get_device_name(0) if device.type == "cuda" else "CPU"
    print(f"{s.describe() if describe else 'scale=' + s.name}")
    print(f"device: {where}; torch {torch.__version__}")
    batch = os.environ.get("EVAE_LITE_BATCH", "") == "1"
    note = None if batch else cpu_note(device.type, s.name)  # for a reader running it, not
    if note:  # for the built book's pages
        print(note)
    if progress is None:
        progress = not batch
    return Session(s.name, device, progress)


def cpu_note(device_type: str, scale: str) -> str | None:
    """On a CPU, the line that says what keeps the chapter short: the results pack when one
    is configured, else the smoke scale. None on a GPU, which the chapter uses."""
    if device_type != "cpu":
        return None
    from ..pack.source import ENV_PRETRAINED, PackConfigError, pack_source, pretrained_allowed

    try:
        src, why = pack_source(), "none is configured"
    except PackConfigError as err:
        src, why = None, str(err)
    if not pretrained_allowed():
        src, why = None, f"{ENV_PRETRAINED}=0"
    if src is not None:
        return (
            f"CPU: models that the results pack ({src.url}) holds are downloaded, not "
            "trained, when it can be reached"
        )
    if scale == "smoke":
        return "CPU: scale=smoke keeps this chapter short (small models, seconds of training)"
    return (
        f"CPU: no results pack ({why}), so every model trains here; "
        'scale="smoke" keeps this chapter short'
    )


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
