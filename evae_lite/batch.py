"""Headless batch runs: re-execute chapters with papermill at a chosen scale.

    python -m evae_lite.batch --scale smoke                   # every chapter -> _executed/smoke
    python -m evae_lite.batch --scale book book/02_*.ipynb --inplace   # refresh committed outputs

Writes the executed notebooks and each chapter's figure files (EVAE_LITE_FIGURES), shows a
progress bar over chapters, and exits non-zero if any chapter fails (the others still run).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from .runs.scales import SCALE_NAMES

ROOT = Path(__file__).resolve().parent.parent


def chapters(paths: list[str] | None = None) -> list[Path]:
    """The chapters to run: the given paths, else every book/*.ipynb in name order."""
    if paths:
        out = [Path(p) for p in paths]
        missing = [str(p) for p in out if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"no such chapter: {', '.join(missing)}")
        return out
    return sorted((ROOT / "book").glob("[0-9]*.ipynb"))


def strip_injected(path: Path) -> None:
    """Remove papermill's injected-parameters cells, keeping every other cell and output."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    if len(cells) != len(nb.cells):
        nb.cells = cells
        nbformat.write(nb, path)


@contextmanager
def _kernel_env(fig_dir: Path, scale: str):
    """The environment the chapters' kernels inherit while one runs, restored after it: the
    figures' folder, the scale, no live progress widgets, and this very package first on
    the path (not another installed copy of it)."""
    pkg_root = str(Path(__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH", "")
    kernel = {
        "EVAE_LITE_FIGURES": str(fig_dir),
        "EVAE_LITE_SCALE": scale,
        "EVAE_LITE_BATCH": "1",  # no live progress widgets in saved notebooks
        "PYTHONPATH": path
        if pkg_root in path.split(os.pathsep)
        else os.pathsep.join(p for p in (pkg_root, path) if p),
    }
    with environment(kernel):
        yield


@contextmanager
def environment(values: dict[str, str]):
    """`values` set in os.environ while the block runs (child processes inherit them), and
    the variables as they were after it, unset where they were unset."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run(paths, scale: str, out_dir: Path | None, inplace: bool = False, timeout=None) -> int:
    import papermill as pm
    from tqdm.auto import tqdm

    if scale not in SCALE_NAMES:
        raise ValueError(f"scale={scale!r} is not allowed: choose one of {', '.join(SCALE_NAMES)}")
    failed = []
    bar = tqdm(paths, desc=f"chapters ({scale})", unit="chapter")
    for nb in bar:
        bar.set_postfix_str(nb.name)
        target = nb if inplace else out_dir / nb.name
        target.parent.mkdir(parents=True, exist_ok=True)
        fig_dir = (out_dir or ROOT / "_executed" / scale) / "figures" / nb.stem
        t0 = time.perf_counter()
        try:
            with _kernel_env(fig_dir, scale):
                pm.execute_notebook(
                    str(nb),
                    str(target),
                    # In place, the scale comes from the environment: an injected cell saying
                    # scale="book" would make the committed chapter ignore EVAE_LITE_SCALE.
                    parameters={} if inplace else {"scale": scale},
                    cwd=str(nb.parent),
                    kernel_name="python3",
                    progress_bar=False,
                    execution_timeout=timeout,
                )
            if inplace:
                strip_injected(target)
            status = "ok"
        except Exception as e:  # papermill raises PapermillExecutionError with the cell
            failed.append(nb.name)
            status = f"FAILED: {type(e).__name__}: {str(e).strip().splitlines()[-1][:200]}"
        bar.write(f"{nb.name}: {status} ({time.perf_counter() - t0:.0f} s) -> {target}")
    if failed:
        print(f"{len(failed)} of {len(paths)} chapters failed: {', '.join(failed)}")
        return 1
    print(f"all {len(paths)} chapters ran at scale={scale}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m evae_lite.batch", description=__doc__)
    p.add_argument("chapters", nargs="*", help="notebooks (default: every book/NN_*.ipynb)")
    p.add_argument("--scale", default="smoke", help=f"one of {', '.join(SCALE_NAMES)}")
    p.add_argument("--out", default=None, help="output directory (default _executed/<scale>)")
    p.add_argument("--inplace", action="store_true", help="overwrite the chapters themselves")
    p.add_argument("--timeout", type=int, default=None, help="seconds per cell")
    a = p.parse_args(argv)
    try:
        paths = chapters(a.chapters)
        out = Path(a.out) if a.out else (None if a.inplace else ROOT / "_executed" / a.scale)
        return run(paths, a.scale, out, a.inplace, a.timeout)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
