"""Checkpoints: written atomically after every epoch, so a killed run resumes exactly."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..model import ModelConfig, build_model


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or belongs to another configuration."""


def save_checkpoint(state: dict, path: Path) -> None:
    """Write `state` to `path` through a temporary file, so a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Read a checkpoint written by `train`; an unreadable file is a CheckpointError."""
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # truncated or not a checkpoint
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({e}); delete it to retrain"
        ) from e
    if not isinstance(ckpt, dict) or "model_cfg" not in ckpt:
        raise CheckpointError(f"checkpoint {path} is not an evae_lite checkpoint")
    return ckpt


def check_same_run(ckpt: dict, configs: dict, path: Path) -> None:
    """A checkpoint resumes only the run that wrote it: same configs and training set size.
    The error names each field that differs."""
    diffs = []
    for part, mine in configs.items():
        theirs = ckpt.get(part)
        if isinstance(mine, dict) and isinstance(theirs, dict):
            diffs += [
                f"{part}.{k}: checkpoint {theirs.get(k)!r}, this run {mine.get(k)!r}"
                for k in sorted(set(mine) | set(theirs))
                if theirs.get(k) != mine.get(k)
            ]
        elif theirs != mine:
            diffs.append(f"{part}: checkpoint {theirs!r}, this run {mine!r}")
    if diffs:
        raise CheckpointError(
            f"checkpoint {path} was made with other settings ({'; '.join(diffs)}). "
            f"Use another checkpoint path or delete it."
        )


def model_from_checkpoint(path, map_location="cpu"):
    """Rebuild the trained model (eval mode) and return (model, checkpoint dict)."""
    ckpt = load_checkpoint(path, map_location)
    model = build_model(ModelConfig(**ckpt["model_cfg"]))
    model.load_state_dict(ckpt["model"])
    return model.eval(), ckpt
