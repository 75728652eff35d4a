"""Write-behind: records queued by callers, written to a Sink by a background thread.

This module knows bytes, deferred callables that produce bytes, and a Sink; nothing
about events. ``put`` costs the caller an append to a deque and, now and then, waking
the thread: no lock per call. The thread writes what is queued in batches, one
``write()`` each:

* a record reaches the sink (readers see it) at most ``batch_window`` seconds after it
  is queued, at once when ``max_queue`` records are pending, or on ``flush()``;
* written data is made durable (``Sink.sync``) every ``flush_secs`` and on close;
* a deferred item (``put_later``) is built by the thread in its place in the queue: the
  costly half of images and histograms runs there, where numpy and zlib release the GIL;
* ``close()`` drains the queue and is idempotent; queues still open when the interpreter
  exits are closed then, so a script that never calls ``close()`` loses nothing;
* in a forked child the thread does not exist: every call raises, telling the child to
  make its own writer;
* an error in the thread is raised (EventWriterError, the cause chained) by the next
  ``put``/``flush``/``close``, and nobody waits forever on a dead thread;
* the caller waits only when over ``MAX_PENDING_BYTES`` are queued (a sink slower than
  the training loop).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import NamedTuple, NoReturn, Union

from eventwriter import forks
from eventwriter.errors import EventWriterError, WriterClosedError
from eventwriter.storage import Sink

__all__ = ["MAX_PENDING_BYTES", "WriteBehind"]

logger = logging.getLogger(__name__)

MAX_PENDING_BYTES = 64 << 20
MAX_QUEUE_LIMIT = 65_536  # max_queue above this (or below 1) acts as this
_BATCH_RECORDS = 16_384  # records joined into one write() call at most
CHECK_EVERY = 4096  # while the thread is busy, the backlog is checked every this many puts

_CLOSED, _FAILED, _FORKED = "closed", "failed", "forked"

_open_queues: weakref.WeakSet[WriteBehind] = weakref.WeakSet()


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
        self._max_pending_bytes = MAX_PENDING_BYTES
        self._pending: deque[_Item] = deque()
        self._enqueued_bytes = 0  # grows in callers' threads
        self._written_bytes = 0  # grows in the writer thread
        self._idle = True
        self._urgent = False
        self._signal_at = 1  # queue length at which a put calls _wake()
        self._wakeup = threading.Event()
        self._stopped = threading.Event()  # set by the thread as its last act
        self._close_lock = threading.Lock()
        self._closed = False
        # None while open and healthy, else _CLOSED, _FAILED or _FORKED: the hot path
        # checks this one attribute.
        self._state: str | None = None
        self._error: BaseException | None = None
        self._error_reported = False
        self._build_errors: list[tuple[str, Exception]] = []  # deferred items that failed
        self._thread = threading.Thread(target=self._run, name=f"eventwriter:{self.path}", daemon=True)
        self._thread.start()
        _open_queues.add(self)
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
            self._raise_state()
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
        item = _Deferred(build, weight, label)
        pending = self._pending
        pending.append(item)
        self._enqueued_bytes += weight
        if len(pending) >= self._signal_at or self.pending_bytes > self._max_pending_bytes:
            self._wake()
        if self._state is not None:
            self._withdraw(item)

    def check(self) -> None:
        """Raise what the next ``put`` would raise, or the error of a failed deferred build."""
        if self._state is not None:
            self._raise_state()
        if self._build_errors:
            raise self._build_failure()

    def flush(self) -> None:
        """Return once everything queued before this call is written to the sink.

        Raises:
            WriterClosedError: the queue is closed.
            EventWriterError: writing failed.
        """
        self.check()
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
        with self._close_lock:
            if not self._closed:
                if self._state is None:
                    self._state = _CLOSED
                    self._pending.append(_Barrier(stop=True))
                    self._request_write()
                if self._state != _FORKED:
                    # Not Thread.join() alone: a join interrupted by Ctrl-C can mark a
                    # running thread as stopped (CPython gh-90882), and the exit hook must
                    # not close the sink under a thread that is still writing.
                    while not self._stopped.wait(0.1):
                        pass
                    self._thread.join()
                    self._finish()
                self._closed = True
                _open_queues.discard(self)
            if self._error is not None and not self._error_reported:
                self._error_reported = True
                raise self._failure()
            if self._build_errors:
                raise self._build_failure()

    def _finish(self) -> None:
        """After the thread stopped: write what racing puts queued late, then close."""
        if self._error is not None:
            _close_quietly(self._sink)
            return
        try:
            self._write_pending()
            self._sink.close()
        except Exception as exc:  # reported by close() like a thread failure
            self._error = exc
            _close_quietly(self._sink)

    def _withdraw(self, item: bytes | _Deferred) -> None:
        """Take back an item queued during close; raise unless it was written anyway."""
        try:
            self._pending.remove(item)
        except ValueError:
            return  # already taken by the thread: it is in the sink
        self._raise_state()

    def _wake(self) -> None:
        """Called when the queue reaches ``_signal_at``: wake the thread if it needs it,
        set the next threshold, and wait if too much is queued.

        Thresholds: 1 while the thread is idle (the first record starts a batch window),
        ``max_queue`` during the window (reaching it cuts the window short), then every
        ``CHECK_EVERY`` records for the backlog check, until the thread drains the queue.
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
        if self.pending_bytes > self._max_pending_bytes:
            self._wait_for_backlog()

    def _request_write(self) -> None:  # flush and close: write everything queued now
        self._idle = False
        self._urgent = True
        self._wakeup.set()

    def _wait_for_backlog(self) -> None:
        while self.pending_bytes > self._max_pending_bytes // 2 and not self._stopped.is_set():
            self._request_write()
            time.sleep(0.005)

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
        error = EventWriterError(f"writing {self.path} failed: {self._error!r}")
        error.__cause__ = self._error
        return error

    def _build_failure(self) -> EventWriterError:
        label, error = self._build_errors.pop(0)
        failure = EventWriterError(f"{label} could not be built and was not written: {error!r}")
        failure.__cause__ = error
        return failure

    # -- the thread ----------------------------------------------------------------------

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
                    # Batch window: let a burst of puts gather into one write.
                    self._wakeup.wait(self._batch_window)
                    self._wakeup.clear()
                self._urgent = False
                self._signal_at = self._max_queue
                wrote, stop = self._write_pending()
                if stop:
                    return  # close() syncs and closes the sink
                unsynced = unsynced or wrote
                if unsynced and time.monotonic() - last_sync >= self._flush_secs:
                    self._sink.sync()
                    last_sync, unsynced = time.monotonic(), False
                self._idle = True
                self._signal_at = 1
                if self._pending:  # a put may have missed the idle flag
                    self._idle = False
                    self._wakeup.set()
        except BaseException as exc:  # kept and raised in the caller's thread
            self._fail(exc)
        finally:
            self._stopped.set()

    def _write_pending(self) -> tuple[bool, bool]:
        """Write everything queued; return (wrote anything, a close barrier was reached).

        Records are joined into one write per batch, deferred items built here, and
        barriers set once everything before them is written.
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
                        record = item.build()
                    except Exception as exc:  # only its bytes are lost; the next call says so
                        self._build_errors.append((item.label, exc))
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
                barrier.set()
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
                item.set()
            else:
                lost += 1
        logger.error("eventwriter: writing %s failed (%d queued records not written): %r", self.path, lost, exc)

    def _after_fork_in_child(self) -> None:  # see eventwriter.forks
        self._state = _FORKED
        self._pending = deque()
        self._close_lock = threading.Lock()
        _open_queues.discard(self)


def _close_quietly(sink: Sink) -> None:
    try:
        sink.close()
    except Exception:  # an error is already being reported; the sink is given up
        pass


def close_all_at_exit() -> None:
    """Close every queue still open (the interpreter is exiting); log what fails."""
    for queue in list(_open_queues):
        try:
            queue.close()
        except Exception as exc:
            logger.error("eventwriter: closing %s at exit failed: %r", queue.path, exc)


atexit.register(close_all_at_exit)
