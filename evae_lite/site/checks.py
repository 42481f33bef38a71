"""Checks of the built pages: every page of the toc exists, loads nothing from another host,
draws every plotly figure of its notebook, and has its Colab/Binder links."""

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
        name = f"{doc}.ipynb"
        colab = re.search(
            r'href="https://colab\.research\.google\.com/github/[^"]*' + re.escape(name), text
        )
        binder = re.search(r'href="https://mybinder\.org/v2/[^"]*' + re.escape(name), text)
        if not (colab and binder):
            failures.append(f"{doc}.html lacks its Colab/Binder launch links")
    return failures
