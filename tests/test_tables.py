"""eventwriter.tables and eventwriter.columns without torch: the bulk scalar decoder gives
what the record-by-record reader gives, on every shape of scalar event and on damage."""

from __future__ import annotations

import math
import os
import random
import warnings

import crc32c
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventwriter import FileWriter, SummaryWriter, scalar_arrays
from eventwriter.cli import main
from eventwriter.columns import masked_crc32c_8, scalar_columns
from eventwriter.errors import DamagedRecordWarning
from eventwriter.proto.summary_pb2 import Summary, SummaryMetadata
from eventwriter.proto.tensor_pb2 import TensorProto
from eventwriter.proto.types_pb2 import DT_DOUBLE, DT_FLOAT, DT_HALF, DT_INT32
from eventwriter.reader import iter_scalars
from eventwriter.storage import MemoryStorage


def reference(path) -> list[tuple]:
    return [(p.run, p.tag, p.step, p.wall_time, p.value) for p in iter_scalars(str(path))]


def ours(path, **filters) -> list[tuple]:
    columns = scalar_arrays(str(path), **filters)
    keys = ("run", "tag", "step", "wall_time", "value")
    return [tuple(row) for row in zip(*(columns[key].tolist() for key in keys))]


def same(a: list[tuple], b: list[tuple]) -> bool:
    """Equal, NaN equal to NaN."""
    return len(a) == len(b) and all(
        x[:4] == y[:4] and (x[4] == y[4] or (math.isnan(x[4]) and math.isnan(y[4]))) for x, y in zip(a, b)
    )


def tensor_value(tag: str, tensor: TensorProto, plugin: str | None = "scalars") -> Summary.Value:
    value = Summary.Value(tag=tag, tensor=tensor)
    if plugin is not None:
        value.metadata.CopyFrom(SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=plugin)))
    return value


def every_shape(log_dir: str) -> None:
    """Scalars in every shape the bulk decoder knows, and the shapes it leaves to protobuf."""
    with SummaryWriter(log_dir) as writer:
        for step in (0, 1, 127, 128, 2**21, 2**35, -3):
            writer.add_scalar("plain", step / 3, step)
            writer.add_scalar("new", step / 3, step, new_style=True)
            writer.add_scalar("double", step / 3, step, new_style=True, double_precision=True)
        writer.add_scalar("no step", 1.5)
        writer.add_scalar("odd", math.nan, 1)
        writer.add_scalar("odd", -math.inf, 2)
        writer.add_scalar("ünïcode/标签", 2.5, 1)
        writer.add_scalar("long/" + "x" * 300, 3.5, 1)  # longer than the bulk tag gather
        writer.add_scalar("zero wall", 4.5, 1, walltime=0.0)
        writer.add_text("text", "not a scalar", 1)
        writer.add_histogram("histogram", np.arange(10.0), 1)
    raw = FileWriter(os.path.join(log_dir, "raw"))
    half = TensorProto(dtype=DT_HALF, half_val=[int(np.float16(0.5).view(np.uint16))])
    content = TensorProto(dtype=DT_FLOAT, tensor_content=np.float32(6.25).tobytes())  # as TensorFlow 2
    content.tensor_shape.SetInParent()
    several = Summary(value=[Summary.Value(tag="a", simple_value=1.0), Summary.Value(tag="b", simple_value=2.0)])
    raw.add_summary(several, 1)
    raw.add_summary(Summary(value=[tensor_value("half", half)]), 2)
    raw.add_summary(Summary(value=[tensor_value("content", content)]), 3)
    raw.add_summary(Summary(value=[tensor_value("content", content, None)]), 4)  # plugin from the first
    raw.add_summary(Summary(value=[tensor_value("other", TensorProto(dtype=DT_FLOAT, float_val=[1.0]), "x")]), 5)
    raw.add_summary(Summary(value=[tensor_value("ints", TensorProto(dtype=DT_INT32, int_val=[1]))]), 6)
    raw.add_summary(Summary(value=[tensor_value("two", TensorProto(dtype=DT_DOUBLE, double_val=[1, 2]))]), 7)
    raw.close()


