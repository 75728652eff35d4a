"""What a forked child must not inherit: locks held at the fork, writers of the parent.

The child of ``os.fork`` runs only the thread that forked. A lock that another thread
held at that moment stays held in the child forever, and the writer threads of the
parent are gone. Objects that own locks or queues register here; in the child, each
one's ``_after_fork_in_child()`` runs first thing, so that it can replace its locks and
remember that its files belong to the parent (every later call then says so instead of
waiting forever). A SummaryWriter's runs and a FileWriter leave the parent's files alone
and open their own on first use in the child, as a pickled copy does (eventwriter.copies).
"""

from __future__ import annotations

import os
import weakref
from typing import Any

__all__ = ["register"]

_owners: weakref.WeakSet[Any] = weakref.WeakSet()


def register(owner: Any) -> None:
    """Call ``owner._after_fork_in_child()`` in every process forked from this one."""
    _owners.add(owner)


def _after_fork_in_child() -> None:
    for owner in list(_owners):
        owner._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
