"""Where bytes go: the Storage a run's files are created through, and the Sink of one file.

Every file the writer creates (event files of every run, projector files and the
projector config) goes through the one Storage the SummaryWriter was given, or the one
``storage_for`` picks for its log dir. A Sink receives the framed records of one event
file, in order, from one thread at a time.

* ``LocalStorage`` (eventwriter.storage.local): the local file system;
* ``MemoryStorage`` (eventwriter.storage.memory): a dict of paths to bytes, for tests;
* ``DiscardStorage`` (eventwriter.storage.discard): keeps nothing (ranks that do not write);
* ``RemoteStorage`` (eventwriter.storage.remote): any fsspec URL; on object stores an
  event file is a series of objects, one per write.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

from eventwriter.storage.discard import DiscardStorage
from eventwriter.storage.local import LocalFileSink, LocalStorage
from eventwriter.storage.memory import MemoryStorage
from eventwriter.storage.remote import is_url

__all__ = [
    "DiscardStorage",
    "LocalFileSink",
    "LocalStorage",
    "MemoryStorage",
    "Sink",
    "Storage",
    "is_url",
    "resolves_inside",
    "storage_for",
    "update_file",
]


@runtime_checkable
class Sink(Protocol):
    """An append-only destination for the bytes of one file."""

    path: str

    def write(self, data: bytes) -> None:
        """Append ``data``; when this returns, readers of the file can see it.

        If it fails after part of ``data`` reached the file, the exception may say how
        much in an int attribute ``bytes_written`` (the failure log counts what was lost).
        """

    def sync(self) -> None:
        """Make everything written so far durable (it survives a machine crash)."""

    def close(self) -> None:
        """Sync and release the destination; later calls do nothing."""


@runtime_checkable
class Storage(Protocol):
    """Directories, new event files and whole side files (projector) below a log dir."""

    def makedirs(self, path: str) -> None:
        """Create ``path`` and its parents if missing."""

    def create(self, path: str) -> Sink:
        """Create a new file at ``path``; raise FileExistsError rather than replace one."""

    def join(self, *parts: str) -> str:
        """Join path components the way this storage spells paths."""

    def read_bytes(self, path: str) -> bytes | None:
        """The content of the file at ``path``, or None if there is none."""

    def write_bytes(self, path: str, data: bytes) -> None:
        """Replace the file at ``path`` with ``data`` atomically: readers see the old or
        the new content, never a part."""

    def remove(self, path: str) -> None:
        """Delete the file at ``path`` (a first event that could not be written leaves no
        empty event file behind); nothing happens if there is none."""

    def exclusive(self, path: str) -> AbstractContextManager[None]:
        """Hold a lock named after ``path`` against other writers (processes included,
        where the storage can) while a read-modify-write of that file runs."""


def resolves_inside(base: str, path: str, *, allow_base: bool) -> bool:
    """Whether ``path`` (built from user strings) stays within the directory ``base``
    once ``..`` and the like are resolved; ``base`` itself counts if ``allow_base``.

    The check is lexical (the paths may not exist yet); where ``path`` climbs with
    ``..``, the directories it climbs out of may be symbolic links to elsewhere, so it
    must also stay inside once the links that exist are resolved: the place the file
    will really be opened.
    """
    if "\0" in path:
        return False
    if not _inside(os.path.abspath(base), os.path.abspath(path), allow_base):
        return False
    if ".." not in path.replace(os.sep, "/").split("/"):
        return True
    return _inside(os.path.realpath(base), os.path.realpath(path), allow_base)


def _inside(base: str, path: str, allow_base: bool) -> bool:
    root, target = os.path.normpath(base), os.path.normpath(path)
    return os.path.commonpath([root, target]) == root and (allow_base or target != root)


def update_file(storage: Storage, path: str, change: Callable[[bytes | None], bytes]) -> None:
    """Replace the file at ``path`` with ``change(its content, or None)``, with no other
    writer's update lost in between: by the storage's ``update`` where it has
    ``conditional_writes`` (S3), else under ``exclusive`` (across processes where the
    storage can lock)."""
    if getattr(storage, "conditional_writes", False):
        storage.update(path, change)  # type: ignore[attr-defined]
        return
    with storage.exclusive(path):
        storage.write_bytes(path, change(storage.read_bytes(path)))


_LOCAL = LocalStorage()


def storage_for(path: str, storage_options: Mapping[str, Any] | None = None) -> Storage:
    """Return the storage that serves ``path``: a local path, or any fsspec URL
    (``s3://``, ``gs://``, ``memory://``, ``file://``, ...; eventwriter.storage.remote),
    whose file system is built with ``storage_options``.

    Raises:
        ImportError: a URL whose packages are missing (the message names the extra).
        ValueError: an unknown protocol, or ``storage_options`` with a local path.
    """
    if is_url(path):
        from eventwriter.storage.remote import remote_storage

        return remote_storage(path, storage_options)
    if storage_options:
        raise ValueError(f"log dir {path!r}: storage_options apply to URL log dirs (s3://, ...), not to local paths")
    return _LOCAL
