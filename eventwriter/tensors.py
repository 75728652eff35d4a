"""numpy arrays to TensorProto, in the value fields torch.utils.tensorboard uses.

TensorBoard's ``tensor_util.make_ndarray`` is the reader this must satisfy. Two of
torch's choices do not survive it and are fixed here (see README, "Differences"):
float16 and bfloat16 values go into ``half_val`` as their own 16 bits (torch stores the
32 bits of the float32 value), and uint8 goes into ``int_val`` (torch uses ``uint32_val``,
which the reader ignores for DT_UINT8).

A tensor's encoded size is computed from the array before anything is built (see
``encoded_size``), so that one beyond protobuf's 2 GiB message limit is refused at
once instead of failing to serialize after the whole message was built in memory.
"""

from __future__ import annotations

import numpy as np

from eventwriter.convert import describe
from eventwriter.proto import types_pb2
from eventwriter.proto.tensor_pb2 import TensorProto, TensorShapeProto

__all__ = ["MAX_MESSAGE_BYTES", "encoded_size", "make_tensor_proto"]

MAX_MESSAGE_BYTES = (1 << 31) - 1  # protobuf refuses to serialize messages of 2 GiB and more
_ROOM = 1 << 12  # the Event, Summary and Value around a tensor, and its dtype and shape, take less
_CHUNK = 1 << 16  # values sized at a time: the temporaries stay small

# numpy dtype -> (DataType, TensorProto field)
_FIELDS: dict[np.dtype, tuple[types_pb2.DataType, str]] = {
    np.dtype(np.float32): (types_pb2.DT_FLOAT, "float_val"),
    np.dtype(np.float64): (types_pb2.DT_DOUBLE, "double_val"),
    np.dtype(np.int8): (types_pb2.DT_INT8, "int_val"),
    np.dtype(np.int16): (types_pb2.DT_INT16, "int_val"),
    np.dtype(np.int32): (types_pb2.DT_INT32, "int_val"),
    np.dtype(np.uint8): (types_pb2.DT_UINT8, "int_val"),
    np.dtype(np.uint16): (types_pb2.DT_UINT16, "int_val"),
    np.dtype(np.int64): (types_pb2.DT_INT64, "int64_val"),
    np.dtype(np.uint32): (types_pb2.DT_UINT32, "uint32_val"),
    np.dtype(np.uint64): (types_pb2.DT_UINT64, "uint64_val"),
    np.dtype(np.bool_): (types_pb2.DT_BOOL, "bool_val"),
    np.dtype(np.complex64): (types_pb2.DT_COMPLEX64, "scomplex_val"),
    np.dtype(np.complex128): (types_pb2.DT_COMPLEX128, "dcomplex_val"),
}
# A varint is one byte longer from each of these values on (7 bits a byte).
_VARINT_STEPS = np.array([1 << (7 * k) for k in range(1, 10)], dtype=np.uint64)


