"""eventwriter: TensorBoard event files from pure Python.

``from eventwriter import SummaryWriter`` is a drop-in for
``from torch.utils.tensorboard import SummaryWriter``. Importing eventwriter never
imports torch, tensorboard or tensorflow.

The data flows one way::

    SummaryWriter.add_*      writer.py: thin adapters
      -> convert             convert.py: torch / numpy / Python inputs to arrays and numbers
      -> build               plugins/<kind>.py: checks, then a Summary (or a deferred builder)
      -> a run               runs.py, run.py: which directory, its clock and its storage
      -> queue               event_file.py, file_tags.py, encoding.py: framed records
      -> worker              write_behind.py: batches written behind the caller
      -> framing, storage    record.py; storage/: a local file, memory, any fsspec URL

Around it: ranks.py (which processes of a distributed job write, and where), copies.py
(a pickled writer is a copy with its own event file), patching.py (``eventwriter.patch()``:
frameworks that make torch's or tensorboardX's writer get eventwriter's). Reading back:
reader.py (records, events, scalars), tables.py (runs as DataFrames: ``read_scalars`` and
the other kinds), columns.py (the bulk decoding behind ``read_scalars``).
"""

from eventwriter.errors import (
    CorruptRecordError,
    DamagedRecordWarning,
    EventWriterError,
    GraphError,
    RecordError,
    TruncatedRecordError,
    UndecodableRecordError,
    WriterClosedError,
)
from eventwriter.event_file import EventFileWriter
from eventwriter.file_writer import FileWriter
from eventwriter.patching import patch, unpatch
from eventwriter.record import RecordWriter
from eventwriter.tables import (
    read_histograms,
    read_hparams,
    read_images,
    read_pr_curves,
    read_scalars,
    read_tensors,
    read_text,
    scalar_arrays,
)
from eventwriter.writer import SummaryWriter

__version__ = "0.1.0"

__all__ = [
    "CorruptRecordError",
    "DamagedRecordWarning",
    "EventFileWriter",
    "EventWriterError",
    "FileWriter",
    "GraphError",
    "RecordError",
    "RecordWriter",
    "SummaryWriter",
    "TruncatedRecordError",
    "UndecodableRecordError",
    "WriterClosedError",
    "__version__",
    "patch",
    "read_histograms",
    "read_hparams",
    "read_images",
    "read_pr_curves",
    "read_scalars",
    "read_tensors",
    "read_text",
    "scalar_arrays",
    "unpatch",
]
