"""Record framing and CRC-32C: the vectors of DESIGN.md, byte for byte."""

import struct

import pytest

from eventwriter import record
from eventwriter.proto.event_pb2 import Event
from eventwriter.proto.summary_pb2 import Summary

EVENT_HEX = "09000000000000f83f10032a0d0a0b0a046c6f7373150000803e"


def test_crc32c_check_value():
    assert record.crc32c(b"123456789") == 0xE3069283


def test_python_fallback_matches_the_package():
    python_crc = record._make_python_crc32c()
    for data in [b"", b"123456789", bytes(range(256)) * 3, b"\xff" * 1000]:
        assert python_crc(data) == record.crc32c(data)


def test_mask_formula():
    crc = record.crc32c(b"abc")
    expected = (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
    assert record.masked_crc32c(b"abc") == expected


def test_design_event_serializes_to_the_vector():
    event = Event(wall_time=1.5, step=3, summary=Summary(value=[Summary.Value(tag="loss", simple_value=0.25)]))
    assert event.SerializeToString().hex() == EVENT_HEX


def test_frame_layout_matches_the_vector():
    data = bytes.fromhex(EVENT_HEX)
    framed = record.frame(data)
    assert len(framed) == 12 + len(data) + 4
    assert framed[:8].hex() == "1a00000000000000"
    assert framed[8:12].hex() == "129bd82d"
    assert framed[12:-4] == data
    assert framed[-4:].hex() == "d054b255"


def test_length_is_little_endian_uint64():
    framed = record.frame(b"z" * 258)
    assert struct.unpack("<Q", framed[:8])[0] == 258
    assert framed[:8] == b"\x02\x01\x00\x00\x00\x00\x00\x00"


@pytest.mark.parametrize("length", [0, 1, 127, 128, 300, 1 << 20])
def test_header_cache_gives_fresh_headers(length):
    record._headers.clear()
    first = record.frame(b"q" * length)[:12]
    second = record.frame(b"r" * length)[:12]
    header = struct.pack("<Q", length)
    assert first == second == header + struct.pack("<I", record.masked_crc32c(header))


def test_record_writer_frames_each_write_into_a_file_object():
    import io

    from eventwriter import RecordWriter
    from eventwriter.reader import iter_records

    class Kept(io.BytesIO):
        def close(self):  # keep the bytes readable after close()
            self.closed_by_writer = True

    target = Kept()
    writer = RecordWriter(target)
    for data in (b"", b"one", bytearray(b"two"), memoryview(b"three")):
        writer.write(data)
    writer.flush()
    assert not writer.closed
    writer.close()
    assert target.closed_by_writer
    target.seek(0)
    assert [record.data for record in iter_records(target)] == [b"", b"one", b"two", b"three"]
    with pytest.raises(TypeError, match="takes bytes, got str"):
        RecordWriter(io.BytesIO()).write("text")
    with pytest.raises(TypeError, match="binary file object with write"):
        RecordWriter(object())
