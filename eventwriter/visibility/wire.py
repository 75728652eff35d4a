"""Whether the default loader's protobuf decoder (Rust's prost) takes a record's bytes.

Python's protobuf is the more lenient: it keeps a known field sent with another wire
type as an unknown field, and reads a ten-byte varint whose last byte is above 1 (more
than 64 bits) by dropping the excess. prost refuses both, and the data server then stops
reading the file. The check walks the bytes by the Event descriptor, into every message
field (``graph_def`` and ``run_metadata`` are bytes there, as in the data server's own
definitions).
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from eventwriter.proto.event_pb2 import Event

__all__ = ["prost_decodes"]

_VARINT, _FIXED64, _LENGTH, _START_GROUP, _END_GROUP, _FIXED32 = 0, 1, 2, 3, 4, 5
_WIRE_TYPES = {
    **dict.fromkeys(
        (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64), _FIXED64
    ),
    **dict.fromkeys(
        (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_SFIXED32), _FIXED32
    ),
    **dict.fromkeys((FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES, FieldDescriptor.TYPE_MESSAGE), _LENGTH),
    FieldDescriptor.TYPE_GROUP: _START_GROUP,
}  # every other type: a varint


class _Refused(Exception):
    pass


def _repeated(field: Any) -> bool:
    """protobuf 7 has ``is_repeated``; protobuf 3.20 only ``label``."""
    repeated = getattr(field, "is_repeated", None)
    if repeated is None:
        return bool(field.label == FieldDescriptor.LABEL_REPEATED)
    return bool(repeated)


def prost_decodes(data: bytes, descriptor: Any = None) -> bool:
    """Whether prost decodes ``data`` as the message ``descriptor`` describes (an Event's
    by default)."""
    try:
        _message(memoryview(data), 0, len(data), descriptor or Event.DESCRIPTOR)
    except _Refused:
        return False
    return True


def _varint(data: memoryview, position: int, end: int) -> tuple[int, int]:
    value = 0
    for index in range(10):
        if position >= end:
            raise _Refused
        byte = data[position]
        position += 1
        if index == 9 and byte > 1:
            raise _Refused  # more than 64 bits
        value |= (byte & 0x7F) << (7 * index)
        if byte < 0x80:
            return value, position
    raise _Refused


def _message(data: memoryview, position: int, end: int, descriptor: Any, group: int = 0) -> int:
    """Check the fields from ``position`` to ``end`` (or to the end of ``group``); return
    where they end."""
    while position < end:
        key, position = _varint(data, position, end)
        number, wire = key >> 3, key & 7
        if number == 0 or wire > _FIXED32:
            raise _Refused
        if wire == _END_GROUP:
            if number != group:
                raise _Refused
            return position
        field = descriptor.fields_by_number.get(number) if descriptor is not None else None
        expected = _WIRE_TYPES.get(field.type, _VARINT) if field is not None else wire
        packed = field is not None and _repeated(field) and expected != _LENGTH
        if wire != expected and not (packed and wire == _LENGTH):
            raise _Refused
        if wire == _VARINT:
            _, position = _varint(data, position, end)
        elif wire in (_FIXED64, _FIXED32):
            position += 8 if wire == _FIXED64 else 4
        elif wire == _START_GROUP:
            position = _message(data, position, end, None, number)
            continue
        else:
            length, position = _varint(data, position, end)
            inner_end = position + length
            if inner_end > end:
                raise _Refused
            if field is not None and field.type == FieldDescriptor.TYPE_MESSAGE:
                _message(data, position, inner_end, field.message_type)
            elif packed and expected == _VARINT:
                inner = position
                while inner < inner_end:
                    _, inner = _varint(data, inner, inner_end)
            position = inner_end
        if position > end:
            raise _Refused
    if group:
        raise _Refused  # the group never ended
    return position
