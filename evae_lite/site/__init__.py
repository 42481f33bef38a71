"""Build the book into ``_build/html`` so that it works with no network, and check the result.

    python -m evae_lite.site build    # vendor the JavaScript, jupyter-book build, checks
    python -m evae_lite.site vendor   # only put the JavaScript into book/_static/vendor/
    python -m evae_lite.site check    # only the checks, on an existing _build/html

``build`` exits non-zero when a committed notebook carries an error output, when a cell raises
(notebooks without outputs are executed), when Sphinx or myst-nb warns (``-W --keep-going``:
an output whose mime type cannot be rendered is such a warning), or when a check of the built
pages fails: a page of the toc is missing, a page loads something from another host, a plotly
figure of a notebook did not make it into its page, or a page lacks its Colab/Binder links.

The book serves its own JavaScript: plotly.js from the plotly package; MathJax 3, require.js
and the ipywidgets HTML manager from the npm registry (``npm install`` into
``_build/vendor-npm/`` when missing), all copied into ``book/_static/vendor/`` (gitignored).

This module is also the Sphinx extension listed in ``_config.yml`` (``setup`` below): it runs
only the notebooks that were never executed, counts plotly outputs (myst-nb skips their mime
type) in place of myst-nb's warning about them, and drops sphinx-thebe's scripts.
``--toc`` or $EVAE_LITE_TOC builds another toc (to try a page out).
"""

from __future__ import annotations

import argparse
import hashlib
import html.parser
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

PLOTLY_MIME = "application/vnd.plotly.v1+json"
PLOTLY_DIV = re.compile(r"""class=["']plotly-graph-div["']""")
REMOVED_OUTPUT_TAGS = {"remove-output", "remove_output", "remove-cell", "remove_cell"}
STAMP = ".evae-site-ok"  # written into _build/html after a build whose checks all passed
PLOTLY_COUNTS = ".plotly-outputs.json"  # docname -> plotly outputs that myst-nb read

VENDOR = Path("book/_static/vendor")
NPM_PREFIX = Path("_build/vendor-npm")
# What tex-chtml.js loads on demand: TeX extensions, CHTML fonts, menu, accessibility.
MATHJAX_PARTS = ["tex-chtml.js", "input/tex", "output/chtml", "ui", "a11y", "sre"]
# Loaded between require.js and the widget manager's embed-amd.js (see nb_ipywidgets_js).
WIDGETS_SETUP_JS = (Path(__file__).parent / "widgets_setup.js").read_text()


class SiteError(RuntimeError):
    """A build or check failure, with a message that names the page or notebook."""


def find_root(start: Path | None = None) -> Path:
    """The book's root: the first folder up from `start` (default: cwd) with a _config.yml."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "_config.yml").is_file() and (d / "evae_lite").is_dir():
            return d
    return Path(__file__).resolve().parents[2]


def default_toc() -> str:
    """The toc file: $EVAE_LITE_TOC (for trying a page out) or _toc.yml."""
    return os.environ.get("EVAE_LITE_TOC", "").strip() or "_toc.yml"


# ---------------------------------------------------------------------------------------------
# The toc and the notebooks


def toc_docs(root: Path, toc: str | None = None) -> list[str]:
    """Docnames listed in the toc (root first), e.g. ['book/01_introduction', ...]."""
    from sphinx_external_toc.parsing import parse_toc_yaml

    site_map = parse_toc_yaml(root / (toc or default_toc()))
    docs = [site_map.root.docname]
    docs += [d for d in site_map if d != site_map.root.docname]
    return docs


def doc_source(root: Path, doc: str) -> Path:
    """The source file of a docname (.ipynb, .md or .rst)."""
    for suffix in (".ipynb", ".md", ".rst"):
        if (root / (doc + suffix)).is_file():
            return root / (doc + suffix)
    raise SiteError(
        f"the toc lists {doc!r} but there is no {doc}.ipynb (or .md) in {root}: "
        "add the file or remove its line from the toc"
    )


def _kept_outputs(nb):
    """(cell index, output) of every code cell output that the book shows."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if REMOVED_OUTPUT_TAGS & set(cell.metadata.get("tags", [])):
            continue
        for out in cell.get("outputs", []):
            yield i, out


