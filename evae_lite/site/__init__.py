"""Build the book into ``_build/html`` so that it works with no network, and check the result.

    python -m evae_lite.site build    # vendor the JavaScript, jupyter-book build, checks
    python -m evae_lite.site vendor   # only put the JavaScript into book/_static/vendor/
    python -m evae_lite.site check    # only the checks, on an existing _build/html

``build`` exits non-zero when a committed notebook carries an error output, when a cell raises
(notebooks without outputs are executed), when Sphinx or myst-nb warns (``-W --keep-going``:
an output whose mime type cannot be rendered is such a warning), or when a check of the built
pages fails: a page of the toc is missing, a page loads something from another host, a plotly
figure of a notebook did not make it into its page, or a page lacks its Colab/Binder links.

The book serves its own JavaScript: plotly.js from the plotly package; MathJax 3, require.js,
the ipywidgets HTML manager and onnxruntime-web from the npm registry (``npm install`` into
``_build/vendor-npm/`` when missing), all copied into ``book/_static/vendor/`` (gitignored).
The explorers that decode in the browser get their trained decoders, exported to ONNX at the
scale of $EVAE_LITE_SCALE (default ``book``) from the results cache (trained when missing),
in ``book/_static/decoders/`` (gitignored: weights are never committed).

The package is also the Sphinx extension listed in ``_config.yml`` (``extension.setup``): it runs
only the notebooks that were never executed, counts plotly outputs (myst-nb skips their mime
type) in place of myst-nb's warning about them, and drops sphinx-thebe's scripts.
``--toc`` or $EVAE_LITE_TOC builds another toc (to try a page out).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from ..runs.scales import scale_name
from . import explorers
from .checks import PLOTLY_COUNTS, check_site, external_resources
from .extension import setup
from .pages import (
    SiteError,
    default_toc,
    doc_source,
    error_outputs,
    expected_plotly_figures,
    find_root,
    page_path,
    toc_docs,
    was_executed,
)
from .vendor import NPM_PREFIX, VENDOR, npm_install, vendor

STAMP = ".evae-site-ok"  # written into _build/html after a build whose checks all passed

__all__ = [
    "build",
    "main",
    "setup",
    "vendor",
    "npm_install",
    "check_site",
    "external_resources",
    "SiteError",
    "find_root",
    "default_toc",
    "toc_docs",
    "doc_source",
    "page_path",
    "error_outputs",
    "expected_plotly_figures",
    "was_executed",
    "STAMP",
    "VENDOR",
    "NPM_PREFIX",
    "PLOTLY_COUNTS",
]


def build(root: Path, toc: str | None = None, log=print) -> Path:
    """Vendor the JavaScript, build the book into _build/html and check it; returns the folder.

    Raises SiteError on any failure."""
    toc = toc or default_toc()
    html_dir = root / "_build" / "html"
    (html_dir / STAMP).unlink(missing_ok=True)
    docs = toc_docs(root, toc)
    errors = []
    for doc in docs:
        src = doc_source(root, doc)
        if src.suffix == ".ipynb":
            errors += error_outputs(src)
    if errors:
        raise SiteError("committed notebooks carry error outputs:\n  " + "\n  ".join(errors))
    vendor(root, log)
    explorers.write_all(root, scale_name(None), log)

    t0 = time.time()
    jb = "from jupyter_book.cli.main import main; main()"
    # --all: a fresh environment, so that the warnings of unchanged pages count again.
    cmd = [sys.executable, "-c", jb, "build", str(root), "--builder", "html", "--all"]
    cmd += ["--toc", str(root / toc), "-W", "--keep-going"]
    log("$ jupyter-book " + " ".join(cmd[3:]))
    r = subprocess.run(cmd, cwd=root)
    log(f"jupyter-book ran {time.time() - t0:.0f} s (exit {r.returncode}); checking the pages")

    failures = check_site(root, toc, html_dir)  # also after a failed build: name the pages
    if r.returncode != 0:
        failures.insert(0, f"jupyter-book build failed (exit {r.returncode}): see the log above")
    if failures:
        raise SiteError("the book failed:\n  " + "\n  ".join(failures))
    (html_dir / STAMP).write_text(json.dumps({"toc": toc, "docs": docs}) + "\n")
    return html_dir


def serve_hint(html_dir: Path) -> str:
    """How to read the built book: served, since a page opened from disk runs no explorer."""
    try:
        where = html_dir.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        where = html_dir
    return (
        f"read it served (the explorers of chapter 7 do not run in pages opened from disk): "
        f"python -m http.server -d {where}, then open http://localhost:8000/"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evae_lite.site", description=__doc__)
    parser.add_argument("command", choices=["build", "vendor", "check"])
    parser.add_argument(
        "--toc", default=None, help="toc file (default: $EVAE_LITE_TOC or _toc.yml)"
    )
    args = parser.parse_args(argv)
    root = find_root()
    try:
        if args.command == "vendor":
            print(vendor(root))
        elif args.command == "check":
            failures = check_site(root, args.toc)
            if failures:
                raise SiteError("the built book failed its checks:\n  " + "\n  ".join(failures))
            print("all checks passed")
        else:
            out = build(root, args.toc)
            print(f"the book is in {out}")
            print(serve_hint(out))
    except SiteError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
