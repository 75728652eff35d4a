"""A second thread for numpy-heavy work split in two halves.

numpy releases the GIL inside its loops, so the half given to the helper thread runs on
another core while the calling thread does the other half. Used for histogram
bucketing and for formatting projector matrices.
"""

from __future__ import annotations

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
    """``(function(first), function(second))``, the second computed by the helper thread."""
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eventwriter-helper")
        executor = _executor
    future = executor.submit(function, second)
    return function(first), future.result()
