"""WriteBehind: records written behind the caller; timing, barriers, errors, backlog, exit."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import deque

import pytest
from helpers import CountingSink

from eventwriter import at_exit, write_behind
from eventwriter.errors import EventWriterError, TruncatedRecordError, WriterClosedError
from eventwriter.reader import iter_records
from eventwriter.record import frame
from eventwriter.write_behind import WriteBehind


def record(number: int, size: int = 0) -> bytes:
    return frame(str(number).encode() + b" " * size)


def written(path: str) -> list[int]:
    """The numbers in the records of ``path``, up to a record still being written."""
    numbers = []
    try:
        for item in iter_records(path):
            numbers.append(int(item.data))
    except TruncatedRecordError:
        pass
    return numbers


def wait_until_written(path: str, expected: list[int], within: float, message: str) -> None:
    start = time.monotonic()
    while written(path) != expected:
        assert time.monotonic() - start < within, message
        time.sleep(0.01)


class TimedSink(CountingSink):
    """Notes when each record reached the file (``times``, one per record)."""

    def __init__(self, path, **options):
        super().__init__(path, **options)
        self.times = []

    def write(self, data):
        super().write(data)
        self.times += [time.monotonic()] * len(list(iter_records(io.BytesIO(data))))


@pytest.fixture
def sink_path(tmp_path):
    return str(tmp_path / "records")


def make(path, *, max_queue=10, flush_secs=120.0, batch_window=0.1, **sink_options):
    sink = CountingSink(path, **sink_options)
    return WriteBehind(sink, max_queue=max_queue, flush_secs=flush_secs, batch_window=batch_window), sink


def test_a_burst_is_batched_into_few_writes(sink_path):
    queue, sink = make(sink_path)
    for number in range(20_000):
        queue.put(record(number))
    queue.close()
    assert written(sink_path) == list(range(20_000))
    assert sink.writes < 200, sink.writes


def test_a_record_reaches_the_sink_within_a_second_without_flush(sink_path):
    queue, _ = make(sink_path, flush_secs=3600)
    try:
        queue.put(record(7))
        wait_until_written(sink_path, [7], 1.0, "record not visible within a second")
    finally:
        queue.close()


def test_flush_returns_when_everything_is_written(sink_path):
    queue, _ = make(sink_path, flush_secs=3600, batch_window=30)
    for number in range(1000):
        queue.put(record(number))
    queue.flush()
    assert written(sink_path) == list(range(1000))
    queue.close()


class ThreadNotingSink(CountingSink):
    """Notes which thread made each write."""

    def __init__(self, path, **options):
        super().__init__(path, **options)
        self.threads = []

    def write(self, data):
        super().write(data)
        self.threads.append(threading.current_thread())


def test_flush_every_step_writes_in_the_callers_thread_without_waking_the_writer(sink_path):
    """What frameworks do (log, then flush, every step): each flush is one write by the
    caller, and the writer thread, woken by the first put, waits out its batch window
    instead of being woken again by every step's put."""
    sink = ThreadNotingSink(sink_path)
    queue = WriteBehind(sink, max_queue=10, flush_secs=3600, batch_window=30)
    for step in range(500):
        queue.put(record(2 * step))
        queue.put(record(2 * step + 1))
        queue.flush()
        assert sink.threads[-1] is threading.current_thread()  # written when flush returns
    assert written(sink_path) == list(range(1000))
    assert sink.writes == 500 and set(sink.threads) == {threading.current_thread()}
    queue.close()


class HoldingSink(CountingSink):
    """A write that, once ``hold`` is set, stays inside ``write()`` (its data already in
    the file) until ``release`` is set."""

    def __init__(self, path, **options):
        super().__init__(path, **options)
        self.hold, self.entered, self.release = False, threading.Event(), threading.Event()

    def write(self, data):
        super().write(data)
        if self.hold:
            self.entered.set()
            self.release.wait(10)


