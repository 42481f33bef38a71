"""Fetch a missing results-cache entry from the configured pack (see `source`).

The manifest is downloaded once per process and must have the pinned sha256; each file of
the entry must have the size and sha256 the manifest records, and must load without running
code: JSON parsed as JSON, weights (``*.pt``, sealed or not) by ``torch.load`` with
``weights_only=True``. Only then are the files written into the local entry and sealed, so
that the caller gets a hit. Anything refused is said in one line on stderr, and the caller
computes the entry instead; with ``EVAE_LITE_PRETRAINED=require`` it is a PackError instead,
as is a key the pack lacks, so that nothing is trained or measured.

The local entry's info is the record's, and ``pack``: the manifest's URL. A model whose
checkpoint the pack holds without Adam's moments keeps the record's
``"slim": {"checkpoint.pt": "optim.state"}``, so that what reads the entry can tell that it is
for reading, not for training on (see `slim`).
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import re
import sys
import urllib.request
import warnings
from dataclasses import dataclass
from urllib.parse import urljoin

from ..sealed import HEADER, SealError, atomic_write, unseal
from .source import (
    ENV_PRETRAINED,
    REQUIRE,
    PackConfigError,
    PackSource,
    pack_source,
    pretrained_required,
)

FORMAT = "evae-lite pack 1"
MANIFEST = "manifest.json"
TIMEOUT_S = 60
MAX_MANIFEST_BYTES = 64 << 20
# a file of an entry: weights or JSON, a plain name (not the entry's own manifest)
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.(pt|json)")
# where a file lies in the pack: a relative path whose parts do not start with a dot
_PATH = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*")
_SHA256 = re.compile(r"[0-9a-f]{64}")

_manifests: dict[PackSource, dict | PackError] = {}
_said: set[str] = set()


class PackError(RuntimeError):
    """A pack, or a file of it, that is refused."""


@dataclass(frozen=True)
class PackFile:
    """One file of a pack entry, as the manifest records it."""

    path: str  # relative to the manifest's URL
    sha256: str
    size: int


def say(message: str) -> None:
    """One line on stderr, once per process."""
    if message not in _said:
        _said.add(message)
        print(f"evae-lite: {message}", file=sys.stderr, flush=True)


def _instead(message: str, what: str = "computing instead") -> None:
    """Say `message` and let the caller compute; under EVAE_LITE_PRETRAINED=require, stop."""
    if pretrained_required():
        raise PackError(f"{message}; {ENV_PRETRAINED}={REQUIRE}: nothing is computed")
    say(f"{message}; {what}")


def _source() -> PackSource | None:
    try:
        return pack_source()
    except PackConfigError as err:
        _instead(str(err))
        return None


def configured() -> bool:
    """Whether a pack is configured (and EVAE_LITE_PRETRAINED allows it); nothing is read."""
    return _source() is not None


def fetch_entry(entry, needs: tuple[str, ...]) -> bool:
    """Fill the local cache `entry` (a runs.cache.Entry) from the pack, if one is configured
    and holds its key with the files `needs`; True when the entry is now sealed and valid.
    Call it holding the entry's lock."""
    src = _source()
    if src is None:
        return False
    try:
        entries = manifest(src)
    except PackError as err:
        _instead(str(err))
        return False
    raw = entries.get(entry.key)
    if raw is None:  # not in the pack (a new setting, or new code): computed as ever
        if pretrained_required():
            raise PackError(
                f"the pack {src.url} does not hold {entry.key} (other settings, or code "
                f"changed since it was written); {ENV_PRETRAINED}={REQUIRE}: nothing is computed"
            )
        return False
    where = f"pack entry {entry.key}"
    try:
        files, info = entry_files(raw, where, needs)
        blobs = {
            name: checked(name, download(urljoin(src.url, f.path), f.size), f, f"{where}/{name}")
            for name, f in files.items()
        }
    except PackError as err:
        _instead(str(err), "computing it here instead")
        return False
    for name, blob in blobs.items():
        atomic_write(entry.dir / name, blob)
    entry.seal(sorted(blobs), {**info, "pack": src.url})
    return True


