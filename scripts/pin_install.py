"""Pin every chapter's install cell to the package's release: python scripts/pin_install.py

Each chapter in book/ has one code cell tagged ``install`` (after its parameters cell, hidden
in the book) that Colab, or any kernel without evae_lite, runs: pip installs the release
tagged ``v{version}``, the version in pyproject.toml (its one place), quietly: nothing is
printed on success, pip's own output on failure. It is a cell of its own so that the
parameters cell holds only parameters, which papermill reads without complaint. Run this
after changing the version (the release workflow refuses a tag whose chapters pin another).
Only that cell's code changes: its tags and the rest of the notebook are kept byte for byte
(the JSON is written back in its own key order); nothing is executed. ``--check`` changes
nothing and exits 1 naming the chapters that differ.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = "https://github.com/evae-lite/evae-lite"  # as in _config.yml's repository.url
INSTALL_TAG = "install"  # the tag of the cell that installs the package

INSTALL = """import importlib.util
import subprocess
import sys

if importlib.util.find_spec("evae_lite") is None:  # Colab, Binder: install the release
    url = "{url}"
    cmd = [sys.executable, "-m", "pip", "install", "-q", url]
    pip = subprocess.run(cmd, capture_output=True, text=True)
    if pip.returncode:  # nothing is printed on success; pip's own words on failure
        raise RuntimeError(f"pip install {{url}} failed:\\n{{pip.stdout}}{{pip.stderr}}")"""


def version(root: Path = ROOT) -> str:
    """The package's version, from pyproject.toml's [project] table."""
    text = (root / "pyproject.toml").read_text()
    m = re.search(r'(?ms)^\[project\].*?^version\s*=\s*"([^"]+)"', text)
    if not m:
        raise ValueError(f"{root / 'pyproject.toml'} has no version in its [project] table")
    return m.group(1)


def install_url(v: str) -> str:
    """The pip requirement of release v{v}: the tag on GitHub, not the default branch."""
    return f"evae-lite @ git+{REPOSITORY}@v{v}"


def install_code(v: str) -> str:
    return INSTALL.format(url=install_url(v))


def chapters(root: Path = ROOT) -> list[Path]:
    return sorted((root / "book").glob("[0-9]*.ipynb"))


def tagged_cell(cells: list, tag: str, where: str) -> int:
    """The index of the one cell tagged `tag`."""
    found = [i for i, c in enumerate(cells) if tag in c["metadata"].get("tags", [])]
    if len(found) != 1:
        raise ValueError(f"{where} has {len(found)} cells tagged {tag}, not one")
    return found[0]


def install_cell(cells: list, where: str) -> int:
    """The index of the chapter's install cell: the one tagged `install`."""
    return tagged_cell(cells, INSTALL_TAG, where)


def pin(path: Path, v: str, write: bool = True) -> bool:
    """Pin `path`'s install cell to v{v}; whether it changed (or, write=False, would)."""
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)  # the file's own key order, so that only the source changes
    cell = nb["cells"][install_cell(nb["cells"], path.name)]
    new = install_code(v)
    if "".join(cell["source"]) == new:
        return False
    if write:
        cell["source"] = new.splitlines(keepends=True)
        out = json.dumps(nb, indent=1, ensure_ascii=False) + ("\n" if text.endswith("\n") else "")
        nbformat.validate(nbformat.reads(out, as_version=4))
        path.write_text(out, encoding="utf-8")
    return True


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if one differs")
    a = p.parse_args(argv)
    v = version()
    changed = [path.name for path in chapters() if pin(path, v, write=not a.check)]
    if a.check and changed:
        print(f"not pinned to v{v}: {', '.join(changed)} (run scripts/pin_install.py)")
        return 1
    print(f"{len(changed)} chapters {'would change' if a.check else 'pinned'} to v{v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
