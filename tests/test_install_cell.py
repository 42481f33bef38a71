"""Every chapter's install cell (what Colab runs first) installs the release of the package's
own version, the same code in every chapter, silent on success and loud on failure."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "book").glob("[0-9]*.ipynb"))


def _script():
    spec = importlib.util.spec_from_file_location("pin_install", ROOT / "scripts/pin_install.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


pin_install = _script()


def _pyproject_version() -> str:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["version"]


def _cell(path: Path, tag: str = "install") -> str:
    nb = nbformat.read(path, as_version=4)
    (cell,) = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
    return cell.source


def _install_code(path: Path) -> str:
    return _cell(path)


def test_the_script_reads_the_version_pyproject_holds():
    assert pin_install.version() == _pyproject_version()


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_each_chapter_pins_the_release_of_this_version(path):
    v = _pyproject_version()
    code = _install_code(path)
    want = f'url = "evae-lite @ git+https://github.com/evae-lite/evae-lite@v{v}"'
    assert code.count(want) == 1 and code.count("git+") == 1, (
        f"{path.name} does not pin v{v}: run python scripts/pin_install.py"
    )
    assert code == pin_install.install_code(v), f"{path.name}: run python scripts/pin_install.py"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_the_install_cell_follows_the_parameters_and_papermill_reads_them_cleanly(path, caplog):
    """The parameters cell holds parameters only, so papermill reads it without a warning
    (it once warned of the install code's lines); the install cell comes right after it,
    hidden in the book."""
    from papermill.translators import PythonTranslator

    nb = nbformat.read(path, as_version=4)
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    i = next(k for k, t in enumerate(tags) if "parameters" in t)
    assert "install" in tags[i + 1] and "remove-cell" in tags[i + 1]
    with caplog.at_level("WARNING", logger="papermill"):
        names = [p.name for p in PythonTranslator.inspect(nb.cells[i])]
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    assert names[0] == "scale" and "url" not in names


def test_the_install_code_is_the_same_in_every_chapter():
    codes = {p.name: _install_code(p) for p in CHAPTERS}
    assert len(CHAPTERS) > 10 and len(set(codes.values())) == 1, sorted(codes)


def test_pinning_changes_only_the_install_code(tmp_path):
    """An unpinned chapter gets the code, its parameters and outputs kept; a pinned one is
    left as it is."""
    src = CHAPTERS[1]
    text = src.read_text(encoding="utf-8")
    old = "git+https://github.com/evae-lite/evae-lite@v"
    assert old in text
    path = tmp_path / src.name
    unpinned = text.replace(old, "git+https://github.com/evae-lite/evae-lite@vX")
    path.write_text(unpinned, encoding="utf-8")
    assert pin_install.pin(path, "9.8.7", write=False)
    assert path.read_text(encoding="utf-8") == unpinned  # --check writes nothing
    assert pin_install.pin(path, "9.8.7")
    after = path.read_text(encoding="utf-8")
    assert "@v9.8.7" in after and not pin_install.pin(path, "9.8.7")
    assert after.replace("@v9.8.7", "@v" + _pyproject_version()) == text


def _run_cell(requirement: str) -> subprocess.CompletedProcess:
    """The first chapter's install cell in a fresh interpreter that lacks evae_lite, its
    pip target replaced by `requirement`, pip kept off the network."""
    source = _cell(CHAPTERS[0])
    url = pin_install.install_url(_pyproject_version())
    assert source.count(url) == 1
    prelude = "import importlib.util\nimportlib.util.find_spec = lambda name, *a, **k: None\n"
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return subprocess.run(
        [sys.executable, "-c", prelude + source.replace(url, requirement)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT.parent,
        timeout=120,
    )


def test_the_install_cell_says_nothing_when_pip_succeeds():
    done = _run_cell("pip")  # installed already: pip does nothing
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_the_install_cell_shows_pip_s_error(tmp_path):
    missing = tmp_path / "evae_lite-0.0.0-py3-none-any.whl"
    done = _run_cell(str(missing))
    assert done.returncode != 0
    assert f"RuntimeError: pip install {missing} failed:" in done.stderr, done.stderr
    assert "ERROR" in done.stderr and missing.name in done.stderr.split("failed:", 1)[1]
