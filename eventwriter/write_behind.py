"""Write-behind: records queued by callers, written to a Sink by a background thread.

This module knows bytes, deferred callables that produce bytes, and a Sink; nothing
about events. ``put`` costs the caller an append to a deque and, now and then, waking
the thread: no lock per call. The thread writes what is queued in batches, one
``write()`` each:

* a record reaches the sink (readers see it) ``batch_window`` seconds after it is
  queued at most, at once when ``max_queue`` records are pending, or on ``flush()`` —
  while the thread keeps up. When it cannot (callers add faster than it writes, other
  threads hold the GIL, a slow disk), callers wait: the thread measures how many bytes a
  second it writes (deferred items count what they hold), and a queue takes no more than
  it writes in ``MAX_LAG / 2`` seconds (between ``MIN_PENDING_BYTES`` and
  ``MAX_PENDING_BYTES``), and deferred items queued hold no more than
  ``MAX_DEFERRED_BYTES`` (the copies of the arrays they will build from; more queued
  would not make the thread faster). A caller over a limit waits until the queue is under
  it again (about one batch), so no record waits much longer than ``MAX_LAG`` and a crash
  loses about that much;
* ``flush()`` writes what is queued itself, in the caller's thread: a training loop that
  flushes every step (as many frameworks do) pays one ``write()`` of a few hundred
  bytes, not a round trip through the thread. One lock (``_write_lock``) makes whoever
  writes, thread or caller, write in queue order;
* written data is made durable (``Sink.sync``) every ``flush_secs`` and on close;
* a deferred item (``put_later``) is built by the thread in its place in the queue, once
  the records before it are written: the costly half of images and histograms runs
  there, where numpy and zlib release the GIL;
* ``close()`` drains the queue and is idempotent; at process end (eventwriter.at_exit)
  open queues are drained and synced, and later records are written by the caller;
* in a forked child the thread does not exist (eventwriter.forks): every call raises,
  telling the child to make its own writer;
* an error in the thread is raised (EventWriterError, the cause chained) by the next
  ``put``/``flush``/``close``, and nobody waits forever on a dead thread.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import NamedTuple, NoReturn, Union

from eventwriter import at_exit, forks
from eventwriter.errors import EventWriterError, WriterClosedError
from eventwriter.storage import Sink

__all__ = ["MAX_DEFERRED_BYTES", "MAX_LAG", "MAX_PENDING_BYTES", "MIN_PENDING_BYTES", "WriteBehind"]

logger = logging.getLogger(__name__)

MAX_PENDING_BYTES = 64 << 20  # the most a queue holds, whatever the thread's speed
MIN_PENDING_BYTES = 64 << 10  # what a queue may always hold (a burst of about 1,400 scalars)
MAX_DEFERRED_BYTES = 16 << 20  # deferred items queued hold this much at most (the first always goes in)
MAX_LAG = 1.0  # seconds: a queue holds what its thread writes in half of this, so no record waits longer
MAX_QUEUE_LIMIT = 65_536  # max_queue above this (or below 1) acts as this
_BATCH_RECORDS = 16_384  # records joined into one write() call at most
CHECK_EVERY = 4096  # while the thread is busy, lag and backlog are checked every this many puts

# _state: None while open and healthy (the hot path checks this one attribute), else:
_CLOSED, _FAILED, _FORKED = "closed", "failed", "forked"
_AT_EXIT = "at exit"  # finished at process end: callers write each record themselves


class _Barrier(threading.Event):
    """Queued behind records; set by the thread once everything before it is written."""

    def __init__(self, stop: bool = False) -> None:
        super().__init__()
        self.stop = stop  # the thread ends after it


class _Deferred(NamedTuple):
    """Bytes the thread gets by calling ``build``, written in their place in the queue."""

    build: Callable[[], bytes]
    weight: int  # bytes it holds while queued, for the backlog bound
    label: str  # names it in the error raised if building fails
    estimate: float  # seconds its build was expected to take when it was queued


_Item = Union[bytes, _Barrier, _Deferred]


class WriteBehind:
    """The queue and background thread of one Sink, which it owns and closes.

    Args:
        sink: where the bytes go; the first bytes of the file are already written.
        max_queue: pending items that make a ``put`` start a write at once instead of
            at the end of the batch window (below 1 or above 65,536: 65,536).
        flush_secs: seconds between syncs of written data (may be ``inf``: on close only).
        batch_window: longest time a queued record waits before it is written.
    """

    def __init__(self, sink: Sink, *, max_queue: int, flush_secs: float, batch_window: float) -> None:
        self.path = sink.path
        self._sink = sink
        self._max_queue = min(max_queue, MAX_QUEUE_LIMIT) if max_queue > 0 else MAX_QUEUE_LIMIT
        self._flush_secs = flush_secs
        self._batch_window = batch_window
        self._max_pending_bytes = min(MIN_PENDING_BYTES, MAX_PENDING_BYTES)  # until the thread's speed is known
        self._rate = 0.0  # bytes a second the thread writes, a moving average
        self._build_cost = 0.0  # seconds per byte of weight of recent deferred builds; 0: none yet
        self._queued_build_secs = 0.0  # expected build time of deferred items; grows in callers' threads
        self._built_secs = 0.0  # the same for those built; grows in the writer thread
        self._queued_weight = 0  # weight of deferred items queued; grows in callers' threads
        self._built_weight = 0  # the same for those built; grows in the writer thread
        self._pending: deque[_Item] = deque()
        self._enqueued_bytes = 0  # grows in callers' threads
        self._written_bytes = 0  # grows in the writer thread
        self._in_flight: list[bytes] = []  # the records of the batch being written
        self._idle = True
        self._urgent = False
        self._signal_at = 1  # queue length at which a put calls _wake()
        self._wakeup = threading.Event()
        self._progress = threading.Event()  # set by the thread after each batch
        self._stopped = threading.Event()  # set by the thread as its last act
        self._close_lock = threading.Lock()
        self._write_lock = threading.Lock()  # held by whoever takes items from the queue and writes them
        self._writing: int | None = None  # the thread writing in flush(), while it holds the write lock
        self._close_requested = False  # close() called by a signal handler during that flush
        self._last_sync = time.monotonic()
        self._unsynced = False  # written since the last sync
        self._closed = False
        self._state: str | None = None
        self._error: BaseException | None = None
        self._lost = 0  # records added that the failure kept from the file
        self._error_reported = False
        self._build_errors: list[tuple[str, Exception]] = []  # deferred items that failed
        self._thread = threading.Thread(target=self._run, name=f"eventwriter:{self.path}", daemon=True)
        if at_exit.exiting():  # no thread any more: the callers write
            self._state = _AT_EXIT
            self._stopped.set()
        else:
            self._thread.start()
        at_exit.register(self)
        forks.register(self)

    @property
    def closed(self) -> bool:
        """True once ``close()`` has completed."""
        return self._closed

    @property
    def pending_bytes(self) -> int:
        """Bytes queued and not yet written (deferred items count what they hold)."""
        return self._enqueued_bytes - self._written_bytes

    # -- the callers' side ---------------------------------------------------------------

    def put(self, record: bytes) -> None:
        """Queue ``record`` to be written after everything queued before it.

        Raises:
            WriterClosedError: the queue is closed (the record is not written).
            EventWriterError: writing failed earlier, or this is a forked child.
        """
        if self._state is not None:
            self._write_late(record)
            return
        pending = self._pending
        pending.append(record)
        self._enqueued_bytes += len(record)
        if len(pending) >= self._signal_at or self._enqueued_bytes - self._written_bytes > self._max_pending_bytes:
            self._wake()
        if self._state is not None:  # closed or failed while this call was under way
            self._withdraw(record)

    def put_later(self, build: Callable[[], bytes], weight: int, label: str) -> None:
        """Queue ``build``, which the thread calls for the bytes to write in its place.

        ``weight`` is the memory it holds while queued (for the backlog bound). If it
        fails, its bytes are left out and the next ``check``, ``flush`` or ``close``
        raises EventWriterError starting with ``label``.
        """
        self.check()
        # Before any build was timed, an item is expected to take what the queue allows.
        estimate = weight * self._build_cost if self._build_cost else MAX_LAG / 2
        item = _Deferred(build, weight, label, estimate)
        if self._state is not None:
            self._write_late(item)
            return
        self._pending.append(item)
        self._enqueued_bytes += weight
        self._queued_weight += weight
        self._queued_build_secs += estimate
        self._wake()  # a costly item: lag and backlog are checked every time
        if self._state is not None:
            self._withdraw(item)

    def check(self) -> None:
        """Raise what the next ``put`` would raise, or the error of a failed deferred build."""
        if self._state is not None and self._state != _AT_EXIT:
            self._raise_state()
        if self._build_errors:
            raise self._build_failure()

    def flush(self) -> None:
        """Return once everything queued before this call is written to the sink.

        The records at the head of the queue are written by this thread; a deferred item
        or a barrier among them is left to the writer thread, and waited for.

        Raises:
            WriterClosedError: the queue is closed.
            EventWriterError: writing failed.
        """
        self.check()
        if self._state == _AT_EXIT:
            return  # every record is written when added
        if self._writing == threading.get_ident():
            return  # a signal handler interrupted this thread's flush, which finishes the job
        try:
            wrote_all = self._write_records_here()
        finally:
            closing = self._close_requested  # by a signal handler, while this thread wrote
            if closing:
                self._close_requested = False
                self.close()
        if closing:
            return  # everything is written: closing wrote the rest
        if not wrote_all:
            self._flush_through_thread()
        self.check()

    def _write_records_here(self) -> bool:
        """Write the records queued at the head of the queue in this thread; return False
        if a deferred item or a barrier is left before what was queued at the call.

        Interrupted anywhere (Ctrl-C, an exception from a signal handler), nothing is lost:
        records are taken from the queue only once written (and a record may then be
        written twice). A signal handler that calls ``flush`` or ``close`` meanwhile does
        not wait for this thread (which holds the write lock): see ``_writing``.
        """
        pending = self._pending
        with self._write_lock:
            if self._state is not None:
                return True  # closed or failed meanwhile: check() says so
            self._writing = threading.get_ident()
            try:
                left = len(pending)
                while left > 0:
                    # One C call: no other thread and no signal handler runs inside it.
                    head = list(itertools.islice(pending, min(left, _BATCH_RECORDS)))
                    records: list[bytes] = []
                    for item in head:
                        if not isinstance(item, bytes):
                            break
                        records.append(item)
                    if records:
                        self._write_here(records)
                    if len(records) < len(head):
                        return False
                    left -= len(records)
                if self._unsynced and time.monotonic() - self._last_sync >= self._flush_secs:
                    self._sync()
            except Exception as exc:  # as if the thread had failed: the same error, from here
                self._fail(exc)
                self._wakeup.set()  # the thread sees the failure and ends
            finally:
                self._writing = None
        return True

    def _write_here(self, batch: list[bytes]) -> None:
        """Write records at the head of the queue, then take them from it."""
        data = b"".join(batch)
        try:
            self._sink.write(data)
        except Exception as exc:
            self._take(batch[: len(batch) - _not_written(batch, getattr(exc, "bytes_written", 0))])
            raise
        self._written_bytes += len(data)
        self._unsynced = True
        self._take(batch)
        if not self._progress.is_set():
            self._progress.set()

    def _take(self, written: list[bytes]) -> None:
        """Take ``written`` from the head of the queue: each only if it is still there (a
        signal handler's flush may have written and taken it meanwhile)."""
        pending = self._pending
        for record in written:
            if not pending or pending[0] is not record:
                return
            pending.popleft()

    def _flush_through_thread(self) -> None:
        barrier = _Barrier()
        self._pending.append(barrier)
        self._request_write()
        while not barrier.wait(0.1):
            if self._stopped.is_set():
                break
        self.check()
        if not barrier.is_set():
            raise EventWriterError(f"the writer thread of {self.path} stopped before writing everything")

    def close(self) -> None:
        """Write everything queued, sync and close the sink. Later calls do nothing.

        If interrupted (Ctrl-C), the queue stays registered and the exit hook finishes it.

        Raises:
            EventWriterError: writing failed (or a deferred build did) and no earlier call
                reported it.
        """
        if self._writing == threading.get_ident():
            # A signal handler interrupted this thread's flush, which holds the write lock
            # the writer thread needs to finish: that flush closes when it is done.
            self._close_requested = True
            return
        with self._close_lock:
            self._close_locked()
            self._raise_unreported()

    def finish_at_exit(self) -> None:
        """At process end: write everything queued and sync; later records are written
        by the callers themselves. A close() under way (interrupted) is completed."""
        with self._close_lock:
            if self._state is None:
                self._state = _AT_EXIT
                self._pending.append(_Barrier(stop=True))
                self._request_write()
                self._drain()
                if self._error is None:
                    self._sink.sync()
                self._raise_unreported()
            elif self._state != _AT_EXIT:  # closed but not finished, failed, or forked
                self._close_locked()
                self._raise_unreported()

    def _close_locked(self) -> None:
        if self._closed:
            return
        if self._state is None or self._state == _AT_EXIT:
            self._state = _CLOSED
            self._pending.append(_Barrier(stop=True))
            self._request_write()
        if self._state != _FORKED:
            self._drain()
            self._close_sink()
        self._closed = True
        at_exit.forget(self)

    def _drain(self) -> None:
        """Wait for the thread to stop, then write what racing puts queued late."""
        # Not Thread.join() alone: a join interrupted by Ctrl-C can mark a running thread
        # as stopped (CPython gh-90882), and the sink must not be closed under a thread
        # that is still writing.
        while not self._stopped.wait(0.1):
            pass
        if self._thread.is_alive() or self._thread.ident is not None:
            self._thread.join()
        if self._error is None:
            try:
                self._write_pending()
            except Exception as exc:  # reported by close() like a thread failure
                self._error = exc

    def _close_sink(self) -> None:
        try:
            self._sink.close()
        except Exception as exc:
            if self._error is None:
                self._error = exc
            _close_quietly(self._sink)

    def _raise_unreported(self) -> None:
        if self._error is not None and not self._error_reported:
            self._error_reported = True
            raise self._failure()
        if self._build_errors:
            raise self._build_failure()

    def _write_late(self, item: bytes | _Deferred) -> None:
        """A record for a queue whose thread is gone: written now if the process is
        exiting, else refused."""
        if self._state != _AT_EXIT:
            self._raise_state()
        try:
            record = item if type(item) is bytes else item.build()  # type: ignore[union-attr]
            with self._write_lock:
                self._sink.write(record)
        except Exception as exc:
            raise EventWriterError(f"writing {self.path} at exit failed: {exc!r}") from exc

    def _withdraw(self, item: bytes | _Deferred) -> None:
        """Take back an item queued while the state changed; raise unless it was written
        anyway (or, at exit, write it now).

        A caller's flush writes records before it takes them from the queue: under the
        write lock, so the item is looked for once no write is under way. (Not in a
        signal handler that interrupted this thread's flush, which holds the lock.)
        """
        lock = self._write_lock if self._writing != threading.get_ident() else contextlib.nullcontext()
        with lock:
            try:
                self._pending.remove(item)
            except ValueError:
                return  # already taken by the thread or a flush: it is in the sink
        self._write_late(item)

    def _wake(self) -> None:
        """Called when the queue reaches ``_signal_at``: wake the thread if it needs it,
        set the next threshold, and make the caller wait if the thread is behind.

        Thresholds: 1 while the thread is idle (the first record starts a batch window),
        ``max_queue`` during the window (reaching it cuts the window short), then every
        ``CHECK_EVERY`` records while the thread is busy, until it drains the queue.
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
            self._signal_at = pending + CHECK_EVERY
        # The thread may have drained the queue and gone idle since the checks above, and
        # the threshold just stored would then hide the next puts from it: look again.
        if self._idle:
            self._signal_at = 1
            if self._pending:
                self._idle = False
                self._wakeup.set()
        # Counters are updated without a lock; a lost increment only loosens this bound.
        if self._behind():
            self._wait_until_caught_up()

    def _behind(self) -> bool:
        """Whether the queue holds more than its thread writes in MAX_LAG / 2 (more bytes
        than its measured speed allows, or deferred items expected to take longer to
        build), or deferred items holding more than MAX_DEFERRED_BYTES. The first deferred
        item is always taken; a small one is only a few bytes, but a video may take its
        thread seconds."""
        if self.pending_bytes > self._max_pending_bytes:
            return True
        if self._queued_weight - self._built_weight > MAX_DEFERRED_BYTES:
            return True
        return self._queued_build_secs - self._built_secs > MAX_LAG / 2 + 1e-9

    def _wait_until_caught_up(self) -> None:
        """Wait until the queue is under its limits again (a stall lasts about one batch,
        or one deferred build)."""
        if self._writing == threading.get_ident():
            return  # a signal handler adding during this thread's flush: the thread cannot write now
        while not self._stopped.is_set() and self._state is None:
            if not self._behind():
                return
            self._progress.clear()
            self._request_write()
            self._progress.wait(0.05)

    def _request_write(self) -> None:  # flush and close: write everything queued now
        self._idle = False
        self._urgent = True
        self._wakeup.set()

    def _raise_state(self) -> NoReturn:
        """Raise a new exception saying why the queue takes nothing."""
        if self._state == _FAILED:
            self._error_reported = True
            raise self._failure()
        if self._state == _FORKED:
            raise EventWriterError(
                f"{self.path} belongs to another process; this forked child cannot write it "
                "(create a new writer in the child)"
            )
        raise WriterClosedError(f"{self.path} is closed")

    def _failure(self) -> EventWriterError:
        lost = f"; {self._lost} records added were not written" if self._lost else ""
        error = EventWriterError(f"writing {self.path} failed{lost}: {self._error!r}")
        error.__cause__ = self._error
        return error

    def _build_failure(self) -> EventWriterError:
        label, error = self._build_errors.pop(0)
        failure = EventWriterError(f"{label} could not be built and was not written: {error!r}")
        failure.__cause__ = error
        return failure

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                timeout = None
                if self._unsynced:
                    due = self._last_sync + self._flush_secs - time.monotonic()
                    timeout = min(max(0.0, due), threading.TIMEOUT_MAX)
                self._wakeup.wait(timeout)
                self._wakeup.clear()
                if not self._urgent and self._state is None:
                    # Batch window: let a burst of puts gather into one write. Also when a
                    # caller's flush took the queue meanwhile: the next puts, while the
                    # thread waits here, need not wake it (once a window, not once a step).
                    self._wakeup.wait(self._batch_window)
                    self._wakeup.clear()
                if self._state == _FAILED:  # a caller's flush failed to write
                    return
                self._urgent = False
                self._signal_at = self._max_queue
                if self._write_pending(in_thread=True):
                    return  # close() syncs and closes the sink
                with self._write_lock:
                    if self._unsynced and time.monotonic() - self._last_sync >= self._flush_secs:
                        self._sync()
                    if not self._pending:
                        self._settle_counters()
                self._idle = True
                self._signal_at = 1
                if self._pending:  # a put may have missed the idle flag
                    self._idle = False
                    self._wakeup.set()
        except BaseException as exc:  # kept and raised in the caller's thread
            if self._state != _FAILED:
                self._fail(exc)
        finally:
            self._progress.set()
            self._stopped.set()

    def _write_pending(self, in_thread: bool = False) -> bool:
        """Write what is queued; return whether a close barrier was reached.

        Records are joined into one write per batch, deferred items built here, and
        barriers set once everything before them is written; the write lock is taken a
        batch at a time. In the writer thread a failure marks the queue failed before the
        lock is released, so that no caller's flush writes after a partial record.
        """
        pending = self._pending
        while pending:
            with self._write_lock:
                try:
                    stop = self._write_batch()
                except Exception as exc:
                    if in_thread:
                        self._fail(exc)
                    raise
            if stop:
                return True
        return False

    def _write_batch(self) -> bool:
        """Write one batch; return whether a close barrier was reached (and taken)."""
        pending = self._pending
        popleft = pending.popleft
        started = time.monotonic()
        batch: list[bytes] = []
        append = batch.append
        barrier: _Barrier | None = None
        weight_correction = 0  # deferred items count their queued weight, not their size
        while pending and len(batch) < _BATCH_RECORDS:
            item = popleft()
            if type(item) is bytes:
                append(item)
            elif isinstance(item, _Deferred):
                if batch:  # what is ready goes out first: the build may take a while
                    pending.appendleft(item)
                    break
                try:
                    record = item.build()
                except Exception as exc:  # only its bytes are lost; the next call says so
                    self._build_errors.append((item.label, exc))
                    weight_correction += item.weight
                    continue
                finally:
                    self._built_secs += item.estimate
                    self._built_weight += item.weight
                self._note_build(item.weight, time.monotonic() - started)
                weight_correction += item.weight - len(record)
                append(record)
            elif isinstance(item, _Barrier):
                barrier = item
                break
        if batch:
            data = b"".join(batch)
            self._in_flight = batch
            self._sink.write(data)
            self._in_flight = []
            self._written_bytes += len(data)
            self._unsynced = True
            self._note_speed(len(data) + weight_correction, time.monotonic() - started)
        self._written_bytes += weight_correction
        if not self._progress.is_set():  # cleared by a caller about to wait for it
            self._progress.set()
        if barrier is not None:
            barrier.set()
            return barrier.stop
        return False

    def _settle_counters(self) -> None:
        """With the queue empty (and the write lock held): what is pending is nothing.
        Sets the counters so, in case an interrupted flush left them off; a put racing
        this may be counted as written, which only loosens the bound a little."""
        self._written_bytes = self._enqueued_bytes
        self._built_weight = self._queued_weight
        self._built_secs = self._queued_build_secs

    def _sync(self) -> None:  # with the write lock held
        self._sink.sync()
        self._last_sync, self._unsynced = time.monotonic(), False

    def _note_speed(self, queued_bytes: int, seconds: float) -> None:
        """Fold one batch into the thread's speed and set the queue's limit from it."""
        if seconds <= 0 or queued_bytes <= 0:
            return
        rate = queued_bytes / seconds
        self._rate = rate if self._rate == 0 else 0.7 * self._rate + 0.3 * rate
        self._max_pending_bytes = int(min(MAX_PENDING_BYTES, max(MIN_PENDING_BYTES, self._rate * MAX_LAG / 2)))

    def _note_build(self, weight: int, seconds: float) -> None:
        """Fold one deferred build into the expected cost of the next: a slower build
        counts at once, a faster one by halves (kinds differ a hundredfold a byte)."""
        cost = seconds / max(weight, 1)
        self._build_cost = cost if cost > self._build_cost else (self._build_cost + cost) / 2

    def _fail(self, exc: BaseException) -> None:
        self._error = exc
        self._state = _FAILED
        lost = _not_written(self._in_flight, getattr(exc, "bytes_written", 0))
        while self._pending:  # wake everyone waiting on a barrier; count what is lost
            item = self._pending.popleft()
            if isinstance(item, _Barrier):
                item.set()
            else:
                lost += 1
        self._lost = lost
        logger.error("eventwriter: writing %s failed (%d records added were not written): %r", self.path, lost, exc)

    def _after_fork_in_child(self) -> None:  # see eventwriter.forks
        self._state = _FORKED
        self._pending = deque()
        self._close_lock = threading.Lock()
        self._write_lock = threading.Lock()
        at_exit.forget(self)


def _not_written(batch: list[bytes], written: int) -> int:
    """How many records of ``batch`` did not reach the file whole, ``written`` bytes of
    it having reached it (a sink's write may take part of the data before it fails)."""
    end = 0
    for whole, record in enumerate(batch):
        end += len(record)
        if end > written:
            return len(batch) - whole
    return 0


def _close_quietly(sink: Sink) -> None:
    try:
        sink.close()
    except Exception:  # an error is already being reported; the sink is given up
        pass
