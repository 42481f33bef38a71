"""Write a pack from a filled results cache: its entries under their cache keys, and a
manifest of every file's sha256 and size.

A model's checkpoint goes into the pack without Adam's moments (see `slim`: two thirds of its
bytes, of use only to train it further), and its record's info says so, as
``"slim": {"checkpoint.pt": "optim.state"}`` (the file, and the value emptied in it); a fetched
entry keeps that info in the local cache. A model that a model of the cache continues (the
length grid's shorter runs), whether or not the longer one is packed, is kept whole, as is
every other file: write a pack when the cache is filled and nothing trains into it.

The pack is one flat folder (an entry's file ``name`` as ``<key>.<name>``), so that it is
published as it is: a GitHub release holds a flat list of files (see `publish`).

The cache is only read: an entry whose files fail their recorded hashes, or would not load
without running code, is left out of the pack (and said), never moved or mended.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ..runs.cache import cache_dir, code_version
from ..runs.scales import SCALE_NAMES
from ..sealed import atomic_write, package_version
from . import slim
from .fetch import _NAME, FORMAT, MANIFEST, PackError, check_content

_KEY = re.compile(r"[a-z]+-[0-9a-f]{20}")  # runs.cache.make_key's form


@dataclass(frozen=True)
class PackSummary:
    """What `write_pack` wrote: the manifest's sha256 (to pin), and the pack's size."""

    out_dir: Path
    manifest_sha256: str
    entries: dict[str, int]  # kind (model, job, classifier) -> entries
    files: int
    bytes: int  # every file of the pack, the manifest included
    left_out: list[str] = field(default_factory=list)  # one line per entry left out
    slim: int = 0  # models whose checkpoint lacks Adam's moments
    whole: int = 0  # models kept whole: a model of the cache continues them
    dropped: int = 0  # bytes of the cache's checkpoints that the slim ones leave out

    def __str__(self) -> str:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.entries.items())) or "no entries"
        lines = [
            f"pack {self.out_dir}: {kinds}; {self.files} files, {self.bytes:,} bytes "
            f"({self.bytes / 2**20:.1f} MiB)",
            f"manifest sha256 {self.manifest_sha256}",
        ]
        if self.slim or self.whole:
            lines.append(
                f"models without Adam's moments: {self.slim} ({self.dropped / 2**20:.1f} MiB "
                f"fewer than the cache's checkpoints); kept whole, as a longer model of the "
                f"cache continues them: {self.whole}"
            )
        return "\n".join(lines + [f"left out: {why}" for why in self.left_out])


def write_pack(
    scale: str, out_dir: str | Path, root: str | Path | None = None, keys=None
) -> PackSummary:
    """Write the entries `keys` (default: every sealed entry) of the results cache `root`
    (default: the cache in use) into the new folder `out_dir` as a pack made at `scale`."""
    if scale not in SCALE_NAMES:
        raise ValueError(f"scale={scale!r} is not allowed: choose one of {', '.join(SCALE_NAMES)}")
    root = Path(root) if root is not None else cache_dir()
    if not root.is_dir():
        raise FileNotFoundError(f"results cache {root} does not exist")
    out = new_folder(out_dir)
    if keys is None:
        keys = [p.name for p in root.iterdir() if (p / "manifest.json").is_file()]
    keys = sorted(set(keys))
    bad = [k for k in keys if not _KEY.fullmatch(k)]
    if bad:
        raise ValueError(f"{bad[0]!r} is not a cache key (like model-<20 hex digits>)")
    out.mkdir(parents=True, exist_ok=True)
    entries, left_out, runs, dropped = {}, [], {}, 0
    for key in keys:
        try:
            entries[key], run = _copy_entry(root / key, out, key)
        except PackError as err:
            _remove(out, key)
            left_out.append(str(err))
            continue
        if run is not None:
            runs[key] = run
    packed = {key: r.run for key, r in runs.items()}
    whole = slim.continued(packed, {**_model_runs(root, skip=set(packed)), **packed})
    for key in sorted(runs):
        if key not in whole:
            dropped += runs[key].dropped
            continue
        try:
            _keep_whole(root / key, out, key, entries[key], runs[key])
        except PackError as err:
            del entries[key]
            _remove(out, key)
            left_out.append(str(err))
    manifest = {
        "format": FORMAT,
        "scale": scale,
        "version": package_version(),
        "code": {kind: code_version(kind) for kind in ("model", "job")},
        "entries": entries,
    }
    blob = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    atomic_write(out / MANIFEST, blob)
    sizes = [f["size"] for e in entries.values() for f in e["files"].values()]
    return PackSummary(
        out,
        hashlib.sha256(blob).hexdigest(),
        dict(Counter(k.split("-")[0] for k in entries)),
        len(sizes) + 1,
        sum(sizes) + len(blob),
        left_out,
        sum(1 for e in entries.values() if "slim" in e["info"]),
        len(whole & set(entries)),
        dropped,
    )


def new_folder(out_dir: str | Path) -> Path:
    """`out_dir`, if it is absent or an empty folder; FileExistsError naming it otherwise."""
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty folder: a pack needs a new one")
    return out


def _copy_entry(src: Path, out: Path, key: str):
    """Copy one sealed cache entry into the pack, a model's checkpoint without Adam's
    moments; (its manifest record, the model's _Run, or None)."""
    try:
        sealed = json.loads((src / "manifest.json").read_text())
        files, info = sealed["files"], sealed.get("info", {})
        assert isinstance(files, dict) and files and isinstance(info, dict)
    except (OSError, ValueError, KeyError, TypeError, AssertionError):
        raise PackError(f"{key}: not a sealed cache entry in {src.parent}") from None
    record, run = {}, None
    # where an entry came from, and what its files lack, are said anew
    info = {k: v for k, v in info.items() if k not in ("pack", "slim")}
    for name, sha in sorted(files.items()):
        if not _NAME.fullmatch(name):
            raise PackError(f"{key}: holds {name!r}, neither weights (*.pt) nor JSON")
        blob = _read(src, key, name, sha)
        if key.startswith("model-") and name == slim.CHECKPOINT:
            ckpt = slim.load(blob, f"{key}/{name}")
            run = _Run(slim.Run.of(ckpt), slim.has_moments(ckpt), 0, sha)
            if run.moments:
                thin = slim.slim_bytes(ckpt, f"{key}/{name}")
                run = run._replace(dropped=len(blob) - len(thin))
                blob = thin
            del ckpt
            info["slim"] = {name: slim.DROPPED}
        else:
            check_content(name, blob, f"{key}/{name}")
        record[name] = _write(out, key, name, blob)
    return {"files": record, "info": info}, run


class _Run(NamedTuple):
    """A packed model: what decides which model continues which, whether the cache's
    checkpoint holds Adam's moments, the bytes its slim copy leaves out, and its sha256."""

    run: slim.Run
    moments: bool
    dropped: int
    sha256: str


def _model_runs(root: Path, skip: set[str]) -> dict[str, slim.Run]:
    """The runs of the cache's other models (sealed or still training), from their
    checkpoints; one that cannot be read is passed over."""
    runs = {}
    for d in sorted(root.iterdir()):
        if d.name in skip or not (d.name.startswith("model-") and _KEY.fullmatch(d.name)):
            continue
        try:
            blob = (d / slim.CHECKPOINT).read_bytes()
            runs[d.name] = slim.Run.of(slim.load(blob, f"{d.name}/{slim.CHECKPOINT}"))
        except (OSError, PackError):
            continue
    return runs


def _keep_whole(src: Path, out: Path, key: str, entry: dict, run: _Run) -> None:
    """Put the cache's whole checkpoint of a model that a model of the cache continues in
    place of its slim copy (entry: its record), so that a longer run trained from it gets
    the book's weights."""
    if not run.moments:
        raise PackError(
            f"{key}: a model of the cache continues it, and the cache's checkpoint has no "
            f"Adam's moments to continue from (it came from a pack)"
        )
    name = slim.CHECKPOINT
    entry["files"][name] = _write(out, key, name, _read(src, key, name, run.sha256))
    entry["info"].pop("slim", None)


def _read(src: Path, key: str, name: str, sha: str) -> bytes:
    try:
        blob = (src / name).read_bytes()
    except OSError as err:
        raise PackError(f"{key}: cannot read {name} ({err})") from err
    if hashlib.sha256(blob).hexdigest() != sha:
        raise PackError(f"{key}: {name} does not match its sealed sha256 in the cache")
    return blob


def _write(out: Path, key: str, name: str, blob: bytes) -> dict:
    path = f"{key}.{name}"
    atomic_write(out / path, blob)
    return {"path": path, "sha256": hashlib.sha256(blob).hexdigest(), "size": len(blob)}


def _remove(out: Path, key: str) -> None:
    for partial in out.glob(f"{key}.*"):
        partial.unlink()
