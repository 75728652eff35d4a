"""EventFileWriter: one event file at a time in a run directory.

It names the file (``events.out.tfevents.{seconds}.{host}.{pid}.{counter}{suffix}``,
created so that no existing file is ever replaced), writes the first event before the
constructor returns, and turns what callers add (scalars, Summaries, Events, summaries
built later) into records for its eventwriter.write_behind queue, which writes them
behind the caller. ``flush`` is a barrier, ``close`` is idempotent, ``reopen`` continues
in a new file. Clock, host name, pid and storage are parameters, so a test can make
every byte of a file predictable.
"""

from __future__ import annotations

import contextlib
import itertools
import numbers
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from eventwriter import buffers, forks
from eventwriter.convert import describe
from eventwriter.encoding import summary_record
from eventwriter.file_tags import FileTags
from eventwriter.proto.event_pb2 import Event
from eventwriter.proto.summary_pb2 import Summary
from eventwriter.record import frame
from eventwriter.storage import Sink, Storage, storage_for
from eventwriter.write_behind import WriteBehind

__all__ = ["FILE_VERSION", "EventFileWriter"]

FILE_VERSION = "brain.Event:2"

# Process-wide: two writers in one process never build the same file name.
_file_counter = itertools.count()


class EventFileWriter:
    """Writes events to a new event file in ``logdir``.

    Args:
        logdir: directory of the event file; created if missing.
        max_queue: pending events that make an ``add`` start a write at once instead of
            at the end of the batch window (values below 1 or above 65,536 act as 65,536).
        flush_secs: seconds between fsyncs of written data (``inf``: only on close).
        filename_suffix: appended to the file name.
        clock: wall clock for the file name and the first event.
        hostname, pid: identity in the file name (default: this machine and process).
        storage: where the file goes (default: chosen from ``logdir``).
        batch_window: longest time an added event waits before it is written.

    Raises:
        TypeError, ValueError: an argument has the wrong type or range.
        OSError: the directory or the file cannot be created.
    """

    def __init__(
        self,
        logdir: str | os.PathLike[str],
        max_queue: int = 10,
        flush_secs: float = 120,
        filename_suffix: str = "",
        *,
        clock: Callable[[], float] = time.time,
        hostname: str | None = None,
        pid: int | None = None,
        storage: Storage | None = None,
        batch_window: float | None = None,
    ) -> None:
        check_file_options(max_queue, flush_secs, filename_suffix, clock, hostname, pid)
        # An object store asks for a longer window (one upload per window) and no upload
        # per max_queue events (eventwriter.storage.remote); else 0.1 s.
        storage = storage if storage is not None else storage_for(os.fspath(logdir))
        store_window = getattr(storage, "batch_window", None)
        if batch_window is None:
            batch_window = 0.1 if store_window is None else store_window
        if store_window is not None:
            max_queue = 0  # acts as the largest queue
        if not isinstance(batch_window, (int, float)) or isinstance(batch_window, bool):
            raise TypeError(f"batch_window must be a number of seconds, got {describe(batch_window)}")
        if not 0 <= batch_window <= 60:
            raise ValueError(f"batch_window must be between 0 and 60 seconds, got {describe(batch_window)}")
        self._logdir = os.fspath(logdir)
        self._max_queue = max_queue
        self._flush_secs = float(flush_secs)
        self._suffix = filename_suffix
        self._clock = clock
        self._hostname = socket.gethostname() if hostname is None else hostname
        self._pid = pid
        self._storage = storage
        self._batch_window = float(batch_window)
        self._discards = getattr(storage, "discards", False)  # a rank that writes nothing: build nothing
        self._lock = threading.Lock()  # close and reopen
        forks.register(self)
        self._open()

    def _open(self) -> None:
        """Create a new event file with its first event and start its queue.

        Nothing about the writer changes unless all of that succeeds, and a file whose
        first event could not be written is removed.
        """
        now = read_clock(self._clock)
        first = Event(wall_time=now, file_version=FILE_VERSION)
        first.source_metadata.writer = "eventwriter"
        self._storage.makedirs(self._logdir)
        sink = self._create_file(_next_stamp(self._logdir, now))
        try:
            sink.write(frame(first.SerializeToString()))
            queue = WriteBehind(
                sink, max_queue=self._max_queue, flush_secs=self._flush_secs, batch_window=self._batch_window
            )
        except BaseException:
            with contextlib.suppress(Exception):
                sink.close()
            with contextlib.suppress(Exception):
                self._storage.remove(sink.path)
            raise
        tags = FileTags(queue.put, queue.check)
        self._path = sink.path
        self._queue = queue
        self._tags = tags
        # The hot path reads these two directly.
        self._layouts = tags.layouts
        self._put = queue.put

    def _create_file(self, stamp: int) -> Sink:
        pid = os.getpid() if self._pid is None else self._pid
        for _ in range(1000):
            name = f"events.out.tfevents.{stamp:010d}.{self._hostname}.{pid}.{next(_file_counter)}{self._suffix}"
            try:
                return self._storage.create(self._storage.join(self._logdir, name))
            except FileExistsError:  # another process with our pid and counter; take the next number
                continue
        raise FileExistsError(f"no free event file name in {self._logdir}")

    def _after_fork_in_child(self) -> None:  # see eventwriter.forks
        self._lock = threading.Lock()

    def __reduce__(self) -> Any:
        raise TypeError(
            f"an EventFileWriter is one open file ({self._path}) and cannot be pickled; pickle the "
            "SummaryWriter or FileWriter instead (the copy writes its own event file)"
        )

    # -- state -------------------------------------------------------------------

    def get_logdir(self) -> str:
        """The directory of the event file."""
        return self._logdir

    @property
    def path(self) -> str:
        """The path of the event file currently written."""
        return self._path

    @property
    def closed(self) -> bool:
        """True once ``close()`` has completed."""
        return self._queue.closed

    @property
    def pending_bytes(self) -> int:
        """Bytes added and not yet written to the file."""
        return self._queue.pending_bytes

    def flush(self) -> None:
        """Return once every event added before this call is written to the file.

        Raises:
            WriterClosedError: the writer is closed.
            EventWriterError: writing failed.
        """
        self._queue.flush()

    def close(self) -> None:
        """Write everything pending, sync and close the file. Later calls do nothing.

        Raises:
            EventWriterError: writing failed and no earlier call reported it.
        """
        with self._lock:
            try:
                self._queue.close()
            finally:
                buffers.clear()  # copies kept for the builders of later calls

    def reopen(self) -> None:
        """After ``close()``, continue in a new event file in the same directory.

        Does nothing while the writer is open.
        """
        with self._lock:
            if self._queue.closed:
                self._open()

    # -- adding events -------------------------------------------------------------

    def write_scalar(
        self,
        tag: str,
        value: float,
        step: int | None,
        wall_time: float,
        new_style: bool = False,
        double_precision: bool = False,
    ) -> None:
        """Queue one scalar event; the hot path of ``add_scalar``.

        ``value``, ``step`` and ``wall_time`` are already converted; ``tag`` is checked
        once per tag and file.

        Raises:
            TypeError, ValueError: a bad tag.
            WriterClosedError, EventWriterError: as for ``flush``.
        """
        try:
            layout = self._layouts[(tag, double_precision) if new_style else tag]
        except (KeyError, TypeError):  # TypeError: an unhashable tag, refused there
            self._tags.put_first_scalar(tag, value, step, wall_time, new_style, double_precision)
            return
        self._put(layout.record(value, step, wall_time))

    def write_summary(self, summary: Summary, step: int | None, wall_time: float) -> None:
        """Queue a Summary built by eventwriter (it may be modified).

        The plugin metadata of a tag is written with its first value in the file only;
        TensorBoard reads just that one.
        """
        self._queue.check()
        self._tags.put_summary(summary, step, wall_time)

    def write_text(self, tag: str, text_string: Any, step: int | None, wall_time: float) -> None:
        """Queue ``add_text``'s event (``tag`` a str; ``text_string`` checked here).

        Raises:
            TypeError, ValueError: a bad tag or text.
            WriterClosedError, EventWriterError: as for ``flush``.
        """
        self._queue.check()
        self._tags.put_text(tag, text_string, step, wall_time)

    def write_later(
        self, build: Callable[[], Summary], step: int | None, wall_time: float, weight: int, tag: str = ""
    ) -> None:
        """Queue a summary that the writer thread builds, in order with the other events.

        ``build`` must own its data (copies, not the caller's arrays), should not fail
        for inputs already checked, and returns a Summary without plugin metadata (none
        is removed from it). If it fails, that event is left out and the next call (other
        than ``write_scalar``) raises EventWriterError naming ``tag``. ``weight`` is the
        memory it holds while queued, for the backlog bound.
        """

        if self._discards:
            self._queue.check()
            return

        def record() -> bytes:
            return summary_record(wall_time, step, build().SerializeToString())

        self._queue.put_later(record, weight, f"{tag!r}: the summary queued for {self._path}")

    def add_event(self, event: Any) -> None:
        """Queue a whole Event, written as it is: eventwriter's, or any protocol buffer
        Event with ``SerializeToString`` (tensorboard's, tensorboardX's, TensorFlow's), as
        tensorboard's ``EventFileWriter.add_event`` takes.

        Raises:
            TypeError: ``event`` is no Event protocol buffer.
        """
        if not isinstance(event, Event):
            descriptor = getattr(event, "DESCRIPTOR", None)
            if getattr(descriptor, "name", None) != "Event" or not callable(getattr(event, "SerializeToString", None)):
                raise TypeError(f"add_event expects an Event protocol buffer, got {describe(event)}")
            event = Event.FromString(event.SerializeToString())  # checks it parses as an Event
        self._queue.check()
        self._put(frame(event.SerializeToString()))


