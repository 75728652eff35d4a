"""Pickled writers: a copy logs to the same log dir through its own event file.

A SummaryWriter or FileWriter pickles as what makes it (its class, log dir, options,
``ranks``, the attributes a subclass added) and a token naming the original. Unpickled,
it is a copy that opens its own event file on first use, so spawned processes,
multiprocessing pools and frameworks that pickle their loggers can log with it while
the original keeps working. The copies of one original in one process are one object: a
pool's worker that unpickles the writer with each task writes one event file, not one
per task. Copies live until the process ends, when their files are closed with every
other (eventwriter.at_exit).
"""

from __future__ import annotations

import copyreg
import os
import threading
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["added_state", "copy_of", "new_token"]

T = TypeVar("T")

_copies: dict[str, Any] = {}  # token -> this process's copy
_lock = threading.Lock()


def _after_fork_in_child() -> None:  # a parent thread may have held the lock at the fork
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def new_token() -> str:
    """A token for a new original writer."""
    return uuid.uuid4().hex


_OBJECT_GETSTATE = getattr(object, "__getstate__", None)  # Python 3.11 on


def added_state(writer: object, own: frozenset[str]) -> Any:
    """What a subclass (or a user) added to ``writer``, pickled with the copy as pickle
    pickles any object: its ``__getstate__()`` if the subclass has one, else its other
    attributes and ``__slots__``; the writer's ``own`` attributes left out (the copy
    makes its own). None if nothing is left."""
    if getattr(type(writer), "__getstate__", None) not in (None, _OBJECT_GETSTATE):
        state = writer.__getstate__()  # type: ignore[attr-defined]
    else:
        names = copyreg._slotnames(type(writer))  # type: ignore[attr-defined]
        slots = {name: getattr(writer, name) for name in names if hasattr(writer, name)}
        state = (vars(writer), slots) if slots else vars(writer)
    if isinstance(state, dict):
        state = {name: value for name, value in state.items() if name not in own} or None
    elif isinstance(state, tuple) and len(state) == 2 and isinstance(state[0], dict):
        state = ({name: value for name, value in state[0].items() if name not in own}, state[1])
    return state


def copy_of(token: str, make: Callable[[], T]) -> T:
    """This process's copy of the original named ``token``: made by ``make()`` the first
    time, the same object after (also in the original's own process, where the copy is
    not the original)."""
    with _lock:
        copy = _copies.get(token)
        if copy is None:
            copy = _copies[token] = make()
        return copy
