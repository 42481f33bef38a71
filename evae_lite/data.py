"""Data sets for the experiments: MNIST and a face set (Olivetti, or TFD when available).

Every loader returns a :class:`Splits` with flattened float32 images in [0, 1]. Data come
either from a checked offline copy (``EVAE_LITE_DATA`` or ``data_dir``) or are downloaded
with pooch into a cache and checked against published hashes. Any problem with a file
raises :class:`DataError` naming the file, so a bad copy never trains a model silently.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "DataError",
    "Splits",
    "load_mnist",
    "load_faces",
    "load_dataset",
    "data_dir_from_env",
    "DATASETS",
    "MNIST_FILES",
    "MNIST_NPZ_SHA256",
    "OLIVETTI_NPZ_SHA256",
    "OLIVETTI_MAT",
]

# Offline copies (see shared/data/README.md); checked by sha256 unless the user opts out.
MNIST_NPZ = "mnist.npz"
MNIST_NPZ_SHA256 = "acbe1579fba70dd5a9628e963b8b21101b5d97da5a6f31747bfc804d87f3fd62"
OLIVETTI_NPZ = "olivetti_faces.npz"
OLIVETTI_NPZ_SHA256 = "7b070875710e6a7f084b264d308d6b1bcbcfab2ea6881d49caa2eee631691f70"

# Official MNIST files and their md5 sums; a module-level table so tests can swap it.
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
MNIST_FILES: dict[str, tuple[str, str]] = {
    "train_images": ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train_labels": ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    "test_images": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
}

# Roweis' olivettifaces.mat, as downloaded by scikit-learn's fetch_olivetti_faces
# (URL and sha256 copied from sklearn/datasets/_olivetti_faces.py, RemoteFileMetadata FACES).
OLIVETTI_MAT: dict[str, str] = {
    "fname": "olivettifaces.mat",
    "url": "https://ndownloader.figshare.com/files/5976027",
    "known_hash": "sha256:b612fb967f2dc77c9c62d3e1266e0c73d5fca46a4b8906c18e454d41af987794",
}

MNIST_SHAPE = (28, 28)
OLIVETTI_SHAPE = (64, 64)
OLIVETTI_SUBJECTS = 40
OLIVETTI_PER_SUBJECT = 10
TFD_FOLD = 0  # which of TFD's five folds defines the split

# Environment variables read by this module.
ENV_DATA = "EVAE_LITE_DATA"
ENV_SKIP_SHA = "EVAE_LITE_SKIP_SHA"
ENV_CACHE = "EVAE_LITE_CACHE"
ENV_MNIST_URL = "EVAE_LITE_MNIST_URL"
ENV_TFD = "EVAE_LITE_TFD"

_HOW_TO_PROVIDE = (
    f"set {ENV_DATA} to a directory holding the offline copies (e.g. shared/data), "
    "or run on a machine with internet access so the files can be downloaded"
)


class DataError(ValueError):
    """A data file is missing, corrupt, or does not hold what the loader expects."""


@dataclass
class Splits:
    """Train/validation/test images of one data set, flattened row-major to (N, H*W)."""

    name: str
    train: torch.Tensor = field(repr=False)
    val: torch.Tensor = field(repr=False)
    test: torch.Tensor = field(repr=False)
    train_labels: torch.Tensor | None = field(repr=False)
    val_labels: torch.Tensor | None = field(repr=False)
    test_labels: torch.Tensor | None = field(repr=False)
    image_shape: tuple[int, int]
    binary: bool  # True: Bernoulli decoder + dynamic binarization; False: Gaussian decoder
    source: str

    @property
    def sizes(self) -> tuple[int, int, int]:
        """Number of train, validation and test images."""
        return len(self.train), len(self.val), len(self.test)


# ----------------------------------------------------------------------------- helpers


def data_dir_from_env() -> Path | None:
    """The offline data directory named by ``EVAE_LITE_DATA``, or None when unset/empty."""
    value = os.environ.get(ENV_DATA, "").strip()
    return Path(value).expanduser() if value else None


def _resolve_data_dir(data_dir: str | os.PathLike | None) -> tuple[Path | None, str]:
    """Pick the offline directory (argument first, then env) and describe where it came from."""
    if data_dir is not None:
        return Path(data_dir).expanduser(), "data_dir"
    env_dir = data_dir_from_env()
    return env_dir, ENV_DATA


def _resolve_verify(verify: bool | None) -> bool:
    """Hash checks are on unless switched off by ``verify=False`` or ``EVAE_LITE_SKIP_SHA=1``."""
    if verify is not None:
        return bool(verify)
    return os.environ.get(ENV_SKIP_SHA, "").strip().lower() not in ("1", "true", "yes")


def _resolve_cache_dir(cache_dir: str | os.PathLike | None) -> Path:
    """Download cache: argument, else ``EVAE_LITE_CACHE``, else pooch's per-user cache."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env_cache = os.environ.get(ENV_CACHE, "").strip()
    if env_cache:
        return Path(env_cache).expanduser()
    import pooch

    return Path(pooch.os_cache("evae_lite"))


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_file(path: Path, expected_sha256: str, verify: bool) -> str:
    """Ensure the file exists and (when verifying) has the expected hash; return a note."""
    if not path.is_file():
        raise DataError(f"data file not found: {path}; {_HOW_TO_PROVIDE}")
    if not verify:
        return "sha256 not checked"
    actual = sha256_file(path)
    if actual != expected_sha256:
        raise DataError(
            f"sha256 mismatch for {path}: expected {expected_sha256}, got {actual}. "
            f"The file is corrupt or a different copy; replace it, or pass verify=False "
            f"(or set {ENV_SKIP_SHA}=1) to use your own copy."
        )
    return "sha256 ok"


