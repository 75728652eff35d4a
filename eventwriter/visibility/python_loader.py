"""The Python loader's rules: TensorBoard's loader with ``--load_fast=false``
(data_compat.py, dataclass_compat.py, plugin_event_accumulator.py, data_provider.py,
directory_watcher.py), tag by tag.

The Python loader (``--load_fast=false``, and log dirs that are neither local nor
``gs://``) takes a tag's plugin from its first value with metadata, and gives it a data
class only if the tag's first value in that file had a known plugin; tags without one
are never served. It keeps every value of a repeated step, purging only after a second
``SessionLog.START`` (or, in files without ``brain.Event:2``, on any step going back).
Any damaged record ends its file; a record that is no Event stops the whole loader. It
keeps 1,000 scalars, 500 histograms, 100 PR curves and 10 of anything else per tag, and
skips ``*.profile-empty`` files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from eventwriter.proto.event_pb2 import Event, SessionLog
from eventwriter.proto.summary_pb2 import (
    DATA_CLASS_BLOB_SEQUENCE,
    DATA_CLASS_SCALAR,
    DATA_CLASS_TENSOR,
    DATA_CLASS_UNKNOWN,
    Summary,
)
from eventwriter.proto.types_pb2 import DT_FLOAT
from eventwriter.visibility.kinds import CLASS_OF_PLUGIN, IMPLIED, KIND_NAMES, Losses

__all__ = [
    "PYTHON_KEEPS",
    "PYTHON_KEEPS_OTHERS",
    "PythonRun",
    "PythonSeries",
    "odd_kind",
    "python_event",
    "python_plain",
    "python_series",
]

PYTHON_KEEPS = {"scalars": 1000, "histograms": 500, "pr_curves": 100, "images": 10, "audio": 10}
PYTHON_KEEPS_OTHERS = 10


@dataclass
class PythonSeries:
    """A tag as the Python loader holds it: its values' steps and kinds, in order
    (``kinds``: None for a simple_value, else the value's oneof, dtype and size)."""

    keeps: int
    steps: list[int] = field(default_factory=list)
    kinds: list[tuple[str, int, int] | None] = field(default_factory=list)
    losses: Losses = field(default_factory=Losses)
    unservable: tuple[str, str] | None = None
    purged_when_full: bool = False  # a purge after sampling began: fewer than ``keeps`` may stay

    def add(self, step: int, kind: tuple[str, int, int] | None) -> None:
        self.steps.append(step)
        self.kinds.append(kind)


@dataclass
class PythonRun:
    metadata: dict[str, tuple[str, int]] = field(default_factory=dict)  # tag -> (plugin, data class)
    series: dict[str, PythonSeries] = field(default_factory=dict)
    file_version: float | None = None
    seen_start: bool = False
    most_recent_step: int = 0


def python_series(run: PythonRun, tag: str) -> PythonSeries:
    series = run.series.get(tag)
    if series is None:
        plugin = run.metadata.get(tag, ("", 0))[0]
        series = run.series[tag] = PythonSeries(PYTHON_KEEPS.get(plugin, PYTHON_KEEPS_OTHERS))
    return series


def python_event(run: PythonRun, event: Event, initial: dict[str, tuple[str, int]]) -> None:
    """Take one event into the Python loader's ``run``; ``initial``: the first value of
    each tag in the event's file."""
    what = event.WhichOneof("what")
    if what == "file_version":  # as plugin_event_accumulator's _ParseFileVersion
        try:
            run.file_version = float(event.file_version.split("brain.Event:")[-1])
        except ValueError:
            run.file_version = -1
    if run.file_version is not None and run.file_version >= 2:
        if what == "session_log" and event.session_log.status == SessionLog.START:
            if run.seen_start:
                for series in run.series.values():
                    purge(series, event.step)
            run.seen_start = True
    elif what == "summary" and event.step < run.most_recent_step:
        for value in event.summary.value:
            if value.tag in run.series:
                purge(run.series[value.tag], event.step)
    if what != "summary":
        return
    run.most_recent_step = event.step
    for value in event.summary.value:
        kind = value.WhichOneof("value") or ""
        has_metadata = kind in IMPLIED or value.HasField("metadata")
        plugin = IMPLIED.get(kind) or value.metadata.plugin_data.plugin_name
        explicit = value.metadata.data_class if kind not in IMPLIED else DATA_CLASS_UNKNOWN
        first_plugin, first_class = initial.setdefault(value.tag, (plugin if has_metadata else "", explicit))
        if has_metadata and value.tag not in run.metadata:
            data_class = explicit if first_class else CLASS_OF_PLUGIN.get(first_plugin, explicit)
            run.metadata[value.tag] = (plugin, data_class)
        if kind in IMPLIED or kind == "tensor" or first_plugin == "hparams":
            series = python_series(run, value.tag)
            if kind == "":  # hparams without data: the loader gives it an empty float tensor
                series.add(event.step, ("tensor", DT_FLOAT, 0))
            else:
                dtype = value.tensor.dtype if kind == "tensor" else 0
                series.add(event.step, None if kind == "simple_value" else (kind, dtype, elements(value)))
            if kind != "simple_value" and run.metadata.get(value.tag, ("", 0))[1] == DATA_CLASS_SCALAR:
                numbers = elements(value)
                if numbers != 1 and series.unservable is None:
                    series.unservable = (
                        f"a value at step {event.step} holds {numbers} numbers, not one: the Python loader's "
                        "scalars route fails for the whole tag (HTTP 500)",
                        "log one number per value",
                    )


def python_plain(run: PythonRun, initial: dict[str, tuple[str, int]], tag: str, steps: np.ndarray) -> None:
    """Take a stretch of plain scalar events of one tag (their steps) at once."""
    first_plugin, first_class = initial.setdefault(tag, ("scalars", DATA_CLASS_UNKNOWN))
    if tag not in run.metadata:
        data_class = DATA_CLASS_UNKNOWN if first_class else CLASS_OF_PLUGIN.get(first_plugin, DATA_CLASS_UNKNOWN)
        run.metadata[tag] = ("scalars", data_class)
    series = python_series(run, tag)
    series.steps.extend(steps.tolist())
    series.kinds.extend([None] * len(steps))


def purge(series: PythonSeries, step: int) -> None:
    if series.steps and series.steps[-1] >= step and len(series.steps) > series.keeps:
        series.purged_when_full = True
    while series.steps and series.steps[-1] >= step:
        series.steps.pop()
        series.kinds.pop()
        series.losses.replace(step)


def elements(value: Summary.Value) -> int:
    """How many numbers the Python loader's tensor of a value holds (an old-style image
    becomes [width, height, png], audio [[wav, label]], a histogram [k, 3])."""
    kind = value.WhichOneof("value")
    if kind == "image":
        return 3
    if kind == "audio":
        return 2
    if kind == "histo":
        return 3 * len(value.histo.bucket)
    shape = [dim.size for dim in value.tensor.tensor_shape.dim]
    return math.prod(shape) if shape else 1


def odd_kind(kind: tuple[str, int, int] | None, plugin: str, data_class: int) -> str | None:
    """What a value is, if its tag's route cannot serve it (a value of another kind under
    a tensor tag; too few elements under an image tag); None if it is served. ``kind`` as
    in ``PythonSeries.kinds``. The blob routes take any tensor as a list of its elements."""
    name, _dtype, size = kind if kind is not None else ("simple_value", 0, 1)
    if data_class == DATA_CLASS_TENSOR:
        return None if name == "tensor" or IMPLIED.get(name) == plugin else KIND_NAMES[name]
    if data_class == DATA_CLASS_BLOB_SEQUENCE and plugin == "images" and size < 3:
        return f"{KIND_NAMES[name]} of {size} element(s), not [width, height, image, ...]"
    if data_class == DATA_CLASS_BLOB_SEQUENCE and plugin == "audio" and size == 0:
        return "an audio value of no clip"
    return None
