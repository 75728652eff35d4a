"""EventFileWriter: naming, first event, write-behind timing, errors, exit and fork."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from helpers import run_events

from eventwriter import event_file
from eventwriter.errors import EventWriterError, WriterClosedError
from eventwriter.event_file import EventFileWriter
from eventwriter.proto.event_pb2 import Event
from eventwriter.reader import iter_events
from eventwriter.sinks import LocalFileSink, LocalStorage


class CountingSink:
    """A local file sink that counts calls and can fail or be slow on purpose."""

    def __init__(self, path, fail_after_writes=None, delay=0.0):
        self._inner = LocalFileSink(path)
        self.path = path
        self.writes = 0
        self.syncs = 0
        self.fail_after_writes = fail_after_writes
        self.delay = delay

    def write(self, data):
        if self.fail_after_writes is not None and self.writes >= self.fail_after_writes:
            raise OSError(28, "No space left on device (simulated)")
        time.sleep(self.delay)
        self.writes += 1
        self._inner.write(data)

    def sync(self):
        self.syncs += 1
        self._inner.sync()

    def close(self):
        self._inner.close()


class CountingStorage(LocalStorage):
    def __init__(self, **sink_options):
        self.sinks = []
        self.sink_options = sink_options

    def create(self, path):
        sink = CountingSink(path, **self.sink_options)
        self.sinks.append(sink)
        return sink


def scalar_event(step):
    event = Event(wall_time=1.0, step=step)
    event.summary.value.add(tag="x", simple_value=float(step))
    return event


def steps_in(path):
    return [e.step for e in iter_events(path) if e.WhichOneof("what") == "summary"]


def test_file_name_and_first_event(logdir):
    writer = EventFileWriter(logdir, clock=lambda: 1234.9, hostname="host", pid=42, filename_suffix=".v2")
    writer.close()
    name = os.path.basename(writer.path)
    prefix, counter, suffix = name.rsplit(".", 2)[0], name.split(".")[-2], name.split(".")[-1]
    assert prefix == "events.out.tfevents.0000001234.host.42"
    assert counter.isdigit() and suffix == "v2"
    (first,) = list(iter_events(writer.path))
    assert first.file_version == "brain.Event:2"
    assert first.wall_time == 1234.9
    assert first.source_metadata.writer == "eventwriter"


def test_first_event_is_on_disk_before_any_add(logdir):
    writer = EventFileWriter(logdir)
    try:
        assert [e.file_version for e in iter_events(writer.path)] == ["brain.Event:2"]
    finally:
        writer.close()


def test_two_writers_in_the_same_second_never_collide(logdir):
    clock = lambda: 1700000000.0  # noqa: E731
    writers = [EventFileWriter(logdir, clock=clock, hostname="h", pid=1) for _ in range(2)]
    for number, writer in enumerate(writers):
        writer.add_event(scalar_event(number))
    for writer in writers:
        writer.close()
    assert writers[0].path != writers[1].path
    assert [steps_in(w.path) for w in writers] == [[0], [1]]


def test_an_existing_file_is_never_replaced(logdir):
    os.makedirs(logdir)
    taken = next(event_file._file_counter) + 1
    existing = os.path.join(logdir, f"events.out.tfevents.0000000005.h.1.{taken}")
    with open(existing, "wb") as handle:
        handle.write(b"precious")
    writer = EventFileWriter(logdir, clock=lambda: 5.0, hostname="h", pid=1)
    writer.close()
    assert writer.path != existing
    with open(existing, "rb") as handle:
        assert handle.read() == b"precious"


def test_event_reaches_disk_within_a_second_without_flush(logdir):
    writer = EventFileWriter(logdir, flush_secs=3600)
    try:
        writer.add_event(scalar_event(7))
        start = time.monotonic()
        while steps_in(writer.path) != [7]:
            assert time.monotonic() - start < 1.0, "event not visible within a second"
            time.sleep(0.01)
    finally:
        writer.close()


def test_a_burst_is_batched_into_few_writes(logdir):
    storage = CountingStorage()
    writer = EventFileWriter(logdir, storage=storage)
    for step in range(20_000):
        writer.write_scalar("x", float(step), step, 1.0)
    writer.close()
    assert steps_in(writer.path) == list(range(20_000))
    assert storage.sinks[0].writes < 200, storage.sinks[0].writes


def test_flush_returns_when_everything_is_written(logdir):
    writer = EventFileWriter(logdir, flush_secs=3600, batch_window=30)
    for step in range(1000):
        writer.add_event(scalar_event(step))
    writer.flush()
    assert steps_in(writer.path) == list(range(1000))
    writer.close()


def test_written_data_is_synced_every_flush_secs(logdir):
    storage = CountingStorage()
    writer = EventFileWriter(logdir, flush_secs=0.2, storage=storage)
    writer.add_event(scalar_event(1))
    time.sleep(0.6)
    assert storage.sinks[0].syncs >= 1
    writer.close()


def test_close_is_idempotent_and_add_after_close_raises(logdir):
    writer = EventFileWriter(logdir)
    writer.add_event(scalar_event(1))
    writer.close()
    writer.close()
    assert writer.closed
    with pytest.raises(WriterClosedError, match="closed"):
        writer.add_event(scalar_event(2))
    with pytest.raises(WriterClosedError):
        writer.write_scalar("x", 1.0, 1, 1.0)
    with pytest.raises(WriterClosedError):
        writer.flush()
    assert steps_in(writer.path) == [1]


def test_reopen_continues_in_a_new_file(logdir):
    writer = EventFileWriter(logdir)
    writer.reopen()  # open: nothing happens
    first_path = writer.path
    writer.add_event(scalar_event(1))
    writer.close()
    writer.reopen()
    writer.add_event(scalar_event(2))
    writer.close()
    assert writer.path != first_path
    assert steps_in(first_path) == [1] and steps_in(writer.path) == [2]


def test_worker_error_is_raised_on_the_next_call_and_never_hangs(logdir):
    storage = CountingStorage(fail_after_writes=1)  # the first event's write succeeds
    writer = EventFileWriter(logdir, storage=storage)
    writer.add_event(scalar_event(1))
    start = time.monotonic()
    with pytest.raises(EventWriterError, match="No space left") as raised:
        writer.flush()
    assert time.monotonic() - start < 5
    assert isinstance(raised.value.__cause__, OSError)
    with pytest.raises(EventWriterError):
        writer.add_event(scalar_event(2))
    writer.close()  # already reported: closes quietly
    writer.close()
    assert [e.file_version for e in iter_events(writer.path)] == ["brain.Event:2"]


def test_worker_error_not_yet_seen_is_raised_by_close(logdir):
    storage = CountingStorage(fail_after_writes=1)
    writer = EventFileWriter(logdir, storage=storage)
    writer.add_event(scalar_event(1))
    with pytest.raises(EventWriterError):
        writer.close()
    writer.close()


def test_backlog_makes_the_caller_wait_instead_of_growing_without_bound(logdir, monkeypatch):
    monkeypatch.setattr(event_file, "MAX_PENDING_BYTES", 2000)
    storage = CountingStorage(delay=0.002)
    writer = EventFileWriter(logdir, storage=storage, max_queue=1)
    largest_backlog = 0
    for step in range(2000):
        writer.add_event(scalar_event(step))
        largest_backlog = max(largest_backlog, writer._enqueued_bytes - writer._written_bytes)
    writer.close()
    assert largest_backlog < 4000
    assert steps_in(writer.path) == list(range(2000))


def test_scalars_are_bounded_too_checked_every_few_thousand(logdir, monkeypatch):
    monkeypatch.setattr(event_file, "MAX_PENDING_BYTES", 20_000)
    storage = CountingStorage(delay=0.01)
    writer = EventFileWriter(logdir, storage=storage)
    largest_backlog = 0
    for step in range(30_000):
        writer.write_scalar("x", 1.0, step, 1.0)
        largest_backlog = max(largest_backlog, writer._enqueued_bytes - writer._written_bytes)
    writer.close()
    assert largest_backlog < 20_000 + event_file._CHECK_EVERY * 64  # a framed scalar here is 46 bytes
    assert steps_in(writer.path) == list(range(30_000))


def test_new_style_metadata_is_written_once_per_file(logdir):
    writer = EventFileWriter(logdir)
    for step in range(3):
        writer.write_scalar("acc", 0.5, step, 1.0, new_style=True)
    writer.close()
    writer.reopen()
    writer.write_scalar("acc", 0.5, 3, 1.0, new_style=True)
    writer.close()
    values = [(e.step, v.HasField("metadata")) for e in run_events(logdir) for v in e.summary.value]
    assert values == [(0, True), (1, False), (2, False), (3, True)]


def test_threads_racing_on_a_new_tag_keep_metadata_on_the_first_value(logdir):
    for attempt in range(20):
        run = os.path.join(logdir, str(attempt))
        writer = EventFileWriter(run)
        barrier = threading.Barrier(8)

        def log(thread, writer, barrier):
            barrier.wait()
            for step in range(20):
                writer.write_scalar("shared", float(thread), step, 1.0, new_style=True)

        threads = [threading.Thread(target=log, args=(n, writer, barrier)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        writer.close()
        flags = [v.HasField("metadata") for e in run_events(run) for v in e.summary.value]
        assert len(flags) == 160
        assert flags[0] and flags.count(True) == 1


def test_process_that_never_closes_keeps_every_event(tmp_path):
    script = textwrap.dedent(
        f"""
        from eventwriter import SummaryWriter
        writer = SummaryWriter({str(tmp_path)!r}, flush_secs=3600)
        for step in range(5000):
            writer.add_scalar("loss", step * 0.5, step)
        writer.add_text("note", "no close() call", 5000)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    events = run_events(str(tmp_path))
    steps = [e.step for e in events if e.WhichOneof("what") == "summary"]
    assert steps == list(range(5001))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_cannot_write_the_parents_file(logdir):
    writer = EventFileWriter(logdir)
    writer.add_event(scalar_event(1))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            writer.add_event(scalar_event(99))
            os.write(write, b"wrote")
        except EventWriterError:
            os.write(write, b"refused")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 10) == b"refused"
    writer.add_event(scalar_event(2))
    writer.close()
    assert steps_in(writer.path) == [1, 2]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_queue": "10"}, TypeError),
        ({"flush_secs": 0}, ValueError),
        ({"flush_secs": "2"}, ValueError),
        ({"filename_suffix": 3}, TypeError),
        ({"batch_window": -1}, ValueError),
    ],
)
def test_bad_arguments_are_refused(logdir, kwargs, error):
    with pytest.raises(error):
        EventFileWriter(logdir, **kwargs)


