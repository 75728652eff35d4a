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