def test_a_record_withdrawn_while_a_flush_writes_it_is_not_written_twice(sink_path):
    """A put that finds the queue closed after appending withdraws its record and, if it
    is still queued, has it written elsewhere (SummaryWriter: to the next file). A
    caller's flush writes records before it takes them from the queue, so the withdrawal
    waits for that write: the record is then found written, not withdrawn and written
    again (a duplicate step found by CI in test_writer_threads)."""
    sink = HoldingSink(sink_path)
    queue = WriteBehind(sink, max_queue=10, flush_secs=3600, batch_window=30)
    item = record(1)
    queue.put(item)
    sink.hold = True
    flushing = threading.Thread(target=queue.flush)
    flushing.start()
    assert sink.entered.wait(10)  # the record is in the file, and still in the queue
    outcome = []
    withdrawing = threading.Thread(target=lambda: outcome.append(queue._withdraw(item)))
    withdrawing.start()
    withdrawing.join(0.3)
    assert withdrawing.is_alive()  # waits for the flush's write
    sink.hold = False
    sink.release.set()
    flushing.join(10)
    withdrawing.join(10)
    assert outcome == [None]  # found written: nothing raised, nothing to write again
    queue.close()
    assert written(sink_path) == [1]


def test_flush_builds_deferred_items_in_order_with_the_records(sink_path):
    queue, _ = make(sink_path, flush_secs=3600, batch_window=30)
    queue.put(record(1))
    queue.put_later(lambda: record(2), 10, "d")
    queue.put(record(3))
    queue.flush()
    assert written(sink_path) == [1, 2, 3]
    queue.close()


def test_flush_waits_for_a_build_under_way_in_the_thread(sink_path):
    queue, _ = make(sink_path, flush_secs=3600, batch_window=0)
    building = threading.Event()

    def slow() -> bytes:
        building.set()
        time.sleep(0.3)
        return record(1)

    queue.put_later(slow, 10, "slow")
    assert building.wait(5)
    queue.put(record(2))
    queue.flush()
    assert written(sink_path) == [1, 2]
    queue.close()


def test_a_write_failing_in_a_callers_flush_is_raised_there_and_close_does_not_hang(sink_path, caplog):
    queue, _ = make(sink_path, flush_secs=3600, batch_window=30, fail_after_writes=1)
    queue.put(record(1))
    queue.flush()
    queue.put(record(2))
    queue.put(record(3))
    with pytest.raises(EventWriterError, match="No space left on device") as failure:
        queue.flush()
    assert isinstance(failure.value.__cause__, OSError)
    assert "2 records added were not written" in caplog.text
    with pytest.raises(EventWriterError):
        queue.put(record(4))
    started = time.monotonic()
    queue.close()  # the thread ended; the error was reported already
    assert time.monotonic() - started < 2 and not queue._thread.is_alive()
    assert written(sink_path) == [1]


class InterruptingSink(CountingSink):
    """Runs ``action`` once, inside a write: before the data reaches the file, or after
    (as a signal handler runs in the flushing thread once ``os.write`` returns)."""

    def __init__(self, path, **options):
        super().__init__(path, **options)
        self.action = None
        self.after = False

    def write(self, data):
        action, self.action = self.action, None
        if action is not None and not self.after:
            action()
        super().write(data)
        if action is not None and self.after:
            action()


def interrupt():
    raise KeyboardInterrupt


@pytest.mark.parametrize("after", [False, True], ids=["before-the-write", "after-the-write"])
def test_ctrl_c_during_a_callers_flush_loses_nothing(sink_path, after):
    sink = InterruptingSink(sink_path)
    queue = WriteBehind(sink, max_queue=10, flush_secs=3600, batch_window=30)
    queue.put(record(1))
    queue.put(record(2))
    sink.action, sink.after = interrupt, after
    with pytest.raises(KeyboardInterrupt):
        queue.flush()
    queue.put(record(3))
    queue.flush()
    queue.close()
    # taken from the queue only once written: at worst written twice, never lost
    assert written(sink_path) == ([1, 2, 1, 2, 3] if after else [1, 2, 3])
    assert queue.pending_bytes == 0


def test_ctrl_c_while_a_flush_takes_written_records_from_the_queue_loses_nothing(sink_path):
    class InterruptedDeque(deque):
        armed = False

        def popleft(self):
            item = super().popleft()
            if self.armed:
                self.armed = False
                raise KeyboardInterrupt
            return item

    queue, _ = make(sink_path, flush_secs=3600, batch_window=30)
    queue._pending = InterruptedDeque()
    for number in (1, 2, 3):
        queue.put(record(number))
    queue._pending.armed = True
    with pytest.raises(KeyboardInterrupt):
        queue.flush()
    queue.flush()
    queue.close()
    assert written(sink_path) == [1, 2, 3, 2, 3]  # 2 and 3 twice: taken only once written