def test_every_shape_reads_as_the_record_reader_reads_it(tmp_path):
    every_shape(str(tmp_path))
    expected = reference(tmp_path)
    assert same(ours(tmp_path), expected)
    tags = {row[1] for row in expected}
    assert {"plain", "new", "double", "no step", "a", "b", "half", "content"} <= tags
    assert not tags & {"text/text_summary", "histogram", "other", "ints", "two"}
    assert [row[4] for row in expected if row[1] == "content"] == [6.25, 6.25]


def test_filters_and_a_single_file(tmp_path):
    every_shape(str(tmp_path))
    assert same(ours(tmp_path, tags={"plain"}), [row for row in reference(tmp_path) if row[1] == "plain"])
    assert {row[0] for row in ours(tmp_path, runs=["raw"])} == {"raw"}
    (path,) = [os.path.join(tmp_path, n) for n in os.listdir(tmp_path) if "tfevents" in n]
    assert same(ours(path), [row for row in reference(tmp_path) if row[0] == "."])


def test_a_memory_url_reads_the_same(tmp_path):
    pytest.importorskip("fsspec")
    with SummaryWriter("memory://tables/run") as writer:
        for step in range(50):
            writer.add_scalar("x", float(step), step)
    columns = scalar_arrays("memory://tables")
    assert columns["run"].tolist() == ["run"] * 50 and columns["value"].tolist() == [float(s) for s in range(50)]


