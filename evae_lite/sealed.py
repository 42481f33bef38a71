"""Files the package writes and later trusts: written atomically, sealed with their sha256.

A reader never sees half a file (each write goes to a temporary file of a unique name, then
replaces the target), and a file changed after it was written (a flipped bit, a truncation, an
edit) fails its seal with an error naming it, instead of being used.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

HEADER = b"evae-lite sealed sha256="


class SealError(ValueError):
    """A file that fails its seal: truncated, corrupted or not written by evae-lite."""


class FormatError(ValueError):
    """A sealed file that this version of the package cannot read: a field it does not know,
    or one it needs that the file lacks (written by another version)."""


def package_version() -> str:
    """The installed evae-lite's version, recorded in what it writes."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("evae-lite")
    except (ImportError, PackageNotFoundError):
        return "unknown"


def from_fields(cls, fields: Any, where: str, version: str | None = None):
    """`cls(**fields)` for a dataclass read back from a file; a field this version does not
    know, or one it needs and the file lacks, is a FormatError naming the file, the field and
    the version that wrote it."""
    import dataclasses

    if not isinstance(fields, dict):
        raise FormatError(f"{where}: expected the fields of {cls.__name__}, found {fields!r}")
    known = {f.name for f in dataclasses.fields(cls)}
    needed = {
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    wrote = f"written by evae-lite {version or 'of another version'}"
    mine = f"this is evae-lite {package_version()}"
    extra = sorted(set(fields) - known)
    if extra:
        raise FormatError(
            f"{where} has field {extra[0]!r} in {cls.__name__}, unknown to this version "
            f"({wrote}; {mine}): read it with the version that wrote it, or delete it"
        )
    missing = sorted(needed - set(fields))
    if missing:
        raise FormatError(
            f"{where} lacks field {missing[0]!r} of {cls.__name__} ({wrote}; {mine}): read it "
            f"with the version that wrote it, or delete it"
        )
    return cls(**fields)


def tensor_hash(t) -> str:
    """Content hash of a tensor: its bytes and its shape."""
    a = t.detach().cpu().contiguous().numpy()
    return hashlib.blake2b(a.tobytes(), digest_size=12).hexdigest() + str(a.shape)


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` through a temporary file of a unique name in the same folder.

    No fsync: a killed process cannot leave half a file this way, and what a power cut might
    leave behind fails its seal when read."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_temporaries(path: str | os.PathLike) -> None:
    """Delete what killed writers of `path` left behind: call it holding the lock that every
    writer of `path` holds, so that no live writer's file goes."""
    path = Path(path)
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        tmp.unlink(missing_ok=True)


def seal(payload: bytes) -> bytes:
    """`payload` behind one header line that holds its sha256."""
    return HEADER + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def unseal(blob: bytes, name: str) -> bytes:
    """The payload of a sealed blob; SealError, naming `name`, when it does not match."""
    head, nl, payload = blob.partition(b"\n")
    if not head.startswith(HEADER) or not nl:
        raise SealError(
            f"{name} is not a sealed evae-lite file (truncated, or written by something else)"
        )
    if hashlib.sha256(payload).hexdigest().encode() != head[len(HEADER) :]:
        raise SealError(f"{name} is corrupt: its contents do not match their sha256 seal")
    return payload


def write_json(path: str | os.PathLike, value: Any) -> None:
    """Strict JSON (NaN and infinities are an error, not written), atomically."""
    atomic_write(path, (json.dumps(value, indent=1, allow_nan=False) + "\n").encode())


def _digest(value: Any) -> str:
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def write_sealed_json(path: str | os.PathLike, value: Any) -> None:
    """JSON that stays readable by anything, with the sha256 of its value beside it."""
    write_json(path, {"sha256": _digest(value), "value": value})


def read_sealed_json(path: str | os.PathLike) -> Any:
    """The value of a file written by `write_sealed_json`; SealError when it fails its seal."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SealError(f"{path} is corrupt: not JSON ({e})") from e
    if not isinstance(data, dict) or set(data) != {"sha256", "value"}:
        raise SealError(f"{path} is not a sealed evae-lite JSON file")
    if _digest(data["value"]) != data["sha256"]:
        raise SealError(f"{path} is corrupt: its contents do not match their sha256 seal")
    return data["value"]
