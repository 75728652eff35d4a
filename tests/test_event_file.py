"""EventFileWriter: naming, first event, reopen, metadata once per file, exit and fork.

The queue underneath (timing, barriers, backlog, errors) is tested in test_write_behind.py.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from helpers import CountingStorage, run_events

from eventwriter import event_file
from eventwriter.errors import EventWriterError, WriterClosedError
from eventwriter.event_file import EventFileWriter
from eventwriter.proto.event_pb2 import Event
from eventwriter.reader import iter_events
from eventwriter.record import frame
from eventwriter.storage import MemoryStorage


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


def test_a_writers_files_sort_by_name_in_the_order_it_made_them(logdir, monkeypatch):
    # TensorBoard's Python loader reads a run's files in name order and never goes back;
    # the counter in the name sorts as text (".10" before ".9"), so within one second, or
    # with a clock that goes back, the seconds in the name move on instead.
    monkeypatch.setattr(event_file, "_file_counter", iter(range(5, 100)))
    times = iter([1000.0, 1000.2, 1000.4, 999.0, 1000.9, 1001.5, 1001.6, 1500.0])
    writer = EventFileWriter(logdir, clock=lambda: next(times))
    made = [writer.path]
    for step in range(7):
        writer.add_event(scalar_event(step))
        writer.close()
        writer.reopen()
        made.append(writer.path)
    writer.close()
    names = [os.path.basename(path) for path in made]
    assert sorted(names) == names
    assert [name.split(".")[3] for name in names] == [
        "0000001000",
        "0000001001",
        "0000001002",
        "0000001003",
        "0000001004",
        "0000001005",
        "0000001006",
        "0000001500",
    ]
    assert [e.step for e in run_events(logdir) if e.HasField("summary")] == list(range(7))


def test_file_name_seconds_are_remembered_for_recent_directories_only(tmp_path, monkeypatch):
    monkeypatch.setattr(event_file, "_last_stamps", {})
    monkeypatch.setattr(event_file, "_REMEMBERED_DIRECTORIES", 4)
    for n in range(6):  # one second each: the older directories are forgotten
        EventFileWriter(str(tmp_path / f"old{n}"), clock=lambda n=n: 1000.0 + n).close()
    assert len(event_file._last_stamps) <= 4
    writer = EventFileWriter(str(tmp_path / "old5"), clock=lambda: 1005.5)  # remembered: next second
    writer.close()
    assert os.path.basename(writer.path).split(".")[3] == "0000001006"


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


@pytest.mark.slow
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
    ("kwargs", "error", "message"),
    [
        ({"max_queue": "10"}, TypeError, "max_queue must be an int, got str '10'"),
        ({"max_queue": True}, TypeError, "max_queue must be an int, got bool"),
        ({"flush_secs": 0}, ValueError, "flush_secs must be a positive number of seconds, got int 0"),
        ({"flush_secs": float("nan")}, ValueError, "flush_secs must be a positive number"),
        ({"flush_secs": "2"}, TypeError, "flush_secs must be a number of seconds, got str '2'"),
        ({"filename_suffix": 3}, TypeError, "filename_suffix must be a str, got int 3"),
        ({"batch_window": -1}, ValueError, "batch_window must be between 0 and 60 seconds, got int -1"),
        ({"batch_window": "0.1"}, TypeError, "batch_window must be a number of seconds, got str"),
        ({"hostname": "a/b"}, ValueError, "hostname goes into file names: it cannot hold '/' or NUL or be empty"),
        ({"hostname": ""}, ValueError, "hostname goes into file names"),
        ({"hostname": "h\0"}, ValueError, "hostname goes into file names"),
        ({"hostname": 5}, TypeError, "hostname must be a str, got int 5"),
        ({"filename_suffix": "/x"}, ValueError, "filename_suffix goes into file names: it cannot hold '/' or NUL, got"),
        ({"filename_suffix": "s" * 101}, ValueError, "filename_suffix goes into file names, which file systems limit"),
        (
            {"hostname": "é" * 51},
            ValueError,
            "it may take 100 bytes (UTF-8), got 102",
        ),
        ({"hostname": "h\udc80"}, ValueError, "hostname goes into file names: it must be valid Unicode text"),
        ({"pid": True}, TypeError, "pid must be an int or None, got bool"),
        ({"pid": "12"}, TypeError, "pid must be an int or None, got str"),
        ({"pid": -1}, ValueError, "pid must not be negative, got -1"),
        ({"clock": 5.0}, TypeError, "clock must be a function returning seconds since the epoch, got float"),
        ({"clock": lambda: "5"}, TypeError, "clock must return seconds since the epoch as a number, got str"),
        ({"clock": lambda: float("nan")}, ValueError, "clock must return a finite, non-negative number"),
        ({"clock": lambda: float("inf")}, ValueError, "clock must return a finite, non-negative number"),
        ({"clock": lambda: -1.0}, ValueError, "clock must return a finite, non-negative number"),
    ],
)
def test_bad_arguments_are_refused(logdir, kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        EventFileWriter(logdir, **kwargs)
    assert not os.path.exists(logdir)


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


def test_a_failing_deferred_summary_names_its_tag_and_the_writer_keeps_working(logdir):
    writer = EventFileWriter(logdir)

    def build():
        raise MemoryError("no room to encode")

    writer.write_later(build, 0, 1.0, 100, "pixels")
    with pytest.raises(EventWriterError, match=r"'pixels': the summary queued for .* could not be built.*no room"):
        writer.flush()
    writer.write_scalar("still", 1.0, 1, 1.0)
    writer.close()
    assert [(e.step, e.summary.value[0].tag) for e in run_events(logdir) if e.HasField("summary")] == [(1, "still")]


def test_add_event_takes_only_eventwriter_events(logdir):
    writer = EventFileWriter(logdir)
    with pytest.raises(TypeError, match="add_event expects an Event protocol buffer, got dict"):
        writer.add_event({"step": 1})
    writer.close()


def test_in_memory_storage_and_a_fixed_clock_give_the_same_bytes_every_time():
    def write():
        storage = MemoryStorage()
        writer = EventFileWriter("run", clock=lambda: 1700000000.5, hostname="h", pid=7, storage=storage)
        writer.write_scalar("loss", 0.25, 3, 1700000001.0)
        writer.write_scalar("acc", 0.5, 3, 1700000001.0, new_style=True)
        writer.add_event(scalar_event(4))
        writer.close()
        (path,) = storage.paths()
        return path, storage.read_bytes(path)

    path, data = write()
    assert write()[1] == data
    assert path.startswith("run/events.out.tfevents.1700000000.h.7.")
    first = Event(wall_time=1700000000.5, file_version="brain.Event:2")
    first.source_metadata.writer = "eventwriter"
    assert data.startswith(frame(first.SerializeToString()))
    events = list(iter_events(io.BytesIO(data)))
    assert [(e.step, [v.tag for v in e.summary.value]) for e in events[1:]] == [(3, ["loss"]), (3, ["acc"]), (4, ["x"])]
    assert events[2].summary.value[0].metadata.plugin_data.plugin_name == "scalars"


def test_a_file_whose_first_event_cannot_be_written_is_removed(logdir):
    with pytest.raises(OSError, match="No space left"):
        EventFileWriter(logdir, storage=CountingStorage(fail_after_writes=0))
    assert os.listdir(logdir) == []


def test_a_clock_that_fails_leaves_no_file(logdir):
    writer = EventFileWriter(logdir, clock=lambda: 1700000000.0)
    writer.close()

    def broken():
        raise RuntimeError("clock broke")

    writer._clock = broken
    with pytest.raises(RuntimeError, match="clock broke"):
        writer.reopen()
    assert os.listdir(logdir) == [os.path.basename(writer.path)]
    assert writer.closed