def test_length_crcs_in_bulk_are_crc32cs():
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 256, (1000, 8), dtype=np.uint8)
    expected = []
    for row in blocks:
        crc = crc32c.crc32c(row.tobytes())
        expected.append((((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)
    assert masked_crc32c_8(blocks).tolist() == expected


def test_no_pandas_needed_for_arrays(tmp_path):
    every_shape(str(tmp_path))
    columns = scalar_arrays(str(tmp_path))
    assert columns["step"].dtype == np.int64 and columns["value"].dtype == np.float64
    assert all(isinstance(name, str) for name in [*columns["run"], *columns["tag"]])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=8))
def test_damage_anywhere_warns_and_never_raises(tmp_path_factory, flips):
    directory = tmp_path_factory.mktemp("damaged")
    with SummaryWriter(str(directory)) as writer:
        for step in range(200):
            writer.add_scalar("x", float(step), step, new_style=step % 2 == 1)
    (path,) = [os.path.join(directory, n) for n in os.listdir(directory)]
    with open(path, "rb") as handle:
        data = bytearray(handle.read())
    for position, byte in flips:
        data[position % len(data)] = byte
    cut = random.Random(len(flips)).randrange(len(data) // 2, len(data) + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DamagedRecordWarning)
        columns = scalar_columns(bytes(data[:cut]), path, {})
    assert len(columns.value) <= 200
    # What survives is what was written: every value equals its step.
    good = [(s, v) for s, v in zip(columns.step.tolist(), columns.value.tolist()) if 0 <= s < 200]
    assert sum(s == v for s, v in good) >= len(good) - len(flips)


def test_read_scalars_dataframe(tmp_path):
    pandas = pytest.importorskip("pandas")
    every_shape(str(tmp_path))
    from eventwriter.reader import read_scalars  # also importable from the reader

    frame = read_scalars(tmp_path)
    assert list(frame.columns) == ["run", "tag", "step", "wall_time", "value"]
    assert isinstance(frame["run"].dtype, pandas.CategoricalDtype)
    rows = [(str(r), str(t), s, w, v) for r, t, s, w, v in frame.itertuples(index=False)]
    assert same(rows, reference(tmp_path))


def test_export_parquet(tmp_path):
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    every_shape(str(tmp_path / "logs"))
    out = tmp_path / "scalars.parquet"
    assert main(["export", str(tmp_path / "logs"), "--format", "parquet", "-o", str(out)]) == 0
    frame = pandas.read_parquet(out)
    rows = [(str(r), str(t), s, w, v) for r, t, s, w, v in frame.itertuples(index=False)]
    assert same(rows, reference(tmp_path / "logs"))
    assert main(["export", str(tmp_path / "logs"), "--format", "parquet"]) == 2  # a file is needed


def test_reading_without_pandas_says_what_to_install(tmp_path, monkeypatch):
    import sys

    import eventwriter

    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"eventwriter\[pandas\].*scalar_arrays"):
        eventwriter.read_scalars(tmp_path)


def test_memory_storage_is_no_path(tmp_path):
    storage = MemoryStorage()  # tables read paths and URLs; memory storage is read by its bytes
    with SummaryWriter("run", storage=storage) as writer:
        writer.add_scalar("x", 1.0, 0)
    (path,) = [p for p in storage._files if "tfevents" in p]
    columns = scalar_columns(bytes(storage.read_bytes(path)), path, {})
    assert columns.tags == ["x"] and columns.value.tolist() == [1.0]


# -- hand-made records: what the bulk decoder must not get wrong (found by attacking it) --


def _varint(number: int) -> bytes:
    number &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, number = number & 0x7F, number >> 7
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:  # length-delimited
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _double(number: int, value: float) -> bytes:
    return _varint(number << 3 | 1) + np.float64(value).tobytes()


def _simple(tag: bytes, value: float) -> bytes:
    return _field(1, tag) + _varint(2 << 3 | 5) + np.float32(value).tobytes()


def _tensor(tag: bytes, value: float, metadata: bool) -> bytes:
    tensor = _varint(1 << 3) + _varint(1) + _field(5, np.float32(value).tobytes())  # DT_FLOAT, float_val
    meta = _field(9, _field(1, _field(1, b"scalars"))) if metadata else b""
    return _field(1, tag) + _field(8, tensor) + meta


def _summary(*values: bytes) -> bytes:
    return _field(5, b"".join(_field(1, value) for value in values))


def _write(directory, *files: list[bytes]) -> str:
    from eventwriter.record import frame

    os.makedirs(directory, exist_ok=True)
    first = _double(1, 1.0) + _field(3, b"brain.Event:2")
    for number, events in enumerate(files):
        with open(os.path.join(directory, f"events.out.tfevents.{number}.host"), "wb") as handle:
            handle.write(b"".join(frame(event) for event in [first, *events]))
    return str(directory)


STEP, WALL = _varint(2 << 3) + _varint(7), _double(1, 5.0)


@pytest.mark.parametrize(
    "event",
    [
        STEP + WALL + _summary(_simple(b"a", 1.5)),  # step before wall time
        _double(1, 1.0) + WALL + STEP + _summary(_simple(b"a", 1.5)),  # two wall times: the last counts
        WALL + STEP + _varint(99 << 3) + _varint(1) + _summary(_simple(b"a", 1.5)),  # an unknown field
        WALL + STEP + _field(10, _field(1, b"x")) + _summary(_simple(b"a", 1.5)),  # source metadata first
    ],
)
def test_fields_in_any_order_are_read(tmp_path, event):
    directory = _write(tmp_path, [event])
    assert ours(directory) == [(".", "a", 7, 5.0, 1.5)] == reference(directory)


def test_damage_in_any_byte_is_reported(tmp_path):
    from eventwriter.record import frame

    events = [WALL + _varint(2 << 3) + _varint(step) + _summary(_simple(b"a", step)) for step in range(5)]
    directory = _write(tmp_path, events)
    (path,) = [os.path.join(directory, n) for n in os.listdir(directory)]
    with open(path, "rb") as handle:
        data = bytearray(handle.read())
    offset = len(frame(_double(1, 1.0) + _field(3, b"brain.Event:2"))) + len(frame(events[0]))
    data[offset + 12] ^= 0xFF  # the first data byte of the second event: its shape is gone
    data += frame(b"\xff\xff\xff\xff")  # and a record whose CRCs hold but that is no Event
    with open(path, "wb") as handle:
        handle.write(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        columns = scalar_arrays(directory)
    assert columns["step"].tolist() == [0, 2, 3, 4]
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2
    assert f"byte offset {offset}: data CRC mismatch" in messages[0] and "not an Event" in messages[1]


def test_a_tags_plugin_is_its_first_value_with_metadata_in_the_run(tmp_path):
    # A simple_value is a scalars value (TensorBoard converts it so): later tensors count.
    resumed = _write(
        tmp_path / "resumed",
        [WALL + STEP + _summary(_simple(b"t", 1.0))],
        [WALL + _varint(2 << 3) + _varint(8) + _summary(_tensor(b"t", 2.0, metadata=True))],
    )
    assert [row[2:] for row in ours(resumed)] == [(7, 5.0, 1.0), (8, 5.0, 2.0)]
    # A tensor without metadata counts once a later file gives the tag scalars metadata.
    later = _write(
        tmp_path / "later",
        [WALL + STEP + _summary(_tensor(b"t", 1.0, metadata=False))],
        [WALL + _varint(2 << 3) + _varint(8) + _summary(_tensor(b"t", 2.0, metadata=True))],
    )
    assert [row[2:] for row in ours(later)] == [(7, 5.0, 1.0), (8, 5.0, 2.0)]
    # A tag whose first metadata names another plugin: its tensors are no scalars.
    other = _write(
        tmp_path / "other",
        [
            WALL + STEP + _summary(_field(1, b"t") + _field(8, b"\x08\x01") + _field(9, _field(1, _field(1, b"text")))),
            WALL + STEP + _summary(_tensor(b"t", 2.0, metadata=True)),
        ],
    )
    assert ours(other) == []


def test_tags_keep_every_byte(tmp_path):
    directory = _write(
        tmp_path, [WALL + STEP + _summary(_simple(b"a\x00", 1.0)), WALL + STEP + _summary(_simple(b"a", 2.0))]
    )
    assert scalar_arrays(directory)["tag"].tolist() == ["a\x00", "a"]


def test_a_huge_tag_length_is_no_tag(tmp_path):
    event = WALL + STEP + _field(5, _field(1, _varint(1 << 3 | 2) + _varint((1 << 64) - 40000) + b"x"))
    directory = _write(tmp_path, [WALL + STEP + _summary(_simple(b"a", 1.0)), event])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = ours(directory)
    assert rows == [(".", "a", 7, 5.0, 1.0)] and len(caught) == 1 and "not an Event" in str(caught[0].message)


def _histo(tag: bytes) -> bytes:
    return _field(1, tag) + _field(5, _double(1, 0.0) + _double(2, 1.0))  # HistogramProto min, max


def test_tensorboards_rule_for_a_tags_plugin(tmp_path):
    def at(step: int, *values: bytes) -> bytes:
        return WALL + _varint(2 << 3) + _varint(step) + _summary(*values)

    cases = {
        # the first value of the tag in its file has no metadata: the tag gets no data class
        "first_without": ([at(1, _tensor(b"t", 1.0, metadata=False)), at(2, _tensor(b"t", 2.0, metadata=True))], []),
        # an old-style histogram first: the tag is a histogram, its later scalars are not shown
        "histogram_first": ([at(1, _histo(b"t")), at(2, _tensor(b"t", 2.0, metadata=True))], []),
        # a simple_value under a tag that is a histogram is no scalar either
        "simple_on_histogram": ([at(1, _histo(b"t")), at(2, _simple(b"t", 2.0))], []),
        "simple_first": ([at(1, _simple(b"t", 1.0)), at(2, _tensor(b"t", 2.0, metadata=False))], [1, 2]),
    }
    for name, (events, steps) in cases.items():
        directory = _write(tmp_path / name, events)
        assert [row[2] for row in ours(directory)] == steps, name
