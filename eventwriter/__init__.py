"""eventwriter: TensorBoard event files from pure Python.

``from eventwriter import SummaryWriter`` is a drop-in for
``from torch.utils.tensorboard import SummaryWriter``. Importing eventwriter never
imports torch, tensorboard or tensorflow.
"""

from eventwriter.errors import (
    CorruptRecordError,
    EventWriterError,
    GraphError,
    RecordError,
    TruncatedRecordError,
    UndecodableRecordError,
    WriterClosedError,
)
from eventwriter.event_file import EventFileWriter
from eventwriter.file_writer import FileWriter
from eventwriter.writer import SummaryWriter

__version__ = "0.1.0"

__all__ = [
    "CorruptRecordError",
    "EventFileWriter",
    "EventWriterError",
    "FileWriter",
    "GraphError",
    "RecordError",
    "SummaryWriter",
    "TruncatedRecordError",
    "UndecodableRecordError",
    "WriterClosedError",
    "__version__",
]
