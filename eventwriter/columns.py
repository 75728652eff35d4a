"""Event files read as columns: records framed and checked in bulk, scalar events decoded
with numpy, without an Event object per record.

A file's bytes are read whole (its size bounds the memory, never a length field). One
Python loop walks the length fields; the length CRCs are then checked together (a table
CRC-32C in numpy), the data CRCs by the crc32c extension, one call per record that is
read. Scalar events of the common shape (an Event with wall time, step and a Summary of
one value: ``simple_value``, or a rank-0 float32/float64 tensor) are decoded field by
field over all records at once; any other summary event that may hold a scalar is parsed
with protobuf. Events that cannot (images, histograms, audio, tensors of other plugins,
graphs, file versions) are recognised by their bytes and never decoded.

Damage is reported (the caller warns): a bad length CRC ends the file, as in TensorBoard;
a bad data CRC or an undecodable record is left out and reading goes on (TensorBoard
stops the file there); a truncated tail ends the file quietly (a writer still writing).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import crc32c
import numpy as np

from eventwriter.errors import CorruptRecordError, RecordError, UndecodableRecordError
from eventwriter.proto.event_pb2 import Event
from eventwriter.reader import plugin_of, scalar_value

__all__ = [
    "PlainScalars",
    "ScalarColumns",
    "frame",
    "masked_crc32c_8",
    "plain_scalars",
    "scalar_columns",
    "summary_events",
]

_LENGTH = struct.Struct("<Q")
_MAX_RECORD_BYTES = (1 << 31) - 1
_MASK_DELTA = 0xA282EAD8
_MAX_TAG_BYTES = 256  # longer tags go the protobuf way (the byte gather is N x longest tag)

# Wire bytes (field number << 3 | wire type) of the fields the bulk decoder walks.
_WALL_TIME, _STEP, _SUMMARY = 0x09, 0x10, 0x2A  # Event: 1 double, 2 int64, 5 Summary
_VALUE, _TAG = 0x0A, 0x0A  # Summary.value (1), Summary.Value.tag (1)
_SIMPLE_VALUE, _TENSOR, _METADATA = 0x15, 0x42, 0x4A  # Value: 2 float, 8 TensorProto, 9 metadata
_NEVER_SCALAR = (0x22, 0x2A, 0x32)  # Value: 4 image, 5 histo, 6 audio
# Event: 3 file_version, 4 graph_def, 6 session_log, 7 log_message, 8 tagged_run_metadata,
# 9 meta_graph_def, 10 source_metadata
_OTHER_EVENT_FIELDS = (0x1A, 0x22, 0x32, 0x3A, 0x42, 0x4A, 0x52)
_SOURCE_METADATA = 0x52
_SCALAR_TENSOR_BYTES = 64  # a one-element tensor takes fewer: larger ones are not parsed for scalars
_DT_FLOAT, _DT_DOUBLE = 1, 2
LONG_VARINT = re.compile(rb"[\x80-\xff]{9}[\x02-\x7f]")  # nine continued bytes, then a last one above 1


def _crc_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table[byte] = crc
    return table


_TABLE = _crc_table()


def _mask(crc: np.ndarray) -> np.ndarray:
    crc = crc.astype(np.uint32)
    masked = ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(_MASK_DELTA)
    return masked.astype(np.uint32)  # type: ignore[no-any-return]


def masked_crc32c_8(blocks: np.ndarray) -> np.ndarray:
    """The masked CRC-32C of each row of an (N, 8) uint8 array (the length fields)."""
    crc = np.full(len(blocks), 0xFFFFFFFF, dtype=np.uint32)
    for column in range(8):
        crc = _TABLE[(crc ^ blocks[:, column]) & np.uint32(0xFF)] ^ (crc >> np.uint32(8))
    return _mask(crc ^ np.uint32(0xFFFFFFFF))


def frame(data: bytes, path: str) -> tuple[np.ndarray, np.ndarray, list[RecordError]]:
    """The data offsets and lengths of the records of ``data`` whose length fields hold,
    in order, and the damage met (a bad length CRC, which ends the file)."""
    size, offset = len(data), 0
    starts: list[int] = []
    add_start, unpack = starts.append, _LENGTH.unpack_from
    while offset + 12 <= size:
        (length,) = unpack(data, offset)
        end = offset + 16 + length
        if end > size:
            break
        add_start(offset)
        offset = end
    buffer = np.frombuffer(data, dtype=np.uint8)
    record_starts = np.array(starts, dtype=np.int64)
    # the record after each start begins where its length says: the lengths, without a second list
    record_lengths = np.diff(np.append(record_starts, offset)) - 16
    problems: list[RecordError] = []
    headers = buffer[record_starts[:, None] + np.arange(12)] if len(starts) else np.zeros((0, 12), np.uint8)
    stored = headers[:, 8:12].copy().view("<u4").ravel()
    bad = np.nonzero(masked_crc32c_8(headers[:, :8]) != stored)[0]
    if len(bad):  # the length cannot be trusted: nothing after it can be found
        first = int(bad[0])
        problems.append(CorruptRecordError(path, int(record_starts[first]), "length CRC mismatch"))
        record_starts, record_lengths = record_starts[:first], record_lengths[:first]
    elif offset + 12 <= size:  # a length field whose record goes past the end: damaged, or being written
        header = buffer[offset : offset + 12][None, :]
        if masked_crc32c_8(header[:, :8])[0] != header[0, 8:12].copy().view("<u4")[0]:
            problems.append(CorruptRecordError(path, offset, "length CRC mismatch"))
    return record_starts + 12, record_lengths, problems


def check_data(
    data: bytes, starts: np.ndarray, lengths: np.ndarray, path: str, problems: list[RecordError]
) -> np.ndarray:
    """Which of these records' data CRCs hold (the bad ones are reported)."""
    view = memoryview(data)
    ranges = map(slice, starts.tolist(), (starts + lengths).tolist())
    crcs = np.fromiter(map(crc32c.crc32c, map(view.__getitem__, ranges)), dtype=np.uint32, count=len(starts))
    buffer = np.frombuffer(data, dtype=np.uint8)
    ends = starts + lengths
    stored = buffer[ends[:, None] + np.arange(4)].copy().view("<u4").ravel() if len(ends) else crcs
    good = _mask(crcs) == stored
    for index in np.nonzero(~good)[0]:
        problems.append(CorruptRecordError(path, int(starts[index]) - 12, "data CRC mismatch"))
    return good  # type: ignore[no-any-return]