@pytest.mark.parametrize("call", ["close", "flush"])
def test_a_signal_handler_closing_or_flushing_during_a_flush_does_not_deadlock(sink_path, call):
    """A SIGTERM handler that closes the writer may run while the main thread is inside
    flush() (holding the write lock the writer thread needs): it must not wait for it."""
    sink = InterruptingSink(sink_path)
    queue = WriteBehind(sink, max_queue=10, flush_secs=3600, batch_window=30)
    queue.put(record(1))
    sink.action, sink.after = getattr(queue, call), True
    done = threading.Event()
    flusher = threading.Thread(target=lambda: (queue.flush(), done.set()))
    flusher.start()
    assert done.wait(10), "flush() deadlocked"
    flusher.join()
    assert queue.closed == (call == "close")  # closed when the interrupted flush ended
    if call == "flush":
        queue.put(record(2))
    queue.close()
    assert written(sink_path) == ([1] if call == "close" else [1, 2])


def test_a_flush_meeting_a_deferred_item_leaves_it_to_the_thread(sink_path):
    sink = ThreadNotingSink(sink_path)
    queue = WriteBehind(sink, max_queue=10, flush_secs=3600, batch_window=30)
    queue.put(record(1))
    queue.put_later(lambda: record(2), 10, "d")
    queue.put(record(3))
    queue.flush()
    assert written(sink_path) == [1, 2, 3]
    assert sink.threads[0] is threading.current_thread() and queue._thread in sink.threads
    queue.close()


def test_a_callers_flush_syncs_once_flush_secs_have_passed(sink_path):
    queue, sink = make(sink_path, flush_secs=0.2, batch_window=30)
    queue.put(record(1))
    queue.flush()
    syncs = sink.syncs
    time.sleep(0.3)
    queue.put(record(2))
    queue.flush()
    assert sink.syncs > syncs
    queue.close()


@pytest.mark.slow
def test_written_data_is_synced_every_flush_secs(sink_path):
    queue, sink = make(sink_path, flush_secs=0.2)
    queue.put(record(1))
    time.sleep(0.6)
    assert sink.syncs >= 1
    queue.close()


def test_infinite_flush_secs_means_sync_only_on_close(sink_path):
    queue, sink = make(sink_path, flush_secs=float("inf"))
    queue.put(record(1))
    queue.flush()
    time.sleep(0.2)
    assert sink.syncs == 0
    queue.close()
    assert written(sink_path) == [1]


def test_close_is_idempotent_and_put_after_close_raises(sink_path):
    queue, _ = make(sink_path)
    queue.put(record(1))
    queue.close()
    queue.close()
    assert queue.closed
    for call in (lambda: queue.put(record(2)), queue.flush, queue.check, lambda: queue.put_later(bytes, 0, "x")):
        with pytest.raises(WriterClosedError, match="closed"):
            call()
    assert written(sink_path) == [1]


def test_each_refusal_is_a_new_exception(sink_path):
    queue, _ = make(sink_path)
    queue.close()
    raised = []
    for _ in range(3):
        try:
            queue.put(record(1))
        except WriterClosedError as exc:
            raised.append(exc)
    assert len({id(e) for e in raised}) == 3
    assert len(traceback.extract_tb(raised[-1].__traceback__)) < 6


def test_a_sink_error_is_raised_on_the_next_call_and_never_hangs(sink_path):
    queue, _ = make(sink_path, fail_after_writes=0)
    queue.put(record(1))
    start = time.monotonic()
    with pytest.raises(EventWriterError, match="No space left") as raised:
        queue.flush()
    assert time.monotonic() - start < 5
    assert isinstance(raised.value.__cause__, OSError)
    with pytest.raises(EventWriterError):
        queue.put(record(2))
    queue.close()  # already reported: closes quietly
    queue.close()
    assert written(sink_path) == []


def test_a_sink_error_not_yet_seen_is_raised_by_close(sink_path):
    queue, _ = make(sink_path, fail_after_writes=0)
    queue.put(record(1))
    with pytest.raises(EventWriterError, match="No space left"):
        queue.close()
    queue.close()


def test_backlog_makes_the_caller_wait_instead_of_growing_without_bound(sink_path, monkeypatch):
    monkeypatch.setattr(write_behind, "MAX_PENDING_BYTES", 2000)
    queue, _ = make(sink_path, max_queue=1, delay=0.002)
    largest_backlog = 0
    for number in range(2000):
        queue.put(record(number))
        largest_backlog = max(largest_backlog, queue.pending_bytes)
    queue.close()
    assert largest_backlog < 4000
    assert written(sink_path) == list(range(2000))


