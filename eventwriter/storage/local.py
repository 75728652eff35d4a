"""Local storage: event files appended with ``os.write``, side files replaced atomically."""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the lock is process-local only
    fcntl = None  # type: ignore[assignment]

__all__ = ["LocalFileSink", "LocalStorage"]

_THREAD_LOCK = threading.RLock()  # flock() does not exclude threads of one process


def _after_fork_in_child() -> None:
    # A parent thread may have held the lock at the fork; in the child nobody would release it.
    global _THREAD_LOCK
    _THREAD_LOCK = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class LocalFileSink:
    """A new local file opened for appending, written with unbuffered ``os.write`` calls.

    Raises:
        FileExistsError: a file is already there (it is never replaced).
    """

    def __init__(self, path: str) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_BINARY", 0)
        self.path = path
        self._fd: int | None = os.open(path, flags, 0o666)

    def write(self, data: bytes) -> None:
        if self._fd is None:
            raise ValueError(f"write to closed file {self.path}")
        written = 0
        try:
            written = os.write(self._fd, data)
            while written < len(data):  # rare: a regular file takes it all at once
                written += os.write(self._fd, memoryview(data)[written:])
        except OSError as exc:  # a full disk may take part of the data first
            exc.bytes_written = written  # type: ignore[attr-defined]  # see Sink.write
            raise

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
        # A temporary file in the same directory, synced, then renamed over the target:
        # a reader sees the old or the new file, and a crash leaves no half-written one.
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

    def remove(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

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