class _Walk:
    """Reading protobuf fields at many positions of one buffer at once."""

    def __init__(self, data: bytes) -> None:
        self.buffer = np.frombuffer(data, dtype=np.uint8)
        self.last = max(len(self.buffer) - 1, 0)

    def byte(self, positions: np.ndarray) -> np.ndarray:
        if not len(self.buffer):
            return np.zeros(len(positions), dtype=np.uint8)
        return self.buffer[np.clip(positions, 0, self.last)]  # type: ignore[no-any-return]

    def varint(self, positions: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The varints at ``positions`` (where ``active``) and the positions after them."""
        value = np.zeros(len(positions), dtype=np.uint64)
        after = positions.copy()
        going = active.copy()
        for shift in range(0, 70, 7):
            if not going.any():
                break
            byte = self.byte(after).astype(np.uint64)
            value |= np.where(going, (byte & np.uint64(0x7F)) << np.uint64(shift), np.uint64(0))
            after = np.where(going, after + 1, after)
            going &= (byte & np.uint64(0x80)) != 0
        return value, after

    def gather(self, positions: np.ndarray, width: int) -> np.ndarray:
        """``width`` bytes at each position, as rows."""
        if not len(positions):
            return np.zeros((0, width), dtype=np.uint8)
        return self.buffer[np.clip(positions[:, None] + np.arange(width), 0, self.last)]


@dataclass
class ScalarColumns:
    """The values of one file that may be scalars: each row's tag (a code into ``tags``),
    step, wall time and value, in file order, and the damage met."""

    tags: list[str] = field(default_factory=list)
    tag: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    step: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    wall_time: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    value: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    problems: list[RecordError] = field(default_factory=list)


@dataclass
class _Located:
    """Where each record's fields are, as far as the bulk walk goes: the Event's wall
    time and step, whether it holds a Summary, and for a Summary of one value, its tag and
    the key (``kind``) and place of the field after the tag. ``other``: records known to
    hold no Summary (wall time, step, then one other field of Event, such as the file
    version, a graph or a session log, with at most source metadata after it)."""

    walk: _Walk
    starts: np.ndarray
    lengths: np.ndarray
    problems: list[RecordError]
    wall: np.ndarray
    step: np.ndarray
    summary: np.ndarray
    single: np.ndarray
    tag_start: np.ndarray
    tag_length: np.ndarray
    position: np.ndarray
    kind: np.ndarray
    other: np.ndarray

    @property
    def ends(self) -> np.ndarray:
        return self.starts + self.lengths  # type: ignore[no-any-return]


def _locate(data: bytes, path: str) -> _Located:
    starts, lengths, problems = frame(data, path)
    walk = _Walk(data)
    ends = starts + lengths
    count = len(starts)
    position = starts.copy()
    has_wall = (lengths >= 9) & (walk.byte(position) == _WALL_TIME)
    wall = np.zeros(count)
    wall[has_wall] = walk.gather(position[has_wall] + 1, 8).copy().view("<f8").ravel()
    position = np.where(has_wall, position + 9, position)
    has_step = walk.byte(position) == _STEP
    step, after = walk.varint(position + 1, has_step)
    position = np.where(has_step, after, position)
    key = walk.byte(position)
    summary = (key == _SUMMARY) & (position < ends)
    other = has_wall & np.isin(key, _OTHER_EVENT_FIELDS) & _fields_fill(walk, position, ends)
    length, position = walk.varint(position + 1, summary)
    single = summary & has_wall & (position + length.astype(np.int64) == ends) & (walk.byte(position) == _VALUE)
    length, position = walk.varint(position + 1, single)
    single &= position + length.astype(np.int64) == ends
    single &= walk.byte(position) == _TAG
    tag_length, position = walk.varint(position + 1, single)
    single &= tag_length <= np.uint64(_MAX_TAG_BYTES)  # before the cast: a huge varint is no tag
    tag_length = np.where(single, tag_length, 0).astype(np.int64)
    single &= position + tag_length < ends
    tag_start = position
    position = position + tag_length
    kind = walk.byte(position)
    return _Located(
        walk, starts, lengths, problems, wall, step, summary, single, tag_start, tag_length, position, kind, other
    )


def _fields_fill(walk: _Walk, position: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Whether one length-delimited field at ``position``, and at most a source_metadata
    field after it, fill the record exactly."""
    length, after = walk.varint(position + 1, position < ends)
    fits = length < np.uint64(1 << 31)
    end = after + np.where(fits, length, 0).astype(np.int64)
    source, source_after = walk.varint(end + 1, fits & (end < ends) & (walk.byte(end) == _SOURCE_METADATA))
    source_fits = source < np.uint64(1 << 31)
    source_end = source_after + np.where(source_fits, source, 0).astype(np.int64)
    followed = source_fits & (walk.byte(end) == _SOURCE_METADATA) & (source_end == ends)
    return fits & ((end == ends) | followed)  # type: ignore[no-any-return]


def summary_events(data: bytes, path: str, problems: list[RecordError]) -> list[Event | str]:
    """The summary events of an event file's bytes, in order, each single ``simple_value``
    left undecoded and given as its tag alone (it still tells its tag's plugin). Damage
    met is appended to ``problems``."""
    located = _locate(data, path)
    problems.extend(located.problems)
    good = check_data(data, located.starts, located.lengths, path, problems)
    simple = located.single & (located.kind == _SIMPLE_VALUE) & good
    names, codes = _tag_names(located.walk, located.tag_start[simple], located.tag_length[simple])
    tag_of = dict(zip(np.nonzero(simple)[0].tolist(), codes.tolist()))
    events: list[Event | str] = []
    for index in np.nonzero(~located.other & good)[0].tolist():
        code = tag_of.get(index)
        name = names[code] if code is not None else None
        if name is not None:
            events.append(name)
            continue
        event = _parse(data, int(located.starts[index]), int(located.lengths[index]), path, problems)
        if event is not None and event.HasField("summary"):
            events.append(event)
    return events


@dataclass
class PlainScalars:
    """An event file's records as located in bulk (for eventwriter.visibility): each
    record's data offset and length, whether its data CRC holds, and which records are
    plain scalar events (a wall time, a step and one ``simple_value`` without metadata,
    under a UTF-8 tag), with their tag (a code into ``names``), step and wall time. The
    damage met in framing is in ``problems`` (a bad length CRC ends the records)."""

    starts: np.ndarray
    lengths: np.ndarray
    problems: list[RecordError]
    good: np.ndarray
    plain: np.ndarray
    tag: np.ndarray
    names: list[str | None]
    step: np.ndarray
    wall: np.ndarray


def plain_scalars(data: bytes, path: str) -> PlainScalars:
    """Locate the records of an event file's bytes, and read its plain scalar events."""
    located = _locate(data, path)
    good = check_data(data, located.starts, located.lengths, path, [])
    plain = located.single & (located.kind == _SIMPLE_VALUE) & (located.position + 5 == located.ends) & good
    # a ten-byte step whose last byte is above 1 is more than 64 bits: not plain (Rust refuses it)
    step_at = located.starts + 10  # after the wall time (9 bytes) and the step's key
    has_step = plain & (located.walk.byte(step_at - 1) == _STEP)
    _, after = located.walk.varint(step_at, has_step)
    plain &= ~(has_step & (after - step_at == 10) & (located.walk.byte(after - 1) > 1))
    # any other varint of ten bytes whose last is above 1 (a length, say): not plain either
    suspects = [match.start() for match in LONG_VARINT.finditer(data)]
    if suspects:
        index = np.searchsorted(located.starts, np.array(suspects), side="right") - 1
        plain[index[index >= 0]] = False
    names, codes = _tag_names(located.walk, located.tag_start[plain], located.tag_length[plain])
    tag = np.full(len(located.starts), -1, dtype=np.int64)
    tag[plain] = codes
    plain &= np.array([name is not None for name in names] + [False], dtype=bool)[tag]
    return PlainScalars(
        located.starts,
        located.lengths,
        located.problems,
        good,
        plain,
        tag,
        names,
        located.step.astype(np.int64),
        located.wall,
    )


def scalar_columns(data: bytes, path: str, plugins: dict[str, str]) -> ScalarColumns:
    """Every value of an event file's bytes that may be a scalar, as TensorBoard counts
    them: ``simple_value``, and one-element float tensors, which
    count if their tag's plugin is "scalars": the plugin of the tag's first value with
    metadata in the run (an old-style value counts as its plugin's), which a later file
    may still give. ``plugins`` maps the run's tags seen so far to it, and is updated;
    the caller drops the tensor rows of other tags once the run is read."""
    located = _locate(data, path)
    walk, starts, lengths, problems = located.walk, located.starts, located.lengths, located.problems
    ends, count = located.ends, len(located.starts)
    wall, step, single = located.wall, located.step, located.single
    position, kind, tag_start, tag_length = located.position, located.kind, located.tag_start, located.tag_length

    simple = single & (kind == _SIMPLE_VALUE) & _ends_or_metadata(walk, position + 5, ends)
    tensor_length, body = walk.varint(position + 1, single & (kind == _TENSOR))
    tensor_end = body + tensor_length.astype(np.int64)
    tensor = single & (kind == _TENSOR) & _ends_or_metadata(walk, tensor_end, ends)
    # dtype, an empty shape (written by some writers, left out by others), the value's key and length
    head = walk.gather(body, 6)
    tensor &= head[:, 0] == 0x08
    dtype = head[:, 1]
    shape = np.where((head[:, 2] == 0x12) & (head[:, 3] == 0x00), 2, 0)
    key = np.where(shape == 2, head[:, 4], head[:, 2])
    size = np.where(shape == 2, head[:, 5], head[:, 3])
    number = body + 4 + shape  # where the value's bytes start
    float32 = tensor & (dtype == _DT_FLOAT) & ((key == 0x2A) | (key == 0x22)) & (size == 4)  # float_val, tensor_content
    float32 &= tensor_end == number + 4
    float64 = (
        tensor & (dtype == _DT_DOUBLE) & ((key == 0x32) | (key == 0x22)) & (size == 8)
    )  # double_val, tensor_content
    float64 &= tensor_end == number + 8

    value = np.full(count, np.nan)
    value[simple] = walk.gather(position[simple] + 1, 4).copy().view("<f4").ravel()
    value[float32] = walk.gather(number[float32], 4).copy().view("<f4").ravel()
    value[float64] = walk.gather(number[float64], 8).copy().view("<f8").ravel()
    fast = simple | float32 | float64

    names, codes = _tag_names(walk, tag_start[single], tag_length[single])
    tag_code = np.full(count, -1, dtype=np.int64)
    tag_code[single] = codes
    valid_name = np.array([name is not None for name in names] + [False], dtype=bool)
    known = single & valid_name[tag_code]  # one value, its tag read in bulk
    fast &= known
    # Any record not known to be something else is parsed by protobuf: a summary of
    # another shape, fields in another order, bytes that are no Event (reported).
    large_tensor = tensor_length > np.uint64(_SCALAR_TENSOR_BYTES)
    skipped = (
        located.other | (known & np.isin(kind, _NEVER_SCALAR)) | (known & (kind == _TENSOR) & ~fast & large_tensor)
    )
    other = ~fast & ~skipped

    good = check_data(data, starts, lengths, path, problems)  # every record: damage is reported wherever it is
    fast &= good
    other &= good

    parsed: dict[int, Event] = {}
    for index in np.nonzero(other)[0].tolist():
        event = _parse(data, int(starts[index]), int(lengths[index]), path, problems)
        if event is not None:
            parsed[index] = event
    _decide_plugins(plugins, data, path, problems, located, names, tag_code, known & good, tensor_end, parsed)
    return _assemble(names, tag_code, step, wall, value, fast, parsed, problems)


_OLD_STYLE = {0x22: "images", 0x2A: "histograms", 0x32: "audio", _SIMPLE_VALUE: "scalars"}


def _decide_plugins(
    plugins: dict[str, str],
    data: bytes,
    path: str,
    problems: list[RecordError],
    located: _Located,
    names: Sequence[str | None],
    tag_code: np.ndarray,
    known: np.ndarray,
    tensor_end: np.ndarray,
    parsed: dict[int, Event],
) -> None:
    """Add this file's say on its tags' plugins to the run's ``plugins``, as TensorBoard's
    loader decides them: a tag's plugin is that of its first value with metadata in the run
    (an old-style value counts as its plugin's), and that value gives the tag a data class
    only if it is also the tag's first value in its file; else the tag has none ("")."""
    kind, ends = located.kind, located.ends
    tensor_metadata = (kind == _TENSOR) & (tensor_end < ends) & (located.walk.byte(tensor_end) == _METADATA)
    has_metadata = known & (np.isin(kind, list(_OLD_STYLE)) | tensor_metadata)
    first_any: dict[str, tuple[int, int]] = {}  # tag -> (record, value) of its first value in the file
    first_meta: dict[str, tuple[int, int, str | None]] = {}  # ... of its first value with metadata; plugin
    for code, index in _firsts(tag_code, known):
        name = names[code]
        if name is not None and name not in plugins:
            first_any[name] = (index, 0)
    for code, index in _firsts(tag_code, has_metadata):
        name = names[code]
        if name is not None and name not in plugins:
            first_meta[name] = (index, 0, _OLD_STYLE.get(int(kind[index])))
    for index, event in parsed.items():
        for position, item in enumerate(event.summary.value):
            if item.tag in plugins:
                continue
            if first_any.get(item.tag, (index + 1, 0)) > (index, position):
                first_any[item.tag] = (index, position)
            plugin = plugin_of(item)
            if plugin is not None and first_meta.get(item.tag, (index + 1, 0, None))[:2] > (index, position):
                first_meta[item.tag] = (index, position, plugin)
    for name, (index, position, plugin) in sorted(first_meta.items(), key=lambda item: item[1][:2]):
        if plugin is None:  # a tensor read in bulk: its metadata is parsed (once per tag and file)
            tensor_event = _parse(data, int(located.starts[index]), int(located.lengths[index]), path, problems)
            plugin = tensor_event.summary.value[0].metadata.plugin_data.plugin_name if tensor_event else ""
        plugins[name] = plugin if first_any.get(name) == (index, position) else ""


def _firsts(tag_code: np.ndarray, mask: np.ndarray) -> list[tuple[int, int]]:
    """(tag code, record) of the first record of each tag among those in ``mask``."""
    candidates = np.nonzero(mask)[0]
    codes, first = np.unique(tag_code[candidates], return_index=True)
    return list(zip(codes.tolist(), candidates[first].tolist()))


def _ends_or_metadata(walk: _Walk, position: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Whether a value's fields end at ``position``, or metadata fills the rest exactly."""
    metadata = walk.byte(position) == _METADATA
    length, after = walk.varint(position + 1, metadata & (position < ends))
    return (position == ends) | (metadata & (after + length.astype(np.int64) == ends))  # type: ignore[no-any-return]


def _tag_names(walk: _Walk, starts: np.ndarray, lengths: np.ndarray) -> tuple[list[str | None], np.ndarray]:
    """The distinct tags at these places (None for bytes that are no UTF-8) and each
    place's code into them."""
    if not len(starts):
        return [], np.zeros(0, dtype=np.int64)
    width = max(int(lengths.max()), 1)
    rows = walk.gather(starts, width)
    rows = np.where(np.arange(width) < lengths[:, None], rows, 0).astype(np.uint8)
    # A 64-bit FNV-1a hash of each tag's bytes and length, made unique (integers sort far
    # faster than strings); every row is then checked against its tag's first row, and a
    # collision (never seen) falls back to comparing the bytes themselves.
    hashes = lengths.astype(np.uint64) ^ np.uint64(0xCBF29CE484222325)
    for column in range(width):
        hashes = (hashes ^ rows[:, column]) * np.uint64(0x100000001B3)
    _, first, codes = np.unique(hashes, return_index=True, return_inverse=True)
    codes = codes.ravel()
    if not (np.array_equal(rows, rows[first][codes]) and np.array_equal(lengths, lengths[first][codes])):
        keyed = np.concatenate([rows, lengths.astype("<u2")[:, None].view(np.uint8)], axis=1)
        _, first, codes = np.unique(
            np.ascontiguousarray(keyed).view(f"S{width + 2}").ravel(), return_index=True, return_inverse=True
        )
        codes = codes.ravel()
    names: list[str | None] = []
    for index in first.tolist():
        try:
            names.append(rows[index, : lengths[index]].tobytes().decode("utf-8"))
        except UnicodeDecodeError:
            names.append(None)
    return names, codes.astype(np.int64)


def _parse(data: bytes, start: int, length: int, path: str, problems: list[RecordError]) -> Event | None:
    try:
        return Event.FromString(data[start : start + length])
    except Exception as exc:  # protobuf raises DecodeError or RuntimeError by backend
        problems.append(UndecodableRecordError(path, start - 12, f"not an Event ({exc})"))
        return None


def _assemble(
    names: Sequence[str | None],
    tag_code: np.ndarray,
    step: np.ndarray,
    wall: np.ndarray,
    value: np.ndarray,
    fast: np.ndarray,
    parsed: dict[int, Event],
    problems: list[RecordError],
) -> ScalarColumns:
    """The rows of the bulk-read records and of the parsed ones, in file order."""
    tags = [name if name is not None else "" for name in names]
    index_of = {name: code for code, name in enumerate(tags) if name is not None}
    record = [np.nonzero(fast)[0]]
    codes, steps, walls, values = [tag_code[fast]], [step[fast].astype(np.int64)], [wall[fast]], [value[fast]]
    extra: list[tuple[int, int, int, float, float]] = []
    for index, event in parsed.items():
        for item in event.summary.value:
            number = scalar_value(item)
            if number is None:
                continue
            code = index_of.get(item.tag)
            if code is None:
                code = index_of[item.tag] = len(tags)
                tags.append(item.tag)
            extra.append((index, code, event.step, event.wall_time, number))
    if extra:
        record.append(np.array([row[0] for row in extra], dtype=np.int64))
        codes.append(np.array([row[1] for row in extra], dtype=np.int64))
        steps.append(np.array([row[2] for row in extra], dtype=np.int64))
        walls.append(np.array([row[3] for row in extra], dtype=np.float64))
        values.append(np.array([row[4] for row in extra], dtype=np.float64))
    if not extra:  # the bulk rows alone are in file order already
        return ScalarColumns(
            tags=tags,
            tag=codes[0],
            step=steps[0],
            wall_time=walls[0],
            value=values[0],
            problems=problems,
        )
    order = np.argsort(np.concatenate(record), kind="stable")
    return ScalarColumns(
        tags=tags,
        tag=np.concatenate(codes)[order],
        step=np.concatenate(steps)[order],
        wall_time=np.concatenate(walls)[order],
        value=np.concatenate(values)[order],
        problems=problems,
    )