def _read_npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Read the named arrays from an npz file, turning any read failure into DataError."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in keys if k not in npz.files]
            if missing:
                raise DataError(
                    f"{path} lacks key(s) {missing}; expected keys {list(keys)}, "
                    f"found {sorted(npz.files)}"
                )
            return {k: np.asarray(npz[k]) for k in keys}
    except DataError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as e:
        raise DataError(f"cannot read {path} as an npz archive ({type(e).__name__}: {e})") from e


def _check_images(
    images: np.ndarray, what: str, file: str | Path, hw: tuple[int, int] | None
) -> None:
    """Images must be uint8 of shape (N, H, W), with (H, W) == hw when given."""
    if images.dtype != np.uint8:
        raise DataError(f"{file}: {what} has dtype {images.dtype}, expected uint8")
    if images.ndim != 3 or images.shape[0] == 0 or (hw is not None and images.shape[1:] != hw):
        want = f"(N, {hw[0]}, {hw[1]})" if hw is not None else "(N, H, W)"
        raise DataError(f"{file}: {what} has shape {images.shape}, expected {want}")


def _check_labels(labels: np.ndarray, what: str, file: str | Path, n: int, n_classes: int) -> None:
    """Labels must be integers in 0..n_classes-1, one per image."""
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{file}: {what} has dtype {labels.dtype}, expected an integer type")
    if labels.shape != (n,):
        raise DataError(f"{file}: {what} has shape {labels.shape}, expected ({n},)")
    if n and (labels.min() < 0 or labels.max() >= n_classes):
        raise DataError(
            f"{file}: {what} has values in {labels.min()}..{labels.max()}, "
            f"expected 0..{n_classes - 1}"
        )


