"""Results cache: trained models and measurements keyed by everything that determines them.

A key is the hash of the configs, the exact training data (a content hash) and the code of
the package that computes the result (see CODE), so a chapter reuses a model another chapter
trained, a rebuild retrains nothing unchanged, and a change of code or data makes a new
entry instead of reusing a stale one. Every file is stored with its sha256; an entry whose
file does not match is reported and recomputed, never used. Training goes through the
entry's checkpoint, so an interrupted training run resumes.

The cache lives in ``EVAE_LITE_RESULTS`` (default: ``<user cache>/evae_lite/results``). An
entry it lacks is fetched from the published pack when one is configured (evae_lite.pack:
checked against the pinned manifest, then sealed here), else computed.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import shutil
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import torch

from ..data import sha256_file
from ..sealed import atomic_write, remove_temporaries, tensor_hash

# The code that determines each kind of result, as paths inside the package: every module
# under a folder counts, so a new module there changes the key without anyone listing it.
# A trained model depends on the model and its training; a measurement (a job's result) on
# everything that computes it. tests/test_cache.py checks that training and `run(job)` import
# no package module outside these sets, so no code that can change a result is left out.
# (evae_lite/pack, which fills a missing entry from the published pack, is not in them: it
# moves bytes whose sha256 the pinned manifest fixes into the entry of the key asked for.)
MODEL_CODE = ("model", "train", "memory.py", "sealed.py")
RESULT_CODE = (*MODEL_CODE, "evaluate", "runs", "data.py")
CODE = {"model": MODEL_CODE, "job": RESULT_CODE}
_PKG = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    env = os.environ.get("EVAE_LITE_RESULTS", "").strip()
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("evae_lite")) / "results"


_AST = threading.Lock()  # CPython's ast module is not safe to use from threads at once


def _code_of(path: Path) -> str:
    """A module's syntax tree without docstrings: edits to comments, docstrings or layout do
    not change it, edits to what runs do."""
    return _code_of_text(path.read_text())


@functools.lru_cache(maxsize=1024)
def _code_of_text(text: str) -> str:
    with _AST:
        return _strip_docstrings(ast.parse(text))


def _strip_docstrings(tree: ast.AST) -> str:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def code_files(kind: str = "job", root: Path | None = None) -> list[Path]:
    """The package's .py files whose code keys results of this kind, in a fixed order."""
    root = root or _PKG
    files = []
    for part in CODE.get(kind, RESULT_CODE):  # other kinds: all of the result code
        p = root / part
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    return files


def code_version(kind: str = "job", root: Path | None = None) -> str:
    """Hash of the code (and the paths) of the modules that compute results of this kind."""
    root = root or _PKG
    h = hashlib.sha256()
    for f in code_files(kind, root):
        h.update(f.relative_to(root).as_posix().encode())
        h.update(_code_of(f).encode())
    return h.hexdigest()[:16]


def _jsonable(v: Any):
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {"__type__": type(v).__name__, **dataclasses.asdict(v)}
    if isinstance(v, torch.Tensor):
        return tensor_hash(v)
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in sorted(v.items())}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def make_key(kind: str, **parts) -> str:
    """A stable hash of the kind of result, its inputs and the code version."""
    spec = {"kind": kind, "code": code_version(kind), **_jsonable(parts)}
    blob = json.dumps(spec, sort_keys=True, default=str)
    return f"{kind}-{hashlib.sha256(blob.encode()).hexdigest()[:20]}"


