"""Tests for evae_lite.data: real offline copies, corrupt files, downloads, TFD, names."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from evae_lite import data
from evae_lite.data import DataError, Splits, load_dataset, load_faces, load_mnist

# Captured at import, before the autouse fixture below clears the EVAE_LITE_* variables.
REAL_DATA = os.environ.get("EVAE_LITE_DATA", "").strip() or None
needs_real_data = pytest.mark.skipif(
    REAL_DATA is None, reason="EVAE_LITE_DATA not set: no offline copy of the real data sets"
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without the module's environment variables (and reaches no proxy)."""
    for var in list(os.environ):
        if var.startswith("EVAE_LITE_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def _check_splits(s: Splits, sizes: tuple[int, int, int], shape: tuple[int, int]) -> None:
    """Shared structural checks: sizes, flat float32 in [0, 1], matching int64 labels."""
    assert s.sizes == sizes
    assert s.image_shape == shape
    for x, y in ((s.train, s.train_labels), (s.val, s.val_labels), (s.test, s.test_labels)):
        assert x.dtype == torch.float32 and x.shape[1] == shape[0] * shape[1]
        assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
        if y is not None:
            assert y.dtype == torch.int64 and y.shape == (x.shape[0],)


# ----------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def real_mnist() -> Splits:
    return load_mnist(REAL_DATA)


@needs_real_data
def test_real_mnist_splits(real_mnist: Splits) -> None:
    s = real_mnist
    _check_splits(s, (50000, 10000, 10000), (28, 28))
    assert s.name == "mnist" and s.binary
    assert "sha256 ok" in s.source
    assert float(s.train.max()) == 1.0 and float(s.train.min()) == 0.0
    assert 0.12 < float(s.train.mean()) < 0.14
    # Official test-set class counts, and every class present in train and validation.
    expected_test = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert torch.bincount(s.test_labels, minlength=10).tolist() == expected_test
    assert (torch.bincount(s.train_labels, minlength=10) > 4000).all()
    assert (torch.bincount(s.val_labels, minlength=10) > 800).all()
    assert s.train_labels[:5].tolist() == [5, 0, 4, 1, 9]  # canonical order


@needs_real_data
def test_real_faces_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVAE_LITE_DATA", REAL_DATA)
    s = load_dataset("faces")
    _check_splits(s, (280, 40, 80), (48, 48))
    assert s.name == "faces" and not s.binary
    assert s.source.startswith("EVAE_LITE_DATA=") and "sha256 ok" in s.source
    assert torch.bincount(s.train_labels).tolist() == [7] * 40
    assert torch.bincount(s.val_labels).tolist() == [1] * 40
    assert torch.bincount(s.test_labels).tolist() == [2] * 40
    assert float(s.train.max()) == pytest.approx(1.0, abs=0.1)


@needs_real_data
def test_real_faces_sizes() -> None:
    full = load_faces(REAL_DATA, size=64)
    _check_splits(full, (280, 40, 80), (64, 64))
    small = load_faces(REAL_DATA, size=16)
    _check_splits(small, (280, 40, 80), (16, 16))
    # Area resizing preserves each image's mean brightness (64 is a multiple of 16).
    torch.testing.assert_close(small.test.mean(1), full.test.mean(1), atol=1e-5, rtol=0)


@pytest.mark.parametrize("size", [7, 65, 48.0, True, "48"])
def test_faces_bad_size(size: object) -> None:
    with pytest.raises(ValueError, match="size"):
        load_faces("/nonexistent", size=size)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- offline files


def _write_mnist_npz(path: Path, n_train: int = 60, n_test: int = 20, **override) -> Path:
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(n_test) % 10).astype(np.uint8),
    }
    arrays.update(override)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path / "mnist.npz", **arrays)
    return path / "mnist.npz"


def test_mnist_sha_mismatch(tmp_path: Path) -> None:
    path = _write_mnist_npz(tmp_path)
    with pytest.raises(DataError) as err:
        load_mnist(tmp_path)
    msg = str(err.value)
    assert str(path) in msg and data.MNIST_NPZ_SHA256 in msg
    assert hashlib.sha256(path.read_bytes()).hexdigest() in msg


def test_mnist_own_copy_without_verification(tmp_path: Path, monkeypatch) -> None:
    _write_mnist_npz(tmp_path)
    s = load_mnist(tmp_path, verify=False, n_val=10)
    _check_splits(s, (50, 10, 20), (28, 28))
    assert "not checked" in s.source
    monkeypatch.setenv("EVAE_LITE_SKIP_SHA", "1")
    monkeypatch.setenv("EVAE_LITE_DATA", str(tmp_path))
    s = load_mnist(n_val=10)
    assert s.source.startswith("EVAE_LITE_DATA=")
    with pytest.raises(ValueError, match="n_val"):
        load_mnist(n_val=60)


