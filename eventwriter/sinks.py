"""Where bytes go: the Sink an event file is written through, and the Storage that
creates sinks and directories for a log dir.

A Sink receives the framed records of one file, in order, from one thread at a time.
Local paths are served by ``LocalStorage``; ``storage_for`` is the one place that maps
a log dir to a storage, so remote file systems plug in there.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the lock is process-local only
    fcntl = None  # type: ignore[assignment]

__all__ = ["LocalFileSink", "LocalStorage", "Sink", "Storage", "resolves_inside", "storage_for"]


@runtime_checkable
class Sink(Protocol):
    """An append-only destination for the bytes of one file."""

    path: str

    def write(self, data: bytes) -> None:
        """Append ``data``; when this returns, readers of the file can see it."""

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

    def exclusive(self, path: str) -> AbstractContextManager[None]:
        """Hold a lock named after ``path`` against other writers (processes included)
        while a read-modify-write of that file runs."""


class LocalFileSink:
    """A local file opened for appending, written with unbuffered ``os.write`` calls."""

    def __init__(self, path: str) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_BINARY", 0)
        self.path = path
        self._fd: int | None = os.open(path, flags, 0o666)

    def write(self, data: bytes) -> None:
        if self._fd is None:
            raise ValueError(f"write to closed file {self.path}")
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def sync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


class LocalStorage:
    """Storage on the local file system."""

    def makedirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def create(self, path: str) -> LocalFileSink:
        return LocalFileSink(path)

    def join(self, *parts: str) -> str:
        return os.path.join(*parts)

    def read_bytes(self, path: str) -> bytes | None:
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def write_bytes(self, path: str, data: bytes) -> None:
        directory, name = os.path.split(path)
        descriptor, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory or ".")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    @contextlib.contextmanager
    def exclusive(self, path: str) -> Iterator[None]:
        directory, name = os.path.split(path)
        lock_path = os.path.join(directory, f".{name}.lock")
        with _THREAD_LOCK, open(lock_path, "a+b") as handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def resolves_inside(base: str, path: str, *, allow_base: bool) -> bool:
    """Whether ``path`` (built from user strings) stays within the directory ``base``
    once ``..`` and the like are resolved; ``base`` itself counts if ``allow_base``."""
    if "\0" in path:
        return False
    root = os.path.normpath(os.path.abspath(base))
    target = os.path.normpath(os.path.abspath(path))
    return os.path.commonpath([root, target]) == root and (allow_base or target != root)


_THREAD_LOCK = threading.RLock()  # flock() does not exclude threads of one process
_LOCAL = LocalStorage()


def storage_for(path: str) -> Storage:
    """Return the storage that serves ``path``.

    Raises:
        ValueError: ``path`` is a URL of a file system eventwriter cannot write to.
    """
    scheme, sep, _ = path.partition("://")
    if sep and scheme.replace("+", "").isalnum():
        raise ValueError(f"log dir {path!r}: URLs ({scheme}://) are not supported yet; give a local path")
    return _LOCAL