# A run's files sort by name in the order this process made them: TensorBoard reads a
# run's files in name order (its Python loader never goes back to an earlier name), and
# the counter in the name sorts as text (".10" before ".9"). So a file made in the same
# second as the last one in its directory (or after the clock went back) takes the next
# second in its name. Without a lock: two writers racing on one directory get distinct
# counters, and their order is arbitrary anyway. Directories whose last file is from an
# earlier second are forgotten once many are remembered (a sweep makes a run per trial).
_last_stamps: dict[str, int] = {}
_REMEMBERED_DIRECTORIES = 1024


def _next_stamp(logdir: str, now: float) -> int:
    key = os.path.abspath(logdir) if "://" not in logdir else logdir
    last = _last_stamps.get(key)
    stamp = int(now) if last is None else max(int(now), last + 1)
    if len(_last_stamps) >= _REMEMBERED_DIRECTORIES:
        for directory, seconds in list(_last_stamps.items()):  # a copy: other threads may add
            if seconds < int(now):
                _last_stamps.pop(directory, None)
    _last_stamps[key] = stamp
    return stamp


# events.out.tfevents.<10-digit time>.<hostname>.<pid>.<n><suffix>: hostname and suffix share
# what 255 bytes leave; each may take this much with room for the rest.
_MAX_NAME_PART_BYTES = 100


