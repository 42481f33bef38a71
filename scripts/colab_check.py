"""The Colab path, checked here: python scripts/colab_check.py [CHAPTER] [--scale S] [--pack DIR]

What a Colab reader gets, run in a fresh virtual environment against the working tree:

1. the wheel of the working tree (its tracked and unignored files, copied: nothing is written
   into the checkout);
2. a fresh venv of this Python, with torch from a local wheel (--torch) and what Colab has
   preinstalled that the chapters need (ipykernel, plotly, ipywidgets), plus papermill to run
   them; not the package's own dependencies: the install cell pulls those. Colab runs Python
   3.12; this machine's only torch wheel (/opt/wheels) is for 3.11, so the venv is 3.11 here
   (--python and --torch choose others);
3. the chapter's own install cell (the cell tagged install), run where evae_lite is not
   importable, its pip target replaced by the wheel: it must install and print nothing;
4. the chapter executed by papermill at --scale with the pack's server down: it must say so
   in one line (``evae-lite: cannot download ...``) and train (cache entries not from a pack);
5. a pack of the entries that run made (``python -m evae_lite.pack write``, the venv's
   package), served by ``python -m http.server``; the chapter again on an empty cache: every
   entry comes from the pack (nothing trained or measured), nothing is refused, and it prints
   what the first run printed.

With --pack DIR (a pack written at --scale, e.g. the book's), steps 4 and 5 check the
committed chapter instead: the chapter from that pack, served to an empty cache (every entry
fetched, nothing said, the committed chapter's printed output), then with the server down
(one line says so; everything trains and is measured here, to the same printed output).

Each step's wall time is printed; the exit status is 1 with the first check that failed.
Not in the test suite: it installs into a venv (minutes, from the package index). Set
EVAE_LITE_DATA to a folder of the data sets where the machine has no internet.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pin_install

ROOT = Path(__file__).resolve().parent.parent
TORCH_WHEEL = "/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
COLAB_HAS = ["ipykernel", "plotly", "ipywidgets", "papermill"]  # papermill: the runner
KERNEL = "evae-colab-check"
SAID = "evae-lite: "  # how the package's one-line notes on stderr begin (pack.fetch.say)


class Failed(Exception):
    """A check that did not hold."""


def step(name: str):
    print(f"== {name}", flush=True)
    return time.perf_counter()


def done(t0: float, what: str = "") -> None:
    print(f"   {time.perf_counter() - t0:.1f} s{': ' + what if what else ''}", flush=True)


def run(cmd, env=None, cwd=None, quiet=True) -> subprocess.CompletedProcess:
    """`cmd`, failing with its output when it fails."""
    p = subprocess.run(
        [str(c) for c in cmd], env=env, cwd=cwd, capture_output=quiet, text=True, check=False
    )
    if p.returncode:
        out = (p.stdout or "") + (p.stderr or "") if quiet else ""
        raise Failed(f"{' '.join(map(str, cmd[:6]))} ... exited with {p.returncode}\n{out}")
    return p


def venv_env(venv: Path, **extra) -> dict:
    """The environment of the venv's processes: nothing of this checkout on their path."""
    # nor the test session's settings (Colab draws with matplotlib's inline backend)
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "MPLBACKEND", "EVAE_LITE_SCALE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        PYTHONNOUSERSITE="1",
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


