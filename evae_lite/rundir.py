"""A run directory (the command line's --out): one checkpoint, and the outputs that describe it.

Every output records the sha256 of the checkpoint it was computed from. Before a command
reads or writes a run directory, an output whose checkpoint is gone or is another one (the
run was retrained, or trained on) is removed with a line saying so: an old evaluation never
sits beside a new model.
"""

from __future__ import annotations

import json
from pathlib import Path

from .data import sha256_file

CHECKPOINT = "checkpoint.pt"
JOB = "job.json"
OUTPUTS = ("summary.json", "evaluation.json", "samples.png")
KEY = "checkpoint_sha256"


def checkpoint_hash(run_dir: Path) -> str | None:
    """The sha256 of the run's checkpoint file; None when it has none."""
    path = Path(run_dir) / CHECKPOINT
    return sha256_file(path) if path.is_file() else None


def recorded_hash(path: Path) -> str | None:
    """The checkpoint hash an output records (JSON field, or PNG text field); None when it
    records none or cannot be read."""
    try:
        if path.suffix == ".png":
            from PIL import Image

            with Image.open(path) as im:
                return im.text.get(KEY)
        return json.loads(path.read_text()).get(KEY)
    except (OSError, ValueError, AttributeError):
        return None


def remove_stale(run_dir: Path, say=print) -> list[str]:
    """Remove the outputs of `run_dir` that do not describe its present checkpoint; returns
    their names. `say` gets one line for each."""
    run_dir = Path(run_dir)
    now = checkpoint_hash(run_dir)
    gone = []
    for name in OUTPUTS:
        path = run_dir / name
        if not path.is_file():
            continue
        was = recorded_hash(path)
        if was is not None and was == now:
            continue
        path.unlink()
        gone.append(name)
        why = (
            "the run has no checkpoint now"
            if now is None
            else "it was computed from another checkpoint than the run's present one"
            if was is not None
            else "it does not say which checkpoint it describes"
        )
        say(f"removed {path}: {why}")
    return gone
