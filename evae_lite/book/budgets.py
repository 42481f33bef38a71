"""The training behind a verdict against the paper's (`rules.Budget`), from the rows of the
table of scales (`runs.scales`) that trained its models.

In epochs where an epoch is the paper's: MNIST on all its training images (Table 2: epochs
of Burda et al.'s schedule, 3,280 in all). In minibatch steps where it is not: a subset of
MNIST (the smoke rows), and the faces, whose stand-in is a far smaller data set than the
paper's TFD, so that 300 epochs of 280 faces are 900 steps, not more training than 250 epochs
of TFD.
"""

from __future__ import annotations

import math

from ..runs import get_scale
from .rules import Budget

# The whole training splits of the data loaders (data.py): MNIST's first 50,000 images, and
# the Olivetti faces' images 0-6 of each of 40 people.
TRAIN_IMAGES = {"mnist": 50_000, "faces": 280}
# The paper's TFD (section 5: "standard splits", 250 epochs). Assumed, not read from the
# paper, which gives no size: TFD holds about 100,000 48x48 faces, nearly all of them in a
# fold's training set (its unlabelled images and the fold's labelled training images, as
# data._load_tfd reads it; the fold's validation and test images are a few thousand
# labelled ones). So about 1,000 minibatches of 100 an epoch. Only the order of magnitude
# matters: a training set half as large doubles the share, still under one percent at book.
TFD_TRAIN_IMAGES = 100_000
FACES_STANDIN = "Olivetti, {n} faces, for TFD"
SCHEDULE = "epochs of Burda et al.'s schedule"


def steps(images: int, epochs: int, batch: int) -> int:
    """Minibatch steps of `epochs` passes over `images` in batches of `batch` (the last batch
    of an epoch may be short, as in train/loop.py)."""
    for name, v in (("images", images), ("epochs", epochs), ("batch", batch)):
        if not (isinstance(v, int) and v > 0):
            raise ValueError(f"{name}={v!r} must be a positive integer")
    return epochs * math.ceil(images / batch)


def budget(scale: str | None, kind: str = "figures", dataset: str = "mnist") -> Budget:
    """The budget of the row (scale, kind, dataset) against the paper's row of that kind."""
    row, paper = get_scale(scale, kind, dataset), get_scale("paper", kind, dataset)
    batch, paper_batch = row.train_config().batch_size, paper.train_config().batch_size
    unit = SCHEDULE if row.stages is not None else "epochs"
    full = TRAIN_IMAGES[dataset]
    n = full if row.train_size is None else min(row.train_size, full)
    if dataset == "faces":
        ours = steps(n, row.epochs, batch)
        theirs = steps(TFD_TRAIN_IMAGES, paper.epochs, paper_batch)
        return Budget(FACES_STANDIN.format(n=n), ours, theirs, unit="minibatch steps")
    if n == full:
        return Budget("MNIST", row.epochs, paper.epochs, unit)
    ours, theirs = steps(n, row.epochs, batch), steps(full, paper.epochs, paper_batch)
    return Budget(f"MNIST, first {n:,} images", ours, theirs, unit="minibatch steps")
