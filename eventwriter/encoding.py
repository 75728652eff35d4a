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

__all__ = ["ScalarLayout", "event_bytes", "float32_bytes", "varint"]

_pack_f64 = struct.Struct("<d").pack
_pack_f32 = struct.Struct("<f").pack

_WALL_TIME_KEY = b"\x09"
_STEP_KEY = b"\x10"
_ZERO_DOUBLE = bytes(8)
_ONE_BYTE = [bytes((i,)) for i in range(128)]


def varint(value: int) -> bytes:
    """Encode an int64 as a protobuf varint (negative values take ten bytes)."""
    if 0 <= value < 0x80:
        return _ONE_BYTE[value]
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

    ``encode`` returns a serialized Event. ``first=True`` selects the variant that
    carries the plugin metadata (new style only; TensorBoard reads a tag's metadata
    from its first value, so later values leave it out).
    """

    __slots__ = ("_head", "_head_first", "_pack_value", "_tail_first")
    _pack_value: Callable[[float], bytes]

    def __init__(self, tag: str, new_style: bool = False, double_precision: bool = False) -> None:
        tag_field = _field(0x0A, tag.encode("utf-8"))
        if not new_style:
            value_key, width, metadata = b"\x15", 4, b""
            self._pack_value = float32_bytes
        elif double_precision:
            value_key, width = b"\x42\x0c\x08\x02\x32\x08", 8
            self._pack_value = _pack_f64
        else:
            value_key, width = b"\x42\x08\x08\x01\x2a\x04", 4
            self._pack_value = float32_bytes
        if new_style:
            metadata = _field(0x4A, scalars.create_summary_metadata().SerializeToString())
        self._head = _summary_head(tag_field, value_key, width, b"")
        self._head_first = _summary_head(tag_field, value_key, width, metadata)
        self._tail_first = metadata

    def encode(self, value: float, step: int | None, wall_time: float, first: bool = False) -> bytes:
        """Return the serialized Event holding ``value``."""
        wall = _pack_f64(wall_time)
        out = _WALL_TIME_KEY + wall if wall != _ZERO_DOUBLE else b""
        if step:
            out += _STEP_KEY + varint(step)
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
    wall = _pack_f64(wall_time)
    out = _WALL_TIME_KEY + wall if wall != _ZERO_DOUBLE else b""
    if step:
        out += _STEP_KEY + varint(step)
    return out + bytes((key,)) + varint(len(payload)) + payload