def test_small_records_are_bounded_too_checked_every_few_thousand(sink_path, monkeypatch):
    monkeypatch.setattr(write_behind, "MAX_PENDING_BYTES", 20_000)
    queue, _ = make(sink_path, delay=0.01)
    largest_backlog = 0
    for number in range(30_000):
        queue.put(record(number))
        largest_backlog = max(largest_backlog, queue.pending_bytes)
    queue.close()
    assert largest_backlog < 20_000 + write_behind.CHECK_EVERY * 24  # a record here is at most 21 bytes
    assert written(sink_path) == list(range(30_000))


def test_backlog_bound_holds_with_a_large_max_queue(sink_path, monkeypatch):
    monkeypatch.setattr(write_behind, "MAX_PENDING_BYTES", 50_000)
    queue, _ = make(sink_path, max_queue=100_000, delay=0.01)
    largest_backlog = 0
    for number in range(300):
        queue.put(record(number, size=1000))
        largest_backlog = max(largest_backlog, queue.pending_bytes)
    queue.close()
    assert largest_backlog < 60_000
    assert written(sink_path) == list(range(300))


def test_deferred_items_are_built_in_their_place(sink_path):
    queue, _ = make(sink_path)
    for number in range(0, 30, 3):
        queue.put(record(number))
        queue.put_later(lambda n=number: record(n + 1), 100, "built")
        queue.put(record(number + 2))
    queue.close()
    assert written(sink_path) == list(range(30))
    assert queue.pending_bytes == 0  # the weight of a built item is replaced by its size


def test_records_before_a_slow_deferred_build_are_written_without_waiting_for_it(sink_path):
    queue, _ = make(sink_path, flush_secs=3600)
    release = threading.Event()

    def slow_build() -> bytes:
        release.wait(10)
        return record(2)

    queue.put(record(1))
    queue.put_later(slow_build, 100, "slow")
    queue.put(record(3))
    try:
        wait_until_written(sink_path, [1], 2.0, "record 1 waited for the build queued after it")
    finally:
        release.set()
        queue.close()
    assert written(sink_path) == [1, 2, 3]


def test_a_failing_deferred_build_is_reported_once_and_the_queue_keeps_working(sink_path):
    queue, _ = make(sink_path)

    def fail():
        raise MemoryError("no room to encode")

    queue.put_later(fail, 100, "'t': the record")
    with pytest.raises(EventWriterError, match=r"'t': the record could not be built and was not written.*no room"):
        queue.flush()
    queue.put(record(1))
    queue.flush()
    queue.close()
    assert written(sink_path) == [1]


def test_failed_deferred_builds_free_their_share_of_the_backlog(sink_path):
    queue, _ = make(sink_path)

    def fail():
        raise ValueError("cannot build")

    for _ in range(3):  # each alone in its batch, each nearly as large as the bound
        queue.put_later(fail, write_behind.MAX_PENDING_BYTES - 1, "'t'")
        with pytest.raises(EventWriterError, match="'t' could not be built"):
            queue.flush()
    assert queue.pending_bytes < 1000
    queue.close()


def test_deferred_build_errors_left_at_close_are_raised_by_close(sink_path):
    queue, _ = make(sink_path)

    def fail():
        raise ValueError("cannot build")

    queue.put_later(fail, 10, "'late'")
    with pytest.raises(EventWriterError, match="'late'"):
        queue.close()


@pytest.mark.slow
def test_every_put_that_returns_while_another_thread_closes_is_written(tmp_path):
    for trial in range(30):
        path = str(tmp_path / str(trial))
        queue, _ = make(path)
        accepted = []
        started = threading.Event()

        def produce(queue=queue, accepted=accepted, started=started):
            for number in range(100_000):
                try:
                    queue.put(record(number))
                except WriterClosedError:
                    return
                accepted.append(number)
                if number == 50:
                    started.set()

        thread = threading.Thread(target=produce)
        thread.start()
        started.wait()
        queue.close()
        thread.join()
        assert written(path) == accepted


