"""Write a pack from a filled results cache: its entries under their cache keys, and a
manifest of every file's sha256 and size.

The pack is one flat folder (an entry's file ``name`` as ``<key>.<name>``), so that it is
published as it is: a GitHub release holds a flat list of files (see `publish`).

The cache is only read: an entry whose files fail their recorded hashes, or would not load
without running code, is left out of the pack (and said), never moved or mended.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..data import sha256_file
from ..runs.cache import cache_dir, code_version
from ..runs.scales import SCALE_NAMES
from ..sealed import atomic_write, package_version
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

    def __str__(self) -> str:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.entries.items())) or "no entries"
        lines = [
            f"pack {self.out_dir}: {kinds}; {self.files} files, {self.bytes:,} bytes "
            f"({self.bytes / 2**20:.1f} MiB)",
            f"manifest sha256 {self.manifest_sha256}",
        ]
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
    entries, left_out = {}, []
    for key in keys:
        try:
            entries[key] = _copy_entry(root / key, out, key)
        except PackError as err:
            for partial in out.glob(f"{key}.*"):
                partial.unlink()
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
    )


def new_folder(out_dir: str | Path) -> Path:
    """`out_dir`, if it is absent or an empty folder; FileExistsError naming it otherwise."""
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty folder: a pack needs a new one")
    return out


def _copy_entry(src: Path, out: Path, key: str) -> dict:
    """Copy one sealed cache entry into the pack; its manifest record."""
    try:
        sealed = json.loads((src / "manifest.json").read_text())
        files, info = sealed["files"], sealed.get("info", {})
        assert isinstance(files, dict) and files and isinstance(info, dict)
    except (OSError, ValueError, KeyError, TypeError, AssertionError):
        raise PackError(f"{key}: not a sealed cache entry in {src.parent}") from None
    record = {}
    for name, sha in sorted(files.items()):
        if not _NAME.fullmatch(name):
            raise PackError(f"{key}: holds {name!r}, neither weights (*.pt) nor JSON")
        path = f"{key}.{name}"
        dst = out / path
        try:
            shutil.copyfile(src / name, dst)
        except OSError as err:
            raise PackError(f"{key}: cannot read {name} ({err})") from err
        if sha256_file(dst) != sha:
            raise PackError(f"{key}: {name} does not match its sealed sha256 in the cache")
        check_content(name, dst.read_bytes(), f"{key}/{name}")
        record[name] = {"path": path, "sha256": sha, "size": dst.stat().st_size}
    # where an entry came from is not part of it
    return {"files": record, "info": {k: v for k, v in info.items() if k != "pack"}}
