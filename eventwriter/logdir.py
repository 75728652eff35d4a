"""What a log dir holds: its runs and their event files, and what is left out and why.

Only regular files (or symlinks to one) are event files. A FIFO, socket or device named
like one is never opened, so nothing waits for a writer that never comes; a dangling
symlink, a symlink loop, a file gone since the listing or a directory that cannot be
listed is reported as a ``SkippedEntry``, and the rest is still found.
"""

from __future__ import annotations

import errno
import os
import posixpath
import re
import stat
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from eventwriter.storage.remote import is_url, url_filesystem

__all__ = ["SkippedEntry", "check_regular", "find_event_files", "open_regular", "series_of"]

_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # POSIX; Windows has no FIFOs in the file system
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows
_FILE_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFSOCK: "a socket"}
_FILE_KINDS.update({stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"})


def _kind(mode: int) -> str:
    return _FILE_KINDS.get(stat.S_IFMT(mode), f"file type {stat.S_IFMT(mode):#o}")


def _not_regular(path: str, got: str) -> OSError:
    return OSError(f"{path}: expected a regular file, got {got}")


def check_regular(path: str) -> None:
    """Raise OSError unless ``path`` is a regular file or a symlink to one; never opens it."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise _not_regular(path, "a dangling symlink") from None
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _not_regular(path, "a symlink loop") from None
        raise
    if not stat.S_ISREG(mode):
        raise _not_regular(path, _kind(mode))


def open_regular(path: str, storage_options: Mapping[str, Any] | None = None) -> BinaryIO:
    """Open a regular file for reading; OSError for anything else. A FIFO or device is
    never opened; the open does not block, in case the path was replaced since the check.
    A URL is opened through fsspec, its file system built with ``storage_options``."""
    if is_url(path):
        fs, inside = url_filesystem(path, storage_options)
        return cast(BinaryIO, fs.open(inside, "rb"))
    check_regular(path)
    fd = os.open(path, os.O_RDONLY | _O_NONBLOCK | _O_BINARY)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(path, _kind(mode))
        if _O_NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


@dataclass(frozen=True)
class SkippedEntry:
    """An entry of a log dir not read as an event file; ``reason`` leaves out the path.

    ``searched`` is True for a directory named like an event file: it is searched for
    runs like any other directory, so nothing in it is lost.
    """

    path: str
    reason: str
    searched: bool = False

    @classmethod
    def from_error(cls, path: str, error: OSError) -> SkippedEntry:
        """The entry for a file whose listing, opening or reading raised ``error``."""
        return cls(path, (error.strerror or str(error)).removeprefix(f"{path}: "))


def find_event_files(
    logdir: str | os.PathLike[str],
    *,
    skipped: list[SkippedEntry] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> dict[str, list[str]]:
    """Map each run (directory relative to ``logdir``, "." for itself) to its event files.

    Files are those with "tfevents" in their name that are regular files or symlinks to
    one, in name order (TensorBoard's order). Symlinked directories are followed, as both
    of TensorBoard's loaders follow them; a symlink to a directory above it (a loop) is
    noted in ``skipped`` and not walked again. Nothing is opened.

    Args:
        logdir: a log dir, or a single event file (its run is ".").
        skipped: if given, what is left out is appended here with its reason: entries
            named like event files that are no regular files (FIFOs, sockets, devices,
            directories, dangling symlinks, symlink loops) or are gone when looked at,
            and subdirectories that cannot be listed.
        storage_options: for a URL (``s3://...``, any fsspec URL), the options of its
            file system; every object or file below it named like an event file counts.

    Raises:
        FileNotFoundError: ``logdir`` does not exist.
        OSError: ``logdir`` is neither a directory nor a regular file, or cannot be listed.
    """
    logdir = os.fspath(logdir)
    if is_url(logdir):
        return _find_remote_event_files(logdir, storage_options)
    try:
        mode = os.stat(logdir).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"no such log dir: {logdir}") from None
    if stat.S_ISREG(mode):
        return {".": [logdir]}
    if not stat.S_ISDIR(mode):
        raise OSError(f"{logdir}: expected a log dir or an event file, got {_kind(mode)}")
    left_out: list[SkippedEntry] = [] if skipped is None else skipped

    def unlistable(error: OSError) -> None:
        if error.filename == logdir:
            raise error
        left_out.append(
            SkippedEntry(str(error.filename), f"a directory that cannot be listed: {error.strerror or error}")
        )

    runs: dict[str, list[str]] = {}
    real_of = {os.path.normpath(logdir): os.path.realpath(logdir)}
    for directory, subdirs, files in os.walk(logdir, onerror=unlistable, followlinks=True):
        subdirs.sort()
        for name in list(subdirs):  # a symlink back to a directory above: a loop, walked once
            path = os.path.join(directory, name)
            real = real_of[os.path.normpath(path)] = os.path.realpath(path)
            if os.path.islink(path) and _above(real, directory, real_of):
                subdirs.remove(name)
                left_out.append(SkippedEntry(path, LOOP, searched=True))
        named = [os.path.join(directory, name) for name in sorted(subdirs + files) if "tfevents" in name]
        paths = [path for path in named if _is_regular(path, left_out)]
        if paths:
            runs[os.path.relpath(directory, logdir)] = paths
    return runs


# On object stores an event file is a series of objects: <name>, then <name>.00000001, ...
# (eventwriter.storage.remote).
_LATER_OBJECT = re.compile(r"(.+)\.\d{8}")


LOOP = "a symlink to a directory above it (a loop): not walked again"


def _above(real: str, directory: str, real_of: dict[str, str]) -> bool:
    """Whether ``real`` is the real path of ``directory`` or of a directory above it."""
    path = os.path.normpath(directory)
    while True:
        if real_of.get(path) == real:
            return True
        parent = os.path.dirname(path)
        if parent == path or path not in real_of:
            return False
        path = parent


def series_of(path: str, paths: Collection[str]) -> str | None:
    """The event file (its first object's path) that ``path`` continues, if ``path`` is a
    later object of a series whose first object is among ``paths``; else None."""
    match = _LATER_OBJECT.fullmatch(path)
    return match.group(1) if match is not None and match.group(1) in paths else None


def _find_remote_event_files(url: str, storage_options: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """``find_event_files`` for a URL (eventwriter.storage.remote): every object or file
    below it with "tfevents" in its name; paths are URLs spelled from ``url``. An event
    file's URL stands for its series of objects."""
    fs, root = url_filesystem(url, storage_options)
    if fs.isfile(root):
        directory, name = posixpath.split(root.rstrip("/"))
        later = sorted(
            f"{url}{found[len(root) :]}"
            for found in fs.ls(directory, detail=False)
            if series_of(posixpath.basename(found), {name}) is not None
        )
        return {".": [url, *later]}
    if not fs.isdir(root):
        raise FileNotFoundError(f"no such log dir: {url}")
    prefix = root.rstrip("/")
    base = url if url.endswith("/") else url + "/"
    runs: dict[str, list[str]] = {}
    for found in sorted(fs.find(root)):
        relative = found[len(prefix) :].lstrip("/") if found.startswith(prefix) else found.lstrip("/")
        if "tfevents" in posixpath.basename(relative):
            run = posixpath.dirname(relative) or "."
            runs.setdefault(run, []).append(base + relative)
    return dict(sorted(runs.items()))


def _is_regular(path: str, left_out: list[SkippedEntry]) -> bool:
    try:
        check_regular(path)
    except OSError as exc:
        searched = os.path.isdir(path)  # walked like any other directory (links followed)
        reason = SkippedEntry.from_error(path, exc).reason
        left_out.append(SkippedEntry(path, f"{reason} (searched for runs)" if searched else reason, searched))
        return False
    return True
