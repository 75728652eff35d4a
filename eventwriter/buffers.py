"""Copies of large arrays in reused memory.

A summary built later (a histogram of a million values) needs its own copy of the
caller's array. A new multi-megabyte array is fresh memory from the operating system,
and its first write faults in every page: about as much CPU time again as the copy,
paid on each call, since the copy is freed in the writer thread and the allocator gives
it back. So copies are made into buffers that the builder returns after use, and kept
for the next calls: as many as a writer's queue holds (MAX_KEPT_BYTES, the sizes used
least recently given up first), until a writer closes.
"""

from __future__ import annotations

import os
import threading

import numpy as np

__all__ = ["MAX_KEPT_BYTES", "MIN_POOLED_BYTES", "OwnedCopy", "clear", "owned_copy"]

MIN_POOLED_BYTES = 256 << 10  # smaller arrays come from the allocator's own free lists
MAX_KEPT_BYTES = 64 << 20  # memory kept for reuse at most, in all (a queue's MAX_PENDING_BYTES)

_lock = threading.Lock()
_kept: dict[int, list[np.ndarray]] = {}
_kept_bytes = 0


class OwnedCopy:
    """A copy of an array, ``array``; ``release()`` once nothing uses it any more lets
    the next copy of that size reuse its memory. Unreleased, it is simply freed."""

    __slots__ = ("_buffer", "array")

    def __init__(self, source: np.ndarray) -> None:
        nbytes = source.nbytes
        buffer = _take(nbytes) if nbytes >= MIN_POOLED_BYTES else None
        if buffer is None:
            self._buffer = None
            self.array: np.ndarray = np.array(source, copy=True)
            return
        self._buffer = buffer
        self.array = buffer.view(source.dtype).reshape(source.shape)
        np.copyto(self.array, source, casting="no")

    def release(self) -> None:
        """Give the memory back for reuse; ``array`` must not be used afterwards."""
        buffer, self._buffer = self._buffer, None
        if buffer is not None:
            _give(buffer)


def owned_copy(source: np.ndarray) -> OwnedCopy:
    """A copy of ``source`` (same dtype and shape, C order) in reused memory if it is large."""
    return OwnedCopy(source)


def _take(nbytes: int) -> np.ndarray:
    global _kept_bytes
    with _lock:
        buffers = _kept.pop(nbytes, None)
        if buffers:
            buffer = buffers.pop()
            _kept_bytes -= nbytes
            if buffers:  # no empty lists are kept
                _kept[nbytes] = buffers  # now the most recently used size
            return buffer
    return np.empty(nbytes, dtype=np.uint8)


def _give(buffer: np.ndarray) -> None:
    global _kept_bytes
    nbytes = buffer.nbytes
    if nbytes > MAX_KEPT_BYTES:
        return
    with _lock:
        buffers = _kept.pop(nbytes, [])
        buffers.append(buffer)
        _kept[nbytes] = buffers  # now the most recently used size
        _kept_bytes += nbytes
        while _kept_bytes > MAX_KEPT_BYTES:  # give up buffers of the least recently used size first
            oldest = next(iter(_kept))
            kept = _kept[oldest]
            kept.pop()
            _kept_bytes -= oldest
            if not kept:
                del _kept[oldest]


def clear() -> None:
    """Free every kept buffer (when a writer closes: logging may be over)."""
    global _kept_bytes
    with _lock:
        _kept.clear()
        _kept_bytes = 0


def _forget_after_fork() -> None:
    # Another thread may have held the lock at the fork; nobody would release it here.
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
