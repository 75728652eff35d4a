"""numpy arrays to TensorProto, in the value fields torch.utils.tensorboard uses.

TensorBoard's ``tensor_util.make_ndarray`` is the reader this must satisfy. Two of
torch's choices do not survive it and are fixed here (see README, "Differences"):
float16 and bfloat16 values go into ``half_val`` as their own 16 bits (torch stores the
32 bits of the float32 value), and uint8 goes into ``int_val`` (torch uses ``uint32_val``,
which the reader ignores for DT_UINT8).
"""

from __future__ import annotations

import numpy as np

from eventwriter.proto import types_pb2
from eventwriter.proto.tensor_pb2 import TensorProto, TensorShapeProto

__all__ = ["MAX_TENSOR_BYTES", "make_tensor_proto"]

MAX_TENSOR_BYTES = (1 << 31) - 1  # protobuf refuses messages of 2 GiB and more

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


def _shape(array: np.ndarray) -> TensorShapeProto:
    return TensorShapeProto(dim=[TensorShapeProto.Dim(size=n) for n in array.shape])


def make_tensor_proto(array: np.ndarray, *, bfloat16: bool = False) -> TensorProto:
    """Return a TensorProto holding ``array``.

    Args:
        array: the values; its dtype selects DataType and value field.
        bfloat16: ``array`` (float32) holds bfloat16 values, to be stored as DT_BFLOAT16.

    Raises:
        TypeError: the dtype has no TensorProto representation here.
        ValueError: the tensor is 2 GiB or larger.
    """
    if array.nbytes > MAX_TENSOR_BYTES:
        raise ValueError(f"a tensor of {array.nbytes} bytes exceeds protobuf's 2 GiB message limit")
    flat = np.ascontiguousarray(array).reshape(-1)
    dtype: types_pb2.DataType
    if bfloat16 or array.dtype == np.float16:
        if bfloat16:
            bits = (flat.astype(np.float32).view(np.uint32) >> 16).astype(np.int32)
            dtype = types_pb2.DT_BFLOAT16
        else:
            bits = flat.view(np.uint16).astype(np.int32)
            dtype = types_pb2.DT_HALF
        return TensorProto(dtype=dtype, tensor_shape=_shape(array), half_val=bits.tolist())
    if array.dtype.kind in "US":
        values = [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in flat.tolist()]
        return TensorProto(dtype=types_pb2.DT_STRING, tensor_shape=_shape(array), string_val=values)
    try:
        dtype, field = _FIELDS[array.dtype]
    except KeyError:
        raise TypeError(f"expected a numeric, bool or string dtype, got dtype {array.dtype}") from None
    if array.dtype.kind == "c":
        flat = flat.view(np.float32 if array.dtype == np.complex64 else np.float64)
    proto = TensorProto(dtype=dtype, tensor_shape=_shape(array))
    getattr(proto, field).extend(flat.tolist())
    return proto
