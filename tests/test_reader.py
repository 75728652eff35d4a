"""The reader tells a truncated tail, a bad CRC and an undecodable record apart."""

from __future__ import annotations

import errno
import os
import socket
import struct
import threading

import pytest

from eventwriter import SummaryWriter
from eventwriter.errors import CorruptRecordError, TruncatedRecordError, UndecodableRecordError
from eventwriter.reader import find_event_files, iter_events, iter_records, iter_scalars, scan_file
from eventwriter.record import frame


def write_run(logdir, steps=5):
    with SummaryWriter(logdir) as writer:
        for step in range(steps):
            writer.add_scalar("x", float(step), step)
    (path,) = find_event_files(logdir)["."]
    return path


def record_offsets(path):
    return [record.offset for record in iter_records(path)]


def test_clean_file(logdir):
    path = write_run(logdir)
    report = scan_file(path)
    assert report.sound and report.truncated is None and report.first_event_ok
    assert report.records == 6
    assert [p.value for p in iter_scalars(logdir)] == [0.0, 1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize("cut", [1, 5, 12, 20])
def test_truncated_tail(logdir, cut):
    path = write_run(logdir)
    last = record_offsets(path)[-1]
    with open(path, "r+b") as handle:
        handle.truncate(last + cut)
    report = scan_file(path)
    assert report.sound
    assert report.truncated is not None and report.truncated.offset == last
    assert report.records == 5
    assert len(list(iter_events(path))) == 5  # stops quietly, as TensorBoard does
    with pytest.raises(TruncatedRecordError):
        list(iter_events(path, stop_at_truncation=False))


def test_flipped_data_byte_is_corruption_and_the_scan_goes_on(logdir):
    path = write_run(logdir)
    offsets = record_offsets(path)
    with open(path, "r+b") as handle:
        handle.seek(offsets[2] + 14)
        byte = handle.read(1)
        handle.seek(offsets[2] + 14)
        handle.write(bytes([byte[0] ^ 0x01]))
    report = scan_file(path)
    assert not report.sound
    assert [(p.offset, p.reason) for p in report.problems] == [(offsets[2], "data CRC mismatch")]
    assert report.records == 5  # the records after the damaged one are still counted
    with pytest.raises(CorruptRecordError) as raised:
        list(iter_events(path))
    assert raised.value.offset == offsets[2] and raised.value.path == path


def test_flipped_length_byte_is_corruption(logdir):
    path = write_run(logdir)
    offsets = record_offsets(path)
    with open(path, "r+b") as handle:
        handle.seek(offsets[3])
        byte = handle.read(1)
        handle.seek(offsets[3])
        handle.write(bytes([byte[0] ^ 0xFF]))  # every bit flipped: always a change
    report = scan_file(path)
    assert [(p.offset, p.reason) for p in report.problems] == [(offsets[3], "length CRC mismatch")]


def test_huge_length_with_valid_crc_is_never_allocated(tmp_path):
    path = str(tmp_path / "events.out.tfevents.1.h.1.0")
    length = struct.pack("<Q", 1 << 62)
    from eventwriter.record import masked_crc32c

    with open(path, "wb") as handle:
        handle.write(length + struct.pack("<I", masked_crc32c(length)) + b"tiny")
    with pytest.raises(CorruptRecordError, match="more than any Event can hold"):
        list(iter_records(path))


def test_record_that_is_not_an_event_is_undecodable(tmp_path):
    path = str(tmp_path / "events.out.tfevents.1.h.1.0")
    with open(path, "wb") as handle:
        handle.write(frame(b"\xff\xff\xff"))
    report = scan_file(path)
    assert isinstance(report.problems[0], UndecodableRecordError) and report.problems[0].offset == 0
    with pytest.raises(UndecodableRecordError):
        list(iter_events(path))


def test_find_event_files_orders_runs_and_files(tmp_path):
    for run in ["b", "a", "a/nested"]:
        os.makedirs(tmp_path / run)
        for name in ["events.out.tfevents.2.h.1.1", "events.out.tfevents.1.h.1.0", "other.txt"]:
            (tmp_path / run / name).write_bytes(b"")
    runs = find_event_files(str(tmp_path))
    assert list(runs) == ["a", "a/nested", "b"]
    assert [os.path.basename(p) for p in runs["a"]] == ["events.out.tfevents.1.h.1.0", "events.out.tfevents.2.h.1.1"]
    with pytest.raises(FileNotFoundError):
        find_event_files(str(tmp_path / "missing"))


def test_scalars_in_tensor_content_as_tensorflow_writes_them(tmp_path):
    import numpy as np

    from eventwriter.event_file import EventFileWriter
    from eventwriter.plugins.scalars import create_summary_metadata
    from eventwriter.proto import types_pb2
    from eventwriter.proto.event_pb2 import Event
    from eventwriter.proto.summary_pb2 import Summary
    from eventwriter.proto.tensor_pb2 import TensorProto

    writer = EventFileWriter(str(tmp_path))
    cases = [
        (types_pb2.DT_FLOAT, np.float32(0.5).tobytes()),
        (types_pb2.DT_DOUBLE, np.float64(0.25).tobytes()),
        (types_pb2.DT_HALF, np.float16(2.0).tobytes()),
    ]
    for step, (dtype, content) in enumerate(cases):
        value = Summary.Value(tag="tf2", tensor=TensorProto(dtype=dtype, tensor_content=content))
        value.metadata.CopyFrom(create_summary_metadata())
        writer.add_event(Event(step=step, summary=Summary(value=[value])))
    writer.close()
    assert [(p.step, p.value) for p in iter_scalars(str(tmp_path))] == [(0, 0.5), (1, 0.25), (2, 2.0)]


def test_a_stream_is_read_from_its_start_and_must_be_seekable_binary(logdir, tmp_path):
    import io

    path = write_run(logdir)
    with open(path, "rb") as handle:
        data = handle.read()
    stream = io.BytesIO(data)
    stream.seek(5)
    assert [e.step for e in iter_events(stream)][1:] == [0, 1, 2, 3, 4]
    read, write = os.pipe()
    with os.fdopen(write, "wb") as pipe_in, os.fdopen(read, "rb") as pipe_out:
        pipe_in.write(data[:100])
        pipe_in.flush()
        with pytest.raises(TypeError, match="a path or a seekable binary file"):
            list(iter_records(pipe_out))
    with open(path, encoding="latin-1") as text, pytest.raises(TypeError, match="seekable binary file"):
        list(iter_events(text))


def finishes(call, fifo, seconds=10.0):
    """Run ``call()`` in a thread and return ("value" or "error", result); if it is still
    blocked on the FIFO after ``seconds``, release it (open the write end) and fail."""
    outcome = {}

    def target():
        try:
            outcome["value"] = call()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # the blocked open returns
        thread.join(seconds)
        pytest.fail(f"blocked on the FIFO {fifo} for {seconds} s")
    ((kind, result),) = outcome.items()
    return kind, result


def special_entries(directory):
    """Entries named like event files that are no regular files; name -> the reason given."""
    directory = str(directory)
    reasons = {}
    if hasattr(os, "mkfifo"):
        os.mkfifo(os.path.join(directory, "events.out.tfevents.fifo"))
        reasons["events.out.tfevents.fifo"] = "expected a regular file, got a FIFO (named pipe)"
    os.symlink(os.path.join(directory, "missing"), os.path.join(directory, "events.out.tfevents.dangling"))
    reasons["events.out.tfevents.dangling"] = "expected a regular file, got a dangling symlink"
    os.symlink("events.out.tfevents.loop", os.path.join(directory, "events.out.tfevents.loop"))
    reasons["events.out.tfevents.loop"] = "expected a regular file, got a symlink loop"
    return reasons


def test_find_event_files_leaves_out_and_reports_what_is_no_regular_file(tmp_path, monkeypatch):
    good = write_run(str(tmp_path / "run"))
    os.symlink(good, str(tmp_path / "run" / "events.out.tfevents.link"))  # a link to a file is fine
    reasons = special_entries(tmp_path / "run")
    if hasattr(socket, "AF_UNIX"):
        monkeypatch.chdir(tmp_path / "run")  # a relative address: socket paths are short
        with socket.socket(socket.AF_UNIX) as server:
            server.bind("events.out.tfevents.sock")
        reasons["events.out.tfevents.sock"] = "expected a regular file, got a socket"
    os.makedirs(tmp_path / "run" / "events.out.tfevents.dir")
    nested = write_run(str(tmp_path / "run" / "events.out.tfevents.dir"))  # a directory is still searched
    skipped = []
    runs = find_event_files(str(tmp_path), skipped=skipped)
    assert runs == {
        "run": [good, str(tmp_path / "run" / "events.out.tfevents.link")],
        "run/events.out.tfevents.dir": [nested],
    }
    assert find_event_files(str(tmp_path)) == runs
    by_name = {os.path.basename(entry.path): entry for entry in skipped}
    assert {name: entry.reason for name, entry in by_name.items() if not entry.searched} == reasons
    directory = by_name["events.out.tfevents.dir"]
    assert directory.searched and directory.reason.startswith("expected a regular file, got a directory")
    assert len(skipped) == len(reasons) + 1
    assert find_event_files(good, skipped=skipped) == {".": [good]}  # a single file still works


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_is_never_opened_and_never_blocks(tmp_path):
    fifo = str(tmp_path / "events.out.tfevents.fifo")
    os.mkfifo(fifo)
    for call in [
        lambda: list(iter_records(fifo)),
        lambda: list(iter_events(fifo)),
        lambda: scan_file(fifo),
    ]:
        kind, error = finishes(call, fifo)
        assert kind == "error" and isinstance(error, OSError), error
        assert str(error) == f"{fifo}: expected a regular file, got a FIFO (named pipe)"
    kind, error = finishes(lambda: list(iter_scalars(fifo)), fifo)
    assert kind == "error" and str(error) == f"{fifo}: expected a log dir or an event file, got a FIFO (named pipe)"
    write_run(str(tmp_path))
    skipped = []
    kind, points = finishes(lambda: list(iter_scalars(str(tmp_path), skipped=skipped)), fifo)
    assert kind == "value" and [p.value for p in points] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert [(entry.path, entry.reason) for entry in skipped] == [
        (fifo, "expected a regular file, got a FIFO (named pipe)")
    ]


def test_a_file_removed_between_listing_and_stat_is_reported(tmp_path, monkeypatch):
    good = write_run(str(tmp_path))
    walk = os.walk

    def listing_with_a_removed_file(top, *args, **kwargs):
        for directory, subdirs, files in walk(top, *args, **kwargs):
            yield directory, subdirs, [*files, "events.out.tfevents.removed"]

    monkeypatch.setattr(os, "walk", listing_with_a_removed_file)
    skipped = []
    assert find_event_files(str(tmp_path), skipped=skipped) == {".": [good]}
    assert [(e.path, e.reason) for e in skipped] == [
        (str(tmp_path / "events.out.tfevents.removed"), "No such file or directory")
    ]


def test_iter_scalars_goes_on_past_a_file_that_cannot_be_opened(tmp_path, monkeypatch):
    from eventwriter import reader

    write_run(str(tmp_path / "a"))
    write_run(str(tmp_path / "b"))
    gone = str(tmp_path / "a" / "events.out.tfevents.0.gone")
    real = reader.find_event_files

    def listing(path, **kwargs):  # names a file that is deleted before it is opened
        runs = real(path, **kwargs)
        runs["a"].insert(0, gone)
        return runs

    monkeypatch.setattr(reader, "find_event_files", listing)
    skipped = []
    points = list(iter_scalars(str(tmp_path), skipped=skipped))
    assert [(p.run, p.step) for p in points] == [(run, step) for run in "ab" for step in range(5)]
    assert [(e.path, e.reason, e.searched) for e in skipped] == [(gone, "No such file or directory", False)]
    with pytest.raises(FileNotFoundError):
        list(iter_scalars(str(tmp_path)))


def test_a_directory_that_cannot_be_listed(tmp_path, monkeypatch):
    good = write_run(str(tmp_path / "a"))
    write_run(str(tmp_path / "locked"))
    scandir = os.scandir
    locked = {str(tmp_path / "locked")}

    def refusing(path="."):
        if os.fspath(path) in locked:
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    skipped = []
    assert find_event_files(str(tmp_path), skipped=skipped) == {"a": [good]}
    assert [(e.path, e.reason, e.searched) for e in skipped] == [
        (str(tmp_path / "locked"), "a directory that cannot be listed: Permission denied", False)
    ]
    locked.add(str(tmp_path))  # the log dir itself: an error, not an empty log dir
    with pytest.raises(PermissionError):
        find_event_files(str(tmp_path))
