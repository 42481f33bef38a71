"""The book's pages: its root and toc, each page's source notebook, and what a notebook's
outputs hold (errors, plotly figures, tables, whether it was ever executed)."""

from __future__ import annotations

import html.parser
import os
import re
from pathlib import Path

PLOTLY_MIME = "application/vnd.plotly.v1+json"
PLOTLY_DIV = re.compile(r"""class=["']plotly-graph-div["']""")
REMOVED_OUTPUT_TAGS = {"remove-output", "remove_output", "remove-cell", "remove_cell"}


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


def notebook_was_executed(path: Path) -> bool:
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


def markdown_tables(text: str) -> list[int]:
    """The pipe tables of a Markdown text, in order, each as its number of rows (the header
    row included), as MyST (and GitHub-flavoured Markdown) read them."""
    from markdown_it import MarkdownIt

    rows, tables = 0, []
    for token in MarkdownIt("commonmark").enable("table").parse(text):
        if token.type == "table_open":
            rows = 0
        elif token.type == "tr_open":
            rows += 1
        elif token.type == "table_close":
            tables.append(rows)
    return tables


class _HtmlTables(html.parser.HTMLParser):
    """The tables of an HTML text (outermost ones), each as its number of rows."""

    def __init__(self):
        super().__init__()
        self.tables: list[int] = []
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.depth += 1
            if self.depth == 1:
                self.tables.append(0)
        elif tag == "tr" and self.depth == 1:
            self.tables[-1] += 1

    def handle_endtag(self, tag):
        if tag == "table" and self.depth:
            self.depth -= 1


def html_tables(text: str) -> list[int]:
    p = _HtmlTables()
    p.feed(text)
    return p.tables


def expected_tables(path: Path) -> list[int]:
    """The tables a notebook's page must show in its outputs, in order, each as its number of
    rows: those of its Markdown outputs (the chapters' tables) and of its HTML outputs (which
    the page shows in place of an output's Markdown when it has both)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    found = []
    for _, out in _kept_outputs(nb):
        data = out.get("data", {})
        for mime, count in (("text/html", html_tables), ("text/markdown", markdown_tables)):
            if mime in data:
                text = data[mime]
                found += count(text if isinstance(text, str) else "".join(text))
                break
    return found


def page_path(html_dir: Path, doc: str) -> Path:
    return html_dir / f"{doc}.html"


def was_executed(nb) -> bool:
    """Whether a notebook was ever run: some code cell has outputs or an execution count."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    return any(c.get("outputs") or c.get("execution_count") is not None for c in code)