def _flat(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(N, H, W) images in [0, 1] -> contiguous float32 (N, H*W)."""
    x = torch.as_tensor(images, dtype=torch.float32)
    return x.reshape(x.shape[0], -1).contiguous()


def _labels(labels: np.ndarray | None) -> torch.Tensor | None:
    return None if labels is None else torch.as_tensor(labels.astype(np.int64))


# ----------------------------------------------------------------------------- MNIST


def _parse_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    """Parse a gzip-compressed idx file (big-endian header, uint8 payload) with numpy."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"cannot decompress {path} ({type(e).__name__}: {e})") from e
    header_len = 4 * (1 + ndim)
    if len(raw) < header_len:
        raise DataError(f"{path} is too short to be an idx file ({len(raw)} bytes)")
    header = np.frombuffer(raw, dtype=">i4", count=1 + ndim)
    if int(header[0]) != magic:
        raise DataError(f"{path}: bad idx magic number {int(header[0])}, expected {magic}")
    dims = tuple(int(d) for d in header[1:])
    expected = header_len + int(np.prod(dims))
    if len(raw) != expected:
        raise DataError(
            f"{path}: idx header says dims {dims} ({expected} bytes) but the file has "
            f"{len(raw)} bytes"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(dims).copy()


def _download(url: str, known_hash: str | None, fname: str, cache: Path) -> Path:
    """Fetch one file with pooch (reusing a cached copy whose hash matches)."""
    import pooch

    try:
        return Path(
            pooch.retrieve(url, known_hash=known_hash, fname=fname, path=cache, progressbar=False)
        )
    except ValueError as e:  # pooch's hash mismatch
        raise DataError(f"download of {fname} from {url} failed its checksum: {e}") from e
    except OSError as e:  # requests' errors derive from OSError (IOError)
        raise DataError(
            f"could not download {fname} from {url} ({type(e).__name__}: {e}); {_HOW_TO_PROVIDE}"
        ) from e


def _mnist_from_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read and validate the offline MNIST npz."""
    arrays = _read_npz(path, ("x_train", "y_train", "x_test", "y_test"))
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        _check_images(x, f"x_{part}", path, MNIST_SHAPE)
        _check_labels(y, f"y_{part}", path, len(x), 10)
    return arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"]


def _mnist_from_download(
    cache: Path, base_url: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Download (or reuse from cache) the four idx files and parse them."""
    base_url = base_url if base_url.endswith("/") else base_url + "/"
    paths = {
        role: _download(base_url + fname, f"md5:{md5}" if md5 else None, fname, cache)
        for role, (fname, md5) in MNIST_FILES.items()
    }
    out = []
    for part in ("train", "test"):
        x = _parse_idx(paths[f"{part}_images"], 2051, 3)
        y = _parse_idx(paths[f"{part}_labels"], 2049, 1)
        _check_images(x, "images", paths[f"{part}_images"], MNIST_SHAPE)
        _check_labels(y, "labels", paths[f"{part}_labels"], len(x), 10)
        out += [x, y]
    return out[0], out[1], out[2], out[3]


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    verify: bool | None = None,
    n_val: int = 10000,
) -> Splits:
    """MNIST with the standard split: first 50k training images train, last 10k validate.

    Reads ``<data_dir>/mnist.npz`` (or the directory in ``EVAE_LITE_DATA``) when given,
    checked by sha256 unless ``verify=False``/``EVAE_LITE_SKIP_SHA=1``; otherwise downloads
    the official idx files from ``base_url`` (else ``EVAE_LITE_MNIST_URL``, else the
    default mirror) into the cache, checked by md5. ``n_val`` is the number of training
    images held out for validation (taken from the end of the training set).
    """
    directory, origin = _resolve_data_dir(data_dir)
    if directory is not None:
        path = directory / MNIST_NPZ
        note = _check_file(path, MNIST_NPZ_SHA256, _resolve_verify(verify))
        x_train, y_train, x_test, y_test = _mnist_from_npz(path)
        source = f"{origin}={path} ({note})"
    else:
        url = base_url or os.environ.get(ENV_MNIST_URL, "").strip() or MNIST_URL
        cache = _resolve_cache_dir(cache_dir)
        x_train, y_train, x_test, y_test = _mnist_from_download(cache, url)
        source = f"downloaded from {url} (md5 ok), cached in {cache}"

    if not isinstance(n_val, (int, np.integer)) or not 0 < n_val < len(x_train):
        raise ValueError(f"n_val must be an int in 1..{len(x_train) - 1}, got {n_val!r}")
    n_train = len(x_train) - n_val
    x = _flat(x_train) / 255.0
    xt = _flat(x_test) / 255.0
    return Splits(
        name="mnist",
        train=x[:n_train].contiguous(),
        val=x[n_train:].contiguous(),
        test=xt,
        train_labels=_labels(y_train[:n_train]),
        val_labels=_labels(y_train[n_train:]),
        test_labels=_labels(y_test),
        image_shape=MNIST_SHAPE,
        binary=True,
        source=source,
    )


# ----------------------------------------------------------------------------- faces


def _check_size(size: Any) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 8 <= size <= 64:
        raise ValueError(f"size must be an int in 8..64, got {size!r}")
    return int(size)


def _resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """(N, H, W) float images -> (N, size, size) by area averaging (no-op at native size)."""
    if images.shape[1:] == (size, size):
        return images
    out = F.interpolate(images[:, None], size=(size, size), mode="area")[:, 0]
    return out.clamp_(0.0, 1.0)


def _minmax(images: np.ndarray) -> torch.Tensor:
    """Scale to [0, 1] by the global min and max, as scikit-learn does for Olivetti."""
    x = torch.as_tensor(images, dtype=torch.float32)
    x = x - x.min()
    return x / x.max().clamp_min(1e-12)


def _olivetti_from_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read and validate the offline Olivetti npz (upright uint8 images, subject ids)."""
    arrays = _read_npz(path, ("images", "subjects"))
    images, subjects = arrays["images"], arrays["subjects"]
    _check_images(images, "images", path, OLIVETTI_SHAPE)
    _check_labels(subjects, "subjects", path, len(images), OLIVETTI_SUBJECTS)
    return images, subjects


def _olivetti_from_download(cache: Path) -> tuple[np.ndarray, np.ndarray, Path]:
    """Download Roweis' olivettifaces.mat and convert it like scikit-learn."""
    spec = OLIVETTI_MAT
    path = _download(spec["url"], spec.get("known_hash") or None, spec["fname"], cache)
    mfile = _loadmat(path)
    if "faces" not in mfile:
        raise DataError(f"{path} lacks the key 'faces'; found {sorted(_public_keys(mfile))}")
    faces = np.asarray(mfile["faces"])
    n = OLIVETTI_SUBJECTS * OLIVETTI_PER_SUBJECT
    if faces.shape != (OLIVETTI_SHAPE[0] * OLIVETTI_SHAPE[1], n):
        raise DataError(f"{path}: 'faces' has shape {faces.shape}, expected (4096, {n})")
    if not np.issubdtype(faces.dtype, np.number) or not np.isfinite(faces).all():
        raise DataError(f"{path}: 'faces' must hold finite numbers, got dtype {faces.dtype}")
    # Columns are images stored column-major: transpose to (400, 64, 64) upright faces.
    images = faces.T.reshape((n, *OLIVETTI_SHAPE)).transpose(0, 2, 1)
    subjects = np.repeat(np.arange(OLIVETTI_SUBJECTS), OLIVETTI_PER_SUBJECT)
    return images, subjects, path


def _split_by_subject(subjects: np.ndarray, file: str | Path) -> tuple[np.ndarray, ...]:
    """Per subject, images 0-6 train, 7 validation, 8-9 test (in the order they appear)."""
    counts = np.bincount(subjects, minlength=OLIVETTI_SUBJECTS)
    if len(counts) != OLIVETTI_SUBJECTS or not (counts == OLIVETTI_PER_SUBJECT).all():
        raise DataError(
            f"{file}: expected {OLIVETTI_PER_SUBJECT} images for each of "
            f"{OLIVETTI_SUBJECTS} subjects, got counts {counts.tolist()}"
        )
    rank = np.empty(len(subjects), dtype=np.int64)
    for s in range(OLIVETTI_SUBJECTS):
        idx = np.flatnonzero(subjects == s)
        rank[idx] = np.arange(len(idx))
    return rank < 7, rank == 7, rank >= 8


def _public_keys(mfile: dict[str, Any]) -> list[str]:
    return [k for k in mfile if not k.startswith("__")]


def _loadmat(path: Path) -> dict[str, Any]:
    """scipy.io.loadmat with read failures turned into DataError."""
    import scipy.io

    try:
        return scipy.io.loadmat(path)
    except NotImplementedError as e:  # MATLAB v7.3 (HDF5) files
        raise DataError(f"{path} is a MATLAB v7.3 file; save it as v7 or older ({e})") from e
    except (ValueError, OSError, TypeError, scipy.io.matlab.MatReadError) as e:
        raise DataError(f"cannot read {path} as a .mat file ({type(e).__name__}: {e})") from e


def _load_tfd(path: Path, size: int) -> Splits:
    """Toronto Face Database .mat: ``images`` (N, H, W) uint8, ``folds`` (N, 5).

    Fold 0 defines the split: 0 (unlabeled) and 1 go to train, 2 to validation, 3 to test.
    Labels are the identities in ``labs_id`` when present, else None.
    """
    if not path.is_file():
        raise DataError(f"TFD file not found: {path} (from tfd_path or {ENV_TFD})")
    mfile = _loadmat(path)
    missing = [k for k in ("images", "folds") if k not in mfile]
    if missing:
        raise DataError(
            f"{path} lacks key(s) {missing}; expected 'images' (N, 48, 48) uint8 and "
            f"'folds' (N, 5); found {sorted(_public_keys(mfile))}"
        )
    images, folds = np.asarray(mfile["images"]), np.asarray(mfile["folds"])
    _check_images(images, "images", path, None)
    if folds.ndim != 2 or folds.shape[0] != len(images) or folds.shape[1] <= TFD_FOLD:
        raise DataError(f"{path}: 'folds' has shape {folds.shape}, expected ({len(images)}, 5)")
    fold = folds[:, TFD_FOLD]
    if not np.isin(fold, (0, 1, 2, 3)).all():
        raise DataError(f"{path}: 'folds' column {TFD_FOLD} must hold values 0..3")
    masks = (np.isin(fold, (0, 1)), fold == 2, fold == 3)
    labels = None
    if "labs_id" in mfile:
        labels = np.asarray(mfile["labs_id"]).reshape(-1)
        if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.number):
            raise DataError(
                f"{path}: 'labs_id' has shape {labels.shape}, expected ({len(images)},)"
            )
    x = _flat(_resize(torch.as_tensor(images, dtype=torch.float32) / 255.0, size))
    parts = [x[torch.from_numpy(m)] for m in masks]
    labs = [None if labels is None else _labels(labels[m]) for m in masks]
    return Splits(
        name="tfd",
        train=parts[0],
        val=parts[1],
        test=parts[2],
        train_labels=labs[0],
        val_labels=labs[1],
        test_labels=labs[2],
        image_shape=(size, size),
        binary=False,
        source=f"TFD {path} (fold {TFD_FOLD})",
    )