def build_wheel(tmp: Path, python: Path) -> Path:
    """The wheel of the working tree, built from a copy of its files."""
    files = run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT).stdout
    src = tmp / "src"
    for rel in filter(None, files.split("\0")):
        if (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    dist = tmp / "dist"
    # the venv's own setuptools where it has one (Python 3.11's venv does), else pip's isolation
    isolation = ["--no-build-isolation"] if _has(python, "setuptools") else []
    run([python, "-m", "pip", "wheel", "-q", "--no-deps", *isolation, "-w", dist, src])
    (wheel,) = dist.glob("evae_lite-*.whl")
    return wheel


def _has(python: Path, module: str) -> bool:
    return subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0


def install_cell(chapter: Path, wheel: Path) -> str:
    """The chapter's install cell with its pip target replaced by the wheel."""
    cells = json.loads(chapter.read_text())["cells"]
    source = "".join(cells[pin_install.install_cell(cells, chapter.name)]["source"])
    url = pin_install.install_url(pin_install.version())
    if source.count(url) != 1:
        raise Failed(f"{chapter.name}'s install cell does not name {url} once")
    return source.replace(url, str(wheel))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(folder: Path, python: Path):
    """`python -m http.server` on `folder`; the base URL, once it answers."""
    port = free_port()
    srv = subprocess.Popen(
        [python, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", folder],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "manifest.json", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise Failed(f"the pack's server at {url} did not answer")
        yield url
    finally:
        srv.terminate()
        srv.wait()


def execute(venv, chapter, out, scale, work, **env) -> dict:
    """Run the chapter with papermill in the venv; what it printed (`printed_by`)."""
    python = venv / "bin" / "python"
    cmd = [python, "-m", "papermill", chapter, out, "-p", "scale", scale, "-k", KERNEL]
    run([*cmd, "--cwd", work, "--no-progress-bar"], env=venv_env(venv, **env))
    return printed_by(json.loads(Path(out).read_text()))


def code_cells(nb: dict) -> list[dict]:
    """The chapter's code cells, without the one papermill injects for the parameters."""
    return [
        c
        for c in nb["cells"]
        if c["cell_type"] == "code"
        and "injected-parameters" not in c.get("metadata", {}).get("tags", [])
    ]


def printed_by(nb: dict) -> dict:
    """What a chapter's code cells printed, per cell: {"stdout": [...], "stderr": [...]}."""
    cells = code_cells(nb)

    def text(c, name):
        return "".join(
            "".join(o.get("text", ""))
            for o in c.get("outputs", [])
            if o.get("output_type") == "stream" and o.get("name") == name
        )

    return {name: [text(c, name) for c in cells] for name in ("stdout", "stderr")}


def first_difference(want: list[str], got: list[str]) -> str | None:
    """None when equal, else which code cell printed otherwise, both ways."""
    if want == got:
        return None
    if len(want) != len(got):
        return f"{len(got)} code cells printed, not {len(want)}"
    i = next(i for i, (a, b) in enumerate(zip(want, got)) if a != b)
    return f"code cell {i} printed otherwise:\n{want[i]}\n---\n{got[i]}"


def entries(results: Path) -> dict[str, dict]:
    """key -> the sealed info of every entry of a results cache."""
    out = {}
    for m in sorted(results.glob("*/manifest.json")):
        out[m.parent.name] = json.loads(m.read_text()).get("info", {})
    return out


def said(printed: dict) -> list[str]:
    return [line for err in printed["stderr"] for line in err.splitlines() if line.startswith(SAID)]


def shown(printed: dict) -> list[str]:
    """What the chapter printed on stdout, but the line a live kernel on a CPU adds to say
    what keeps the chapter short (it names the pack's URL; a batch run, as the committed
    chapters were made, does not print it)."""
    return [
        "\n".join(x for x in out.splitlines() if not x.startswith("CPU: "))
        for out in printed["stdout"]
    ]


def install(chapter: Path, tmp: Path, python: str, torch: str) -> tuple[Path, Path]:
    """Steps 1-3: the venv, the wheel, the chapter's install cell; (venv, working folder)."""
    venv = tmp / "venv"
    vpy = venv / "bin" / "python"
    t = step(f"a fresh venv ({python}), torch from {torch}, {', '.join(COLAB_HAS)}")
    run([python, "-m", "venv", venv])
    run([vpy, "-m", "pip", "install", "-q", torch], env=venv_env(venv))
    run([vpy, "-m", "pip", "install", "-q", *COLAB_HAS], env=venv_env(venv))
    run([vpy, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL], env=venv_env(venv))
    done(t, run([vpy, "--version"]).stdout.strip())

    t = step("the wheel of the working tree")
    wheel = build_wheel(tmp, vpy)
    done(t, wheel.name)

    t = step(f"{chapter.name}'s install cell, its target the wheel")
    work = tmp / "work"
    work.mkdir()
    cell = run([vpy, "-c", install_cell(chapter, wheel)], env=venv_env(venv), cwd=work)
    if cell.stdout or cell.stderr:
        raise Failed(f"the install cell printed:\n{cell.stdout}{cell.stderr}")
    find = [vpy, "-c", "import evae_lite; print(evae_lite.__file__)"]
    where = run(find, env=venv_env(venv), cwd=work).stdout
    if not where.startswith(str(venv)):
        raise Failed(f"the venv imports evae_lite from {where.strip()}, not its own install")
    done(t, "installed, nothing printed")
    return venv, work


def server_down(venv, chapter, scale, work, tmp) -> tuple[dict, dict, str]:
    """The chapter on an empty cache, its pack's server down: it must say so in one line and
    compute every entry; (what it printed, its entries, the line)."""
    dead = f"http://127.0.0.1:{free_port()}/manifest.json"
    results = tmp / "results-trained"
    printed = execute(
        venv,
        chapter,
        tmp / "trained.ipynb",
        scale,
        work,
        EVAE_LITE_RESULTS=results,
        EVAE_LITE_PRETRAINED=1,
        EVAE_LITE_PACK_URL=dead,
        EVAE_LITE_PACK_SHA256="0" * 64,
    )
    lines = said(printed)
    if len(lines) != 1 or "cannot download" not in lines[0] or "computing" not in lines[0]:
        raise Failed(f"expected one line saying the download failed, got {lines}")
    made = entries(results)
    if not any(k.startswith("model-") for k in made) or any("pack" in i for i in made.values()):
        raise Failed(f"expected models trained here, got {made}")
    return printed, made, lines[0]


def from_pack(venv, chapter, scale, work, tmp, pack: Path) -> tuple[dict, dict, str]:
    """The chapter on an empty cache, `pack` served: every entry fetched, nothing computed,
    nothing said; (what it printed, its entries, the line saying what keeps it short)."""
    sha = hashlib.sha256((pack / "manifest.json").read_bytes()).hexdigest()
    results = tmp / "results-fetched"
    with served(pack, venv / "bin" / "python") as url:
        printed = execute(
            venv,
            chapter,
            tmp / "fetched.ipynb",
            scale,
            work,
            EVAE_LITE_RESULTS=results,
            EVAE_LITE_PRETRAINED=1,
            EVAE_LITE_PACK_URL=url + "manifest.json",
            EVAE_LITE_PACK_SHA256=sha,
        )
    got = entries(results)
    computed = [k for k, info in got.items() if info.get("pack") != url + "manifest.json"]
    if not got or computed:
        raise Failed(f"computed here despite the pack: {computed or 'no entries at all'}")
    if said(printed):
        raise Failed(f"the pack's run said {said(printed)}")
    note = [x for out in printed["stdout"] for x in out.splitlines() if x.startswith("CPU:")]
    return printed, got, note[0] if note else "no CPU line"


def check(chapter: Path, scale: str, tmp: Path, python: str, torch: str) -> None:
    """Steps 4 and 5: trained with the server down, then from a pack of what that made."""
    t_all = time.perf_counter()
    venv, work = install(chapter, tmp, python, torch)

    t = step(f"{chapter.name} at scale={scale}, the pack's server down")
    printed1, made, line = server_down(venv, chapter, scale, work, tmp)
    device = [x for out in printed1["stdout"] for x in out.splitlines() if x.startswith("device:")]
    done(t, f"{len(made)} entries computed; said: {line}; {device[0]}")

    t = step("a pack of those entries, served; the chapter again on an empty cache")
    pack = tmp / "pack"
    write = [venv / "bin" / "python", "-m", "evae_lite.pack", "write", "--scale", scale]
    cache = ["--cache", tmp / "results-trained"]
    wrote = run([*write, "--out", pack, *cache], env=venv_env(venv), cwd=work)
    printed2, got, note = from_pack(venv, chapter, scale, work, tmp, pack)
    if set(got) != set(made):
        raise Failed(f"the pack's run used other entries: {sorted(set(got) ^ set(made))}")
    diff = first_difference(shown(printed1), shown(printed2))
    if diff:
        raise Failed(f"from the pack, {diff}")
    done(
        t,
        f"{wrote.stdout.splitlines()[0]}; all {len(got)} entries fetched, nothing trained, "
        f"the same printed output; {note}",
    )
    print(f"== passed in {time.perf_counter() - t_all:.0f} s")


def check_pack(chapter: Path, scale: str, tmp: Path, python: str, torch: str, pack: Path) -> None:
    """With a written pack (of the scale the chapter is committed at): the chapter from the
    pack served to an empty cache, fetching everything and printing the committed chapter's
    output; then with the server down, saying so in one line, training, and printing it too."""
    t_all = time.perf_counter()
    venv, work = install(chapter, tmp, python, torch)
    want = shown(printed_by(json.loads(chapter.read_text())))

    t = step(f"{chapter.name} at scale={scale}, the pack {pack.name} served, an empty cache")
    printed, got, note = from_pack(venv, chapter, scale, work, tmp, pack)
    diff = first_difference(want, shown(printed))
    if diff:
        raise Failed(f"from the pack, against the committed chapter: {diff}")
    done(
        t,
        f"all {len(got)} entries fetched, nothing trained or measured, the committed "
        f"chapter's printed output; {note}",
    )

    t = step(f"{chapter.name} at scale={scale}, the pack's server down, an empty cache")
    printed, made, line = server_down(venv, chapter, scale, work, tmp)
    if set(made) != set(got):
        raise Failed(f"the run used other entries than the pack's: {sorted(set(got) ^ set(made))}")
    diff = first_difference(want, shown(printed))
    if diff:
        raise Failed(f"trained here, against the committed chapter: {diff}")
    done(t, f"said: {line}; {len(made)} entries computed; the committed printed output")
    print(f"== passed in {time.perf_counter() - t_all:.0f} s")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("chapter", nargs="?", default=str(ROOT / "book/02_over_pruning.ipynb"))
    p.add_argument("--scale", default="smoke")
    p.add_argument("--python", default=sys.executable, help="the venv's Python (Colab: 3.12)")
    p.add_argument(
        "--torch",
        default=os.environ.get("EVAE_LITE_TORCH_WHEEL", TORCH_WHEEL),
        help="torch's wheel, or a requirement such as torch==2.13.0",
    )
    p.add_argument(
        "--pack",
        default=None,
        help="a written pack of --scale: run the chapter from it, then without it, both "
        "printing the committed chapter's output",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    a = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="evae-colab-check-"))
    try:
        if a.pack:
            pack = Path(a.pack).resolve()
            check_pack(Path(a.chapter).resolve(), a.scale, tmp, a.python, a.torch, pack)
        else:
            check(Path(a.chapter).resolve(), a.scale, tmp, a.python, a.torch)
    except Failed as err:
        print(f"FAILED: {err}", file=sys.stderr)
        return 1
    finally:
        if a.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
