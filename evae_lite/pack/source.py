"""Where the published pack of results lives: the one place that names it.

A pack is a folder on a web server (a GitHub release): ``manifest.json`` (every file's sha256
and size) and the files of the results cache's entries, each named by its cache key.
``PACK_URL`` is the manifest's URL and ``PACK_MANIFEST_SHA256`` the sha256 of its bytes, so
that the manifest, and through it every file, is fixed by this module. While no pack is
published both are None and fetching is off.

``EVAE_LITE_PACK_URL`` and ``EVAE_LITE_PACK_SHA256`` override them (another pack, a local
server); ``EVAE_LITE_PRETRAINED=0`` switches fetching off whatever is configured, and
``EVAE_LITE_PRETRAINED=require`` stops (a PackError) wherever the pack cannot supply an
entry, instead of computing it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

# Not yet published: the book-scale pack is written with `python -m evae_lite.pack write`
# and its URL and manifest sha256 go here.
PACK_URL: str | None = None
PACK_MANIFEST_SHA256: str | None = None

ENV_URL = "EVAE_LITE_PACK_URL"
ENV_SHA256 = "EVAE_LITE_PACK_SHA256"
ENV_PRETRAINED = "EVAE_LITE_PRETRAINED"
_OFF = ("0", "false", "no", "off")
REQUIRE = "require"
_SHA256 = re.compile(r"[0-9a-f]{64}")


class PackConfigError(ValueError):
    """A pack configuration that cannot be used: half of it, or a malformed hash."""


@dataclass(frozen=True)
class PackSource:
    """A pack's manifest URL and the sha256 its bytes must have."""

    url: str
    sha256: str


def pretrained_allowed() -> bool:
    """False when EVAE_LITE_PRETRAINED says 0 (or false, no, off): always compute."""
    return os.environ.get(ENV_PRETRAINED, "").strip().lower() not in _OFF


def pretrained_required() -> bool:
    """True when EVAE_LITE_PRETRAINED says require: what the pack cannot supply stops the
    run instead of being computed."""
    return os.environ.get(ENV_PRETRAINED, "").strip().lower() == REQUIRE


def pack_source() -> PackSource | None:
    """The configured pack (environment first, then this module), or None when fetching is
    off. A URL without a hash (or the reverse), or a hash that is not 64 hex digits, is a
    PackConfigError naming the value."""
    if not pretrained_allowed():
        return None
    url = os.environ.get(ENV_URL, "").strip() or PACK_URL
    sha = os.environ.get(ENV_SHA256, "").strip().lower() or PACK_MANIFEST_SHA256
    if not url and not sha:
        if pretrained_required():
            raise PackConfigError(
                f"{ENV_PRETRAINED}={REQUIRE}, and no pack is configured ({ENV_URL} and "
                f"{ENV_SHA256}, or evae_lite/pack/source.py)"
            )
        return None
    if not url or not sha:
        given, lacking = (ENV_SHA256, ENV_URL) if sha else (ENV_URL, ENV_SHA256)
        raise PackConfigError(f"{given} is set without {lacking}: the pack cannot be used")
    if not _SHA256.fullmatch(sha):
        raise PackConfigError(f"pack sha256 {sha!r} is not 64 hex digits")
    return PackSource(url, sha)