def error_outputs(path: Path) -> list[str]:
    """Descriptions of the error outputs a committed notebook carries."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error":
                found.append(f"{path.name}: cell {i} has an error output: {out.get('ename')}")
    return found


def _notebook_was_executed(path: Path) -> bool:
    import nbformat

    return was_executed(nbformat.read(path, as_version=4))


def expected_plotly_figures(path: Path) -> int:
    """How many plotly figures a notebook's page must draw: one per output carrying the
    plotly mime type, plus the plotly divs of other HTML outputs."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    n = 0
    for _, out in _kept_outputs(nb):
        data = out.get("data", {})
        if PLOTLY_MIME in data:
            n += 1
        elif "text/html" in data:
            text = data["text/html"]
            n += len(PLOTLY_DIV.findall(text if isinstance(text, str) else "".join(text)))
    return n


def page_path(html_dir: Path, doc: str) -> Path:
    return html_dir / f"{doc}.html"


# ---------------------------------------------------------------------------------------------
# Vendored JavaScript


def html_manager_range() -> str:
    """The @jupyter-widgets/html-manager version range that the installed ipywidgets embeds."""
    try:
        from ipywidgets._version import __html_manager_version__

        return __html_manager_version__
    except ImportError:
        return "^1.0.1"  # ipywidgets 8


def npm_specs() -> dict[str, str]:
    """npm package name -> what to install."""
    return {
        "mathjax": "mathjax@3",
        "requirejs": "requirejs@2",
        "@jupyter-widgets/html-manager": f"@jupyter-widgets/html-manager@{html_manager_range()}",
    }


def _npm_version(prefix: Path, name: str) -> str | None:
    pkg = prefix / "node_modules" / name / "package.json"
    return json.loads(pkg.read_text())["version"] if pkg.is_file() else None


def _major_ok(version: str | None, spec: str) -> bool:
    """Whether an installed version has the major version that `spec` (name@^X.. / @X) asks."""
    if version is None:
        return False
    want = re.search(r"@[\^~]?(\d+)", spec[1:])  # skip the @ of a scoped name
    return want is None or version.split(".")[0] == want.group(1)


def npm_install(root: Path, log=print) -> dict[str, str]:
    """Install MathJax, require.js and the widget HTML manager into _build/vendor-npm/ when
    missing; returns name -> installed version."""
    prefix = root / NPM_PREFIX
    specs = npm_specs()
    missing = [s for n, s in specs.items() if not _major_ok(_npm_version(prefix, n), s)]
    if missing:
        npm = shutil.which("npm")
        if npm is None:
            raise SiteError(
                "npm is needed once to fetch MathJax, require.js and the widget manager "
                "(apt-get install -y nodejs npm)"
            )
        prefix.mkdir(parents=True, exist_ok=True)
        cmd = [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund"]
        cmd += ["--ignore-scripts", "--loglevel=error", *specs.values()]
        log("$ " + " ".join(cmd))
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise SiteError(f"npm install failed:\n{r.stdout}\n{r.stderr}")
    return {n: _npm_version(prefix, n) for n in specs}


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dst)


