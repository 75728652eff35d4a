"""Nothing added is lost when the process ends without ``close()``.

Every write-behind queue still open when the process ends is drained, synced and left
writing synchronously (``WriteBehind.finish_at_exit``):

* at interpreter exit, by an ``atexit`` hook;
* at the end of a child of multiprocessing's fork or forkserver start methods (DataLoader
  and Pool workers), which ends with ``os._exit`` and so skips ``atexit``:
  multiprocessing runs its own finalizers there, and one is registered in each process
  that makes a queue (again after the child clears those it inherited).

Values logged after that (from an ``atexit`` handler registered before eventwriter was
imported, or by a daemon thread) are written by the caller at once, and queues made then
have no thread at all. A process ended by ``os._exit`` outside multiprocessing, or by a
signal, gets no such chance: only what was written before is in the file.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import weakref
from typing import Any

__all__ = ["exiting", "finish_all", "forget", "register"]

logger = logging.getLogger(__name__)

_open: weakref.WeakSet[Any] = weakref.WeakSet()  # queues with finish_at_exit() and path
_exiting = False
_finalizer_pid: int | None = None  # the process that registered a multiprocessing finalizer


def register(queue: Any) -> None:
    """Have ``queue.finish_at_exit()`` called when this process ends."""
    _open.add(queue)
    _hook_multiprocessing()


def forget(queue: Any) -> None:
    """``queue`` is closed: nothing to do for it at exit."""
    _open.discard(queue)


def exiting() -> bool:
    """True once the queues of this process have been finished for exit."""
    return _exiting


def finish_all() -> None:
    """Drain and sync every open queue and switch it to synchronous writes; log failures."""
    global _exiting
    _exiting = True
    for queue in list(_open):
        try:
            queue.finish_at_exit()
        except Exception as exc:
            logger.error("eventwriter: finishing %s at exit failed: %r", queue.path, exc)


def _hook_multiprocessing() -> None:
    global _finalizer_pid, _restart_hooked
    if _finalizer_pid == os.getpid() or "multiprocessing" not in sys.modules:
        return  # without multiprocessing no child of it can be running here
    from multiprocessing import util

    # A child clears the finalizers it inherited, so each process registers its own.
    util.Finalize(None, finish_all, exitpriority=100)
    _finalizer_pid = os.getpid()
    if not _restart_hooked:  # inherited by children: once per process tree
        util.register_after_fork(_restart_hooked_by, _after_process_start)
        _restart_hooked = True


def _after_process_start(_: object) -> None:
    """In a multiprocessing child, once its inherited finalizers are cleared: a writer
    made before (a module-level one, made again as a spawn or forkserver child imports the
    main module) needs the finalizer registered anew."""
    global _finalizer_pid
    _finalizer_pid = None
    if _open:
        _hook_multiprocessing()


class _Key:
    """What multiprocessing's after-fork registry holds a weak reference to."""


_restart_hooked_by = _Key()
_restart_hooked = False
atexit.register(finish_all)
