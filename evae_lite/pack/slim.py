"""A trained model's checkpoint as the pack holds it: without Adam's moments.

A model entry's checkpoint (train/checkpoint.py) holds the weights, Adam's state (per
parameter two moments, exp_avg and exp_avg_sq, and a step count: about two thirds of the
file), the generator's state, y*, the history and the configs. A model taken from the pack is
read, never trained further, so the pack's copy empties ``optim["state"]``: ``optim`` stays a
valid Adam state_dict (its param_groups unchanged; Adam would start its moments afresh), and
every other value is the same. It is sealed as train/checkpoint.py seals one, the version
that trained it kept (save_checkpoint would write the writer's own).

Training on from such a checkpoint would not give the book's weights (Adam's moments would
restart at zero). The one place a checkpoint of the cache is trained further is
runs.cache.cached_train: a model it lacks continues the longest run of the same settings and
fewer epochs that the local cache holds (TrainConfig.continues; the length grid's models), and
it looks for that run in the local cache only, never in the pack. The book trains a model
only where the pack does not serve it (a model or a result the pack lacks, a failed download,
the pack switched off), and every model the book trains is in the cache the pack is written
from. So `write_pack` keeps whole every packed model that a model of that cache continues
(`continued`, whether or not the longer one is packed): whatever the local cache holds, a
model of the book trained here continues a whole checkpoint, to the book's weights. A run
outside the book (say, one of the book's settings trained for more epochs) does not continue
a slim model: the local entry's info says ``slim`` (see `fetch`), and runs.cache passes over
such an entry when it looks for a shorter run to continue, so that run trains from the start.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from ..sealed import HEADER, SealError, seal, unseal
from .fetch import PackError

CHECKPOINT = "checkpoint.pt"  # a model entry's one file (runs.cache.cached_train)
DROPPED = "optim.state"  # what a slim checkpoint lacks: Adam's per-parameter state


@dataclass(frozen=True)
class Run:
    """What decides whether one trained model continues another (runs.cache._longest_prefix
    looks for a run of the same model, data and settings with fewer epochs)."""

    model_cfg: dict
    train_cfg: dict
    N: int
    data: str

    @classmethod
    def of(cls, ckpt: dict) -> Run:
        return cls(ckpt["model_cfg"], ckpt["train_cfg"], ckpt["N"], ckpt["data"])

    def same_but_epochs(self, other: Run) -> bool:
        mine = {k: v for k, v in self.train_cfg.items() if k != "epochs"}
        theirs = {k: v for k, v in other.train_cfg.items() if k != "epochs"}
        return (self.model_cfg, self.N, self.data, mine) == (
            other.model_cfg,
            other.N,
            other.data,
            theirs,
        )


def load(blob: bytes, where: str) -> dict:
    """A sealed checkpoint's contents, loaded as the pack loads weights (weights_only=True:
    tensors and plain values, nothing that runs code); PackError otherwise."""
    import torch

    if not blob.startswith(HEADER):
        raise PackError(f"{where} is not a sealed checkpoint: refused")
    try:
        payload = unseal(blob, where)
    except SealError as err:
        raise PackError(f"{err}: refused") from err
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols
            ckpt = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as err:
        raise PackError(f"{where} does not load with weights_only=True ({err}): refused") from err
    ok = isinstance(ckpt, dict) and all(
        k in ckpt for k in ("model_cfg", "train_cfg", "N", "data", "model")
    )
    optim = ckpt.get("optim") if ok else None
    if not (
        isinstance(optim, dict)
        and isinstance(optim.get("state"), dict)
        and isinstance(optim.get("param_groups"), list)
    ):
        raise PackError(f"{where} is not a checkpoint of a trained model with Adam's state")
    return ckpt


def has_moments(ckpt: dict) -> bool:
    """Whether the checkpoint holds Adam's per-parameter state (a slim one does not)."""
    return bool(ckpt["optim"]["state"])


def slimmed(ckpt: dict) -> dict:
    """The checkpoint with Adam's per-parameter state emptied, everything else as it is."""
    return {**ckpt, "optim": {**ckpt["optim"], "state": {}}}


def sealed_bytes(ckpt: dict) -> bytes:
    """The checkpoint as train/checkpoint.save_checkpoint writes one (torch.save, sealed with
    its sha256), with the version that it holds."""
    import torch

    buf = io.BytesIO()
    torch.save(ckpt, buf)
    return seal(buf.getvalue())


def slim_bytes(ckpt: dict, where: str) -> bytes:
    """The sealed bytes of the slim checkpoint, checked: loaded back, they hold exactly what
    `ckpt` holds but Adam's per-parameter state."""
    want = slimmed(ckpt)
    blob = sealed_bytes(want)
    if not same(load(blob, where), want):
        raise PackError(f"{where}: its slim copy does not load back to the same values")
    return blob


def same(a, b) -> bool:
    """Equal values: tensors of the same dtype, shape and elements, and plain values alike."""
    import torch

    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and (a.dtype, a.shape, a.device) == (b.dtype, b.shape, b.device)
            and torch.equal(a, b)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and a == b


def moments_bytes(ckpt: dict) -> int:
    """The bytes of Adam's per-parameter state: what a slim checkpoint saves at least."""
    return sum(
        t.numel() * t.element_size()
        for s in ckpt["optim"]["state"].values()
        for t in s.values()
        if hasattr(t, "element_size")
    )


def continued(runs: dict[str, Run], among: dict[str, Run]) -> set[str]:
    """The keys of `runs` that a run of `among` (another key) continues: train.loop.continuing
    (the rule runs.cache follows) with the same model, data and settings but the epochs. A
    run whose configs this version cannot read counts as continued (kept whole: the safe
    side). The validation images, part of a cache key but not of a checkpoint, are not
    compared: a run may be kept whole that no model continues, never the reverse."""
    from ..model import ModelConfig
    from ..sealed import from_fields
    from ..train.config import TrainConfig
    from ..train.loop import continuing

    out = set()
    for key, short in runs.items():
        try:
            shorter = from_fields(TrainConfig, short.train_cfg, key)
        except (ValueError, TypeError):
            out.add(key)
            continue
        for other, long in among.items():
            if other == key or not long.same_but_epochs(short):
                continue
            try:
                model_cfg = from_fields(ModelConfig, long.model_cfg, other)
                train_cfg = from_fields(TrainConfig, long.train_cfg, other)
            except (ValueError, TypeError):
                out.add(key)
                break
            if continuing(model_cfg, train_cfg, shorter):
                out.add(key)
                break
    return out
