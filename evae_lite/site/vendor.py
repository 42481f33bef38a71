"""The JavaScript the book serves itself: plotly.js from the plotly package; MathJax 3,
require.js, the ipywidgets HTML manager and onnxruntime-web (its WASM build, for the
explorers that decode in the browser) from the npm registry; and the book's own explorer.js;
all copied into book/_static/vendor/ (gitignored)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

from .pages import SiteError

VENDOR = Path("book/_static/vendor")
NPM_PREFIX = Path("_build/vendor-npm")
# What tex-chtml.js loads on demand: TeX extensions, CHTML fonts, menu, accessibility.
MATHJAX_PARTS = ["tex-chtml.js", "input/tex", "output/chtml", "ui", "a11y", "sre"]
# Loaded between require.js and the widget manager's embed-amd.js (see nb_ipywidgets_js).
WIDGETS_SETUP_JS = (Path(__file__).parent / "widgets_setup.js").read_text()
EXPLORER_JS = (Path(__file__).parent / "explorer.js").read_text()
# onnxruntime-web's WASM-only ES module, the module it loads, and its single WASM binary
ORT_FILES = ["ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"]


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
        "onnxruntime-web": "onnxruntime-web@1",
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
    """Install the npm packages of `npm_specs` into _build/vendor-npm/ when missing; returns
    name -> installed version."""
    prefix = root / NPM_PREFIX
    specs = npm_specs()
    missing = [s for n, s in specs.items() if not _major_ok(_npm_version(prefix, n), s)]
    if missing:
        npm = shutil.which("npm")
        if npm is None:
            raise SiteError(
                "npm is needed once to fetch MathJax, require.js, the widget manager and "
                "onnxruntime-web: install Node.js with its npm (on Debian, where no Node.js "
                "is installed: apt-get install -y nodejs npm)"
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
    """Put plotly.js, MathJax, require.js, the widget manager, onnxruntime-web and
    explorer.js into book/_static/vendor/."""
    import plotly

    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    versions = {"plotly": plotly.__version__, **npm_install(root, log)}
    versions["setup.js"] = hashlib.sha256(WIDGETS_SETUP_JS.encode()).hexdigest()[:12]
    versions["explorer.js"] = hashlib.sha256(EXPLORER_JS.encode()).hexdigest()[:12]
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
    for f in ORT_FILES:
        _copy(modules / "onnxruntime-web" / "dist" / f, dest / "onnxruntime" / f)
    (dest / "explorer").mkdir(parents=True, exist_ok=True)
    (dest / "explorer" / "explorer.js").write_text(EXPLORER_JS)
    stamp.write_text(json.dumps(versions, indent=1) + "\n")
    return dest
