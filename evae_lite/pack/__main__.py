"""python -m evae_lite.pack write --scale smoke --out DIR [--cache DIR] [--keys FILE]
[--chapters [NOTEBOOK ...]]
python -m evae_lite.pack publish DIR --tag TAG [--repo OWNER/NAME] [--run]

write: writes a pack from a filled results cache and prints its size and the manifest's
sha256 (to pin in evae_lite/pack/source.py). --chapters first runs the chapters at that scale
(papermill, outputs into a temporary folder) on the cache, recording every entry they use, and
packs exactly those; --keys packs the keys listed in a file, one a line; otherwise every entry.

publish: checks a written pack and prints the gh commands that attach its files to the
release TAG of the repository (--run runs them), then the two lines that pin it in
evae_lite/pack/source.py.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def _recording():
    """A file into which the results cache writes the key of every entry it serves while the
    block runs: EVAE_LITE_PACK_RECORD names it there, and is restored after."""
    from ..batch import environment
    from ..runs.cache import RECORD_ENV

    with tempfile.TemporaryDirectory(prefix="evae-lite-pack-") as tmp:
        record = Path(tmp) / "keys.txt"
        record.touch()
        with environment({RECORD_ENV: str(record)}):
            yield record


def _chapter_keys(notebooks: list[str], scale: str) -> list[str] | None:
    """Run the chapters at `scale` with the cache recording its entries; the keys (and the
    site build's, `_explorer_keys`), or None when a chapter failed."""
    from ..batch import chapters
    from ..batch import run as run_chapters

    # batch.run has the chapters' kernels import this very package (not another installed
    # copy), so that the keys they record are the keys of the code that writes the pack
    with _recording() as record:
        failed = run_chapters(chapters(notebooks), scale, record.parent / "executed")
        keys = record.read_text().split()
    return None if failed else keys + _explorer_keys(scale)


def _explorer_keys(scale: str) -> list[str]:
    """The keys of the entries that the site build reads for its explorers (their models,
    the VAE's activity), recorded as it reads them; an explorer whose model the cache lacks
    is said, and the pack goes without it."""
    from ..runs.job import is_trained
    from ..site.explorers import EXPLORERS, describe

    with _recording() as record:
        for e in EXPLORERS:
            if is_trained(e.job(scale)):
                describe(e, scale)  # what the build reads: the model, a VAE's activity
            else:
                print(f"explorer {e.name}: the cache lacks its model; the pack goes without it")
        return sorted(set(record.read_text().split()))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m evae_lite.pack", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write", help="write a pack from a filled results cache")
    w.add_argument("--scale", required=True, help="the scale the entries were made at")
    w.add_argument("--out", required=True, help="a new folder for the pack")
    w.add_argument("--cache", default=None, help="the results cache (default: the one in use)")
    w.add_argument("--keys", default=None, help="a file of cache keys to pack, one a line")
    w.add_argument(
        "--chapters",
        nargs="*",
        default=None,
        metavar="NOTEBOOK",
        help="run these chapters (none named: every chapter) and pack what they use",
    )
    u = sub.add_parser("publish", help="attach a written pack to a GitHub release")
    u.add_argument("folder", help="the pack's folder, as written")
    u.add_argument("--tag", required=True, help="the pack's release, e.g. pack-book-1")
    u.add_argument("--repo", default=None, help="owner/name (default: the book's repository)")
    u.add_argument("--run", action="store_true", help="run the gh commands, not only print")
    a = p.parse_args(argv)
    if a.command == "publish":
        return _publish(a)
    from .write import new_folder, write_pack

    if a.cache:  # the chapters' kernels and the writer read the same cache
        os.environ["EVAE_LITE_RESULTS"] = a.cache
    try:
        new_folder(a.out)  # before any chapter runs
        keys = None
        if a.keys:
            keys = Path(a.keys).read_text().split()
        if a.chapters is not None:
            if keys is not None:
                raise ValueError("--keys and --chapters are not allowed together: give one")
            keys = _chapter_keys(a.chapters, a.scale)
            if keys is None:
                print("error: a chapter failed: its entries would be missing", file=sys.stderr)
                return 1
        summary = write_pack(a.scale, a.out, a.cache, keys)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(summary)
    return 0


def _publish(a) -> int:
    from .publish import REPOSITORY, publish, release

    try:
        publish(release(a.folder, a.tag, a.repo or REPOSITORY), run=a.run)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as e:
        print(f"error: {shlex.join(e.cmd)} exited with {e.returncode}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
