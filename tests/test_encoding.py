"""The hand-encoded scalar and text events are byte-identical to protobuf's serialization."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventwriter.encoding import ScalarLayout, event_bytes, string_tensor_summary, varint
from eventwriter.plugins.scalars import scalar_pb
from eventwriter.plugins.text import text_pb
from eventwriter.proto.event_pb2 import Event
from eventwriter.record import frame

INT64 = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
STEPS = st.one_of(
    st.none(),
    st.sampled_from([0, 1, 127, 128, 16383, 16384, 2097151, 2097152, -1, -(1 << 63), (1 << 63) - 1]),
    INT64,
)
VALUES = st.one_of(
    st.sampled_from([0.0, -0.0, math.nan, math.inf, -math.inf, 1e300, -1e300, 3.4028236e38, 1e-45, 5e-324]),
    st.floats(allow_nan=True, allow_infinity=True),
)
# -0.0 is left out: protobuf's pure-Python backend drops it like 0.0, its C backends keep it
# (so does eventwriter); no clock produces it.
WALL_TIMES = st.one_of(
    st.sampled_from([0.0, 1.5, 1796000000.123456]),
    st.floats(allow_nan=False).filter(lambda x: x != 0 or math.copysign(1, x) > 0),
)
TAGS = st.one_of(st.sampled_from(["loss", "a" * 200, "Loss/train", "δ/ünïcode 🙂"]), st.text(min_size=1, max_size=300))


def reference(tag, value, step, wall_time, new_style, double_precision, first):
    summary = scalar_pb(tag, value, new_style=new_style, double_precision=double_precision)
    if not first:
        summary.value[0].ClearField("metadata")
    event = Event(wall_time=wall_time, summary=summary)
    if step is not None:
        event.step = step
    return event.SerializeToString()


@given(
    tag=TAGS,
    value=VALUES,
    step=STEPS,
    wall_time=WALL_TIMES,
    style=st.sampled_from([(False, False), (True, False), (True, True)]),
    first=st.booleans(),
)
def test_scalar_event_bytes_equal_protobuf(tag, value, step, wall_time, style, first):
    new_style, double_precision = style
    layout = ScalarLayout(tag, new_style, double_precision)
    expected = reference(tag, value, step, wall_time, new_style, double_precision, first and new_style)
    assert layout.encode(value, step, wall_time, first=first) == expected
    assert layout.record(value, step, wall_time, first=first) == frame(expected)


@given(INT64)
def test_varint_matches_protobuf_int64(step):
    encoded = Event(step=step).SerializeToString()
    assert encoded == (b"\x10" + varint(step) if step else b"")


@given(wall_time=WALL_TIMES, step=STEPS, text=st.text(max_size=400))
def test_event_bytes_equal_protobuf(wall_time, step, text):
    summary = text_pb("note/text_summary", text)
    event = Event(wall_time=wall_time, summary=summary)
    if step is not None:
        event.step = step
    assert event_bytes(wall_time, step, 0x2A, summary.SerializeToString()) == event.SerializeToString()


@given(tag=TAGS, text=st.one_of(st.sampled_from(["", "x" * 127, "y" * 128, "z" * 20_000]), st.text(max_size=400)))
def test_text_summary_bytes_equal_protobuf_without_metadata(tag, text):
    summary = text_pb(tag, text)
    summary.value[0].ClearField("metadata")  # later values of a tag in a file carry none
    assert string_tensor_summary(tag.encode("utf-8"), text.encode("utf-8")) == summary.SerializeToString()


def test_exact_sizes_of_scalar_events():
    # wall time 9 + step 3 + summary key and lengths 6 + tag 12, then the value:
    # simple_value 5; a float tensor 10; torch's metadata 13 more on the first value only.
    old = ScalarLayout("train/loss").encode(0.5, 1000, 1796000000.25)
    new = ScalarLayout("train/loss", new_style=True)
    assert len(old) == 33
    assert len(new.encode(0.5, 1000, 1796000000.25)) == 38
    with_metadata = new.encode(0.5, 1000, 1796000000.25, first=True)
    assert len(with_metadata) == 51
    assert with_metadata.endswith(b"\x4a\x0b\x0a\x09\x0a\x07scalars")


@pytest.mark.parametrize("value", [1, 2**31, 2**62])
def test_varint_lengths(value):
    assert len(varint(value)) == (value.bit_length() + 6) // 7
