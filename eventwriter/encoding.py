"""Event bytes for scalars, encoded without building protobuf objects.

This is the hot path of ``add_scalar``: an Event holding one scalar value is a few
fixed byte strings per tag plus the wall time, step and value. The bytes are identical
to what protobuf's ``Event.SerializeToString()`` produces for the same message
(tests/test_encoding.py checks this), fields in field-number order::

    09 <float64 wall_time>         Event.wall_time = 1   (absent when 0.0)
    10 <varint step>               Event.step = 2        (absent when 0)
    2a <len> Summary               Event.summary = 5
      0a <len> Summary.Value       Summary.value = 1
        0a <len> <tag utf-8>       Value.tag = 1
        15 <float32>               Value.simple_value = 2       (old style), or
        42 <len> TensorProto       Value.tensor = 8             (new style):
          08 01 2a 04 <float32>      dtype DT_FLOAT, float_val packed, or
          08 02 32 08 <float64>      dtype DT_DOUBLE, double_val packed
        4a <len> SummaryMetadata   Value.metadata = 9           (new style, first value only)
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable

from eventwriter.plugins import scalars
from eventwriter.record import FOOTER_SIZE, HEADER_SIZE, MASK_DELTA, crc32c, frame, record_header

__all__ = [
    "SUMMARY_KEY",
    "ScalarLayout",
    "event_bytes",
    "float32_bytes",
    "string_tensor_summary",
    "summary_record",
    "varint",
]

_pack_f64 = struct.Struct("<d").pack
_pack_f32 = struct.Struct("<f").pack
_pack_crc = struct.Struct("<I").pack

SUMMARY_KEY = 0x2A  # Event.summary: field 5, length-delimited
_WALL_TIME_KEY = b"\x09"
_STEP_KEY = b"\x10"
_ZERO_DOUBLE = bytes(8)
_ONE_BYTE = [bytes((i,)) for i in range(128)]


def varint(value: int) -> bytes:
    """Encode an int64 as a protobuf varint (negative values take ten bytes).

    Raises:
        ValueError: the value does not fit in int64.
    """
    if 0 <= value < 0x80:
        return _ONE_BYTE[value]
    if not -(1 << 63) <= value < (1 << 63):
        raise ValueError(f"step {value} does not fit in int64")
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(key: int, payload: bytes) -> bytes:
    return bytes((key,)) + varint(len(payload)) + payload


def float32_bytes(value: float) -> bytes:
    """Pack a float as float32 the way protobuf stores a float field.

    Finite values beyond float32's range become infinities instead of raising.
    """
    try:
        return _pack_f32(value)
    except OverflowError:
        return _pack_f32(math.copysign(math.inf, value))


class ScalarLayout:
    """The fixed bytes of one tag's scalar events in one style.

    ``record`` returns the event framed as a record (eventwriter.record's layout);
    ``first=True`` selects the variant that carries the plugin metadata (new style only;
    TensorBoard reads a tag's metadata from its first value, so later values leave it out).

    The common event (a non-zero wall time, a step from 1 to 2**21 - 1, a value that
    fits the field) is one ``struct.pack`` call: the 12 header bytes (fixed, since the
    event's length is fixed for a given step width), key byte, float64 wall time, key
    byte, the step's varint bytes, the tag's fixed bytes, the value; then the CRC of the
    event. Anything else takes the general path, which ``tests/test_encoding.py`` checks
    against protobuf too.
    """

    __slots__ = ("_head", "_head_first", "_pack_value", "_packs", "_tail_first")
    _pack_value: Callable[[float], bytes]

    def __init__(self, tag: str, new_style: bool = False, double_precision: bool = False) -> None:
        tag_field = _field(0x0A, tag.encode("utf-8"))
        if not new_style:
            value_key, width, metadata, code = b"\x15", 4, b"", "f"
            self._pack_value = float32_bytes
        elif double_precision:
            value_key, width, code = b"\x42\x0c\x08\x02\x32\x08", 8, "d"
            self._pack_value = _pack_f64
        else:
            value_key, width, code = b"\x42\x08\x08\x01\x2a\x04", 4, "f"
            self._pack_value = float32_bytes
        if new_style:
            metadata = _field(0x4A, scalars.create_summary_metadata().SerializeToString())
        self._head = _summary_head(tag_field, value_key, width, b"")
        self._head_first = _summary_head(tag_field, value_key, width, metadata)
        self._tail_first = metadata
        # One (pack, header) per step width of 1, 2 and 3 varint bytes.
        self._packs = tuple(
            (
                struct.Struct(f"<{HEADER_SIZE}sBd{'B' * n}B{len(self._head)}s{code}").pack,
                record_header(struct.calcsize(f"<Bd{'B' * n}B{len(self._head)}s{code}")),
            )
            for n in (1, 2, 3)
        )

    def record(self, value: float, step: int | None, wall_time: float, first: bool = False) -> bytes:
        """Return the framed record of the Event holding ``value``."""
        if not first and step is not None and 0 < step < 0x200000 and wall_time != 0.0:
            try:
                if step < 0x80:
                    pack, header = self._packs[0]
                    framed = pack(header, 0x09, wall_time, 0x10, step, self._head, value)
                elif step < 0x4000:
                    pack, header = self._packs[1]
                    framed = pack(header, 0x09, wall_time, 0x10, step & 0x7F | 0x80, step >> 7, self._head, value)
                else:
                    pack, header = self._packs[2]
                    framed = pack(
                        header, 0x09, wall_time, 0x10, step & 0x7F | 0x80, (step >> 7) & 0x7F | 0x80, step >> 14,
                        self._head, value,
                    )  # fmt: skip
            except (OverflowError, struct.error):  # beyond float32: the general path stores an infinity
                pass
            else:
                crc = crc32c(framed[HEADER_SIZE:])  # record.footer, inlined: this is the hot path
                return framed + _pack_crc((((crc >> 15) | (crc << 17)) + MASK_DELTA) & 0xFFFFFFFF)
        return frame(self._general(value, step, wall_time, first))

    def encode(self, value: float, step: int | None, wall_time: float, first: bool = False) -> bytes:
        """Return the serialized Event holding ``value`` (``record`` without the framing)."""
        return self.record(value, step, wall_time, first)[HEADER_SIZE:-FOOTER_SIZE]

    def _general(self, value: float, step: int | None, wall_time: float, first: bool) -> bytes:
        out = _time_and_step(wall_time, step)
        if first:
            return out + self._head_first + self._pack_value(value) + self._tail_first
        return out + self._head + self._pack_value(value)


def _summary_head(tag_field: bytes, value_key: bytes, width: int, metadata: bytes) -> bytes:
    """Event.summary and Summary.value keys and lengths, then the tag and value key."""
    value_len = len(tag_field) + len(value_key) + width + len(metadata)
    value_head = b"\x0a" + varint(value_len)
    return b"\x2a" + varint(len(value_head) + value_len) + value_head + tag_field + value_key


def event_bytes(wall_time: float, step: int | None, key: int, payload: bytes) -> bytes:
    """A serialized Event: wall time, step, and one length-delimited field.

    ``key`` is the field's key byte (``0x2A`` for ``Event.summary``); ``payload`` is
    that field's serialized message. Equal to protobuf's serialization of the same Event.
    """
    return _time_and_step(wall_time, step) + bytes((key,)) + varint(len(payload)) + payload


def _time_and_step(wall_time: float, step: int | None) -> bytes:
    """Event.wall_time and Event.step, each left out when zero (as protobuf does)."""
    wall = _pack_f64(wall_time)
    out = _WALL_TIME_KEY + wall if wall != _ZERO_DOUBLE else b""
    if step:
        out += _STEP_KEY + varint(step)
    return out


def summary_record(wall_time: float, step: int | None, summary: bytes) -> bytes:
    """The framed record of an Event holding the serialized ``summary``."""
    return frame(event_bytes(wall_time, step, SUMMARY_KEY, summary))


# TensorProto of dtype DT_STRING (7) and shape [1]: field 1 = 7, field 2 = {dim {size 1}},
# then field 8 (string_val) with the bytes.
_STRING_TENSOR_HEAD = b"\x08\x07\x12\x04\x12\x02\x08\x01\x42"


def string_tensor_summary(tag: bytes, data: bytes) -> bytes:
    """A serialized Summary holding one value: ``tag`` (UTF-8) and a string tensor of
    shape [1] holding ``data``, without metadata (the text plugin's later values)."""
    tensor = _STRING_TENSOR_HEAD + varint(len(data)) + data
    value = b"\x0a" + varint(len(tag)) + tag + b"\x42" + varint(len(tensor)) + tensor
    return b"\x0a" + varint(len(value)) + value
