"""The built book in a real browser, with no network: every page of the toc loads with no
JavaScript error and no request to another host, every plotly figure is drawn, sliders move
their figures, widgets and math render.

Builds the book once (``python -m evae_lite.site build``) unless ``_build/html`` is fresh, serves
it on 127.0.0.1 and drives Debian's chromium through playwright. Skips when playwright or
chromium is missing, unless $CI is set (then it fails). $EVAE_LITE_TOC picks another toc.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from evae_lite import site

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BUILD_TIMEOUT = 1800  # seconds; with committed outputs a build takes well under a minute


def _unavailable(reason: str):
    """Skip, or fail when running under CI (where the browser test must run)."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure)")
    pytest.skip(reason)


def _chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def _inputs() -> list[Path]:
    """Files whose change makes a build stale."""
    files = [ROOT / "_config.yml", ROOT / site.default_toc()]
    files += [p for p in (ROOT / "evae_lite" / "site").iterdir() if p.is_file()]
    vendor = ROOT / site.VENDOR
    for p in (ROOT / "book").rglob("*"):
        if p.is_file() and vendor not in p.parents and ".ipynb_checkpoints" not in p.parts:
            files.append(p)
    return files


def _fresh() -> bool:
    """Whether _build/html is from a build that passed its checks, newer than every input."""
    stamp = HTML / site.STAMP
    if os.environ.get("EVAE_LITE_REBUILD") or not stamp.is_file():
        return False
    if json.loads(stamp.read_text()).get("toc") != site.default_toc():
        return False
    built = stamp.stat().st_mtime
    return all(p.stat().st_mtime < built for p in _inputs() if p.exists())


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright)")
    exe = _chromium()
    if exe is None:
        _unavailable("chromium is not installed (apt-get update && apt-get install -y chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def built_site(browser):
    """_build/html, built once per session unless already fresh."""
    if not _fresh():
        if shutil.which("npm") is None and not (ROOT / site.VENDOR / "VERSIONS.json").exists():
            _unavailable("npm is needed to fetch MathJax/require.js/widgets for the book")
        r = subprocess.run(
            [sys.executable, "-m", "evae_lite.site", "build"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
        )
        if r.returncode != 0:
            pytest.fail(f"the book does not build:\n{r.stdout[-6000:]}\n{r.stderr[-6000:]}")
    return HTML


@pytest.fixture(scope="module")
def server(built_site):
    """An http.server on 127.0.0.1 (free port) serving _build/html; yields its base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(built_site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


# JavaScript run in the page
ALL_DRAWN = """() => [...document.querySelectorAll('.plotly-graph-div')]
    .every(d => d.querySelector('svg.main-svg'))"""
NOT_DRAWN = """() => [...document.querySelectorAll('.plotly-graph-div')]
    .map((d, i) => d.querySelector('svg.main-svg') ? -1 : i).filter(i => i >= 0)"""
WITH_SLIDERS = """() => [...document.querySelectorAll('.plotly-graph-div')]
    .map((d, i) => (d.layout && d.layout.sliders && d.layout.sliders.length) ? i : -1)
    .filter(i => i >= 0)"""
# what the figure draws: its data and the first svg (the plot, without the slider layer)
SNAPSHOT = """(i) => {
    const d = document.querySelectorAll('.plotly-graph-div')[i];
    return JSON.stringify(d.data) + d.querySelector('svg.main-svg').innerHTML;
}"""
SLIDER_STATE = """(i) => {
    const d = document.querySelectorAll('.plotly-graph-div')[i];
    const s = d._fullLayout.sliders[0];
    return {active: s.active, n: s.steps.length};
}"""
CHANGED = """([i, before]) => {
    const d = document.querySelectorAll('.plotly-graph-div')[i];
    return JSON.stringify(d.data) + d.querySelector('svg.main-svg').innerHTML !== before;
}"""
WIDGETS = """() => [...document.querySelectorAll(
        'script[type="application/vnd.jupyter.widget-view+json"]')]
    .map(s => { const p = s.previousElementSibling;
                return !!(p && p.classList.contains('widget-subarea') && p.children.length); })"""
# the tables of the cell outputs (outermost ones), each as its number of rows, and the first
# lines of the paragraphs that start with a pipe: a Markdown table shown as text
TABLES = """() => ({
    tables: [...document.querySelectorAll('.cell_output table')]
        .filter(t => !t.parentElement.closest('table'))
        .map(t => (t.getBoundingClientRect().height > 0) ? t.rows.length : -t.rows.length),
    pipes: [...document.querySelectorAll('p')].map(p => p.textContent.trim())
        .filter(s => s.startsWith('|')).map(s => s.split('\\n')[0].slice(0, 80)),
})"""
MATHJAX_DONE = """() => (window.MathJax && MathJax.startup && MathJax.startup.promise)
    ? MathJax.startup.promise.then(() => true) : true"""


def _pages():
    return site.toc_docs(ROOT)


def _offline_context(browser):
    """A browser context where every request to another host is refused; returns it and the
    list that collects those requests."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    external = []

    def route(r):
        u = urlparse(r.request.url)
        if u.scheme in ("http", "https", "ws", "wss") and u.hostname != "127.0.0.1":
            external.append(r.request.url)
            r.abort()
        else:
            r.continue_()

    context.route("**/*", route)
    return context, external


# The first block a reader sees under a page's title: prose (a paragraph, an admonition) or a
# code cell (its source or its output); plumbing cells are removed or collapsed by their tags.
FIRST_BLOCK = """() => {
  const root = document.querySelector('article') || document.querySelector('main');
  const blocks = root.querySelectorAll('section p, section div.admonition, section div.cell');
  for (const e of blocks) {
    if (e.parentElement.closest('div.admonition, div.cell')) continue;
    if (e.getBoundingClientRect().height === 0) continue;
    return e.matches('div.cell') ? 'a code cell (' + e.className + ')' : 'prose';
  }
  return 'nothing';
}"""

# Printed outputs wider than their box (a reader would have to scroll sideways to read them):
# book.css wraps them at the page's width.
WIDE_OUTPUTS = """() => Array.from(document.querySelectorAll('div.cell_output div.output pre'))
  .filter(e => e.getBoundingClientRect().height > 0 && e.scrollWidth > e.clientWidth + 1)
  .map(e => e.textContent.slice(0, 60))"""


@pytest.mark.parametrize("doc", _pages())
def test_page_offline_and_interactive(browser, server, doc):
    errors, bad_responses = [], []
    context, external = _offline_context(browser)
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("console", lambda m: m.type == "error" and errors.append(f"console: {m.text}"))
    page.on("websocket", lambda ws: external.append(ws.url))
    page.on("response", lambda r: r.status >= 400 and bad_responses.append(f"{r.status} {r.url}"))
    in_flight = _track_requests(page)
    try:
        page.goto(f"{server}/{doc}.html", wait_until="load")
        _wait_idle(page, in_flight)
        page.evaluate(MATHJAX_DONE)

        problems = []
        if page.locator(".plotly-graph-div").count():
            try:
                page.wait_for_function(ALL_DRAWN, timeout=15_000)
            except Exception:
                problems.append(f"plotly figures {page.evaluate(NOT_DRAWN)} were not drawn")
        for i in page.evaluate(WITH_SLIDERS):
            problems += _move_slider(page, i)
        if page.locator("span.math, div.math").count():
            if page.locator("mjx-container").count() == 0:
                problems.append("the page has math but MathJax rendered none of it")
        try:
            page.wait_for_function(f"() => ({WIDGETS})().every(x => x)", timeout=10_000)
        except Exception:
            problems.append(f"widgets rendered (per widget view): {page.evaluate(WIDGETS)}")
        problems += _table_problems(page, doc)
        wide = page.evaluate(WIDE_OUTPUTS)
        if wide:
            problems.append(f"printed outputs run past the page's width: {wide}")
        first = page.evaluate(FIRST_BLOCK)
        if first != "prose":
            problems.append(f"the first thing the page shows under its title is {first}, not prose")
        page.wait_for_timeout(200)  # let late errors arrive
    finally:
        context.close()

    where = f"{doc}.html"
    assert not external, f"{where} requested other hosts (must be offline): {external}"
    assert not errors, f"{where} had JavaScript errors: {errors}"
    assert not bad_responses, f"{where} had failed requests: {bad_responses}"
    assert not problems, f"{where}: " + "; ".join(problems)


def _table_problems(page, doc: str) -> list[str]:
    """The page's tables as its notebook's outputs hold them: each a visible <table> with as
    many rows as the notebook's table (header included), and no table left as a paragraph
    of pipe-separated text."""
    src = site.doc_source(ROOT, doc)
    found = page.evaluate(TABLES)
    problems = [f"a table is shown as text: a paragraph starts {p!r}" for p in found["pipes"]]
    if src.suffix == ".ipynb" and site.was_executed(_read(src)):
        want = site.pages.expected_tables(src)
        if found["tables"] != want:
            problems.append(
                f"its outputs show tables of {found['tables']} rows (negative: not visible), "
                f"but {src.name}'s outputs hold tables of {want} rows"
            )
    return problems


def _read(path: Path):
    import nbformat

    return nbformat.read(path, as_version=4)


def test_every_chapter_table_is_counted():
    """The notebooks hold the tables that the browser test counts (24 when this was written,
    on 12 of the 14 chapters): a parser that found none would let every page pass."""
    counts = [site.pages.expected_tables(site.doc_source(ROOT, d)) for d in _pages()]
    assert sum(len(c) for c in counts) >= 20
    assert all(rows >= 2 for c in counts for rows in c), counts


def _track_requests(page) -> set:
    """The requests of the page still in flight (chromium's own 'networkidle' proved flaky)."""
    in_flight = set()
    page.on("request", lambda r: in_flight.add(r))
    page.on("requestfinished", lambda r: in_flight.discard(r))
    page.on("requestfailed", lambda r: in_flight.discard(r))
    return in_flight


def _wait_idle(page, in_flight: set, quiet_ms: int = 500, timeout_s: float = 20) -> None:
    """Wait until no request has been in flight for quiet_ms (at most timeout_s)."""
    deadline, quiet = time.monotonic() + timeout_s, 0
    while quiet < quiet_ms and time.monotonic() < deadline:
        page.wait_for_timeout(100)
        quiet = quiet + 100 if not in_flight else 0


def _move_slider(page, i: int) -> list[str]:
    """Click the far end of figure i's slider rail; the figure must change."""
    fig = page.locator(".plotly-graph-div").nth(i)
    fig.scroll_into_view_if_needed()
    state = page.evaluate(SLIDER_STATE, i)
    if state["n"] < 2:
        return []
    rail = fig.locator(".slider-rail-touch-rect").first
    box = rail.bounding_box()
    if box is None:
        return [f"figure {i}: its slider has no rail to click"]
    to_end = state["active"] < state["n"] - 1
    x = box["x"] + (box["width"] - 3 if to_end else 3)
    before = page.evaluate(SNAPSHOT, i)
    page.mouse.click(x, box["y"] + box["height"] / 2)
    try:
        page.wait_for_function(CHANGED, arg=[i, before], timeout=5_000)
    except Exception:
        return [
            f"figure {i}: moving its slider (step {state['active']} of {state['n']}) did "
            "not change the figure"
        ]
    after = page.evaluate(SLIDER_STATE, i)
    if after["active"] == state["active"]:
        return [f"figure {i}: the slider did not move"]
    return []


def test_the_repository_url_has_one_source():
    """_config.yml's repository.url makes the launch buttons; every chapter's install cell
    (which runs before the package exists, so it cannot import the URL) must name the same,
    at a release tag (tests/test_install_cell.py: the tag of the package's version)."""
    import json

    import yaml

    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    want = f'url = "evae-lite @ git+{url}@v'
    for nb in sorted((ROOT / "book").glob("[0-9]*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        install = next(c for c in cells if "install" in c["metadata"].get("tags", []))
        assert want in "".join(install["source"]), f"{nb.name} installs from another URL"


EXPLORER_READY = """(name) => new Promise(res => {
    const t = setInterval(() => {
        const e = window.evaeExplorers && window.evaeExplorers[name];
        if (e && e.ready) { clearInterval(t); e.ready.then(() => res(true), err => res('' + err)); }
    }, 20);
})"""
PIXELS = "(name) => window.evaeExplorers[name].pixels()"
SET_POINT = "([name, u, v, choice]) => window.evaeExplorers[name].set(u, v, choice)"


def _decoded_ink(name: str, scale: str, u: float, v: float, choice) -> list[float]:
    """What the page must draw for (u, v): 1 - the PyTorch decoder's mean (ink is black)."""
    import torch

    from evae_lite.runs import trained
    from evae_lite.site.decoders import DecoderMean, plane_point
    from evae_lite.site.explorers import by_name

    e = by_name(name)
    model = trained(e.job(scale)).model.cpu().eval()
    dims = tuple(model.masks[choice].nonzero()[:, 0].tolist()) if e.model == "evae" else choice
    with torch.no_grad():
        x = DecoderMean(model)(plane_point(e.D, dims, u, v))
    return (1 - x[0]).tolist()


@pytest.mark.parametrize("name", [e.name for e in site.explorers.EXPLORERS])
def test_explorer_decodes_in_the_browser_what_pytorch_decodes(browser, server, name):
    """Dragging the point changes the image; for fixed points the canvas holds the PyTorch
    decoder's image to 1/255 on every pixel. Writes the page's weight and its time to the
    first decoded image to _build/explorers.json."""
    e = site.explorers.by_name(name)
    sizes = {}
    context, external = _offline_context(browser)
    page = context.new_page()
    page.on("response", lambda r: sizes.__setitem__(r.url, len(r.body()) if r.ok else 0))
    try:
        page.goto(f"{server}/book/{e.chapter}.html", wait_until="load")
        ready = page.evaluate(EXPLORER_READY, name)
        assert ready is True, f"the explorer {name} did not start: {ready}"
        meta = page.evaluate("(n) => window.evaeExplorers[n].meta", name)
        first_ms = page.evaluate("(n) => window.evaeExplorers[n].firstImageMs", name)

        pad = page.locator(f'.evae-explorer[data-name="{name}"] canvas.evae-explorer-pad')
        pad.scroll_into_view_if_needed()
        box = pad.bounding_box()
        before = page.evaluate(PIXELS, name)
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + 0.85 * box["width"], box["y"] + 0.2 * box["height"], steps=8)
        page.mouse.up()
        page.wait_for_function(
            "([n, b]) => JSON.stringify(window.evaeExplorers[n].pixels()) !== b",
            arg=[name, json.dumps(before)],
            timeout=10_000,
        )

        cases = [(0.0, 0.0), (1.3, -0.7), (-2.2, 2.5)]
        choices = [1, len(meta["epitomes"]) - 1] if e.model == "evae" else [meta["units"][:2]]
        worst = 0.0
        for choice in choices:
            for u, v in cases:
                page.evaluate(SET_POINT, [name, u, v, choice])
                gray = page.evaluate(PIXELS, name)[0::4]  # R of RGBA: the canvas is grey
                want = _decoded_ink(name, meta["scale"], u, v, choice)
                worst = max(worst, max(abs(g / 255 - w) for g, w in zip(gray, want)))
        assert worst <= 1 / 255 + 1e-6, f"a pixel is {worst * 255:.2f}/255 off PyTorch's image"
    finally:
        context.close()
    assert not external, f"the explorer requested other hosts: {external}"
    weight = {k: v for k, v in sizes.items() if "/_static/vendor/onnxruntime/" in k}
    weight.update({k: v for k, v in sizes.items() if f"/_static/decoders/{name}." in k})
    out = ROOT / "_build" / "explorers.json"
    record = json.loads(out.read_text()) if out.is_file() else {}
    record[name] = dict(
        first_image_ms=round(first_ms),
        runtime_bytes=sum(v for k, v in weight.items() if "onnxruntime" in k),
        model_bytes=sum(v for k, v in weight.items() if "decoders" in k),
        scale=meta["scale"],
        worst_pixel=round(worst * 255, 3),
    )
    out.write_text(json.dumps(record, indent=1) + "\n")


def test_without_the_runtime_the_explorer_says_why_and_the_sliders_stay(browser, server):
    """onnxruntime-web blocked: the explorer's status says it could not start, and the page's
    plotly sliders (the pre-rendered frames) are still drawn."""
    e = site.explorers.EXPLORERS[0]
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.route(
        "**/*",
        lambda r: r.abort() if "/onnxruntime/" in r.request.url else r.continue_(),
    )
    page = context.new_page()
    try:
        page.goto(f"{server}/book/{e.chapter}.html", wait_until="load")
        assert page.evaluate(EXPLORER_READY, e.name) is not True
        status = page.locator(f'.evae-explorer[data-name="{e.name}"] .evae-explorer-status')
        assert "could not start" in status.inner_text()
        page.wait_for_function(ALL_DRAWN, timeout=15_000)
        assert page.evaluate(WITH_SLIDERS), "the page's sliders are gone"
    finally:
        context.close()


def test_an_explorer_page_opened_from_disk_says_how_to_serve_it(browser, built_site):
    """Opened by file:// (as the build's own message suggests), chapter 7's explorers cannot
    load their ES module; each says so in a visible line with the command that serves the
    folder, and the page's plotly sliders still draw."""
    chapter = site.explorers.EXPLORERS[0].chapter
    context, external = _offline_context(browser)
    page = context.new_page()
    try:
        page.goto((built_site / "book" / f"{chapter}.html").as_uri(), wait_until="load")
        for e in site.explorers.EXPLORERS:
            status = page.locator(f'.evae-explorer[data-name="{e.name}"] .evae-explorer-status')
            status.wait_for(state="visible", timeout=10_000)
            text = status.inner_text()
            assert "opened from disk" in text, text
            assert f'python -m http.server -d "{built_site.as_posix()}"' in text, text
            assert f"http://localhost:8000/book/{chapter}.html" in text, text
        page.wait_for_function(ALL_DRAWN, timeout=15_000)
        assert page.evaluate(WITH_SLIDERS), "the page's sliders are gone"
    finally:
        context.close()
    assert not external, f"the page requested other hosts: {external}"


def test_a_page_that_shows_the_build_machine_fails_the_check():
    """Paths of the machine's folders and test markers in what a reader sees are caught;
    script text, URLs and the book's own relative paths are not."""
    from evae_lite.site.checks import build_traces

    page = (
        "<p>read from /work/shared/data/olivetti_faces.npz</p>"
        "<pre>C:\\Users\\me\\evae\\x.npz</pre><div># NBVAL_CHECK_OUTPUT</div>"
        "<p>/usr/lib/python3.11/site-packages/torch/nn.py</p>"
        '<script>var p = "/root/.cache/x";</script>'
        '<p>see https://example.org/home/a, <img src="_static/x.png"> 1/2 and a/b</p>'
    )
    found = build_traces(page)
    assert found == [
        "a machine path '/work/shared/data/olivetti_faces.npz'",
        "a machine path 'C:\\\\Users\\\\me\\\\evae\\\\x.npz'",
        "a test marker '# NBVAL_CHECK_OUTPUT'",
        "a machine path '/usr/lib/python3.11/site-packages/torch/nn.py'",
    ]
    assert build_traces("<p>the first 2,000 images of mnist.npz, 10/200 epochs</p>") == []
