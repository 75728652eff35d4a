"""In-memory storage: a dict of paths to bytes, for tests of the whole writer.

``SummaryWriter(log_dir, storage=MemoryStorage(), clock=...)`` writes every file of a
run (event files, sub-runs, projector files) here instead of to disk, so a test can
check exact bytes without touching the file system. Paths use ``/`` and are normalised
(``a//b/`` and ``a/b`` are the same path). It behaves like local storage where a writer
can tell: creating a file needs its directory, and an existing file is never replaced by
``create``.
"""

from __future__ import annotations

import contextlib
import posixpath
import threading
from collections.abc import Iterator
from typing import Any

from eventwriter import forks

__all__ = ["MemoryStorage"]


def _normal(path: str) -> str:
    return posixpath.normpath(path)


class _MemorySink:
    def __init__(self, storage: MemoryStorage, path: str) -> None:
        self.path = path
        self._storage = storage
        self._closed = False

    def write(self, data: bytes) -> None:
        if self._closed:
            raise ValueError(f"write to closed file {self.path}")
        with self._storage._lock:
            self._storage._files[_normal(self.path)] += data

    def sync(self) -> None:
        pass

    def close(self) -> None:
        self._closed = True


class MemoryStorage:
    """Storage in a dict, shared by every writer given the same instance; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._files: dict[str, bytearray] = {}
        self._directories: set[str] = {".", "/"}
        self._locks: dict[str, threading.RLock] = {}
        forks.register(self)

    def _after_fork_in_child(self) -> None:  # see eventwriter.forks: locks held at the fork
        self._lock = threading.RLock()
        self._locks = {}

    def __getstate__(self) -> dict[str, Any]:
        """A pickled MemoryStorage is a copy of the files (a writer pickled with it writes
        into that copy, in the process that unpickles it)."""
        with self._lock:
            files = {path: bytes(data) for path, data in self._files.items()}
            return {"files": files, "directories": set(self._directories)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]
        self._files = {path: bytearray(data) for path, data in state["files"].items()}
        self._directories = state["directories"]

    # -- Storage --------------------------------------------------------------------

    def makedirs(self, path: str) -> None:
        path = _normal(path)
        with self._lock:
            if path in self._files:
                raise FileExistsError(f"{path} is a file")
            while path not in self._directories:
                self._directories.add(path)
                path = posixpath.dirname(path) or "."

    def create(self, path: str) -> _MemorySink:
        key = _normal(path)
        with self._lock:
            self._check_parent(key)
            if key in self._files or key in self._directories:
                raise FileExistsError(f"{path} exists")
            self._files[key] = bytearray()
        return _MemorySink(self, path)

    def join(self, *parts: str) -> str:
        return posixpath.join(*parts)

    def read_bytes(self, path: str) -> bytes | None:
        with self._lock:
            data = self._files.get(_normal(path))
            return None if data is None else bytes(data)

    def write_bytes(self, path: str, data: bytes) -> None:
        key = _normal(path)
        with self._lock:
            self._check_parent(key)
            if key in self._directories:
                raise IsADirectoryError(f"{path} is a directory")
            self._files[key] = bytearray(data)

    def remove(self, path: str) -> None:
        with self._lock:
            self._files.pop(_normal(path), None)

    @contextlib.contextmanager
    def exclusive(self, path: str) -> Iterator[None]:
        with self._lock:
            lock = self._locks.setdefault(_normal(path), threading.RLock())
        with lock:
            yield

    # -- looking inside ---------------------------------------------------------------

    def paths(self, under: str = ".") -> list[str]:
        """Every file below the directory ``under`` (all files by default), sorted."""
        root = _normal(under)
        prefix = "" if root == "." else root.rstrip("/") + "/"
        with self._lock:
            return sorted(path for path in self._files if path.startswith(prefix))

    def _check_parent(self, key: str) -> None:
        parent = posixpath.dirname(key) or "."
        if parent not in self._directories:
            raise FileNotFoundError(f"no directory {parent}")
