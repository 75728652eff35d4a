"""Helpers shared by the tests: reading runs back with eventwriter's own reader."""

from __future__ import annotations

import os
import time

from eventwriter.proto.event_pb2 import Event
from eventwriter.reader import find_event_files, iter_events
from eventwriter.storage import LocalFileSink, LocalStorage


def event_files(logdir: str) -> list[str]:
    """Every event file below ``logdir``."""
    return [path for paths in find_event_files(logdir).values() for path in paths]


def run_events(run_dir: str) -> list[Event]:
    """The events of the files directly in ``run_dir``, in file order."""
    names = sorted(name for name in os.listdir(run_dir) if "tfevents" in name)
    return [event for name in names for event in iter_events(os.path.join(run_dir, name))]


def summary_values(run_dir: str) -> list[tuple[int, str, Event]]:
    """(step, tag, event) for every summary value of a run, in order."""
    out = []
    for event in run_events(run_dir):
        if event.WhichOneof("what") == "summary":
            for value in event.summary.value:
                out.append((event.step, value.tag, value))
    return out


def scalars(run_dir: str, tag: str) -> list[tuple[int, float]]:
    """(step, value) of a tag's simple_value or float tensor scalars."""
    out = []
    for step, value_tag, value in summary_values(run_dir):
        if value_tag != tag:
            continue
        if value.HasField("simple_value"):
            out.append((step, value.simple_value))
        elif value.tensor.float_val:
            out.append((step, value.tensor.float_val[0]))
        else:
            out.append((step, value.tensor.double_val[0]))
    return out


def assert_refused_and_writer_keeps_working(logdir: str, call, error: type, message: str) -> None:
    """``call(writer)`` raises ``error`` matching ``message``; the scalars logged before and
    after it are in the file and nothing else is."""
    import pytest

    from eventwriter import SummaryWriter

    writer = SummaryWriter(logdir)
    writer.add_scalar("kept", 1.0, 0)
    with pytest.raises(error, match=message):
        call(writer)
    writer.add_scalar("kept", 2.0, 1)
    writer.close()
    assert scalars(logdir, "kept") == [(0, 1.0), (1, 2.0)]
    assert [(step, tag) for step, tag, _ in summary_values(logdir)] == [(0, "kept"), (1, "kept")]


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
    """Local storage whose event files are CountingSinks (``sinks`` in creation order)."""

    def __init__(self, **sink_options):
        self.sinks = []
        self.sink_options = sink_options

    def create(self, path):
        sink = CountingSink(path, **self.sink_options)
        self.sinks.append(sink)
        return sink
