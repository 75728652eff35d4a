"""Reading event files back: records, events, runs and scalars; no tensorboard needed.

A damaged file is described, never guessed at:

* the file ends inside a record: ``TruncatedRecordError`` (normal while a writer is
  still appending; TensorBoard treats it as not yet written);
* a length or data CRC does not match: ``CorruptRecordError`` (TensorBoard stops
  reading the file there);
* the CRCs match but the bytes are no Event: ``UndecodableRecordError``.

A length field is never trusted for an allocation: at most the bytes that are actually
left in the file are read. A path is read only if it is a regular file (or a symlink to
one): a FIFO named like an event file is never opened, so nothing waits for a writer.
"""

from __future__ import annotations

import io
import math
import os
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

import numpy as np

from eventwriter.convert import describe
from eventwriter.errors import CorruptRecordError, RecordError, TruncatedRecordError, UndecodableRecordError
from eventwriter.logdir import SkippedEntry, find_event_files, open_regular
from eventwriter.proto.event_pb2 import Event
from eventwriter.proto.summary_pb2 import Summary
from eventwriter.proto.types_pb2 import DT_DOUBLE, DT_FLOAT, DT_HALF
from eventwriter.record import FOOTER_SIZE, HEADER_SIZE, footer

__all__ = [
    "FileReport",
    "Record",
    "ScalarPoint",
    "SkippedEntry",
    "find_event_files",
    "iter_events",
    "iter_records",
    "iter_scalars",
    "plugin_of",
    "scan_file",
    "value_kind",
]

_MAX_RECORD_BYTES = (1 << 31) - 1  # protobuf cannot hold a larger Event

# Runs read back as tables live in eventwriter.tables (they build on this module); its
# functions are importable from here too.