def test_metadata_only_values_keep_their_metadata(logdir):
    from eventwriter.proto.summary_pb2 import Summary, SummaryMetadata

    def record():  # like an hparams session record: metadata and no value
        metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="hparams", content=b"x"))
        return Summary(value=[Summary.Value(tag="_hparams_/session_start_info", metadata=metadata)])

    writer = EventFileWriter(logdir)
    writer.write_summary(record(), None, 1.0)
    writer.write_summary(record(), None, 2.0)
    writer.close()
    contents = [v.metadata.plugin_data.content for e in run_events(logdir) for v in e.summary.value]
    assert contents == [b"x", b"x"]


def test_every_add_that_returns_while_another_thread_closes_is_on_disk(tmp_path):
    for trial in range(30):
        writer = EventFileWriter(str(tmp_path / str(trial)))
        accepted = []
        started = threading.Event()

        def produce(writer=writer, accepted=accepted, started=started):
            for step in range(100_000):
                try:
                    writer.write_scalar("x", 1.0, step, 1.0)
                except WriterClosedError:
                    return
                accepted.append(step)
                if step == 50:
                    started.set()

        thread = threading.Thread(target=produce)
        thread.start()
        started.wait()
        writer.close()
        thread.join()
        assert steps_in(writer.path) == accepted


