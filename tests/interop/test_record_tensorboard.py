"""Framing compared with tensorboard's own RecordWriter and CRC."""

import io

import pytest
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c as tb_masked_crc32c
from tensorboard.summary.writer.record_writer import RecordWriter

from eventwriter import record


@pytest.mark.parametrize("data", [b"", b"x", bytes(range(256)), b"\x00" * 5000, bytes.fromhex("09000000000000f83f")])
def test_frame_is_byte_identical_to_tensorboard(data):
    buffer = io.BytesIO()
    RecordWriter(buffer).write(data)
    assert record.frame(data) == buffer.getvalue()


def test_masked_crc_matches_tensorboard():
    for data in [b"", b"123456789", bytes(range(256)) * 17]:
        assert record.masked_crc32c(data) == tb_masked_crc32c(data)


def test_record_writer_is_byte_for_byte_tensorboards(tmp_path):
    import io

    from tensorboard.summary.writer.record_writer import RecordWriter as TensorBoardRecordWriter

    from eventwriter import RecordWriter

    ours, theirs = io.BytesIO(), io.BytesIO()
    ours.close = theirs.close = lambda: None  # keep both readable
    for data in (b"", b"x" * 1000, bytes(range(256))):
        RecordWriter(ours).write(data)
        TensorBoardRecordWriter(theirs).write(data)
    assert ours.getvalue() == theirs.getvalue()


def test_event_file_writer_takes_tensorboards_own_events(tmp_path):
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.compat.proto.event_pb2 import Event as TensorBoardEvent
    from tensorboard.compat.proto.summary_pb2 import Summary as TensorBoardSummary

    from eventwriter import EventFileWriter

    writer = EventFileWriter(str(tmp_path))
    for step in range(3):
        summary = TensorBoardSummary(value=[TensorBoardSummary.Value(tag="x", simple_value=step / 2)])
        writer.add_event(TensorBoardEvent(wall_time=100.0 + step, step=step, summary=summary))
    with pytest.raises(TypeError, match="an Event protocol buffer, got"):
        writer.add_event(TensorBoardSummary())
    writer.close()
    loaded = event_accumulator.EventAccumulator(str(tmp_path))
    loaded.Reload()
    assert [(e.wall_time, e.step, e.value) for e in loaded.Scalars("x")] == [
        (100.0, 0, 0.0),
        (101.0, 1, 0.5),
        (102.0, 2, 1.0),
    ]