def manifest(src: PackSource) -> dict:
    """The pack's entries (key -> record), from its manifest checked against the pinned
    sha256; downloaded once per process, and a refusal stands for the process."""
    got = _manifests.get(src)
    if got is None:
        try:
            got = _read_manifest(src)
        except PackError as err:
            got = err
        _manifests[src] = got
    if isinstance(got, PackError):
        raise got
    return got


def _read_manifest(src: PackSource) -> dict:
    blob = download(src.url, MAX_MANIFEST_BYTES)
    digest = hashlib.sha256(blob).hexdigest()
    if digest != src.sha256:
        raise PackError(
            f"pack manifest {src.url} has sha256 {digest}, not the pinned {src.sha256}: refused"
        )
    try:
        data = json.loads(blob.decode("utf-8"))
    except ValueError as err:
        raise PackError(f"pack manifest {src.url} is not JSON ({err}): refused") from err
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise PackError(f"pack manifest {src.url} has format {found!r}, not {FORMAT!r}: refused")
    if not isinstance(data.get("entries"), dict):
        raise PackError(f"pack manifest {src.url} has no entries: refused")
    return data["entries"]


def download(url: str, limit: int) -> bytes:
    """The bytes at `url` (http, https or file), at most `limit` of them."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as r:
            blob = r.read(limit + 1)
    except (OSError, ValueError, http.client.HTTPException) as err:
        raise PackError(f"cannot download {url} ({type(err).__name__}: {_line(err)})") from err
    if len(blob) > limit:
        raise PackError(f"{url} is larger than {limit} bytes: refused")
    return blob


def entry_files(raw, where: str, needs: tuple[str, ...]) -> tuple[dict[str, PackFile], dict]:
    """The files (name -> PackFile) and info of a manifest's entry record, checked."""
    if not isinstance(raw, dict) or not isinstance(raw.get("files"), dict):
        raise PackError(f"{where}: its record in the manifest is malformed: refused")
    files = {}
    for name, f in raw["files"].items():
        if not _NAME.fullmatch(name) or name == MANIFEST:
            raise PackError(f"{where} holds {name!r}, not a file a pack may hold: refused")
        ok = (
            isinstance(f, dict)
            and isinstance(f.get("path"), str)
            and _PATH.fullmatch(f["path"])
            and isinstance(f.get("sha256"), str)
            and _SHA256.fullmatch(f["sha256"])
            and type(f.get("size")) is int
            and f["size"] >= 0
        )
        if not ok:
            raise PackError(f"{where}: the manifest's record of {name} is malformed: refused")
        files[name] = PackFile(f["path"], f["sha256"], f["size"])
    missing = [n for n in needs if n not in files]
    if missing:
        raise PackError(f"{where} lacks {missing[0]}: refused")
    info = raw.get("info")
    return files, info if isinstance(info, dict) else {}


def checked(name: str, blob: bytes, f: PackFile, where: str) -> bytes:
    """`blob` if it is the file the manifest records and loads without running code."""
    digest = hashlib.sha256(blob).hexdigest()
    if len(blob) != f.size or digest != f.sha256:
        raise PackError(
            f"{where} has sha256 {digest} ({len(blob)} bytes), not the manifest's "
            f"{f.sha256} ({f.size} bytes): refused"
        )
    check_content(name, blob, where)
    return blob


def check_content(name: str, blob: bytes, where: str) -> None:
    """PackError unless `blob` is JSON (*.json) or loads as plain weights (*.pt): tensors and
    plain values only, by torch.load with weights_only=True (a sealed file unsealed first)."""
    if name.endswith(".json"):
        try:
            json.loads(blob.decode("utf-8"))
        except ValueError as err:
            raise PackError(f"{where} is not JSON ({err}): refused") from err
        return
    if not name.endswith(".pt"):
        raise PackError(f"{where} is neither weights (*.pt) nor JSON: refused")
    import torch

    try:
        payload = unseal(blob, where) if blob.startswith(HEADER) else blob
    except SealError as err:
        raise PackError(f"{err}: refused") from err
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols
            torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as err:
        raise PackError(
            f"{where} holds more than tensors and plain values (torch.load with "
            f"weights_only=True: {_unpickler_reason(err)}): refused"
        ) from err


def _unpickler_reason(err: Exception) -> str:
    m = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\.\s|\n\n|$)", str(err), re.S)
    return " ".join(m.group(1).split()) if m else f"{type(err).__name__}: {_line(err)}"


def _line(err: Exception) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
