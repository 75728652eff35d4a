"""A second thread for numpy-heavy work split in two halves.

numpy releases the GIL inside its loops, so the half given to the helper thread runs on
another core while the calling thread does the other half. Used for histogram
bucketing and for formatting projector matrices.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["in_halves"]

T = TypeVar("T")
R = TypeVar("R")

_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def in_halves(function: Callable[[T], R], first: T, second: T) -> tuple[R, R]:
    """``(function(first), function(second))``, the second computed by the helper thread
    (or by this one when no thread can be started: at interpreter exit)."""
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eventwriter-helper")
        executor = _executor
    try:
        future = executor.submit(function, second)
    except RuntimeError:  # "cannot schedule new futures after interpreter shutdown"
        return function(first), function(second)
    return function(first), future.result()


def _forget_after_fork() -> None:
    # The executor's thread does not exist in a forked child: start afresh there.
    global _executor, _lock
    _executor = None
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
