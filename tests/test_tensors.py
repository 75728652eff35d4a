"""eventwriter.tensors: the encoded size computed before building, and the 2 GiB check
that uses it (issue 10: the check used ``nbytes``, and a negative int8 takes 10 bytes)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_refused_and_writer_keeps_working, summary_values
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from eventwriter import SummaryWriter, tensors
from eventwriter.proto.tensor_pb2 import TensorProto
from eventwriter.tensors import encoded_size, make_tensor_proto

INTEGERS = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
FLOATS = ["float16", "float32", "float64", "complex64", "complex128"]


def serialized_values(array, bfloat16=False):
    """The bytes the values take in the serialized TensorProto (all of it but dtype and shape)."""
    proto = make_tensor_proto(array, bfloat16=bfloat16)
    around = TensorProto(dtype=proto.dtype, tensor_shape=proto.tensor_shape)
    return len(proto.SerializeToString()) - len(around.SerializeToString())


def varint_edges(dtype):
    """Values where a varint grows by a byte, the dtype's extremes, 0, ±1."""
    info = np.iinfo(dtype)
    values = {info.min, info.max, 0, 1, min(-1, info.max)}
    values |= {edge + d for k in range(1, 10) for edge in (1 << (7 * k),) for d in (-1, 0)}
    return np.array(sorted(v for v in values if info.min <= v <= info.max), dtype=dtype)


@pytest.mark.parametrize("dtype", INTEGERS)
def test_encoded_size_of_integers_at_every_varint_length(dtype):
    values = varint_edges(dtype)
    assert encoded_size(values) == serialized_values(values)
    for value in values:
        one = np.array([value], dtype=dtype)
        assert encoded_size(one) == serialized_values(one), value


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64"])
def test_negative_integers_take_ten_bytes(dtype):
    assert encoded_size(np.full(100, -1, dtype=dtype)) == 1 + 2 + 1000  # key, length (a 2-byte varint), values


@pytest.mark.parametrize(
    "array",
    [
        np.array([np.nan, -np.inf, np.inf, -0.0, 65504, 6e-8], dtype=np.float16),
        np.array([1.5, -3e38, np.nan], dtype=np.float32),
        np.array([1e308, -5e-324], dtype=np.float64),
        np.array([1 + 2j, np.nan * 1j], dtype=np.complex64),
        np.array([1 + 2j, -1e300j], dtype=np.complex128),
        np.array([True, False, True]),
        np.array(["", "a", "é" * 70, "日本", "\U0001f600", "a\x00b", "trailing\x00"]),
        np.array([b"", b"ab\x00c", b"x" * 200, b"end\x00"]),
        np.array(3.5),
        np.zeros((2, 0, 3), dtype=np.int8),
        np.array([], dtype="U3"),
        np.array([], dtype=np.float16),
    ],
    ids=lambda a: f"{a.dtype}{list(a.shape)}",
)
def test_encoded_size_of_floats_bools_strings_and_empty_tensors(array):
    assert encoded_size(array) == serialized_values(array)


@pytest.mark.parametrize("array", [np.array([1.5, -3e38, np.nan, 0.0], dtype=np.float32), np.array([], np.float32)])
def test_encoded_size_of_bfloat16(array):
    assert encoded_size(array, bfloat16=True) == serialized_values(array, bfloat16=True)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(
    st.sampled_from(INTEGERS + FLOATS + ["bool", "U4", "S4"]).flatmap(
        lambda dtype: hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=40))
    )
)
def test_encoded_size_is_the_serialized_size(array):
    if array.dtype.kind == "U":  # lone surrogates are refused (next test)
        array = np.vectorize(lambda s: s.encode("utf-8", "replace").decode("utf-8"), otypes=[array.dtype])(array)
    assert encoded_size(array) == serialized_values(array)


def test_strings_utf8_cannot_encode_are_refused():
    with pytest.raises(
        ValueError, match=r"^strings must be valid Unicode text, got a lone surrogate at 0: str '\\udc80'"
    ):
        encoded_size(np.array(["ok", "\udc80"]))


def test_object_arrays_have_no_encoded_size():
    for array in (np.array([1], dtype=object), np.array([], dtype=object)):
        with pytest.raises(TypeError, match=r"^expected a numeric, bool or string dtype, got dtype object$"):
            make_tensor_proto(array)


class NotBuilt:
    DESCRIPTOR = TensorProto.DESCRIPTOR  # field numbers, for the size

    def __init__(self, *args, **kwargs):
        raise AssertionError("the TensorProto was built before the size check")


def test_add_tensor_refuses_by_encoded_size_before_building(logdir, monkeypatch):
    # 2,000 bytes whose values encode to 20,004: key, length, and -1 as a varint takes 10 bytes.
    monkeypatch.setattr(tensors, "MAX_MESSAGE_BYTES", 20_000)
    monkeypatch.setattr(tensors, "TensorProto", NotBuilt)
    assert_refused_and_writer_keeps_working(
        logdir,
        lambda w: w.add_tensor("t", np.full(2_000, -1, dtype=np.int8)),
        ValueError,
        r"^'t': tensor: a tensor of 2000 values of dtype int8 encodes to 20004 bytes, beyond protobuf's 2 GiB",
    )


def test_add_tensor_within_the_limit_is_written(logdir, monkeypatch):
    monkeypatch.setattr(tensors, "MAX_MESSAGE_BYTES", 20_000)
    with SummaryWriter(logdir) as writer:
        writer.add_tensor("t", np.full(2_000, 1, dtype=np.int8))  # 1 byte a value
    ((_, tag, value),) = summary_values(logdir)
    assert tag == "t" and list(value.tensor.int_val) == [1] * 2_000
