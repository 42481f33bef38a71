"""Publish a written pack as the files of a GitHub release, and say the lines that pin it.

A GitHub runner cannot build the pack (hours of training), so it is written where the filled
results cache is (``python -m evae_lite.pack write``) and published from there with the
GitHub CLI (``gh``), to a release of its own (a tag like ``pack-book-1``, not a ``v*`` tag:
those are the package's, and the package release that carries the pin comes after the pack).
The manifest's URL and sha256 then go into `source` (PACK_URL, PACK_MANIFEST_SHA256).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..data import sha256_file
from .fetch import FORMAT, MANIFEST

REPOSITORY = "evae-lite/evae-lite"  # owner/name, as in _config.yml's repository.url
MAX_ASSETS = 1000  # GitHub's limit of files per release
MAX_ASSET_BYTES = 2 << 30  # and of bytes per file
UPLOAD_BATCH = 100  # files per `gh release upload` command
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Release:
    """A checked pack folder and the release that will hold it."""

    folder: Path
    tag: str
    repo: str
    files: tuple[str, ...]  # names in `folder`: the manifest first, then every entry's file
    sha256: str  # the manifest's
    notes: str

    @property
    def url(self) -> str:
        """Where the release serves the manifest (PACK_URL)."""
        return f"https://github.com/{self.repo}/releases/download/{self.tag}/{MANIFEST}"

    def create(self) -> list[str]:
        title = f"Results pack {self.tag}"
        return [
            *("gh", "release", "create", self.tag, "--repo", self.repo),
            *("--title", title, "--notes", self.notes),
        ]

    def uploads(self) -> list[list[str]]:
        head = ["gh", "release", "upload", self.tag, "--repo", self.repo, "--clobber"]
        batches = range(0, len(self.files), UPLOAD_BATCH)
        return [head + list(self.files[i : i + UPLOAD_BATCH]) for i in batches]

    def pin(self) -> str:
        """The two assignments of evae_lite/pack/source.py that name this pack, formatted as
        ruff formats them (a line too long for 100 characters in parentheses)."""
        return "\n".join(
            _assignment(name, value)
            for name, value in (("PACK_URL", self.url), ("PACK_MANIFEST_SHA256", self.sha256))
        )


def release(folder: str | Path, tag: str, repo: str = REPOSITORY) -> Release:
    """The release of the pack in `folder`, each of its files checked against the manifest;
    ValueError naming what is wrong (a v* tag, a file missing, changed or too large)."""
    folder = Path(folder)
    if not _TAG.fullmatch(tag) or re.match(r"v\d", tag):
        raise ValueError(
            f"tag {tag!r} is not a pack's: use a tag of its own such as pack-book-1 (v* tags "
            "are the package's releases)"
        )
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise ValueError(f"repository {repo!r} is not owner/name")
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text())
        entries = manifest["entries"]
        assert manifest["format"] == FORMAT and isinstance(entries, dict)
    except (OSError, ValueError, KeyError, TypeError, AssertionError):
        raise ValueError(f"{path} is not the manifest of a pack ({FORMAT})") from None
    files = [MANIFEST]
    for key, entry in sorted(entries.items()):
        for name, f in sorted(entry["files"].items()):
            files.append(_checked(folder, f, f"{key}/{name}"))
    if len(files) > MAX_ASSETS:
        raise ValueError(f"{folder} has {len(files)} files; a GitHub release holds {MAX_ASSETS}")
    size = sum((folder / f).stat().st_size for f in files)
    sha = sha256_file(path)
    notes = (
        f"Results pack of evae-lite at scale={manifest.get('scale')}: {len(entries)} cache "
        f"entries, {len(files)} files, {size / 2**20:.1f} MiB ({_by_kind(entries)}; "
        f"manifest.json {path.stat().st_size / 2**20:.1f} MiB), fetched on demand by the "
        f"package: evae_lite/pack/source.py pins the sha256 of manifest.json, {sha}."
    )
    return Release(folder, tag, repo, tuple(files), sha, notes)


def _by_kind(entries: dict) -> str:
    """How many entries of each kind (model, job, classifier) and their MiB, as "125 model
    742.3 MiB, ...", largest first."""
    kinds: dict[str, list[int]] = {}
    for key, entry in entries.items():
        n_bytes = kinds.setdefault(key.split("-")[0], [0, 0])
        n_bytes[0] += 1
        n_bytes[1] += sum(f["size"] for f in entry["files"].values())
    ranked = sorted(kinds.items(), key=lambda kv: -kv[1][1])
    return ", ".join(f"{n} {kind} {b / 2**20:.1f} MiB" for kind, (n, b) in ranked)


def _assignment(name: str, value: str) -> str:
    line = f'{name}: str | None = "{value}"'
    return line if len(line) <= 100 else f'{name}: str | None = (\n    "{value}"\n)'


def _checked(folder: Path, record: dict, where: str) -> str:
    """The name of the file `record` (a manifest's record of it) in `folder`, checked."""
    rel = record["path"]
    if "/" in rel:
        raise ValueError(f"{where}: its path {rel!r} is not flat; a release holds one folder")
    f = folder / rel
    if not f.is_file() or f.stat().st_size != record["size"]:
        raise ValueError(f"{where}: {f} is missing or not of {record['size']} bytes")
    if record["size"] > MAX_ASSET_BYTES:
        raise ValueError(f"{where}: {f} is over GitHub's {MAX_ASSET_BYTES} bytes per file")
    if sha256_file(f) != record["sha256"]:
        raise ValueError(f"{where}: {f} does not have the manifest's sha256")
    return rel


def publish(rel: Release, run: bool = False, echo=print) -> None:
    """Say (or, run=True, run) the gh commands that put the pack on its release, in the pack's
    folder, then the lines to pin in evae_lite/pack/source.py. An existing release is
    uploaded to."""
    if run and shutil.which("gh") is None:
        raise FileNotFoundError("gh (the GitHub CLI) is not on PATH: see https://cli.github.com")
    commands = rel.uploads()
    view = ["gh", "release", "view", rel.tag, "--repo", rel.repo]
    if not run or subprocess.run(view, capture_output=True, cwd=rel.folder).returncode != 0:
        commands.insert(0, rel.create())
    echo(f"cd {shlex.quote(str(rel.folder))}")
    for cmd in commands:
        echo(("running: " if run else "") + shlex.join(cmd))
        if run:
            subprocess.run(cmd, check=True, cwd=rel.folder)
    echo(f"then put in evae_lite/pack/source.py:\n{rel.pin()}")
