"""Keep freed memory in the process, so hot loops do not page-fault their temporaries in anew.

glibc returns freed blocks of a few MB to the operating system at once; a loop that frees and
reallocates such temporaries every pass (the decoder on B x Y rows, a Parzen distance chunk)
then spends much of its time in page faults: a quarter of a benchmark run, measured here.
Raising glibc's trim and mmap thresholds keeps those blocks for reuse; the process keeps its
peak heap in exchange, which the chunked loops keep small.
"""

from __future__ import annotations

import ctypes

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_done: bool | None = None  # None: not tried yet


def keep_freed_memory(limit: int = 1 << 30) -> bool:
    """Set glibc's M_TRIM_THRESHOLD and M_MMAP_THRESHOLD to `limit` bytes, once per process.
    Returns False (and changes nothing) where the C library is not glibc."""
    global _done
    if _done is None:
        try:
            libc = ctypes.CDLL("libc.so.6")
            _done = bool(
                libc.mallopt(_M_TRIM_THRESHOLD, limit) and libc.mallopt(_M_MMAP_THRESHOLD, limit)
            )
        except (OSError, AttributeError):
            _done = False
    return _done
