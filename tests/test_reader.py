"""The reader tells a truncated tail, a bad CRC and an undecodable record apart."""

from __future__ import annotations

import os
import struct

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
