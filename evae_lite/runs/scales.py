"""The one table of scales: what `smoke`, `book` and `paper` mean for every experiment.

Every chapter, grid and the command line read their sizes from `SCALES`, and every printed
result says where it comes from with `describe`. A row is one (scale, kind, dataset):

- kind `figures`: the single models of chapters 2-8 (Figs. 1-6, 9, 10);
- kind `best`: the two models of Fig. 8 (the best architectures, trained as long as the grids);
- kind `grids`: the Parzen grids of Fig. 7 and Tables 1, 3 and 4;
- kind `likelihood`: Table 2's models, trained by Burda et al.'s 8-stage schedule, and L_k.
- kind `remedies`: the remedies for over-pruning that came after the paper, side by side
  (runs/remedies.py), measured by activity, I(x; z), Parzen and L_k.
- kind `length`: the configurations whose verdicts could hang on the grids' short training,
  trained to the paper's 200 epochs and measured at the epochs in `snapshots` (each a model
  of its own, the longer continuing the shorter: runs/grids.length_jobs).

smoke: seconds, for CI. book: what the rendered book shows, on a 2-core machine: single
models train 50 epochs on all 50,000 MNIST images; the grids (about 100 configurations, each
over 3 seeds) train 10 epochs (5,000 steps of batch 100; the paper: 200), since over-pruning
removes units gradually over thousands of steps, and measure on the first 2,000
validation/test images. paper: the paper's settings (section 5), for a GPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..evaluate.parzen import DEFAULT_SIGMAS
from ..train import TrainConfig

SCALE_NAMES = ("smoke", "book", "paper")
KINDS = ("figures", "best", "grids", "likelihood", "remedies", "length")
DATASETS = ("mnist", "faces")
SCALE_ENV = "EVAE_LITE_SCALE"

# Parzen bandwidths for the faces: 0.03 to 1, about as finely spaced as MNIST's 0.1 to 1.
# The faces' best bandwidth can sit at MNIST's lower edge (the book-scale eVAE with D = 15
# chose 0.1, with the validation score still rising), so their grid reaches lower.
FACES_SIGMAS = tuple(round(10 ** (-1.5 + 1.5 * i / 23), 6) for i in range(24))
PARZEN_SIGMAS = {"mnist": DEFAULT_SIGMAS, "faces": FACES_SIGMAS}
_DATA_WORDS = {
    "mnist": "MNIST training images",
    "faces": "training faces (Olivetti, the stand-in for TFD, at 48x48; Gaussian decoder)",
}
# How "all" of each split reads: training, validation, test.
_ALL = {
    "mnist": ("all 50,000", "all 10,000", "all 10,000"),
    "faces": ("all 280", "all 40", "all 80"),
}


@dataclass(frozen=True)
class Scale:
    """One row of the table. None for a size means the whole split."""

    name: str  # smoke | book | paper
    kind: str  # figures | best | grids | likelihood
    dataset: str  # mnist | faces
    train_size: int | None  # first N training images
    epochs: int  # constant-rate epochs (likelihood: the schedule's total)
    eval_size: int | None  # first N validation and test images for every measurement
    parzen_samples: int  # generated images in the Parzen window (paper: 10,000)
    seeds: int  # training seeds per configuration
    stages: int | None = None  # likelihood: stages of the Burda et al. schedule (paper: 8)
    iwae_k: int | None = None  # likelihood: k of L_k (paper: 5000)
    iwae_size: int | None = None  # likelihood: first N test images for L_k
    snapshots: tuple[int, ...] | None = None  # length: the epochs measured, the last = epochs

    @property
    def parzen_sigmas(self) -> tuple[float, ...]:
        return PARZEN_SIGMAS[self.dataset]

    def train_config(self, seed: int = 0, **changes) -> TrainConfig:
        """Adam at the paper's 1e-3, batch 100, for this row's epochs (or stages)."""
        if self.stages is not None:
            t = TrainConfig(schedule="burda", stages=self.stages, batch_size=100, lr=1e-3)
        else:
            t = TrainConfig(epochs=self.epochs, batch_size=100, lr=1e-3)
        return t.replace(seed=seed, **changes)

    def describe(self) -> str:
        return describe(self.name, self.kind, self.dataset)


# The table, one row per line: scale, kind, dataset, training images, epochs, validation and
# test images, Parzen samples, seeds (None: the whole split). The faces have 280 training,
# 40 validation and 80 test images, so "all" is their only size.
_ROWS = [
    ("smoke", "figures", "mnist", 2000, 2, 1000, 1000, 1),
    ("book", "figures", "mnist", None, 50, None, 10_000, 3),
    ("paper", "figures", "mnist", None, 200, None, 10_000, 3),
    ("smoke", "best", "mnist", 2000, 1, 1000, 1000, 1),
    ("book", "best", "mnist", None, 10, None, 10_000, 1),
    ("paper", "best", "mnist", None, 200, None, 10_000, 1),
    ("smoke", "best", "faces", None, 2, None, 1000, 1),
    ("book", "best", "faces", None, 300, None, 10_000, 1),
    ("paper", "best", "faces", None, 250, None, 10_000, 1),
    ("smoke", "grids", "mnist", 1000, 1, 500, 500, 1),
    ("book", "grids", "mnist", None, 10, 2000, 10_000, 3),
    ("paper", "grids", "mnist", None, 200, None, 10_000, 3),
    ("smoke", "grids", "faces", None, 2, None, 500, 1),
    ("book", "grids", "faces", None, 300, None, 10_000, 3),
    ("paper", "grids", "faces", None, 250, None, 10_000, 3),
]
# Table 2 adds the stages of the schedule, k and the test images of L_k.
_LIKELIHOOD_ROWS = [
    (
        ("smoke", "likelihood", "mnist", 1000, 1, 500, 500, 1),
        dict(stages=1, iwae_k=50, iwae_size=100),
    ),
    (
        ("book", "likelihood", "mnist", None, 40, 2000, 10_000, 3),
        dict(stages=4, iwae_k=5000, iwae_size=200),
    ),
    (("paper", "likelihood", "mnist", None, 3280, None, 10_000, 3), dict(stages=8, iwae_k=5000)),
]
# The remedies after the paper: at book scale as long as the grids (5,000 steps: every model
# of the comparison at two D and three seeds), with L_k on the first 100 test images (an eVAE
# of Y epitomes costs Y x 5000 decoder passes per image).
_REMEDIES_ROWS = [
    (("smoke", "remedies", "mnist", 1000, 1, 500, 500, 1), dict(iwae_k=50, iwae_size=100)),
    (("book", "remedies", "mnist", None, 10, 2000, 10_000, 3), dict(iwae_k=5000, iwae_size=100)),
    (("paper", "remedies", "mnist", None, 200, None, 10_000, 3), dict(iwae_k=5000)),
]


# The paper's training length for the configurations a verdict hangs on: the grids' sizes,
# measured after 10 (the grids' own models), 25, 50, 100 and 200 epochs.
_LENGTH_ROWS = [
    (
        ("smoke", "length", "mnist", 1000, 2, 500, 500, 1),
        dict(iwae_k=50, iwae_size=50, snapshots=(1, 2)),
    ),
    (
        ("book", "length", "mnist", None, 200, 2000, 10_000, 3),
        dict(iwae_k=5000, iwae_size=100, snapshots=(10, 25, 50, 100, 200)),
    ),
    (
        ("paper", "length", "mnist", None, 200, None, 10_000, 3),
        dict(iwae_k=5000, iwae_size=1000, snapshots=(10, 25, 50, 100, 200)),
    ),
]


def _rows() -> dict[tuple[str, str, str], Scale]:
    rows = [Scale(*r) for r in _ROWS]
    rows += [Scale(*r, **kw) for r, kw in _LIKELIHOOD_ROWS + _REMEDIES_ROWS + _LENGTH_ROWS]
    return {(r.name, r.kind, r.dataset): r for r in rows}


SCALES: dict[tuple[str, str, str], Scale] = _rows()


def scale_name(scale: str | None = None) -> str:
    """The named scale; None reads $EVAE_LITE_SCALE (default 'book')."""
    name = scale or os.environ.get(SCALE_ENV, "").strip() or "book"
    if name not in SCALE_NAMES:
        raise ValueError(f"scale={name!r} is not allowed: choose one of {', '.join(SCALE_NAMES)}")
    return name


def get_scale(scale: str | None = None, kind: str = "figures", dataset: str = "mnist") -> Scale:
    """The row of the table for (scale, kind, dataset); scale None reads $EVAE_LITE_SCALE."""
    name = scale_name(scale)
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is not allowed: choose one of {', '.join(KINDS)}")
    if dataset not in DATASETS:
        raise ValueError(f"dataset={dataset!r} is not allowed: choose one of {', '.join(DATASETS)}")
    if (name, kind, dataset) not in SCALES:
        raise ValueError(f"kind={kind!r} is not defined for dataset={dataset!r}")
    return SCALES[name, kind, dataset]


def _first(n: int | None, everything: str) -> str:
    return everything if n is None else f"the first {n:,}"


def describe(scale: str, kind: str = "figures", dataset: str = "mnist") -> str:
    """What results of this row were trained on and measured with: printed with each of them."""
    s = get_scale(scale, kind, dataset)
    all_train, all_val, all_test = _ALL[dataset]
    epochs = f"{s.epochs} epoch{'s' if s.epochs > 1 else ''}"
    if s.stages is not None:
        length = f"{s.stages} of the 8 stages of Burda et al.'s schedule ({epochs})"
    else:
        length = epochs
    ev, et = _first(s.eval_size, all_val), _first(s.eval_size, all_test)
    out = (
        f"scale={s.name}: {_first(s.train_size, all_train)} {_DATA_WORDS[dataset]}, {length}, "
        f"batch 100, Adam 1e-3; activity on {ev} validation images"
    )
    if s.snapshots:
        out = out.replace(f", {length},", f", {length} (measured after {_epochs(s.snapshots)}),")
    if kind in ("figures", "grids", "remedies", "length"):
        sg = s.parzen_sigmas
        out += (
            f"; Parzen with {s.parzen_samples:,} samples on {et} test images (bandwidth from "
            f"{len(sg)} values in [{sg[0]:.3g}, {sg[-1]:.3g}], chosen on the validation images)"
        )
    if s.iwae_k is not None:
        test = _first(s.iwae_size or s.eval_size, all_test)
        out += f"; L_{s.iwae_k} on {test} test images (one fixed binarization)"
    if s.seeds == 1:
        return out + "; 1 seed, ± is the standard error over test images"
    return out + (
        f"; {s.seeds} seeds per setting (figures show seed 0): ± is the standard error across "
        "seeds for a result over seeds, over test images for one model's"
    )


def _epochs(snapshots: tuple[int, ...]) -> str:
    *head, last = [str(e) for e in snapshots]
    return f"{', '.join(head)} and {last} epochs" if head else f"{last} epochs"


_KIND_WORDS = {
    "figures": "single models (chapters 2-8)",
    "best": "Fig. 8's two models",
    "grids": "Parzen grids (Fig. 7, Tables 1, 3, 4)",
    "likelihood": "Table 2 (L_k)",
    "remedies": "the remedies after the paper",
    "length": "the paper's training length (Table 4 at D = 48)",
}


def table_markdown() -> str:
    """The whole table of scales as Markdown, one row per (scale, kind, dataset)."""
    lines = [
        "| scale | experiments | data | training images | epochs | validation / test images "
        "| Parzen samples | L_k | seeds |",
        "|" + " --- |" * 9,
    ]
    order = {k: i for i, k in enumerate(KINDS + DATASETS + SCALE_NAMES)}
    rank = lambda s: (order[s.kind], order[s.dataset], order[s.name])  # noqa: E731
    for s in sorted(SCALES.values(), key=rank):
        all_train, all_val, all_test = _ALL[s.dataset]
        epochs = str(s.epochs) + (f" ({s.stages} of 8 stages)" if s.stages else "")
        if s.snapshots:
            epochs = ", ".join(str(e) for e in s.snapshots)
        lk = "—" if s.iwae_k is None else f"k={s.iwae_k}, {s.iwae_size or 'all'} images"
        parzen = f"{s.parzen_samples:,}" if s.kind not in ("best", "likelihood") else "—"
        everything = f"{all_val[4:]} / {all_test[4:]}"  # "all 10,000" -> "10,000 / 10,000"
        ev = everything if s.eval_size is None else f"{s.eval_size:,} / {s.eval_size:,}"
        n = all_train[4:] if s.train_size is None else f"{s.train_size:,}"
        lines.append(
            f"| {s.name} | {_KIND_WORDS[s.kind]} | {s.dataset} | {n} | {epochs} | {ev} "
            f"| {parzen} | {lk} | {s.seeds} |"
        )
    return "\n".join(lines)
