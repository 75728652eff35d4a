"""Log dirs at fsspec URLs: ``s3://``, ``gs://``, ``memory://``, ``file://`` and the rest.

Paths stay URLs (``s3://bucket/runs/exp1/events.out.tfevents...``); fsspec is imported
only when such a log dir is used, and a missing package raises an ImportError naming the
extra that installs it.

Object stores cannot append, and torch's and tensorboardX's writers re-upload the whole
event file on every flush, a cost that grows with the square of the run's length. Here an
event file on such a store is a series of objects: the file's own name holds its first
write (the first event), and every later ``write()`` of its sink (a batch of records from
the write-behind thread, or what a ``flush()`` found queued) is one more object,
``<name>.<n>`` with ``n`` zero-padded, so that names sort in the order they were written
and both TensorBoard loaders read them in sequence, each a whole number of records.
Every byte is uploaded once. The writer batches for ``OBJECT_STORE_BATCH_WINDOW`` seconds
on such stores (``EventFileWriter`` asks ``batch_window``), so a steady run makes about one
object per that many seconds, plus one per ``flush()`` that finds something queued.

File systems that can append (``file://``, ``memory://``) append in place.

A store that fails (connection refused, 5xx, a timeout) is retried with backoff for
``retry_for`` seconds before the write fails; meanwhile the queue fills up to its backlog
limit and callers wait, so nothing added is lost unless the store stays away longer.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import posixpath
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from eventwriter import forks

__all__ = ["OBJECT_STORE_BATCH_WINDOW", "RETRY_FOR", "RemoteStorage", "is_url", "remote_storage", "url_filesystem"]

OBJECT_STORE_BATCH_WINDOW = 5.0  # seconds a record waits at most before it is uploaded
RETRY_FOR = 60.0  # seconds a failing store is retried before a write fails
_SEGMENT_DIGITS = 8  # <name>.00000001: a hundred million objects per event file sort in order

# The package fsspec needs for a protocol, and the eventwriter extra that installs both.
_EXTRAS = {"s3": ("s3fs", "s3"), "s3a": ("s3fs", "s3"), "gs": ("gcsfs", "gcs"), "gcs": ("gcsfs", "gcs")}
# fsspec file systems that append to a file in place.
_APPENDING = frozenset({"file", "local", "memory"})

T = TypeVar("T")
_UPDATE_ATTEMPTS = 50


def _permanent(error: Exception) -> bool:
    """Whether a store's error will not pass by retrying: a refusal (no such bucket or
    key, access denied), or a request the client itself finds invalid."""
    if isinstance(error, (PermissionError, FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError)):
        return True
    if isinstance(error, (ValueError, TypeError, AttributeError, KeyError)):
        return True
    name = type(error).__name__
    return "Validation" in name or "Credentials" in name


def _precondition_failed(error: BaseException) -> bool:
    """Whether a conditional write failed because the object had changed (HTTP 412)."""
    if isinstance(error, FileExistsError):
        return True  # s3fs's answer to If-None-Match on an object that exists
    cause = error.__cause__ or error.__context__
    code = getattr(cause, "response", {}).get("Error", {}).get("Code") if cause is not None else None
    return code in ("PreconditionFailed", "ConditionalRequestConflict") or "pre-condition" in str(error)


def is_url(path: str) -> bool:
    """Whether ``path`` is a URL (``scheme://...``) rather than a local path."""
    scheme, sep, _ = path.partition("://")
    return bool(sep) and bool(scheme) and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum()


def _import_fsspec(url: str) -> Any:
    scheme = url.partition("://")[0].lower()
    package, extra = _EXTRAS.get(scheme, (None, "remote"))
    try:
        fsspec = importlib.import_module("fsspec")
    except ImportError as error:
        raise ImportError(
            f"log dir {url!r}: URLs need fsspec; install it with pip install 'eventwriter[{extra}]'"
        ) from error
    if package is not None:
        try:
            importlib.import_module(package)
        except ImportError as error:
            raise ImportError(
                f"log dir {url!r}: {scheme}:// needs {package}; install it with pip install 'eventwriter[{extra}]'"
            ) from error
    return fsspec


def _finish_before_executors_stop() -> None:
    """Drain open queues at exit while uploads still work.

    fsspec's async file systems resolve host names in asyncio's default executor, which
    stops taking work at interpreter exit (concurrent.futures registers that with
    ``threading``, to run before ``atexit`` hooks); uploads from eventwriter's ``atexit``
    hook would all fail. So, once a remote storage exists, the queues are drained from a
    ``threading`` exit hook registered after concurrent.futures' own, which runs first.
    """
    global _exit_hooked
    if _exit_hooked:
        return
    register = getattr(threading, "_register_atexit", None)
    if register is None:
        return
    import concurrent.futures.thread  # noqa: F401  # its hook first, so that ours runs before it

    from eventwriter import at_exit

    with contextlib.suppress(RuntimeError):  # already shutting down
        register(at_exit.finish_all)
        _exit_hooked = True


_exit_hooked = False


def remote_storage(url: str, storage_options: Mapping[str, Any] | None = None) -> RemoteStorage:
    """The storage for the log dir ``url``, its file system built with ``storage_options``.

    Raises:
        ImportError: fsspec or the protocol's package is missing (the message names the extra).
        ValueError: fsspec knows no such protocol.
        PermissionError, FileNotFoundError: the store refuses the credentials, or the
            bucket does not exist.
    """
    try:
        fs, _ = url_filesystem(url, storage_options)
    except ValueError as error:
        raise ValueError(f"log dir {error}") from error
    storage = RemoteStorage(fs)
    storage.check_reachable(url)
    _finish_before_executors_stop()
    return storage


def url_filesystem(url: str, storage_options: Mapping[str, Any] | None = None) -> tuple[Any, str]:
    """(fsspec file system, path within it) of ``url``, for reading."""
    fsspec = _import_fsspec(url)
    try:
        fs, path = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    except ValueError as error:
        raise ValueError(f"{url!r}: {error}") from error
    return fs, str(path)


class _AppendSink:
    """A file on a file system that appends: each write opens it in append mode."""

    def __init__(self, storage: RemoteStorage, path: str) -> None:
        self.path = path
        self._storage = storage
        self._closed = False

    def write(self, data: bytes) -> None:
        if self._closed:
            raise ValueError(f"write to closed file {self.path}")
        if data:
            self._storage.retrying(f"append to {self.path}", lambda: self._append(data))

    def _append(self, data: bytes) -> None:
        with self._storage.fs.open(self.path, "ab") as handle:
            handle.write(data)

    def sync(self) -> None:
        pass

    def close(self) -> None:
        self._closed = True


class _ObjectSink:
    """An event file on an object store: its first write at its own name, then one object
    per write at ``<name>.<n>``."""

    def __init__(self, storage: RemoteStorage, path: str) -> None:
        self.path = path
        self._storage = storage
        self._objects = 0
        self._closed = False

    def write(self, data: bytes) -> None:
        if self._closed:
            raise ValueError(f"write to closed file {self.path}")
        if not data:
            return
        name = self.path if self._objects == 0 else f"{self.path}.{self._objects:0{_SEGMENT_DIGITS}d}"
        self._storage.retrying(f"upload {name}", lambda: self._storage.fs.pipe_file(name, data))
        self._objects += 1

    def sync(self) -> None:
        pass  # an object is durable once its upload returned

    def close(self) -> None:
        self._closed = True


class RemoteStorage:
    """A Storage over one fsspec file system; paths are URLs of that file system."""

    def __init__(self, fs: Any, *, retry_for: float | None = None, appends: bool | None = None) -> None:
        """``retry_for``: seconds a failing store is retried (default: ``RETRY_FOR`` at the
        time). ``appends``: whether files are appended in place (default: for the file
        systems known to append, ``file`` and ``memory``) or written as series of objects."""
        self.fs = fs
        protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
        self.appends = bool(_APPENDING.intersection(protocols)) if appends is None else appends
        self.batch_window = None if self.appends else OBJECT_STORE_BATCH_WINDOW
        self.retry_for = retry_for
        self.conditional_writes = "s3" in protocols  # s3fs passes If-Match / If-None-Match on
        self._lock = threading.Lock()
        self._locks: dict[str, threading.RLock] = {}
        forks.register(self)

    def _after_fork_in_child(self) -> None:  # see eventwriter.forks
        self._lock = threading.Lock()
        self._locks = {}

    def __reduce__(self) -> Any:  # the file system pickles itself (fsspec); locks are made anew
        return (RemoteStorage, (self.fs,), {"appends": self.appends, "retry_for": self.retry_for})

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(self.fs, retry_for=state["retry_for"], appends=state["appends"])  # type: ignore[misc]

    def check_reachable(self, url: str) -> None:
        """Fail now, with the store's reason, if the log dir's bucket (or root) cannot be
        reached with these credentials."""
        if self.appends:
            return
        bucket = self.fs._strip_protocol(url).split("/", 1)[0]
        if not bucket:
            raise ValueError(f"log dir {url!r}: name a bucket (s3://bucket/runs/...)")
        try:
            self.fs.ls(bucket, detail=False)
        except FileNotFoundError as error:
            raise FileNotFoundError(f"log dir {url!r}: bucket {bucket!r} does not exist") from error
        except PermissionError as error:
            raise PermissionError(f"log dir {url!r}: access to bucket {bucket!r} denied: {error}") from error
        except Exception as error:
            if "credential" not in f"{type(error).__name__} {error}".lower():
                raise
            raise PermissionError(
                f"log dir {url!r}: no credentials for bucket {bucket!r} ({error}); "
                "give them in storage_options or the environment"
            ) from error

    def retrying(self, what: str, action: Callable[[], T], *, final: Callable[[Exception], bool] | None = None) -> T:
        """``action()``, retried with backoff for ``retry_for`` seconds while the store
        fails for a reason that may pass (a refused connection, a timeout, a 5xx); an
        error that will not (``_permanent``, or ``final(error)``) is raised at once."""
        retry_for = RETRY_FOR if self.retry_for is None else self.retry_for
        deadline = time.monotonic() + retry_for
        pause = 0.1
        while True:
            try:
                return action()
            except Exception as error:
                if _permanent(error) or (final is not None and final(error)):
                    raise
                if time.monotonic() + pause > deadline:
                    raise OSError(f"{what}: the store failed for {retry_for:g} s: {error}") from error
                time.sleep(pause)
                pause = min(pause * 2, 5.0)
                self.fs.invalidate_cache()

    # -- Storage --------------------------------------------------------------------

    def makedirs(self, path: str) -> None:
        if self.appends:
            self.fs.makedirs(path, exist_ok=True)
        # object stores have no directories: a key's prefix is its directory

    def create(self, path: str) -> _AppendSink | _ObjectSink:
        if self.retrying(f"look up {path}", lambda: self.fs.exists(path)):
            raise FileExistsError(f"{path} exists")
        if self.appends:
            parent = posixpath.dirname(self.fs._strip_protocol(path).rstrip("/"))
            if parent.strip("/") and not self.fs.isdir(parent):
                raise FileNotFoundError(f"no directory {parent}")
            self.fs.touch(path)
            return _AppendSink(self, path)
        return _ObjectSink(self, path)

    def join(self, *parts: str) -> str:
        return posixpath.join(*parts)

    def read_bytes(self, path: str) -> bytes | None:
        try:
            return bytes(self.retrying(f"read {path}", lambda: self.fs.cat_file(path)))
        except FileNotFoundError:
            return None

    def write_bytes(self, path: str, data: bytes) -> None:
        # One upload replaces an object atomically; where files are appended in place,
        # the new content goes to a temporary name first and is moved over the old.
        if not self.appends:
            self.retrying(f"upload {path}", lambda: self.fs.pipe_file(path, data))
            return
        temporary = f"{path}.{threading.get_ident()}.tmp"
        self.fs.pipe_file(temporary, data)
        self.fs.mv(temporary, path)

    def remove(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.retrying(f"remove {path}", lambda: self.fs.rm_file(path))

    def update(self, path: str, change: Callable[[bytes | None], bytes]) -> None:
        """Replace the file at ``path`` with ``change(its content, or None)``.

        Only where ``conditional_writes`` (S3); eventwriter.storage.update_file uses it
        then. No concurrent update by another process is lost: the write is conditional
        on the object being what was read (If-Match its ETag; If-None-Match when there
        was none), and is redone from a fresh read when another came first.
        """
        with self.exclusive(path):
            for _ in range(_UPDATE_ATTEMPTS):
                self.fs.invalidate_cache(path)
                try:
                    tag = self.retrying(f"look up {path}", lambda: self.fs.info(path)).get("ETag")
                    old = bytes(self.retrying(f"read {path}", lambda: self.fs.cat_file(path)))
                except FileNotFoundError:
                    tag, old = None, None
                new = change(old)
                condition = {"mode": "create"} if tag is None else {"IfMatch": tag}
                try:
                    upload = functools.partial(self.fs.pipe_file, path, new, **condition)
                    self.retrying(f"upload {path}", upload, final=_precondition_failed)
                    return
                except OSError as error:
                    if not _precondition_failed(error):
                        raise
            raise OSError(f"{path}: other writers kept changing it; {_UPDATE_ATTEMPTS} attempts to update it failed")

    @contextlib.contextmanager
    def exclusive(self, path: str) -> Iterator[None]:
        # Within this process only: object stores have no locks (see the README on two
        # writers adding embeddings to one remote run).
        with self._lock:
            lock = self._locks.setdefault(path, threading.RLock())
        with lock:
            yield