class Entry:
    """One cache entry: a directory with files and a manifest of their sha256 sums."""

    def __init__(self, key: str, root: Path | None = None):
        self.key = key
        self.dir = (root or cache_dir()) / key
        self.manifest = self.dir / "manifest.json"

    def valid(self) -> bool:
        """True if complete and every file matches its recorded hash. A damaged entry is
        reported and its files are moved aside (into a corrupt-* folder of the entry, kept for
        a look), so that it is recomputed from scratch and never resumed or reused."""
        if not self.manifest.exists():
            return False
        try:
            files = json.loads(self.manifest.read_text())["files"]
            ok = all(sha256_file(self.dir / f) == h for f, h in files.items())
        except (OSError, ValueError, KeyError, TypeError):
            files, ok = {}, False
        if not ok:
            aside = self._move_aside([*files, self.manifest.name])
            warnings.warn(
                f"cache entry {self.dir} is corrupt: its files are moved to {aside}; "
                "recomputing it from scratch",
                stacklevel=3,
            )
        return ok

    def _move_aside(self, names) -> Path:
        aside = self.dir / f"corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        aside.mkdir(exist_ok=True)
        for name in names:
            src = self.dir / name
            if isinstance(name, str) and src.is_file():
                os.replace(src, aside / name)
        return aside

    def seal(self, files: list[str], info: dict | None = None) -> None:
        """Record the hashes of `files`: from now on the entry counts as complete."""
        data = {"files": {f: sha256_file(self.dir / f) for f in files}, "info": info or {}}
        atomic_write(self.manifest, json.dumps(data, indent=1).encode())

    def info(self) -> dict:
        """What the manifest records besides the hashes (e.g. ``pack``, ``slim``: see
        evae_lite.pack); {} where there is none."""
        try:
            info = json.loads(self.manifest.read_text()).get("info")
        except (OSError, ValueError, AttributeError):
            return {}
        return info if isinstance(info, dict) else {}

    def clear(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


# A file that collects the key of every entry the cache serves (one a line), when set:
# `python -m evae_lite.pack write --chapters` packs what the chapters used.
RECORD_ENV = "EVAE_LITE_PACK_RECORD"


def served(e: Entry) -> None:
    """Note that `e` was used (read, fetched or computed), in the file RECORD_ENV names."""
    record = os.environ.get(RECORD_ENV, "").strip()
    if record:
        with open(record, "a") as f:  # one short appended line: whole even across processes
            f.write(e.key + "\n")


def from_pack(e: Entry, needs: tuple[str, ...], *, lock: bool = False) -> bool:
    """Whether the configured pack filled the missing entry `e` (with the files `needs`).
    Call it holding the entry's lock, or with lock=True: then it takes the lock, and only
    when a pack is configured. Off (False at once) while none is."""
    from ..pack import fetch

    if not fetch.configured():
        return False
    if not lock:
        return fetch.fetch_entry(e, needs)
    e.dir.mkdir(parents=True, exist_ok=True)
    with locked(e.dir / ".lock"):
        return e.valid() or fetch.fetch_entry(e, needs)


def cached_json(kind: str, compute: Callable[[], Any], *, root: Path | None = None, **parts):
    """A JSON-able measurement, computed once per distinct (kind, parts, code). Processes
    (or threads) that ask for the same one at once compute it once: the others wait."""
    e = Entry(make_key(kind, **parts), root)
    if e.valid():
        served(e)
        return json.loads((e.dir / "result.json").read_text())
    e.dir.mkdir(parents=True, exist_ok=True)
    with locked(e.dir / ".lock"):
        # computed by whoever held the lock before us, or in the pack
        if e.valid() or from_pack(e, ("result.json",)):
            served(e)
            return json.loads((e.dir / "result.json").read_text())
        value = compute()
        atomic_write(e.dir / "result.json", json.dumps(value, allow_nan=False).encode())
        e.seal(["result.json"], {"kind": kind})
    served(e)
    return value


def cached_train(
    model_cfg,
    train_cfg,
    x_train: torch.Tensor,
    x_val: torch.Tensor | None = None,
    *,
    binary: bool = True,
    progress: bool = True,
    root: Path | None = None,
):
    """`train.train` through the cache: returns a TrainResult, training only when needed.
    Processes that ask for the same model at once train it once: the others wait. A model
    whose run continues a shorter one in the cache (the same settings, fewer epochs at a
    constant rate) starts from that one's end instead of from scratch, to the same weights."""
    from ..train import resolve_device

    data = _data_hashes(x_train, x_val)
    e = model_entry(model_cfg, train_cfg, x_train, x_val, root)
    ckpt = e.dir / "checkpoint.pt"
    device = resolve_device(train_cfg.device)
    e.dir.mkdir(parents=True, exist_ok=True)
    with locked(e.dir / ".lock"):  # another process training this entry: wait for it
        remove_temporaries(ckpt)
        done = e.valid() or from_pack(e, ("checkpoint.pt",))
        start = None if done else _longest_prefix(model_cfg, train_cfg, data, root)
        res = _train_entry(
            e, ckpt, device, model_cfg, train_cfg, x_train, x_val, binary, progress, start
        )
    served(e)
    return res


def _data_hashes(x_train, x_val) -> dict:
    return {"x_train": tensor_hash(x_train), "x_val": None if x_val is None else tensor_hash(x_val)}


def model_entry(model_cfg, train_cfg, x_train, x_val=None, root: Path | None = None) -> Entry:
    """The cache entry of the model these configs train on these images."""
    return Entry(model_key(model_cfg, train_cfg, **_data_hashes(x_train, x_val)), root)


def model_key(model_cfg, train_cfg, *, x_train, x_val) -> str:
    """The cache key of a trained model (x_train, x_val: tensors or their tensor_hash)."""
    return make_key("model", model=model_cfg, train=train_cfg, x_train=x_train, x_val=x_val)


def _longest_prefix(model_cfg, train_cfg, data: dict, root: Path | None) -> Path | None:
    """The checkpoint of the longest cached run that this one continues, if any. A model
    fetched from the pack without Adam's moments (info ``slim``) is not continued: training on
    from it would reach other weights than the same run from the start."""
    from ..train.loop import continuing

    for epochs in range(train_cfg.epochs - 1, 0, -1):
        shorter = train_cfg.replace(epochs=epochs)
        if not continuing(model_cfg, train_cfg, shorter):
            return None
        e = Entry(model_key(model_cfg, shorter, **data), root)
        if e.manifest.exists() and e.valid() and not e.info().get("slim"):
            return e.dir / "checkpoint.pt"
    return None


@contextlib.contextmanager
def locked(path: Path):
    """An exclusive lock on `path` across processes (POSIX flock; a no-op elsewhere). The
    holder writes its process id into the file: who holds a lock can be looked up."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            f.truncate(0)
            f.write(f"{os.getpid()}\n")
            f.flush()
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _train_entry(e, ckpt, device, model_cfg, train_cfg, x_train, x_val, binary, progress, start):
    from ..sealed import from_fields
    from ..train import EpochStats, TrainResult, model_from_checkpoint, train

    if e.valid():
        model, ck = model_from_checkpoint(ckpt, map_location=device)
        where, version = f"checkpoint {ckpt}", ck.get("version")
        history = [from_fields(EpochStats, h, where, version) for h in ck["history"]]
        y = ck["y"] if model.n_epitomes > 1 else None
        return TrainResult(model, history, y)
    kw = dict(binary=binary, checkpoint=ckpt, progress=progress)
    try:
        res = train(model_cfg, train_cfg, x_train, x_val, start_from=start, **kw)
    except Exception as err:
        from ..train import CheckpointError

        if not isinstance(err, CheckpointError):
            raise
        warnings.warn(f"{err}: training again from scratch", stacklevel=2)
        ckpt.unlink(missing_ok=True)
        res = train(model_cfg, train_cfg, x_train, x_val, **kw)
    e.seal(["checkpoint.pt"], {"model": dataclasses.asdict(model_cfg)})
    return res