def load_faces(
    data_dir: str | os.PathLike | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    size: int = 48,
    tfd_path: str | os.PathLike | None = None,
    verify: bool | None = None,
) -> Splits:
    """Faces for the TFD chapter: TFD when available, else the public Olivetti faces.

    With ``tfd_path`` (or ``EVAE_LITE_TFD``) the Toronto Face Database is loaded
    (name "tfd"). Otherwise Olivetti comes from ``<data_dir>/olivetti_faces.npz`` (or
    ``EVAE_LITE_DATA``), checked by sha256, or is downloaded like scikit-learn does.
    Olivetti is scaled to [0, 1] by its global min/max (as scikit-learn does, so both
    sources give the same tensors), resized to ``size`` x ``size`` by area averaging,
    and split per subject: images 0-6 train, 7 validation, 8-9 test (280/40/80).
    """
    size = _check_size(size)
    if tfd_path is None and os.environ.get(ENV_TFD, "").strip():
        tfd_path = os.environ[ENV_TFD].strip()
    if tfd_path is not None:
        return _load_tfd(Path(tfd_path).expanduser(), size)

    directory, origin = _resolve_data_dir(data_dir)
    if directory is not None:
        path = directory / OLIVETTI_NPZ
        note = _check_file(path, OLIVETTI_NPZ_SHA256, _resolve_verify(verify))
        images, subjects = _olivetti_from_npz(path)
        source = f"{origin}={path} ({note})"
    else:
        cache = _resolve_cache_dir(cache_dir)
        images, subjects, path = _olivetti_from_download(cache)
        checked = "sha256 ok" if OLIVETTI_MAT.get("known_hash") else "hash not checked"
        source = f"downloaded from {OLIVETTI_MAT['url']} ({checked}), cached as {path}"

    train, val, test = _split_by_subject(subjects, path)
    x = _flat(_resize(_minmax(images), size))
    return Splits(
        name="faces",
        train=x[torch.from_numpy(train)],
        val=x[torch.from_numpy(val)],
        test=x[torch.from_numpy(test)],
        train_labels=_labels(subjects[train]),
        val_labels=_labels(subjects[val]),
        test_labels=_labels(subjects[test]),
        image_shape=(size, size),
        binary=False,
        source=source,
    )


# ----------------------------------------------------------------------------- registry

DATASETS: dict[str, Callable[..., Splits]] = {"mnist": load_mnist, "faces": load_faces}


def load_dataset(name: str, **kw: Any) -> Splits:
    """Load a data set by name ("mnist" or "faces"), passing keywords to its loader."""
    loader = DATASETS.get(name)
    if loader is None:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}")
    return loader(**kw)
