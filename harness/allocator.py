"""Freed memory stays with the process (glibc): large CPU tensors stop paying page faults on every batch.

glibc's ``malloc`` serves blocks above its mmap threshold (128 KiB, rising with use to at most 32 MiB) from fresh
``mmap`` pages and returns them to the system on ``free``, and trims the heap's free top beyond its trim
threshold. A CPU forward pass over a 500-sequence evaluation batch allocates tensors of 30–50 MB, so every batch
faults its pages in again: in the default job's evaluation the bias copy of ``addmm`` and the ReLU's output (both
writing fresh pages) took more time than the matrix products. :func:`keep_freed_memory` raises both thresholds
(``mallopt``) so that freed blocks are reused from the heap; the process's peak memory is what it was, but it is
not given back until the process ends (a training process). Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
THRESHOLD = 1 << 30  # bytes: blocks up to 1 GiB come from the heap, and up to 1 GiB of free top stays


def keep_freed_memory() -> str | None:
    """Raise glibc's mmap and trim thresholds to :data:`THRESHOLD`; what was set (for the record), or None where
    the C library is not glibc or refused."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        version = libc.gnu_get_libc_version
    except (OSError, AttributeError):
        return None  # not glibc (musl, macOS, Windows)
    version.restype = ctypes.c_char_p
    if not (libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD) and libc.mallopt(M_TRIM_THRESHOLD, THRESHOLD)):
        return None
    return f"glibc {version().decode()}: mmap and trim thresholds {THRESHOLD >> 20} MiB"
