"""TensorProto back to numpy: what TensorBoard's ``tensor_util.make_ndarray`` gives.

The values come from ``tensor_content`` (little-endian bytes) or from the typed field of
the dtype; a typed field with fewer values than the shape holds is padded with its last
value, as TensorFlow does. float16 and bfloat16 come from their 16 bits in ``half_val``
(bfloat16 as float32); strings are bytes in an object array.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from eventwriter.proto import types_pb2
from eventwriter.proto.tensor_pb2 import TensorProto

__all__ = ["tensor_to_array"]

# DataType -> (numpy dtype of the values, the typed field, the dtype of tensor_content)
_DTYPES: dict[int, tuple[Any, str]] = {
    types_pb2.DT_FLOAT: (np.float32, "float_val"),
    types_pb2.DT_DOUBLE: (np.float64, "double_val"),
    types_pb2.DT_INT32: (np.int32, "int_val"),
    types_pb2.DT_UINT8: (np.uint8, "int_val"),
    types_pb2.DT_INT16: (np.int16, "int_val"),
    types_pb2.DT_INT8: (np.int8, "int_val"),
    types_pb2.DT_UINT16: (np.uint16, "int_val"),
    types_pb2.DT_INT64: (np.int64, "int64_val"),
    types_pb2.DT_UINT32: (np.uint32, "uint32_val"),
    types_pb2.DT_UINT64: (np.uint64, "uint64_val"),
    types_pb2.DT_BOOL: (np.bool_, "bool_val"),
    types_pb2.DT_HALF: (np.float16, "half_val"),
    types_pb2.DT_BFLOAT16: (np.float32, "half_val"),
    types_pb2.DT_COMPLEX64: (np.complex64, "scomplex_val"),
    types_pb2.DT_COMPLEX128: (np.complex128, "dcomplex_val"),
    types_pb2.DT_STRING: (object, "string_val"),
}


def tensor_to_array(tensor: TensorProto) -> np.ndarray:
    """The numpy array of a TensorProto.

    Raises:
        ValueError: a dtype this reader does not know, or values that do not fit the shape.
    """
    if tensor.dtype not in _DTYPES:
        raise ValueError(f"tensor of dtype {types_pb2.DataType.Name(tensor.dtype)} cannot be read as an array")
    dtype, field_name = _DTYPES[tensor.dtype]
    shape = tuple(int(dim.size) for dim in tensor.tensor_shape.dim)
    size = int(np.prod(shape, dtype=np.int64))
    if tensor.dtype == types_pb2.DT_STRING:
        flat = np.empty(len(tensor.string_val), dtype=object)
        flat[:] = list(tensor.string_val)
    elif tensor.tensor_content:
        content_dtype = np.uint16 if tensor.dtype == types_pb2.DT_BFLOAT16 else dtype
        flat = np.frombuffer(tensor.tensor_content, dtype=np.dtype(content_dtype).newbyteorder("<"))
        if tensor.dtype == types_pb2.DT_BFLOAT16:
            flat = (flat.astype(np.uint32) << 16).view(np.float32)
        return flat.astype(np.dtype(dtype).newbyteorder("="), copy=True).reshape(shape)
    elif tensor.dtype in (types_pb2.DT_HALF, types_pb2.DT_BFLOAT16):
        bits = np.array(tensor.half_val, dtype=np.uint32)
        flat = (
            bits.astype(np.uint16).view(np.float16)
            if tensor.dtype == types_pb2.DT_HALF
            else (bits << 16).view(np.float32)
        )
    elif tensor.dtype in (types_pb2.DT_COMPLEX64, types_pb2.DT_COMPLEX128):
        parts = np.array(getattr(tensor, field_name), dtype=np.float64)
        flat = (parts[0::2] + 1j * parts[1::2]).astype(dtype)
    else:
        flat = np.array(getattr(tensor, field_name), dtype=dtype)
    if len(flat) == size:
        return flat.reshape(shape)
    if 0 < len(flat) < size:  # TensorFlow repeats the last value
        return np.concatenate([flat, np.full(size - len(flat), flat[-1], dtype=flat.dtype)]).reshape(shape)
    if len(flat) == 0:
        return np.zeros(shape, dtype=flat.dtype if tensor.dtype != types_pb2.DT_STRING else object)
    raise ValueError(f"tensor holds {len(flat)} values, more than its shape {list(shape)} has room for")