def _varint_size(value: int) -> int:
    return max(1, -(-value.bit_length() // 7))


def _field_size(field: str, payload: int) -> int:
    """The bytes of a packed field of ``payload`` bytes: key, length, payload; an empty
    one is not written at all."""
    if payload == 0:
        return 0
    number = TensorProto.DESCRIPTOR.fields_by_name[field].number
    return _varint_size(number << 3) + _varint_size(payload) + payload


def _varints_size(flat: np.ndarray) -> int:
    """The bytes of integer values as varints: a negative one is sign-extended to 64 bits
    and takes 10 bytes; any other takes one byte more from each step of _VARINT_STEPS on."""
    total = 0
    for start in range(0, flat.size, _CHUNK):
        chunk = flat[start : start + _CHUNK]
        if chunk.dtype.kind == "i":
            negative = chunk < 0
            total += 10 * int(np.count_nonzero(negative))
            chunk = chunk[~negative]
        total += chunk.size + int(np.searchsorted(_VARINT_STEPS, chunk.astype(np.uint64), side="right").sum())
    return total


def _strings_size(flat: np.ndarray) -> int:
    """The bytes of ``string_val``: a key, a length and the UTF-8 bytes for each string
    (as ``tolist`` gives them: numpy drops trailing NULs).

    Raises:
        ValueError: a str that UTF-8 cannot encode (a lone surrogate).
    """
    total = 0
    for start in range(0, flat.size, _CHUNK):
        for value in flat[start : start + _CHUNK].tolist():
            try:
                size = len(value.encode("utf-8") if isinstance(value, str) else value)
            except UnicodeEncodeError as exc:
                where = f"a lone surrogate at {exc.start}"
                raise ValueError(f"strings must be valid Unicode text, got {where}: {describe(value)}") from None
            total += 1 + _varint_size(size) + size  # string_val is field 8: a one-byte key
    return total


def _half_bits(flat: np.ndarray, bfloat16: bool) -> np.ndarray:
    """The 16 bits of float16 values, or of bfloat16 values held in float32."""
    if bfloat16:
        return (flat.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    return flat.view(np.uint16)


def _dtype_and_field(array: np.ndarray, bfloat16: bool) -> tuple[types_pb2.DataType, str]:
    if bfloat16:
        return types_pb2.DT_BFLOAT16, "half_val"
    if array.dtype == np.float16:
        return types_pb2.DT_HALF, "half_val"
    if array.dtype.kind in "US":
        return types_pb2.DT_STRING, "string_val"
    try:
        return _FIELDS[array.dtype]
    except KeyError:
        raise TypeError(f"expected a numeric, bool or string dtype, got dtype {array.dtype}") from None


# Values are encoded as protobuf encodes them. Numbers are one packed field:
#
#     key (field number << 3 | 2, a varint) | payload length (varint) | payload
#
# where the payload holds the values one after another: 4 or 8 bytes each for floats
# (complex: real, imaginary), 1 for bools, a varint for integers and 16-bit floats (7
# bits a byte; a negative int32 or int64 takes 10 bytes). Strings are not packed: each
# is a key, a length and its bytes.
def encoded_size(array: np.ndarray, *, bfloat16: bool = False) -> int:
    """The bytes that ``make_tensor_proto(array)``'s values take when serialized,
    computed from the array without building anything.

    Raises:
        TypeError: the dtype has no TensorProto representation here.
        ValueError: strings that UTF-8 cannot encode.
    """
    _, field = _dtype_and_field(array, bfloat16)
    flat = array.reshape(-1)
    if field == "string_val":
        return _strings_size(flat)
    if field == "half_val":
        payload = _varints_size(_half_bits(flat, bfloat16))
    elif array.dtype.kind in "fcb":
        payload = flat.size * array.dtype.itemsize
    else:
        payload = _varints_size(flat)
    return _field_size(field, payload)


def _shape(array: np.ndarray) -> TensorShapeProto:
    return TensorShapeProto(dim=[TensorShapeProto.Dim(size=n) for n in array.shape])


def make_tensor_proto(array: np.ndarray, *, bfloat16: bool = False, room: int = 0) -> TensorProto:
    """Return a TensorProto holding ``array``.

    Args:
        array: the values; its dtype selects DataType and value field.
        bfloat16: ``array`` (float32) holds bfloat16 values, to be stored as DT_BFLOAT16.
        room: bytes the message around the tensor needs besides (its tag, say).

    Raises:
        TypeError: the dtype has no TensorProto representation here.
        ValueError: the encoded tensor would not fit in a protobuf message (2 GiB),
            or strings that UTF-8 cannot encode.
    """
    dtype, field = _dtype_and_field(array, bfloat16)
    size = encoded_size(array, bfloat16=bfloat16)
    if size + room + _ROOM > MAX_MESSAGE_BYTES:
        raise ValueError(
            f"a tensor of {array.size} values of dtype {array.dtype} encodes to {size} bytes, "
            f"beyond protobuf's 2 GiB message limit"
        )
    flat = np.ascontiguousarray(array).reshape(-1)
    proto = TensorProto(dtype=dtype, tensor_shape=_shape(array))
    if field == "half_val":
        proto.half_val.extend(_half_bits(flat, bfloat16).tolist())
    elif field == "string_val":
        proto.string_val.extend([v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in flat.tolist()])
    else:
        if array.dtype.kind == "c":
            flat = flat.view(np.float32 if array.dtype == np.complex64 else np.float64)
        getattr(proto, field).extend(flat.tolist())
    return proto