def test_an_interrupted_close_is_finished_by_the_exit_hook(sink_path):
    queue, _ = make(sink_path, delay=0.5)
    for number in range(20):
        queue.put(record(number))

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.15)
    try:
        with pytest.raises(KeyboardInterrupt):
            queue.close()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not queue.closed
    queue.finish_at_exit()  # what the exit hook does (finish_all would end every queue of this process)
    assert queue.closed
    assert written(sink_path) == list(range(20))


@pytest.mark.slow
def test_bursts_reach_the_sink_promptly_even_with_fast_thread_switching(sink_path):
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # makes the writer thread interleave with the puts anywhere
    try:
        queue, _ = make(sink_path, flush_secs=3600)
        number = 0
        for _ in range(15):
            for _ in range(300):
                queue.put(record(number))
                number += 1
            deadline = time.monotonic() + 2.0
            while len(written(sink_path)) < number:
                assert time.monotonic() < deadline, f"{number - len(written(sink_path))} records still queued"
                time.sleep(0.02)
        queue.close()
    finally:
        sys.setswitchinterval(previous)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_cannot_use_the_parents_queue(sink_path):
    queue, _ = make(sink_path)
    queue.put(record(1))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            queue.put(record(99))
            os.write(write, b"wrote")
        except EventWriterError as exc:
            os.write(write, b"refused" if "create a new writer in the child" in str(exc) else b"other")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 10) == b"refused"
    queue.put(record(2))
    queue.close()
    assert written(sink_path) == [1, 2]


def test_a_sink_whose_close_raises_anything_is_still_closed_and_reported_once(sink_path):
    class Fragile(CountingSink):
        def close(self):
            super().close()
            raise RuntimeError("the store went away")

    queue = WriteBehind(Fragile(sink_path), max_queue=10, flush_secs=120, batch_window=0.1)
    queue.put(record(1))
    with pytest.raises(EventWriterError, match="the store went away") as raised:
        queue.close()
    assert isinstance(raised.value.__cause__, RuntimeError)
    assert queue.closed
    queue.close()  # reported once; nothing left for the exit hook
    assert queue not in at_exit._open
    assert written(sink_path) == [1]


def test_the_failure_log_counts_the_batch_that_was_being_written(sink_path, caplog):
    queue, _ = make(sink_path, fail_after_writes=0, batch_window=5)
    for number in range(100):
        queue.put(record(number))  # all accepted
    with caplog.at_level("ERROR", logger="eventwriter.write_behind"), pytest.raises(EventWriterError):
        queue.flush()
    (message,) = [r.getMessage() for r in caplog.records]
    assert "(100 records added were not written)" in message
    queue.close()


PARTLY_WRITTEN = """
import logging, resource, signal, sys
from eventwriter.record import frame
from eventwriter.storage.local import LocalFileSink
from eventwriter.write_behind import WriteBehind

logging.basicConfig(stream=sys.stdout, format="%(message)s")
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (10_007, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
queue = WriteBehind(LocalFileSink(sys.argv[1]), max_queue=10**6, flush_secs=120, batch_window=5)
for number in range(1000):
    queue.put(frame(b"%05d" % number))  # 21 bytes each: the limit falls inside one
try:
    queue.flush()
except Exception:
    pass
"""


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
def test_the_failure_log_does_not_count_records_that_reached_the_file_before_the_disk_filled(sink_path):
    result = subprocess.run(
        [sys.executable, "-c", PARTLY_WRITTEN, sink_path], capture_output=True, text=True, timeout=60
    )
    on_disk = len(written(sink_path))
    assert on_disk == 10_007 // 21
    assert f"({1000 - on_disk} records added were not written)" in result.stdout, result


def test_a_slow_sink_stalls_a_caller_for_about_one_batch_not_half_the_backlog(sink_path, monkeypatch):
    monkeypatch.setattr(write_behind, "MAX_PENDING_BYTES", 20_000)
    monkeypatch.setattr(write_behind, "_BATCH_RECORDS", 50)  # about 1,000 bytes a batch
    queue, _ = make(sink_path, max_queue=1, delay=0.05)
    longest = 0.0
    for number in range(3000):
        start = time.monotonic()
        queue.put(record(number, size=10))
        longest = max(longest, time.monotonic() - start)
    queue.close()
    assert written(sink_path) == list(range(3000))
    assert longest < 0.5, f"a put waited {longest:.2f} s (draining half the backlog takes 0.5 s)"