def vendor(root: Path, log=print) -> Path:
    """Put plotly.js, MathJax, require.js and the widget manager into book/_static/vendor/."""
    import plotly

    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    versions = {"plotly": plotly.__version__, **npm_install(root, log)}
    versions["setup.js"] = hashlib.sha256(WIDGETS_SETUP_JS.encode()).hexdigest()[:12]
    dest = root / VENDOR
    stamp = dest / "VERSIONS.json"
    if stamp.is_file() and json.loads(stamp.read_text()) == versions:
        return dest
    log(f"vendoring {versions} into {VENDOR}/")
    shutil.rmtree(dest, ignore_errors=True)
    modules = root / NPM_PREFIX / "node_modules"
    _copy(plotly_js, dest / "plotly" / "plotly.min.js")
    for part in MATHJAX_PARTS:
        _copy(modules / "mathjax" / "es5" / part, dest / "mathjax" / part)
    _copy(modules / "requirejs" / "require.js", dest / "requirejs" / "require.js")
    # embed-amd.js and the fonts it loads from its own folder (not the other bundles or maps)
    for f in (modules / "@jupyter-widgets" / "html-manager" / "dist").iterdir():
        if f.name == "embed-amd.js" or f.suffix in {".woff", ".woff2", ".ttf", ".eot", ".svg"}:
            _copy(f, dest / "html-manager" / f.name)
    (dest / "html-manager" / "setup.js").write_text(WIDGETS_SETUP_JS)
    stamp.write_text(json.dumps(versions, indent=1) + "\n")
    return dest


# ---------------------------------------------------------------------------------------------
# Checks


class _Resources(html.parser.HTMLParser):
    """Collects the URLs a page loads by itself (scripts, styles, images, frames, media)."""

    LOADS = {
        "script": "src",
        "img": "src",
        "iframe": "src",
        "source": "src",
        "video": "src",
        "audio": "src",
        "embed": "src",
        "object": "data",
    }

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in self.LOADS and a.get(self.LOADS[tag]):
            self.urls.append(a[self.LOADS[tag]])
        if tag == "link" and a.get("href"):
            rel = (a.get("rel") or "").lower()
            if any(r in rel for r in ("stylesheet", "preload", "modulepreload", "icon")):
                self.urls.append(a["href"])


def external_resources(page: Path) -> list[str]:
    """URLs on another host that a page loads (script/link/img ... and CSS @import)."""
    text = page.read_text(encoding="utf-8")
    p = _Resources()
    p.feed(text)
    urls = p.urls + re.findall(r"@import\s+(?:url\()?['\"]?(https?://[^'\")\s]+)", text)
    return [u for u in urls if urlparse(u).scheme in ("http", "https") or u.startswith("//")]


def check_site(root: Path, toc: str | None = None, html_dir: Path | None = None) -> list[str]:
    """Check the built pages; returns the failures (empty: all good)."""
    html_dir = html_dir or root / "_build" / "html"
    failures = []
    for rel in ("plotly/plotly.min.js", "mathjax/tex-chtml.js", "requirejs/require.js"):
        if not (html_dir / "_static" / "vendor" / rel).is_file():
            failures.append(f"_static/vendor/{rel} is missing from {html_dir}")
    counts_file = html_dir / PLOTLY_COUNTS
    read_counts = json.loads(counts_file.read_text()) if counts_file.is_file() else {}
    for doc in toc_docs(root, toc):
        src = doc_source(root, doc)
        page = page_path(html_dir, doc)
        if not page.is_file():
            failures.append(f"{doc}: no page {page.relative_to(root)} was built")
            continue
        text = page.read_text(encoding="utf-8")
        for url in external_resources(page):
            failures.append(f"{doc}.html loads {url} from another host (the book must be offline)")
        if src.suffix != ".ipynb":
            continue
        want, got = expected_plotly_figures(src), len(PLOTLY_DIV.findall(text))
        if not _notebook_was_executed(src):  # executed at build: count what it output then
            want = read_counts.get(doc, 0)
        if want != got:
            failures.append(
                f"{doc}.html has {got} plotly-graph-div(s) but {src.name} has {want} plotly "
                "figure(s): a figure was dropped (display plotly figures through "
                "evae_lite.book.show_plotly)"
            )
        name = f"{doc}.ipynb"
        colab = re.search(
            r'href="https://colab\.research\.google\.com/github/[^"]*' + re.escape(name), text
        )
        binder = re.search(r'href="https://mybinder\.org/v2/[^"]*' + re.escape(name), text)
        if not (colab and binder):
            failures.append(f"{doc}.html lacks its Colab/Binder launch links")
    return failures


