"""Checks of the built pages: every page of the toc exists, loads nothing from another host,
draws every plotly figure of its notebook, shows its notebook's tables as tables (no Markdown
table left as a paragraph of pipes), shows nothing of the machine that built it (a path of its
folders, a test marker), and has its Colab/Binder links."""

from __future__ import annotations

import html.parser
import json
import re
from pathlib import Path
from urllib.parse import urlparse

from .pages import (
    PLOTLY_DIV,
    doc_source,
    expected_plotly_figures,
    expected_tables,
    notebook_was_executed,
    page_path,
    toc_docs,
)

PLOTLY_COUNTS = ".plotly-outputs.json"  # docname -> plotly outputs that myst-nb read


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


class _Tables(html.parser.HTMLParser):
    """What a built page shows as tables: the tables of its cell outputs (outermost ones, each
    as its number of rows), and the paragraphs that start with a pipe (a Markdown table that
    was rendered as text)."""

    def __init__(self):
        super().__init__()
        self.tables: list[int] = []
        self.pipe_paragraphs: list[str] = []
        self._divs: list[bool] = []  # open divs: whether each is a cell output
        self._table_depth = 0
        self._paragraph: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "div":
            self._divs.append("cell_output" in (dict(attrs).get("class") or "").split())
        elif tag == "table":
            self._table_depth += 1
            if self._table_depth == 1 and any(self._divs):
                self.tables.append(0)
        elif tag == "tr" and self._table_depth == 1 and any(self._divs):
            self.tables[-1] += 1
        elif tag == "p":
            self._paragraph = []

    def handle_endtag(self, tag):
        if tag == "div" and self._divs:
            self._divs.pop()
        elif tag == "table" and self._table_depth:
            self._table_depth -= 1
        elif tag == "p" and self._paragraph is not None:
            text = "".join(self._paragraph).strip()
            if text.startswith("|"):
                self.pipe_paragraphs.append(text.splitlines()[0][:80])
            self._paragraph = None

    def handle_data(self, data):
        if self._paragraph is not None:
            self._paragraph.append(data)


class _Visible(html.parser.HTMLParser):
    """The text a reader sees on a page: everything but scripts and styles."""

    HIDDEN = ("script", "style")

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        self._hidden += tag in self.HIDDEN

    def handle_endtag(self, tag):
        self._hidden -= tag in self.HIDDEN and self._hidden > 0

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


# What a page must not show: a folder of the machine that ran it, or a test marker.
MACHINE_PATH = re.compile(
    r"(?<![\w.:/~-])(?:/(?:root|home|work|tmp|usr|opt|var|private|Users|content|mnt)/[^\s'\"<>]*"
    r"|[A-Za-z]:\\[^\s'\"<>]+|[^\s'\"<>]*site-packages[^\s'\"<>]*)"
)
TEST_MARKER = re.compile(r"(?:#\s*)?NBVAL\w*", re.IGNORECASE)


def build_traces(text: str) -> list[str]:
    """The machine paths and test markers in a page's visible text, each with its context."""
    p = _Visible()
    p.feed(text)
    seen = "\n".join(p.parts)
    found = []
    for pattern, what in ((MACHINE_PATH, "a machine path"), (TEST_MARKER, "a test marker")):
        found += [(m.start(), f"{what} {m.group(0)[:60]!r}") for m in pattern.finditer(seen)]
    return [f for _, f in sorted(found)]


def page_tables(text: str) -> tuple[list[int], list[str]]:
    """A built page's tables in its cell outputs (each as its number of rows) and the
    beginnings of its paragraphs that start with a pipe."""
    p = _Tables()
    p.feed(text)
    return p.tables, p.pipe_paragraphs


def check_site(root: Path, toc: str | None = None, html_dir: Path | None = None) -> list[str]:
    """Check the built pages; returns the failures (empty: all good)."""
    html_dir = html_dir or root / "_build" / "html"
    failures = []
    for rel in ("plotly/plotly.min.js", "mathjax/tex-chtml.js", "requirejs/require.js"):
        if not (html_dir / "_static" / "vendor" / rel).is_file():
            failures.append(f"_static/vendor/{rel} is missing from {html_dir}")
    from .explorers import EXPLORERS

    for e in EXPLORERS:
        for ext in ("onnx", "json"):
            if not (html_dir / "_static" / "decoders" / f"{e.name}.{ext}").is_file():
                failures.append(f"_static/decoders/{e.name}.{ext} is missing from {html_dir}")
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
        if not notebook_was_executed(src):  # executed at build: count what it output then
            want = read_counts.get(doc, 0)
        if want != got:
            failures.append(
                f"{doc}.html has {got} plotly-graph-div(s) but {src.name} has {want} plotly "
                "figure(s): a figure was dropped (display plotly figures through "
                "evae_lite.book.show_plotly)"
            )
        for trace in build_traces(text):
            failures.append(f"{doc}.html shows {trace} (of the machine that built it)")
        tables, pipes = page_tables(text)
        for para in pipes:
            failures.append(f"{doc}.html shows a table as text, a paragraph starting {para!r}")
        if notebook_was_executed(src) and tables != expected_tables(src):
            failures.append(
                f"{doc}.html has tables of {tables} rows in its outputs but {src.name}'s "
                f"outputs hold tables of {expected_tables(src)} rows"
            )
        name = f"{doc}.ipynb"
        colab = re.search(
            r'href="https://colab\.research\.google\.com/github/[^"]*' + re.escape(name), text
        )
        binder = re.search(r'href="https://mybinder\.org/v2/[^"]*' + re.escape(name), text)
        if not (colab and binder):
            failures.append(f"{doc}.html lacks its Colab/Binder launch links")
    return failures
