"""eventwriter's own exception types."""

from __future__ import annotations

__all__ = [
    "CorruptRecordError",
    "EventWriterError",
    "GraphError",
    "RecordError",
    "TruncatedRecordError",
    "UndecodableRecordError",
    "WriterClosedError",
]


class EventWriterError(RuntimeError):
    """Writing an event file failed in the background; the cause is chained."""


class WriterClosedError(ValueError):
    """An event was added to a writer after ``close()``."""


class RecordError(Exception):
    """A record of an event file that cannot be read, with where it starts."""

    def __init__(self, path: str, offset: int, reason: str) -> None:
        super().__init__(f"{path}: byte offset {offset}: {reason}")
        self.path = path
        self.offset = offset
        self.reason = reason


class TruncatedRecordError(RecordError):
    """The file ends inside a record: normal while a writer is still appending."""


class CorruptRecordError(RecordError):
    """A length or data CRC does not match: the bytes on disk were damaged."""


class UndecodableRecordError(RecordError):
    """The CRCs match but the data is not a valid Event protocol buffer."""


class GraphError(RuntimeError):
    """No graph could be taken of a model; the tracer's error is chained."""


class DamagedRecordWarning(UserWarning):
    """Reading a run back (eventwriter.tables) left out a damaged record, or the rest of
    its file, or a file that could not be read; the message names the file and offset."""
