"""The README's summary of what the book finds: the verdict table of the closing chapter, as
its committed outputs recorded it (the glued value `findings`), between two markers.

    python -m evae_lite.book.findings          # rewrite the README's summary
    python -m evae_lite.book.findings --check  # exit 1 when it differs from the chapter's
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

from .prose import GLUE_PREFIX

ROOT = Path(__file__).resolve().parents[2]
CHAPTER = ROOT / "book" / "15_findings.ipynb"
README = ROOT / "README.md"
BEGIN = "<!-- findings: begin (written by python -m evae_lite.book.findings) -->"
END = "<!-- findings: end -->"


def glued(path: Path, name: str) -> str:
    """The text of the value that the notebook's outputs glued under `name`."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("metadata", {}).get("scrapbook", {}).get("name") == name:
                return ast.literal_eval(out["data"][GLUE_PREFIX + "text/plain"])
    raise ValueError(f"{path.name} glues no value named {name!r}: execute the chapter first")


def with_summary(readme: str, summary: str) -> str:
    """The README text with its summary block replaced by `summary`."""
    if readme.count(BEGIN) != 1 or readme.count(END) != 1:
        raise ValueError(f"README.md needs exactly one {BEGIN!r} and one {END!r}")
    head, rest = readme.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{summary.strip()}\n{END}{tail}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evae_lite.book.findings", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when stale")
    args = parser.parse_args(argv)
    text = README.read_text()
    new = with_summary(text, glued(CHAPTER, "findings"))
    if args.check:
        if new != text:
            print(
                "README.md's summary differs from book/15_findings.ipynb: run "
                "python -m evae_lite.book.findings",
                file=sys.stderr,
            )
            return 1
        return 0
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