def test_no_record_waits_much_longer_than_max_lag_behind_a_slow_thread(sink_path, monkeypatch):
    monkeypatch.setattr(write_behind, "MIN_PENDING_BYTES", 100)
    monkeypatch.setattr(write_behind, "_BATCH_RECORDS", 20)  # with 0.1 s a write: 200 records a second

    sink = TimedSink(sink_path, delay=0.1)
    queue = WriteBehind(sink, max_queue=1, flush_secs=120, batch_window=0.1)
    added = []
    start = time.monotonic()
    while time.monotonic() - start < 2.0:
        queue.put(record(len(added)))
        added.append(time.monotonic())
    queue.close()
    assert written(sink_path) == list(range(len(added)))
    waits = [done - put for put, done in zip(added, sink.times)]
    assert max(waits) < write_behind.MAX_LAG + 0.3, f"a record waited {max(waits):.2f} s"


def test_a_burst_of_slow_deferred_builds_is_not_all_queued_at_once(sink_path):
    """Each build takes 0.3 s: the queue takes what its thread builds in about MAX_LAG / 2,
    so no item waits for a pile of builds before it (the weight is only a few bytes)."""

    def slow(number: int) -> bytes:
        time.sleep(0.3)
        return record(number)

    sink = TimedSink(sink_path)
    queue = WriteBehind(sink, max_queue=10, flush_secs=120, batch_window=0.1)
    added = []
    for number in range(12):
        queue.put_later(lambda n=number: slow(n), 10, "slow")
        added.append(time.monotonic())
    queue.close()
    assert written(sink_path) == list(range(12))
    waits = [done - put for put, done in zip(added, sink.times)]
    assert max(waits) < write_behind.MAX_LAG / 2 + 2 * 0.3 + 0.4, f"an item waited {max(waits):.2f} s"


def test_deferred_items_queued_hold_at_most_max_deferred_bytes(sink_path):
    """Quick builds of heavy items (a histogram's copy of its values): however fast the
    thread builds, the copies queued stay under MAX_DEFERRED_BYTES (plus the one going in)."""
    weight = write_behind.MAX_DEFERRED_BYTES // 4
    building = threading.Event()
    release = threading.Event()

    def held(number: int) -> bytes:
        building.set()
        release.wait(10)
        return record(number)

    queue = WriteBehind(TimedSink(sink_path), max_queue=10, flush_secs=120, batch_window=0.0)
    queue.put_later(lambda: record(-1), weight, "quick")  # the thread's speed is measured: fast
    queue.flush()
    queue.put_later(lambda: held(0), weight, "held")
    assert building.wait(10)  # the thread is inside the first build

    def add_more() -> None:
        for number in range(1, 9):
            queue.put_later(lambda n=number: record(n), weight, "d")

    waiting = threading.Thread(target=add_more)
    waiting.start()
    waiting.join(0.5)
    assert waiting.is_alive()  # over the bound: the caller waits for the thread
    assert queue._queued_weight - queue._built_weight <= write_behind.MAX_DEFERRED_BYTES + weight
    release.set()
    waiting.join(10)
    queue.close()
    assert written(sink_path) == list(range(-1, 9))


def test_at_exit_queued_records_are_written_and_later_ones_written_by_the_caller(sink_path):
    queue, sink = make(sink_path, batch_window=30)
    queue.put(record(1))
    queue.put_later(lambda: record(2), 10, "'d'")
    queue.finish_at_exit()  # what eventwriter.at_exit does for every open queue
    assert written(sink_path) == [1, 2] and sink.syncs >= 1 and not queue.closed
    queue.put(record(3))  # written at once, by this thread: the writer thread is gone
    queue.put_later(lambda: record(4), 10, "'d'")
    assert written(sink_path) == [1, 2, 3, 4]
    queue.flush()
    queue.finish_at_exit()  # a second exit hook (multiprocessing's and atexit) does nothing
    queue.close()
    assert queue.closed
    with pytest.raises(WriterClosedError):
        queue.put(record(5))
    assert written(sink_path) == [1, 2, 3, 4]


def test_a_queue_made_after_the_exit_hook_writes_without_a_thread(sink_path, monkeypatch):
    monkeypatch.setattr(at_exit, "_exiting", True)
    before = threading.active_count()
    queue, _ = make(sink_path)
    assert threading.active_count() == before
    queue.put(record(1))
    assert written(sink_path) == [1]
    queue.close()