def test_interrupted_close_is_finished_by_the_exit_hook(logdir):
    import signal

    storage = CountingStorage(delay=0.5)
    writer = EventFileWriter(logdir, storage=storage)
    for step in range(20):
        writer.add_event(scalar_event(step))

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.15)
    try:
        with pytest.raises(KeyboardInterrupt):
            writer.close()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not writer.closed
    event_file._close_all_at_exit()
    assert writer.closed
    assert steps_in(writer.path) == list(range(20))


def test_failed_reopen_leaves_the_writer_closed(logdir):
    class FailSecondFile(CountingStorage):
        def create(self, path):
            sink = super().create(path)
            if len(self.sinks) == 2:
                sink.fail_after_writes = 0
            return sink

    storage = FailSecondFile()
    writer = EventFileWriter(logdir, storage=storage)
    writer.close()
    with pytest.raises(OSError, match="No space left"):
        writer.reopen()
    assert writer.closed
    with pytest.raises(WriterClosedError):
        writer.add_event(scalar_event(1))
    writer.close()


def test_infinite_flush_secs_means_sync_only_on_close(logdir):
    storage = CountingStorage()
    writer = EventFileWriter(logdir, flush_secs=float("inf"), storage=storage)
    writer.add_event(scalar_event(1))
    writer.flush()
    time.sleep(0.2)
    assert storage.sinks[0].syncs == 0
    writer.close()
    assert steps_in(writer.path) == [1]


