"""The Sphinx extension listed in _config.yml (as `evae_lite.site`): it runs only the
notebooks that were never executed, counts plotly outputs (myst-nb skips their mime type) in
place of myst-nb's warning about them, drops sphinx-thebe's scripts, gives the pages with an
explorer the line that says why it cannot start from disk, and leaves figures
unnumbered (their captions carry the paper's numbers, "Fig. 2 (ours)"), which
sphinx-jupyterbook-latex would otherwise switch on for every builder."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .checks import PLOTLY_COUNTS
from .pages import PLOTLY_MIME, was_executed


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
            # in place: the list is the builder's, which add_js_file extends for this page
            context[key][:] = [a for a in context[key] if not is_thebe(a)]


UNSERVED_JS = (Path(__file__).parent / "explorer_unserved.js").read_text()


def _explorer_unserved(app, pagename, templatename, context, doctree) -> None:
    """On a page with an explorer, an inline classic script that says why an explorer did not
    start where explorer.js, an ES module, cannot load (a page opened from disk), and how to
    serve the book."""
    if 'class="evae-explorer"' in (context.get("body") or ""):
        app.add_js_file(None, body=UNSERVED_JS)


def _unnumbered_figures(app) -> None:
    app.config.numfig = False


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
    # jupyter-book's defaults and sphinx-jupyterbook-latex set numfig = True; builder-inited
    # comes after every extension has configured itself
    app.connect("builder-inited", _unnumbered_figures)
    app.connect("env-before-read-docs", reset_counts)
    app.connect("build-finished", write_counts)
    app.connect("html-page-context", _no_thebe)
    app.connect("html-page-context", _explorer_unserved)
    # the filter's counts live in this process
    return {"parallel_read_safe": False, "parallel_write_safe": True}