def check_file_options(
    max_queue: object, flush_secs: object, filename_suffix: object, clock: object, hostname: object, pid: object
) -> None:
    """Raise TypeError or ValueError, naming the argument, unless event files can be made
    with these options (the arguments of ``EventFileWriter`` and ``SummaryWriter``)."""
    if not isinstance(max_queue, int) or isinstance(max_queue, bool):
        raise TypeError(f"max_queue must be an int, got {describe(max_queue)}")
    if not isinstance(flush_secs, (int, float)) or isinstance(flush_secs, bool):
        raise TypeError(f"flush_secs must be a number of seconds, got {describe(flush_secs)}")
    if not flush_secs > 0:
        raise ValueError(f"flush_secs must be a positive number of seconds, got {describe(flush_secs)}")
    if not callable(clock):
        raise TypeError(f"clock must be a function returning seconds since the epoch, got {describe(clock)}")
    _check_name_part("filename_suffix", filename_suffix, may_be_empty=True)
    if hostname is not None:
        _check_name_part("hostname", hostname, may_be_empty=False)
    if pid is not None and (not isinstance(pid, int) or isinstance(pid, bool)):
        raise TypeError(f"pid must be an int or None, got {describe(pid)}")
    if pid is not None and pid < 0:
        raise ValueError(f"pid must not be negative, got {pid}")


def _check_name_part(name: str, part: object, *, may_be_empty: bool) -> None:
    if not isinstance(part, str):
        raise TypeError(f"{name} must be a str, got {describe(part)}")
    if "/" in part or os.sep in part or "\0" in part or not (part or may_be_empty):
        empty = "" if may_be_empty else " or be empty"
        raise ValueError(f"{name} goes into file names: it cannot hold '/' or NUL{empty}, got {part!r}")
    try:
        size = len(part.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError(f"{name} goes into file names: it must be valid Unicode text, got {part!r}") from None
    if size > _MAX_NAME_PART_BYTES:
        raise ValueError(
            f"{name} goes into file names, which file systems limit to 255 bytes: it may take "
            f"{_MAX_NAME_PART_BYTES} bytes (UTF-8), got {size}"
        )


def read_clock(clock: Callable[[], float]) -> float:
    """``clock()``, checked: a finite, non-negative number of seconds since the epoch.

    Raises:
        TypeError, ValueError: the clock returned something else.
    """
    now = clock()
    if not isinstance(now, numbers.Real) or isinstance(now, bool):
        raise TypeError(f"clock must return seconds since the epoch as a number, got {describe(now)}")
    if not 0 <= now < 1e12:  # NaN fails too
        raise ValueError(f"clock must return a finite, non-negative number of seconds since the epoch, got {now!r}")
    return float(now)