def test_mnist_truncated_npz(tmp_path: Path) -> None:
    path = _write_mnist_npz(tmp_path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match="mnist.npz"):
        load_mnist(tmp_path, verify=False)


@pytest.mark.parametrize(
    "override, expect",
    [
        ({"x_train": np.zeros((60, 27, 28), np.uint8)}, "shape"),
        ({"x_test": np.zeros((20, 28, 28), np.float32)}, "dtype"),
        ({"y_train": np.full(60, 10, np.uint8)}, "0..9"),
        ({"y_test": np.zeros(19, np.uint8)}, "shape"),
        ({"y_test": None}, "y_test"),
    ],
)
def test_mnist_bad_content(tmp_path: Path, override: dict, expect: str) -> None:
    _write_mnist_npz(tmp_path, **override)
    with pytest.raises(DataError, match=expect) as err:
        load_mnist(tmp_path, verify=False)
    assert "mnist.npz" in str(err.value)


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="EVAE_LITE_DATA") as err:
        load_mnist(tmp_path)
    assert str(tmp_path / "mnist.npz") in str(err.value)
    with pytest.raises(DataError, match="olivetti_faces.npz"):
        load_faces(tmp_path)


def test_faces_bad_subjects(tmp_path: Path) -> None:
    images = np.zeros((400, 64, 64), np.uint8)
    images[:, 0, 0] = 200
    subjects = np.repeat(np.arange(40), 10).astype(np.uint8)
    subjects[0] = 1  # subject 0 now has 9 images, subject 1 has 11
    np.savez(tmp_path / "olivetti_faces.npz", images=images, subjects=subjects)
    with pytest.raises(DataError, match="olivetti_faces.npz"):
        load_faces(tmp_path)  # hash check
    with pytest.raises(DataError, match="10 images"):
        load_faces(tmp_path, verify=False)


# ----------------------------------------------------------------------------- downloads


