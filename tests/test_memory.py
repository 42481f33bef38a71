"""keep_freed_memory sets glibc's two thresholds once per process, and fails soft elsewhere."""

from evae_lite import memory


class FakeLibc:
    def __init__(self):
        self.calls = []

    def mallopt(self, param, value):
        self.calls.append((param, value))
        return 1


def test_sets_trim_and_mmap_thresholds_once(monkeypatch):
    libc = FakeLibc()
    monkeypatch.setattr(memory, "_done", None)
    monkeypatch.setattr(memory.ctypes, "CDLL", lambda name: libc)
    assert memory.keep_freed_memory() is True
    assert memory.keep_freed_memory() is True  # the second call changes nothing
    assert libc.calls == [(-1, 1 << 30), (-3, 1 << 30)]  # M_TRIM_THRESHOLD, M_MMAP_THRESHOLD


def test_without_glibc_it_returns_false_and_does_not_retry(monkeypatch):
    tries = []

    def no_glibc(name):
        tries.append(name)
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(memory, "_done", None)
    monkeypatch.setattr(memory.ctypes, "CDLL", no_glibc)
    assert memory.keep_freed_memory() is False
    assert memory.keep_freed_memory() is False
    assert tries == ["libc.so.6"]
