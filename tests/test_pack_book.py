"""The book-scale pack, served from a local HTTP server to an empty results cache: a chapter
whose figures need trained models, and a grid chapter, execute under papermill at `book` scale
without training or measuring anything, and print the committed numbers.

Opt-in: EVAE_LITE_BOOK_PACK names a folder holding the written book-scale pack (`python -m
evae_lite.pack write --scale book --out DIR --chapters`: hundreds of MiB, so it is not part of
the repository, and CI has none). Each chapter runs in minutes.
"""

import hashlib
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACK = os.environ.get("EVAE_LITE_BOOK_PACK", "").strip()
# EVAE_LITE_BOOK_CHAPTERS (names, comma-separated) runs others, "all" every chapter
NEED_THE_PACK = [
    "07_epitome_manifolds.ipynb",  # figures of trained models: manifolds, samples, explorers
    "09_epitome_size.ipynb",  # Fig. 7's grid: 111 models, their measurements and verdicts
]
CHAPTERS = NEED_THE_PACK
_CHOSEN = os.environ.get("EVAE_LITE_BOOK_CHAPTERS", "").strip()
if _CHOSEN == "all":
    CHAPTERS = sorted(p.name for p in (ROOT / "book").glob("[0-9]*.ipynb"))
elif _CHOSEN:
    CHAPTERS = [c.strip() for c in _CHOSEN.split(",")]
# outputs that are not the chapter's numbers: plotly's HTML names its div by a fresh uuid
# (its figure is compared through its JSON), and a PNG's bytes are the renderer's
SKIP_MIME = {"text/html": "plotly", "image/png": None}

pytestmark = pytest.mark.skipif(
    not PACK, reason="EVAE_LITE_BOOK_PACK does not name a book-scale pack"
)


def _text(data) -> str:
    """An output's data as text: strings and lists of lines joined, JSON (plotly's) dumped."""
    if isinstance(data, str):
        return data
    return "".join(data) if isinstance(data, list) else json.dumps(data, sort_keys=True)


def shown(nb: dict) -> list[tuple[int, str, str]]:
    """(code cell, kind, text) for everything a code cell shows a reader, in order."""
    out = []
    code = (c for c in nb["cells"] if c["cell_type"] == "code")
    cells = [c for c in code if "injected-parameters" not in c["metadata"].get("tags", [])]
    for n, cell in enumerate(cells):
        for o in cell.get("outputs", []):
            if o["output_type"] == "stream" and o["name"] == "stdout":
                out.append((n, "stdout", "".join(o["text"])))
            elif o["output_type"] == "error":
                out.append((n, "error", o.get("ename", "") + ": " + o.get("evalue", "")))
            elif o["output_type"] in ("display_data", "execute_result"):
                for mime, data in sorted(o["data"].items()):
                    text = _text(data)
                    if mime not in SKIP_MIME or (SKIP_MIME[mime] or "") not in text:
                        out.append((n, mime, text))
    return out


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_book_chapter_runs_from_the_pack_and_prints_the_committed_numbers(
    chapter, serve, data_dir, tmp_path, monkeypatch, capsys
):
    from evae_lite.batch import run as run_chapters

    manifest = Path(PACK) / "manifest.json"
    assert manifest.is_file(), f"{PACK} holds no manifest.json: not a written pack"
    url = serve(Path(PACK))[0] + "manifest.json"
    sha = hashlib.sha256(manifest.read_bytes()).hexdigest()
    results = tmp_path / "results"
    for k, v in {
        "EVAE_LITE_RESULTS": results,
        "EVAE_LITE_PRETRAINED": 1,
        "EVAE_LITE_PACK_URL": url,
        "EVAE_LITE_PACK_SHA256": sha,
    }.items():
        monkeypatch.setenv(k, str(v))
    # the kernel draws with matplotlib's inline backend, as the committed chapters were run,
    # not with the Agg that the test session sets for itself (it shows no figure)
    monkeypatch.delenv("MPLBACKEND", raising=False)
    assert run_chapters([ROOT / "book" / chapter], "book", tmp_path / "out") == 0

    entries = {
        m.parent.name: json.loads(m.read_text()).get("info", {})
        for m in results.glob("*/manifest.json")
    }
    fetched = sum(f.stat().st_size for f in results.glob("*/*") if f.name != "manifest.json")
    with capsys.disabled():  # what a reader's first run of the chapter downloads
        print(f"\n{chapter}: {len(entries)} entries, {fetched / 2**20:.1f} MiB from the pack")
    computed = sorted(k for k, info in entries.items() if info.get("pack") != url)
    assert not computed, f"trained or measured here, not fetched: {computed}"
    assert entries or chapter not in NEED_THE_PACK, "nothing was fetched"

    committed = shown(json.loads((ROOT / "book" / chapter).read_text()))
    executed = shown(json.loads((tmp_path / "out" / chapter).read_text()))
    assert len(executed) == len(committed), "a different number of outputs"
    for (cell, kind, want), (_, _, got) in zip(committed, executed):
        assert got == want, f"code cell {cell}, {kind}: printed otherwise from the pack"