class _Server:
    """A local HTTP server over a directory that counts the requests it answers."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

        handler = functools.partial(Handler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[_Server]:
    root = tmp_path / "served"
    root.mkdir()
    srv = _Server(root)
    yield srv
    srv.close()


def _idx_gz(arr: np.ndarray, magic: int) -> bytes:
    header = np.array([magic, *arr.shape], dtype=">i4").tobytes()
    return gzip.compress(header + arr.astype(np.uint8).tobytes(), mtime=0)


def _serve_mnist(root: Path, n_train: int = 60, n_test: int = 20) -> dict:
    """Write four tiny idx.gz files under root; return a registry with their md5 sums."""
    rng = np.random.default_rng(1)
    files = {
        "train_images": ("tr-img.gz", _idx_gz(rng.integers(0, 256, (n_train, 28, 28)), 2051)),
        "train_labels": ("tr-lab.gz", _idx_gz(np.arange(n_train) % 10, 2049)),
        "test_images": ("te-img.gz", _idx_gz(rng.integers(0, 256, (n_test, 28, 28)), 2051)),
        "test_labels": ("te-lab.gz", _idx_gz(np.arange(n_test) % 10, 2049)),
    }
    registry = {}
    for role, (name, blob) in files.items():
        (root / name).write_bytes(blob)
        registry[role] = (name, hashlib.md5(blob).hexdigest())
    return registry


def test_mnist_download_and_cache(server: _Server, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(data, "MNIST_FILES", _serve_mnist(server.root))
    cache = tmp_path / "cache"
    s = load_dataset("mnist", cache_dir=cache, base_url=server.url, n_val=12)
    _check_splits(s, (48, 12, 20), (28, 28))
    assert s.binary and "downloaded" in s.source
    assert s.val_labels.tolist() == [i % 10 for i in range(48, 60)]
    assert len(server.requests) == 4
    assert sorted(p.name for p in cache.iterdir()) == [
        "te-img.gz",
        "te-lab.gz",
        "tr-img.gz",
        "tr-lab.gz",
    ]

    # Second call, configured through the environment: served from the cache.
    monkeypatch.setenv("EVAE_LITE_CACHE", str(cache))
    monkeypatch.setenv("EVAE_LITE_MNIST_URL", server.url)
    again = load_mnist(n_val=12)
    assert len(server.requests) == 4
    assert torch.equal(again.test, s.test)


def test_mnist_download_bad_checksum(server: _Server, tmp_path: Path, monkeypatch) -> None:
    registry = _serve_mnist(server.root)
    registry["test_labels"] = ("te-lab.gz", "0" * 32)
    monkeypatch.setattr(data, "MNIST_FILES", registry)
    with pytest.raises(DataError, match="te-lab.gz"):
        load_mnist(cache_dir=tmp_path / "cache", base_url=server.url, n_val=12)
    assert not (tmp_path / "cache" / "te-lab.gz").exists()


def test_mnist_download_bad_magic_and_missing(server: _Server, tmp_path: Path, monkeypatch) -> None:
    registry = _serve_mnist(server.root)
    blob = _idx_gz(np.zeros((20, 28, 28)), 2049)  # label magic on an image file
    (server.root / "te-img.gz").write_bytes(blob)
    registry["test_images"] = ("te-img.gz", hashlib.md5(blob).hexdigest())
    monkeypatch.setattr(data, "MNIST_FILES", registry)
    with pytest.raises(DataError, match=r"te-img\.gz.*magic"):
        load_mnist(cache_dir=tmp_path / "c1", base_url=server.url, n_val=12)

    (server.root / "tr-lab.gz").unlink()  # the server now answers 404
    with pytest.raises(DataError, match="tr-lab.gz"):
        load_mnist(cache_dir=tmp_path / "c2", base_url=server.url, n_val=12)


def test_olivetti_download(server: _Server, tmp_path: Path, monkeypatch) -> None:
    rng = np.random.default_rng(2)
    images = rng.integers(10, 200, (400, 64, 64)).astype(np.uint8)
    images[:, :32] = 0  # top half dark: a wrong transpose would darken the left half instead
    faces = images.transpose(0, 2, 1).reshape(400, 4096).T  # Roweis' column-major layout
    scipy.io.savemat(server.root / "faces.mat", {"faces": faces}, do_compression=True)
    sha = hashlib.sha256((server.root / "faces.mat").read_bytes()).hexdigest()
    spec = {"fname": "olivettifaces.mat", "url": server.url + "faces.mat", "known_hash": sha}
    monkeypatch.setattr(data, "OLIVETTI_MAT", spec)

    s = load_faces(cache_dir=tmp_path / "cache", size=64)
    _check_splits(s, (280, 40, 80), (64, 64))
    scaled = (images.astype(np.float32) - images.min()) / (images.max() - images.min())
    torch.testing.assert_close(s.train[:7], torch.from_numpy(scaled[:7].reshape(7, -1)))
    assert s.test_labels.tolist() == np.repeat(np.arange(40), 2).tolist()
    assert len(server.requests) == 1

    scipy.io.savemat(server.root / "bad.mat", {"faces": faces[:, :399]})
    monkeypatch.setattr(
        data, "OLIVETTI_MAT", dict(spec, url=server.url + "bad.mat", known_hash=None)
    )
    with pytest.raises(DataError, match=r"\(4096, 400\)"):
        load_faces(cache_dir=tmp_path / "cache2")


# ----------------------------------------------------------------------------- TFD


def _write_tfd(path: Path, **arrays) -> Path:
    scipy.io.savemat(path, arrays)
    return path


def test_tfd_synthetic(tmp_path: Path, monkeypatch) -> None:
    n = 30
    images = np.random.default_rng(3).integers(0, 256, (n, 48, 48)).astype(np.uint8)
    folds = np.zeros((n, 5), np.uint8)
    folds[:, 0] = [0] * 10 + [1] * 8 + [2] * 5 + [3] * 7
    path = _write_tfd(tmp_path / "TFD_48x48.mat", images=images, folds=folds)

    s = load_faces(tfd_path=path)
    _check_splits(s, (18, 5, 7), (48, 48))
    assert s.name == "tfd" and not s.binary and s.train_labels is None
    torch.testing.assert_close(s.test[0], torch.from_numpy(images[23].reshape(-1) / 255.0).float())

    monkeypatch.setenv("EVAE_LITE_TFD", str(path))
    small = load_dataset("faces", size=24)
    _check_splits(small, (18, 5, 7), (24, 24))

    bad = _write_tfd(tmp_path / "bad.mat", images=images)
    with pytest.raises(DataError, match=r"bad\.mat.*folds"):
        load_faces(tfd_path=bad)
    with pytest.raises(DataError, match="not found"):
        load_faces(tfd_path=tmp_path / "absent.mat")


# ----------------------------------------------------------------------------- names


def test_unknown_dataset_name() -> None:
    with pytest.raises(ValueError, match=r"'cifar'.*\['faces', 'mnist'\]"):
        load_dataset("cifar")