def __getattr__(name: str) -> Any:
    from eventwriter import tables

    if name in tables.__all__:
        return getattr(tables, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_unpack_length = struct.Struct("<Q").unpack


@dataclass(frozen=True)
class Record:
    """The data of one record and the byte offset where the record starts."""

    offset: int
    data: bytes


def _read_record(handle: BinaryIO, path: str, offset: int, size: int) -> Record | None:
    """Read the record at ``offset``; None at a clean end of file."""
    header = handle.read(HEADER_SIZE)
    if not header:
        return None
    if len(header) < HEADER_SIZE:
        raise TruncatedRecordError(path, offset, f"file ends after {len(header)} of 12 header bytes")
    (length,) = _unpack_length(header[:8])
    if footer(header[:8]) != header[8:]:
        raise CorruptRecordError(path, offset, "length CRC mismatch")
    if length > _MAX_RECORD_BYTES:
        raise CorruptRecordError(path, offset, f"length field claims {length} bytes, more than any Event can hold")
    available = size - offset - HEADER_SIZE
    if length + FOOTER_SIZE > available:
        raise TruncatedRecordError(
            path, offset, f"file ends inside a record of {length} bytes ({max(available, 0)} bytes left)"
        )
    data = handle.read(length)
    data_crc = handle.read(FOOTER_SIZE)
    if len(data) < length or len(data_crc) < FOOTER_SIZE:  # the file shrank while we read
        raise TruncatedRecordError(path, offset, "file ends inside the record")
    if footer(data) != data_crc:
        raise CorruptRecordError(path, offset, "data CRC mismatch")
    return Record(offset, data)


def iter_records(source: str | os.PathLike[str] | BinaryIO) -> Iterator[Record]:
    """Yield the records of an event file in order.

    Args:
        source: the file's path, or a binary file object open for reading (such as
            ``io.BytesIO(MemoryStorage().read_bytes(path))``), read from its start.

    Raises:
        TruncatedRecordError, CorruptRecordError: at the first record that cannot be
            read, after every record before it was yielded.
        OSError: the path is no regular file (a FIFO, say: it is never opened), or it
            cannot be opened or read.
    """
    if hasattr(source, "read"):
        handle = cast(BinaryIO, source)
        if isinstance(handle, io.TextIOBase) or not handle.seekable():
            raise TypeError(f"iter_records needs a path or a seekable binary file, got {describe(handle)}")
        yield from _records(handle, getattr(handle, "name", "<stream>"))
        return
    path = os.fspath(source)
    with open_regular(path) as handle:
        yield from _records(handle, path)


def _records(handle: BinaryIO, path: str) -> Iterator[Record]:
    size = handle.seek(0, os.SEEK_END)
    handle.seek(0)
    offset = 0
    while True:
        record = _read_record(handle, path, offset, size)
        if record is None:
            return
        yield record
        offset += HEADER_SIZE + len(record.data) + FOOTER_SIZE


def decode_event(record: Record, path: str) -> Event:
    """Parse a record's data as an Event, or raise UndecodableRecordError."""
    try:
        return Event.FromString(record.data)
    except Exception as exc:  # protobuf raises DecodeError or RuntimeError by backend
        raise UndecodableRecordError(path, record.offset, f"not an Event ({exc})") from None


def iter_events(source: str | os.PathLike[str] | BinaryIO, *, stop_at_truncation: bool = True) -> Iterator[Event]:
    """Yield the Events of a file.

    Args:
        source: the event file's path, or a binary file object (see ``iter_records``).
        stop_at_truncation: end quietly at a truncated tail (what TensorBoard does);
            with False, raise TruncatedRecordError there.

    Raises:
        CorruptRecordError, UndecodableRecordError: at the first damaged record.
    """
    name = str(getattr(source, "name", "<stream>")) if hasattr(source, "read") else os.fspath(source)
    try:
        for record in iter_records(source):
            yield decode_event(record, name)
    except TruncatedRecordError:
        if not stop_at_truncation:
            raise


def _events_at(path: str, storage_options: Mapping[str, Any] | None) -> Iterator[Event]:
    """``iter_events(path)``, a URL opened with ``storage_options``."""
    with open_regular(path, storage_options) as handle:
        try:
            for record in _records(handle, path):
                yield decode_event(record, path)
        except TruncatedRecordError:
            pass


@dataclass
class FileReport:
    """What ``scan_file`` found in one event file."""

    path: str
    size: int = 0
    records: int = 0
    first_event_ok: bool = False
    truncated: TruncatedRecordError | None = None
    problems: list[RecordError] = field(default_factory=list)

    @property
    def sound(self) -> bool:
        """No corrupt or undecodable record (a truncated tail is not a fault)."""
        return not self.problems


def scan_file(path: str | os.PathLike[str]) -> FileReport:
    """Check every record of a file and report the damaged ones.

    After a data CRC mismatch the length is still trusted (its own CRC matched), so the
    scan goes on with the next record; after a length CRC mismatch it cannot go on.

    Raises:
        OSError: the path is no regular file (it is never opened then), or it cannot be
            opened or read.
    """
    path = os.fspath(path)
    with open_regular(path) as handle:
        report = FileReport(path, size=handle.seek(0, os.SEEK_END))
        handle.seek(0)
        offset = 0
        while True:
            handle.seek(offset)
            try:
                record = _read_record(handle, path, offset, report.size)
            except TruncatedRecordError as exc:
                report.truncated = exc
                return report
            except CorruptRecordError as exc:
                report.problems.append(exc)
                if exc.reason != "data CRC mismatch":
                    return report
                handle.seek(offset)
                (length,) = _unpack_length(handle.read(8))
                offset += HEADER_SIZE + length + FOOTER_SIZE
                continue
            if record is None:
                return report
            try:
                event = decode_event(record, path)
            except UndecodableRecordError as exc:
                report.problems.append(exc)
            else:
                if report.records == 0:
                    report.first_event_ok = event.WhichOneof("what") == "file_version"
            report.records += 1
            offset = handle.tell()


def value_kind(value: Summary.Value, plugin_name: str = "") -> str:
    """The kind of a summary value: its plugin name, or the kind its oneof field implies."""
    if plugin_name:
        return plugin_name
    field_name = value.WhichOneof("value")
    return {
        "simple_value": "scalars",
        "image": "images",
        "histo": "histograms",
        "audio": "audio",
        "tensor": "tensors",
    }.get(field_name or "", field_name or "empty")


_IMPLIED_PLUGINS = {"simple_value": "scalars", "histo": "histograms", "image": "images", "audio": "audio"}


def plugin_of(value: Summary.Value) -> str | None:
    """The plugin TensorBoard's loader gives a value: an old-style value's own (it becomes
    a tensor of that plugin), else its metadata's; None without metadata. A tag's plugin is
    that of its first value with one."""
    implied = _IMPLIED_PLUGINS.get(value.WhichOneof("value") or "")
    if implied is not None:
        return implied
    return value.metadata.plugin_data.plugin_name if value.HasField("metadata") else None


_SCALAR_DTYPES = {DT_FLOAT: ("float_val", "<f4"), DT_DOUBLE: ("double_val", "<f8"), DT_HALF: ("half_val", "<f2")}


def scalar_value(value: Summary.Value) -> float | None:
    """The number of a scalar value: simple_value, or a one-element float tensor.

    The tensor's value may be in its typed field (as torch writes it) or in
    ``tensor_content`` (as TensorFlow 2 writes it). A tensor whose bytes hold no single
    value of its dtype is no scalar: None.
    """
    if value.HasField("simple_value"):
        return value.simple_value
    if not value.HasField("tensor") or value.tensor.dtype not in _SCALAR_DTYPES:
        return None
    tensor = value.tensor
    field_name, dtype = _SCALAR_DTYPES[tensor.dtype]
    if tensor.tensor_content:
        if len(tensor.tensor_content) != np.dtype(dtype).itemsize:
            return None  # not one value of the dtype
        return float(np.frombuffer(tensor.tensor_content, dtype=dtype)[0])
    values = getattr(tensor, field_name)
    if len(values) != 1:
        return None
    if tensor.dtype == DT_HALF:
        if not 0 <= values[0] < 1 << 16:
            return None  # no float16 has these bits
        return float(np.array(values[0], dtype=np.uint16).view(np.float16))
    return float(values[0])


@dataclass(frozen=True)
class ScalarPoint:
    """One scalar as read from a log dir."""

    run: str
    tag: str
    step: int
    wall_time: float
    value: float

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict; NaN and infinities become "NaN", "Infinity", "-Infinity"."""
        value: object = self.value
        if not math.isfinite(self.value):
            value = "NaN" if math.isnan(self.value) else ("Infinity" if self.value > 0 else "-Infinity")
        return {"run": self.run, "tag": self.tag, "step": self.step, "wall_time": self.wall_time, "value": value}


def iter_scalars(
    logdir: str | os.PathLike[str],
    errors: list[RecordError] | None = None,
    *,
    skipped: list[SkippedEntry] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Iterator[ScalarPoint]:
    """Yield every scalar of every run, run by run, in file order.

    A value counts as a scalar when it is a ``simple_value``, or a one-element float
    tensor of a tag whose plugin (see ``plugin_of``), as known when the value is read,
    is "scalars" (``eventwriter.tables.read_scalars`` also counts the tensors that come
    before a tag's first metadata).

    Args:
        logdir: a log dir or a single event file.
        errors: if given, a damaged record ends only its own file (as in TensorBoard)
            and its error is appended here; otherwise the error is raised.
        skipped: if given, what ``find_event_files`` leaves out is appended here, and so
            is each file that cannot be opened or read (an ``OSError``: deleted since
            the listing, say), and the other files are still read; otherwise such a
            file's error is raised.
        storage_options: for a URL log dir (``s3://bucket/runs``, any fsspec URL), the
            options of its file system (endpoint, credentials, ...).
    """
    for run, paths in find_event_files(logdir, skipped=skipped, storage_options=storage_options).items():
        plugins: dict[str, str] = {}
        for path in paths:
            try:
                yield from _file_scalars(run, path, plugins, storage_options)
            except RecordError as exc:
                if errors is None:
                    raise
                errors.append(exc)
            except OSError as exc:
                if skipped is None:
                    raise
                skipped.append(SkippedEntry.from_error(path, exc))


def _file_scalars(
    run: str, path: str, plugins: dict[str, str], storage_options: Mapping[str, Any] | None
) -> Iterator[ScalarPoint]:
    for event in _events_at(path, storage_options):
        if event.WhichOneof("what") != "summary":
            continue
        for value in event.summary.value:
            if value.tag not in plugins:
                given = plugin_of(value)
                if given is not None:
                    plugins[value.tag] = given
            if value.HasField("tensor") and plugins.get(value.tag) != "scalars":
                continue
            number = scalar_value(value)
            if number is not None:
                yield ScalarPoint(run, value.tag, event.step, event.wall_time, number)
