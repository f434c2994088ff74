"""Giving freed heap back to the kernel.

Starting a worker compiles every migration script (the schema check) and imports ~1,800
modules: their temporary allocations are freed, but glibc keeps the pages (about 10 MiB at
start), so RSS stays high though the heap is mostly free.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim  # noqa: B018 - glibc only: musl and others have no malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    return libc


def release_free_heap() -> bool:
    """``malloc_trim(0)``: return free heap pages to the kernel; False when libc has none."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
