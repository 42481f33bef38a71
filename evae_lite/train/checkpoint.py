"""Checkpoints: written atomically as training goes (train.loop paces the writes), so a
killed run resumes exactly, and sealed with their sha256, so a corrupted one is refused
instead of loaded."""

from __future__ import annotations

import io
import os
from pathlib import Path

import torch

from ..model import ModelConfig, build_model
from ..sealed import SealError, atomic_write, from_fields, package_version, seal, unseal


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or belongs to another configuration."""


def save_checkpoint(state: dict, path: Path) -> None:
    """Write `state` to `path`, sealed, through a temporary file of a unique name, so a
    reader never sees half of it and two writers never share one."""
    buf = io.BytesIO()
    torch.save({**state, "version": package_version()}, buf)
    atomic_write(path, seal(buf.getvalue()))


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Read a checkpoint written by `train`; an unreadable file, or one that fails its seal,
    is a CheckpointError."""
    path = Path(path)
    try:
        payload = unseal(path.read_bytes(), f"checkpoint {path}")
    except SealError as e:
        raise CheckpointError(f"{e}; delete it to retrain") from e
    except OSError as e:
        raise CheckpointError(f"checkpoint {path} cannot be read ({e})") from e
    try:
        ckpt = torch.load(io.BytesIO(payload), map_location=map_location, weights_only=False)
    except Exception as e:  # sealed, but not a torch file
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


def model_config(ckpt: dict, path) -> ModelConfig:
    """The checkpoint's ModelConfig; fields this version does not know are a FormatError."""
    return from_fields(ModelConfig, ckpt["model_cfg"], f"checkpoint {path}", ckpt.get("version"))


def model_from_checkpoint(path, map_location="cpu"):
    """Rebuild the trained model (eval mode) and return (model, checkpoint dict)."""
    ckpt = load_checkpoint(path, map_location)
    model = build_model(model_config(ckpt, path))
    model.load_state_dict(ckpt["model"])
    return model.eval(), ckpt