# ---------------------------------------------------------------------------------------------
# Sphinx extension (listed in _config.yml under sphinx: extra_extensions)


def was_executed(nb) -> bool:
    """Whether a notebook was ever run: some code cell has outputs or an execution count."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    return any(c.get("outputs") or c.get("execution_count") is not None for c in code)


def _skip_executed_notebooks(app, config) -> None:
    """myst-nb's 'auto' mode re-runs a notebook as soon as one code cell has no output; run
    only the notebooks that were never executed (committed notebooks keep their outputs)."""
    import nbformat

    if config.nb_execution_mode != "auto":
        return
    srcdir = Path(app.srcdir)
    skip = list(config.nb_execution_excludepatterns or [])
    for path in sorted(srcdir.glob("book/**/*.ipynb")):
        if "_build" in path.parts or ".ipynb_checkpoints" in path.parts:
            continue
        if was_executed(nbformat.read(path, as_version=4)):
            skip.append(path.relative_to(srcdir).as_posix())
    config.nb_execution_excludepatterns = skip


class _PlotlyMimeFilter(logging.Filter):
    """myst-nb cannot render the plotly mime type and warns about it even when the output also
    has HTML that draws the figure (evae_lite.book.show_plotly). Drop that one warning (other
    unknown mime types still fail -W) and count it per page instead: the build then checks
    that each page has as many plotly-graph-divs as its notebook had plotly outputs."""

    def __init__(self):
        super().__init__()
        self.counts: dict[str, int] = {}

    def filter(self, record) -> bool:
        if f"unknown output mime type: {PLOTLY_MIME}" not in str(record.msg):
            return True
        doc = getattr(record, "docname", "?")
        self.counts[doc] = self.counts.get(doc, 0) + 1
        return False


def _no_thebe(app, pagename, templatename, context, doctree) -> None:
    """Remove sphinx-thebe's scripts (jupyter-book always loads it; the book uses no thebe,
    and its inline script is added twice, a JavaScript error)."""

    def is_thebe(asset) -> bool:
        name = getattr(asset, "filename", None) or ""
        body = getattr(asset, "attributes", {}).get("body", "") or ""
        return "thebe" in str(name) or "THEBE_JS_URL" in body

    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [a for a in context[key] if not is_thebe(a)]


def setup(app):
    """Sphinx entry point."""
    from sphinx.util.logging import WarningStreamHandler

    plotly_filter = _PlotlyMimeFilter()
    for handler in logging.getLogger("sphinx").handlers:
        if isinstance(handler, WarningStreamHandler):
            handler.filters.insert(0, plotly_filter)  # before Sphinx counts the warning

    def reset_counts(app, env, docnames) -> None:
        for doc in docnames:  # the pages read in this build
            plotly_filter.counts.setdefault(doc, 0)

    def write_counts(app, exception) -> None:
        if exception is None and app.builder.format == "html":
            out = Path(app.outdir) / PLOTLY_COUNTS
            counts = json.loads(out.read_text()) if out.is_file() else {}
            counts.update(plotly_filter.counts)
            out.write_text(json.dumps(counts, indent=1, sort_keys=True) + "\n")

    app.connect("config-inited", _skip_executed_notebooks)
    app.connect("env-before-read-docs", reset_counts)
    app.connect("build-finished", write_counts)
    app.connect("html-page-context", _no_thebe)
    # the filter's counts live in this process
    return {"parallel_read_safe": False, "parallel_write_safe": True}


# ---------------------------------------------------------------------------------------------
# Build


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
    except SiteError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
