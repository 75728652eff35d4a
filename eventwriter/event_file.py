"""EventFileWriter: one event file, written behind the caller by a background thread.

The caller's side costs an append to a deque and, now and then, waking the thread;
there is no lock and no protobuf object per scalar. The thread frames the queued events
(eventwriter.record) and writes them in batches through a Sink:

* an event is written (visible to readers) at most ``batch_window`` seconds after it is
  added, or at once when ``max_queue`` events are pending, or on ``flush()``;
* whatever was written is made durable (fsync) every ``flush_secs`` and on close;
* ``close()`` drains the queue and is idempotent; every writer still open when the
  interpreter exits is closed then, so a script that never calls ``close()`` loses
  nothing;
* an error in the thread is kept and raised (as EventWriterError, the cause chained)
  by the next ``add``/``flush``/``close``, and nobody waits forever on a dead thread;
* the caller waits only when more than ``MAX_PENDING_BYTES`` are queued, which happens
  only if the storage is slower than the training loop.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import socket
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, NoReturn

from eventwriter.convert import check_tag, describe
from eventwriter.encoding import ScalarLayout, event_bytes
from eventwriter.errors import EventWriterError, WriterClosedError
from eventwriter.proto.event_pb2 import Event
from eventwriter.proto.summary_pb2 import Summary
from eventwriter.record import frame
from eventwriter.sinks import Sink, Storage, storage_for

__all__ = ["FILE_VERSION", "MAX_PENDING_BYTES", "EventFileWriter"]

logger = logging.getLogger(__name__)

FILE_VERSION = "brain.Event:2"
MAX_PENDING_BYTES = 64 << 20
_BATCH_RECORDS = 16_384  # records joined into one write() call at most
_LAYOUT_CACHE_LIMIT = 10_000
_MAX_QUEUE_LIMIT = 65_536  # max_queue above this (or below 1) acts as this
_CHECK_EVERY = 4096  # while the thread is busy, the backlog is checked every this many adds
_SUMMARY_KEY = 0x2A  # Event.summary, field 5, length-delimited

_CLOSED, _FAILED, _FORKED = "closed", "failed", "forked"

# Process-wide: two writers in one process never build the same file name.
_file_counter = itertools.count()
_open_writers: weakref.WeakSet[EventFileWriter] = weakref.WeakSet()


class _Barrier:
    """Queued behind events; set by the thread once everything before it is written."""

    __slots__ = ("done", "stop")

    def __init__(self, stop: bool = False) -> None:
        self.done = threading.Event()
        self.stop = stop


class _Deferred:
    """A summary whose expensive part (PNG or GIF encoding, histogram bucketing) the
    writer thread does, between the events queued before and after it."""

    __slots__ = ("build", "step", "tag", "wall_time", "weight")

    def __init__(self, build: Callable[[], Summary], step: int | None, wall_time: float, weight: int, tag: str) -> None:
        self.build = build
        self.tag = tag
        self.step = step
        self.wall_time = wall_time
        self.weight = weight  # bytes it holds while queued, for the backlog bound

    def record(self) -> bytes:
        summary = self.build()
        return frame(event_bytes(self.wall_time, self.step, _SUMMARY_KEY, summary.SerializeToString()))


class EventFileWriter:
    """Writes serialized Events to a new event file in ``logdir``.

    Args:
        logdir: directory of the event file; created if missing.
        max_queue: pending events that make an ``add`` start a write at once instead of
            at the end of the batch window (values below 1 or above 65,536 act as 65,536).
        flush_secs: seconds between fsyncs of written data.
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
        batch_window: float = 0.1,
    ) -> None:
        if not isinstance(max_queue, int) or isinstance(max_queue, bool):
            raise TypeError(f"max_queue must be an int, got {describe(max_queue)}")
        if not isinstance(flush_secs, (int, float)) or isinstance(flush_secs, bool) or not flush_secs > 0:
            raise ValueError(f"flush_secs must be a positive number of seconds, got {describe(flush_secs)}")
        if not isinstance(filename_suffix, str):
            raise TypeError(f"filename_suffix must be a str, got {describe(filename_suffix)}")
        if not isinstance(batch_window, (int, float)) or not 0 <= batch_window <= 60:
            raise ValueError(f"batch_window must be between 0 and 60 seconds, got {describe(batch_window)}")
        self._logdir = os.fspath(logdir)
        self._max_queue = min(max_queue, _MAX_QUEUE_LIMIT) if max_queue > 0 else _MAX_QUEUE_LIMIT
        self._flush_secs = float(flush_secs)  # may be inf: never fsync until close
        self._suffix = filename_suffix
        self._clock = clock
        self._hostname = socket.gethostname() if hostname is None else hostname
        self._pid_override = pid
        self._storage = storage if storage is not None else storage_for(self._logdir)
        self._batch_window = float(batch_window)
        self._close_lock = threading.Lock()
        self._first_lock = threading.Lock()
        self._open()

    # -- lifecycle ---------------------------------------------------------------

    def _open(self) -> None:
        """Create a new event file with its first event and start its writer thread.

        Nothing about the writer changes unless all of that succeeds.
        """
        self._storage.makedirs(self._logdir)
        self._pid = os.getpid() if self._pid_override is None else self._pid_override
        sink = self._create_file()
        try:
            first = Event(wall_time=self._clock(), file_version=FILE_VERSION)
            first.source_metadata.writer = "eventwriter"
            sink.write(frame(first.SerializeToString()))
            thread = threading.Thread(target=self._run, name=f"eventwriter:{sink.path}", daemon=True)
        except BaseException:
            _close_quietly(sink)
            raise
        self._sink = sink
        self._path = sink.path
        self._error: BaseException | None = None
        self._error_reported = False
        self._build_errors: list[
            tuple[str, Exception]
        ] = []  # deferred summaries that failed (rare: inputs are checked)
        self._pending: deque[bytes | _Barrier | _Deferred] = deque()
        self._enqueued_bytes = 0  # grows in callers' threads
        self._written_bytes = 0  # grows in the writer thread
        self._max_pending_bytes = MAX_PENDING_BYTES
        self._idle = True
        self._urgent = False
        self._signal_at = 1  # queue length at which an add calls _wake()
        self._wakeup = threading.Event()
        self._stopped = threading.Event()  # set by the thread as its last act
        self._described: set[str] = set()  # tags whose metadata this file already has
        # Per file, so that a miss marks a tag's first value: old style by tag, new style
        # by (tag, True, double precision).
        self._plain_layouts: dict[str, ScalarLayout] = {}
        self._layouts: dict[Any, ScalarLayout] = {}
        self._thread = thread
        self._closed = False
        # None while open and healthy, else _CLOSED, _FAILED or _FORKED: the hot path
        # checks this one attribute.
        self._state: str | None = None
        thread.start()
        _open_writers.add(self)

    def _create_file(self) -> Sink:
        stamp = int(self._clock())
        for _ in range(1000):
            name = f"events.out.tfevents.{stamp:010d}.{self._hostname}.{self._pid}.{next(_file_counter)}{self._suffix}"
            try:
                return self._storage.create(self._storage.join(self._logdir, name))
            except FileExistsError:  # another process with our pid and counter; take the next number
                continue
        raise FileExistsError(f"no free event file name in {self._logdir}")

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
        return self._closed

    def flush(self) -> None:
        """Return once every event added before this call is written to the file.

        Raises:
            WriterClosedError: the writer is closed.
            EventWriterError: writing failed.
        """
        self._check()
        barrier = _Barrier()
        self._pending.append(barrier)
        self._request_write()
        while not barrier.done.wait(0.1):
            if self._stopped.is_set():
                break
        self._check()
        if not barrier.done.is_set():
            raise EventWriterError(f"the writer thread of {self._path} stopped before writing everything")

    def close(self) -> None:
        """Write everything pending, sync and close the file. Later calls do nothing.

        If interrupted (Ctrl-C), the writer stays registered and the exit hook finishes it.

        Raises:
            EventWriterError: writing failed and no earlier call reported it.
        """
        with self._close_lock:
            if not self._closed:
                if self._state is None:
                    self._state = _CLOSED
                    self._pending.append(_Barrier(stop=True))
                    self._request_write()
                if self._state != _FORKED:
                    # Not Thread.join(): a join interrupted by Ctrl-C can mark a running
                    # thread as stopped (CPython gh-90882), and the exit hook must not
                    # close the file under a thread that is still writing.
                    while not self._stopped.wait(0.1):
                        pass
                    self._thread.join()
                    self._finish_file()
                self._closed = True
                _open_writers.discard(self)
            if self._error is not None and not self._error_reported:
                self._error_reported = True
                raise self._failure()
            if self._build_errors:
                raise self._build_failure()

    def _finish_file(self) -> None:
        """After the thread stopped: write what racing adds queued late, then close."""
        if self._error is not None:
            _close_quietly(self._sink)
            return
        try:
            self._write_pending()
            self._sink.close()
        except Exception as exc:  # reported by close() like a thread failure
            self._error = exc
            _close_quietly(self._sink)

    def reopen(self) -> None:
        """After ``close()``, continue in a new event file in the same directory.

        Does nothing while the writer is open.
        """
        with self._close_lock:
            if not self._closed:
                return
            self._open()

    # -- adding events -----------------------------------------------------------

    def add_event(self, event: Event) -> None:
        """Queue an Event (this package's proto class)."""
        if not isinstance(event, Event):
            raise TypeError(f"add_event expects an eventwriter Event, got {describe(event)}")
        self.write_serialized(event.SerializeToString())

    def write_serialized(self, data: bytes) -> None:
        """Queue the bytes of a serialized Event."""
        self._check()
        self._enqueue(data)

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
        here, once per tag.
        """
        if self._state is not None:
            self._raise_state()
        try:
            layout = self._layouts[(tag, True, bool(double_precision))] if new_style else self._plain_layouts[tag]
        except (KeyError, TypeError):
            self._write_first_scalar(tag, value, step, wall_time, new_style, double_precision)
            return
        # _enqueue, inlined: this is the hot path
        data = layout.record(value, step, wall_time)
        pending = self._pending
        pending.append(data)
        self._enqueued_bytes += len(data)
        if len(pending) >= self._signal_at:
            self._wake()
        if self._state is not None:  # closed or failed while this call was under way
            self._withdraw(data)

    def _write_first_scalar(
        self, tag: str, value: float, step: int | None, wall_time: float, new_style: bool, double_precision: bool
    ) -> None:
        check_tag(tag)
        layout = ScalarLayout(tag, bool(new_style), bool(double_precision))
        with self._first_lock:
            # The event carrying the metadata is queued before the tag counts as described,
            # so no other thread can queue a value without metadata ahead of it.
            first = bool(new_style) and tag not in self._described
            self._enqueue_record(layout.record(value, step, wall_time, first=first))
            if first:
                self._described.add(tag)
            layouts: dict[Any, ScalarLayout] = self._layouts if new_style else self._plain_layouts
            if len(layouts) >= _LAYOUT_CACHE_LIMIT:
                layouts.clear()
            layouts[(tag, True, bool(double_precision)) if new_style else tag] = layout

    def write_summary(self, summary: Summary, step: int | None, wall_time: float) -> None:
        """Queue a Summary built by eventwriter (it may be modified).

        The plugin metadata of a tag is written with its first value in the file only;
        it is removed from later values that hold data, since TensorBoard reads just the
        first. Values that consist of metadata alone (hparams records) keep it.
        """
        self._check()
        values = summary.value
        fresh = {v.tag for v in values if v.HasField("metadata") and v.tag not in self._described}
        if not fresh:
            _strip_metadata(values, self._described)
            self._enqueue(event_bytes(wall_time, step, _SUMMARY_KEY, summary.SerializeToString()))
            return
        with self._first_lock:
            _strip_metadata(values, self._described)
            self._enqueue(event_bytes(wall_time, step, _SUMMARY_KEY, summary.SerializeToString()))
            self._described.update(fresh)

    def write_later(
        self, build: Callable[[], Summary], step: int | None, wall_time: float, weight: int, tag: str = ""
    ) -> None:
        """Queue a summary that the writer thread builds, in order with the other events.

        ``build`` should not fail for inputs already checked; if it does, that event is
        left out and the next call (other than ``write_scalar``) raises EventWriterError.
        It must own its data (copies, not the caller's arrays) and return a Summary
        without plugin metadata (none is removed from it).
        ``weight`` is the memory the queued item holds, for the backlog bound.
        """
        self._check()
        self._push(_Deferred(build, step, wall_time, weight, tag), weight)

    def _enqueue(self, event: bytes) -> None:
        """Queue a serialized event, framed here (as scalars are in write_scalar)."""
        self._enqueue_record(frame(event))

    def _enqueue_record(self, data: bytes) -> None:
        self._push(data, len(data))

    def _push(self, item: bytes | _Deferred, weight: int) -> None:
        """Queue a record or a deferred summary holding ``weight`` bytes (write_scalar
        inlines this for speed)."""
        pending = self._pending
        pending.append(item)
        self._enqueued_bytes += weight
        if len(pending) >= self._signal_at or self._enqueued_bytes - self._written_bytes > self._max_pending_bytes:
            self._wake()
        if self._state is not None:  # closed or failed while this call was under way
            self._withdraw(item)

    def _withdraw(self, item: bytes | _Deferred) -> None:
        """Take back an event queued during close; raise unless it was written anyway."""
        try:
            self._pending.remove(item)
        except ValueError:
            return  # already taken by the writer: it is in the file
        self._raise_state()

    def _wake(self) -> None:
        """Called when the queue reaches ``_signal_at``: wake the thread if it needs it,
        set the next threshold, and wait if too much is queued.

        Thresholds: 1 while the thread is idle (the first event starts a batch window),
        ``max_queue`` during the window (reaching it cuts the window short), then every
        ``_CHECK_EVERY`` events for the backlog check, until the thread drains the queue.
        """
        pending = len(self._pending)
        if self._idle:
            self._idle = False
            self._signal_at = self._max_queue
            self._wakeup.set()
        if pending >= self._max_queue:
            if not self._urgent:
                self._urgent = True
                self._wakeup.set()
            self._signal_at = pending + _CHECK_EVERY
        # The thread may have drained the queue and gone idle since the checks above, and
        # the threshold just stored would then hide the next adds from it: look again.
        if self._idle:
            self._signal_at = 1
            if self._pending:
                self._idle = False
                self._wakeup.set()
        # Counters are updated without a lock; a lost increment only loosens this bound.
        if self._enqueued_bytes - self._written_bytes > self._max_pending_bytes:
            self._wait_for_backlog()

    def _request_write(self) -> None:
        """Write everything queued now (flush and close)."""
        self._idle = False
        self._urgent = True
        self._wakeup.set()

    def _wait_for_backlog(self) -> None:
        while self._enqueued_bytes - self._written_bytes > self._max_pending_bytes // 2 and not self._stopped.is_set():
            self._request_write()
            time.sleep(0.005)

    def _check(self) -> None:
        if self._state is not None:
            self._raise_state()
        if self._build_errors:
            raise self._build_failure()

    def _build_failure(self) -> EventWriterError:
        tag, error = self._build_errors.pop(0)
        failure = EventWriterError(
            f"{tag!r}: the summary queued for {self._path} could not be built and was not written: {error!r}"
        )
        failure.__cause__ = error
        return failure

    def _raise_state(self) -> NoReturn:
        """Raise a new exception describing why the writer takes no events."""
        if self._state == _FAILED:
            self._error_reported = True
            raise self._failure()
        if self._state == _FORKED:
            raise EventWriterError(
                f"event file {self._path} belongs to process {self._pid}; this forked child cannot write it "
                "(create a new writer in the child)"
            )
        raise WriterClosedError(f"event file {self._path} is closed")

    def _failure(self) -> EventWriterError:
        error = EventWriterError(f"writing event file {self._path} failed: {self._error!r}")
        error.__cause__ = self._error
        return error

    # -- the writer thread -------------------------------------------------------

    def _run(self) -> None:
        last_sync = time.monotonic()
        unsynced = False
        try:
            while True:
                timeout = None
                if unsynced:
                    timeout = min(max(0.0, last_sync + self._flush_secs - time.monotonic()), threading.TIMEOUT_MAX)
                self._wakeup.wait(timeout)
                self._wakeup.clear()
                if not self._urgent and self._pending:
                    # Batch window: let a burst of adds gather into one write.
                    self._wakeup.wait(self._batch_window)
                    self._wakeup.clear()
                self._urgent = False
                self._signal_at = self._max_queue
                wrote, stop = self._write_pending()
                if stop:
                    return  # close() syncs and closes the file
                unsynced = unsynced or wrote
                if unsynced and time.monotonic() - last_sync >= self._flush_secs:
                    self._sink.sync()
                    last_sync, unsynced = time.monotonic(), False
                self._idle = True
                self._signal_at = 1
                if self._pending:  # an add may have missed the idle flag
                    self._idle = False
                    self._wakeup.set()
        except BaseException as exc:  # kept and raised in the caller's thread
            self._fail(exc)
        finally:
            self._stopped.set()

    def _write_pending(self) -> tuple[bool, bool]:
        """Write everything queued; return (wrote anything, a close barrier was reached).

        The queue holds framed records (a batch is one join and one write), deferred
        summaries (built here) and barriers (set once everything before them is written).
        """
        pending = self._pending
        popleft = pending.popleft
        wrote = False
        while pending:
            batch: list[bytes] = []
            append = batch.append
            barrier: _Barrier | None = None
            weight_correction = 0  # deferred items count their queued weight, not their size
            while pending and len(batch) < _BATCH_RECORDS:
                item = popleft()
                if type(item) is bytes:
                    append(item)
                elif isinstance(item, _Deferred):
                    try:
                        record = item.record()
                    except Exception as exc:  # that one event is lost; the next call says so
                        self._build_errors.append((item.tag, exc))
                        weight_correction += item.weight
                        continue
                    weight_correction += item.weight - len(record)
                    append(record)
                elif isinstance(item, _Barrier):
                    barrier = item
                    break
            if batch:
                data = b"".join(batch)
                self._sink.write(data)
                self._written_bytes += len(data)
                wrote = True
            self._written_bytes += weight_correction
            if barrier is not None:
                barrier.done.set()
                if barrier.stop:
                    return wrote, True
        return wrote, False

    def _fail(self, exc: BaseException) -> None:
        self._error = exc
        self._state = _FAILED
        lost = 0
        while self._pending:  # wake everyone waiting on a barrier; count what is lost
            item = self._pending.popleft()
            if isinstance(item, _Barrier):
                item.done.set()
            else:
                lost += 1
        logger.error("eventwriter: writing %s failed (%d queued events not written): %r", self._path, lost, exc)

    def _forget_after_fork(self) -> None:
        self._state = _FORKED
        self._pending = deque()


def _close_quietly(sink: Sink) -> None:
    try:
        sink.close()
    except OSError:
        pass


def _strip_metadata(values: Any, described: set[str]) -> None:
    for value in values:
        if value.tag in described and value.WhichOneof("value") is not None:
            value.ClearField("metadata")


def _close_all_at_exit() -> None:
    for writer in list(_open_writers):
        try:
            writer.close()
        except Exception as exc:
            logger.error("eventwriter: closing %s at exit failed: %r", writer.path, exc)


def _after_fork_in_child() -> None:
    for writer in list(_open_writers):
        writer._forget_after_fork()
    _open_writers.clear()


atexit.register(_close_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