def test_backlog_bound_holds_with_a_large_max_queue(logdir, monkeypatch):
    monkeypatch.setattr(event_file, "MAX_PENDING_BYTES", 50_000)
    storage = CountingStorage(delay=0.01)
    writer = EventFileWriter(logdir, storage=storage, max_queue=100_000)
    largest_backlog = 0
    for step in range(300):
        event = scalar_event(step)
        event.summary.value[0].metadata.display_name = "x" * 1000
        writer.add_event(event)
        largest_backlog = max(largest_backlog, writer._enqueued_bytes - writer._written_bytes)
    writer.close()
    assert largest_backlog < 60_000
    assert steps_in(writer.path) == list(range(300))


def test_each_refusal_is_a_new_exception(logdir):
    writer = EventFileWriter(logdir)
    writer.close()
    raised = []
    for _ in range(3):
        try:
            writer.add_event(scalar_event(1))
        except WriterClosedError as exc:
            raised.append(exc)
    assert len({id(e) for e in raised}) == 3
    assert len(__import__("traceback").extract_tb(raised[-1].__traceback__)) < 6


def test_large_histogram_added_just_before_exit_is_kept(tmp_path):
    script = textwrap.dedent(
        f"""
        import numpy as np
        from eventwriter import SummaryWriter
        writer = SummaryWriter({str(tmp_path)!r})
        writer.add_scalar("x", 1.0, 0)
        writer.add_histogram("big", np.random.default_rng(0).normal(size=300_000), 0)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    tags = [v.tag for e in run_events(str(tmp_path)) if e.HasField("summary") for v in e.summary.value]
    assert tags == ["x", "big"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_with_its_own_writer_does_not_hang(tmp_path):
    import numpy as np

    from eventwriter import SummaryWriter

    big = np.random.default_rng(0).normal(size=300_000)
    with SummaryWriter(str(tmp_path / "parent")) as writer:
        writer.add_histogram("big", big, 0)  # the helper thread exists now
    pid = os.fork()
    if pid == 0:
        try:
            with SummaryWriter(str(tmp_path / "child")) as writer:
                writer.add_histogram("big", big, 0)
        finally:
            os._exit(0)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        pytest.fail("the child hung")
    tags = [v.tag for e in run_events(str(tmp_path / "child")) if e.HasField("summary") for v in e.summary.value]
    assert tags == ["big"]


def test_failed_deferred_builds_free_their_share_of_the_backlog(logdir):
    writer = EventFileWriter(logdir)

    def fail():
        raise ValueError("cannot build")

    for _ in range(3):  # each alone in its batch, each nearly as large as the bound
        writer.write_later(fail, 0, 1.0, event_file.MAX_PENDING_BYTES - 1, "t")
        with pytest.raises(EventWriterError, match=r"'t': the summary queued .* could not be built"):
            writer.flush()
    assert writer._enqueued_bytes - writer._written_bytes < 1000
    writer.close()


def test_deferred_build_errors_left_at_close_are_raised_by_close(logdir):
    writer = EventFileWriter(logdir)

    def fail():
        raise ValueError("cannot build")

    writer.write_later(fail, 0, 1.0, 10, "late")
    with pytest.raises(EventWriterError, match="'late'"):
        writer.close()


def test_bursts_reach_the_file_promptly_even_with_fast_thread_switching(logdir):
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # makes the writer thread interleave with the adds anywhere
    try:
        writer = EventFileWriter(logdir, flush_secs=3600)
        step = 0
        for _ in range(15):
            for _ in range(300):
                writer.write_scalar("x", 1.0, step, 1.0)
                step += 1
            deadline = time.monotonic() + 2.0
            while len(steps_in(writer.path)) < step:
                assert time.monotonic() < deadline, f"{step - len(steps_in(writer.path))} events still queued"
                time.sleep(0.02)
        writer.close()
    finally:
        sys.setswitchinterval(previous)
