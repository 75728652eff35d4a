"""What TensorBoard's two loaders make of a run's event files, tag by tag.

Read from tensorboard 2.21's source (the Rust data server 0.7.2: data_compat.rs, run.rs,
reservoir.rs, event_file.rs; the Python loader: data_compat.py, dataclass_compat.py,
plugin_event_accumulator.py, data_provider.py, directory_watcher.py) and checked against
the running server by tests/interop/test_visibility_server.py.

The default loader (Rust) fixes a tag's data class by the tag's first value in the run:
its ``data_class`` if set, else its kind (simple_value, image, audio, histo) or plugin
name; a tag of no known class is dropped whole. A later value that its class cannot hold
(a scalar must be a simple_value or a rank-0 DT_FLOAT tensor) is dropped alone. A value at
a step at or below one already seen replaces the tag's values from that step on. A NaN
wall time ends the reading of its file; an infinite one drops its event. Data CRCs are
not checked (a record that decodes is read); a bad length CRC or a record that is no
Event ends the file. It keeps 1,000 scalars, 100 tensors and 10 blob sequences per tag.

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

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from eventwriter.columns import PlainScalars, plain_scalars
from eventwriter.proto.event_pb2 import Event, SessionLog
from eventwriter.proto.summary_pb2 import (
    DATA_CLASS_BLOB_SEQUENCE,
    DATA_CLASS_SCALAR,
    DATA_CLASS_TENSOR,
    DATA_CLASS_UNKNOWN,
    Summary,
)
from eventwriter.proto.types_pb2 import DT_FLOAT, DT_STRING, DataType
from eventwriter.visibility.findings import BOTH, DEFAULT, PYTHON, Effect, Finding

__all__ = ["TagView", "check_run"]

_IMPLIED = {"simple_value": "scalars", "image": "images", "audio": "audio", "histo": "histograms"}
_CLASS_OF_PLUGIN = {
    "scalars": DATA_CLASS_SCALAR,
    **dict.fromkeys(("histograms", "text", "hparams", "pr_curves", "mesh", "custom_scalars"), DATA_CLASS_TENSOR),
    **dict.fromkeys(
        ("images", "audio", "graph_run_metadata", "graph_run_metadata_graph", "graph_keras_model"),
        DATA_CLASS_BLOB_SEQUENCE,
    ),
}
_GRAPH_PLUGINS = {"graph_run_metadata", "graph_run_metadata_graph", "graph_keras_model"}
_CLASS_NAMES: dict[int, str] = {
    DATA_CLASS_SCALAR: "scalar",
    DATA_CLASS_TENSOR: "tensor",
    DATA_CLASS_BLOB_SEQUENCE: "blob sequence",
}
_KIND_NAMES = {"": "a metadata-only", "image": "an image", "audio": "an audio", "histo": "a histogram"}
_DEFAULT_KEEPS: dict[int, int] = {DATA_CLASS_SCALAR: 1000, DATA_CLASS_TENSOR: 100, DATA_CLASS_BLOB_SEQUENCE: 10}
_PYTHON_KEEPS = {"scalars": 1000, "histograms": 500, "pr_curves": 100, "images": 10, "audio": 10}
_PYTHON_KEEPS_OTHERS = 10
_UNKNOWN_PLUGIN_FIX = (
    "log with add_scalar, add_histogram or add_text, set metadata.data_class, "
    "or read the values with eventwriter.read_tensors"
)


@dataclass
class TagView:
    """One tag of one run: its plugin (that of its first value with one), how many values
    its files hold, and how many each loader keeps (``shown``, at most: after drops,
    replacements and sampling)."""

    run: str
    tag: str
    plugin: str
    values: int = 0
    first_step: int | None = None
    last_step: int | None = None
    shown: dict[str, int] = field(default_factory=dict)


@dataclass
class _Losses:
    """Per loader, per tag: values lost by reason, and values replaced."""

    lost: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (reason, fix) -> [count, first step]
    replaced: int = 0
    replaced_from: int | None = None

    def lose(self, reason: str, fix: str, step: int, count: int = 1) -> None:
        entry = self.lost.setdefault((reason, fix), [0, step])
        entry[0] += count

    def replace(self, step: int) -> None:
        self.replaced += 1
        self.replaced_from = step if self.replaced_from is None else min(self.replaced_from, step)


class _DefaultSeries:
    """A tag as the Rust data server holds it: its class, and its values' steps in order
    (each kept or a tombstone), with later steps replaced by a step going back."""

    def __init__(self, data_class: int, plugin: str, unknown_reason: tuple[str, str] | None) -> None:
        self.data_class, self.plugin, self.unknown_reason = data_class, plugin, unknown_reason
        self.steps: list[int] = []
        self.valid: list[bool] = []
        self.losses = _Losses()

    def offer(self, step: int, why_not: tuple[str, str] | None) -> None:
        while self.steps and self.steps[-1] >= step:
            self.steps.pop()
            if self.valid.pop():
                self.losses.replace(step)
        self.steps.append(step)
        self.valid.append(why_not is None)
        if why_not is not None:
            self.losses.lose(*why_not, step)

    def offer_all(self, steps: np.ndarray, why_not: tuple[str, str] | None) -> None:
        """``offer`` each of ``steps`` in turn, at once: a value stays if every later
        one has a greater step; an earlier one stays if it is below them all."""
        count = len(steps)
        later_low = np.minimum.accumulate(steps[::-1])[::-1]
        stays = np.ones(count, dtype=bool)
        stays[:-1] = steps[:-1] < later_low[1:]
        cut = bisect.bisect_left(self.steps, int(later_low[0]))
        # What each replaced value is replaced by: an earlier value ``gone``, by the first
        # of the batch at or below it (the batch's running low reaches it there; the least
        # ``gone`` has the least such step); a value of the batch, by the next one, if that
        # is at or below it.
        gone = [step for step, valid in zip(self.steps[cut:], self.valid[cut:]) if valid]
        replaced, lows = len(gone), []
        if gone:
            running_low = np.minimum.accumulate(steps)
            lows.append(int(running_low[int(np.argmax(running_low <= gone[0]))]))
        if why_not is None and not stays.all():
            replaced += count - int(stays.sum())
            lows.append(int(steps[1:][steps[1:] <= steps[:-1]].min()))
        if replaced:
            self.losses.replaced += replaced
            low = min(lows)
            self.losses.replaced_from = (
                low if self.losses.replaced_from is None else min(self.losses.replaced_from, low)
            )
        del self.steps[cut:], self.valid[cut:]
        kept = steps[stays].tolist()
        self.steps.extend(kept)
        self.valid.extend([why_not is None] * len(kept))
        if why_not is not None:
            self.losses.lose(*why_not, int(steps[0]), count)


@dataclass
class _PythonSeries:
    """A tag as the Python loader holds it."""

    keeps: int
    steps: list[int] = field(default_factory=list)
    losses: _Losses = field(default_factory=_Losses)
    unservable: tuple[str, str] | None = None


@dataclass
class _PythonRun:
    metadata: dict[str, tuple[str, int]] = field(default_factory=dict)  # tag -> (plugin, data class)
    series: dict[str, _PythonSeries] = field(default_factory=dict)
    file_version: float | None = None
    seen_start: bool = False
    most_recent_step: int = 0


@dataclass
class _Run:
    name: str
    views: dict[str, TagView] = field(default_factory=dict)
    default: dict[str, _DefaultSeries] = field(default_factory=dict)
    python: _PythonRun = field(default_factory=_PythonRun)
    unread: dict[str, dict[str, _Losses]] = field(default_factory=lambda: {DEFAULT: {}, PYTHON: {}})
    python_stopped: tuple[str, str] | None = None  # the Python loader died at a record that is no Event
    findings: list[Finding] = field(default_factory=list)

    def view(self, value: Summary.Value, step: int) -> TagView:
        view = self.views.get(value.tag)
        if view is None:
            view = self.views[value.tag] = TagView(self.name, value.tag, "")
        if not view.plugin:
            view.plugin = _IMPLIED.get(value.WhichOneof("value") or "") or value.metadata.plugin_data.plugin_name
        view.values += 1
        view.first_step = step if view.first_step is None else min(view.first_step, step)
        view.last_step = step if view.last_step is None else max(view.last_step, step)
        return view


def check_run(run: str, files: Iterable[tuple[str, bytes]]) -> tuple[list[TagView], list[Finding]]:
    """What each loader keeps of a run's tags, and the findings, from its event files'
    (path, bytes) in name order."""
    state = _Run(run)
    spans: list[tuple[str, float, float]] = []
    for path, data in files:
        span = _read_file(state, path, data)
        if span is not None:
            spans.append((path.rsplit("/", 1)[-1], *span))
    return list(state.views.values()), state.findings + _overlaps(run, spans) + _tag_findings(state)


def _overlaps(run: str, spans: list[tuple[str, float, float]]) -> list[Finding]:
    """Files of a run written at the same time (by several processes): the Python loader,
    moving through them in name order, misses what an earlier-named one gets later."""
    findings = []
    for index, (name, _, last) in enumerate(spans):
        later = [other for other, first, _ in spans[index + 1 :] if first < last]
        if later:
            findings.append(
                Finding(
                    run,
                    name,
                    PYTHON,
                    Effect.NOTE,
                    f"written while {later[0]}{f' and {len(later) - 1} more' if len(later) > 1 else ''} (later in "
                    "name order) was: a running Python loader reads a run's files in name order and never goes "
                    "back, so what this file got after the later one appeared shows only after a restart",
                    "write one run per process (a directory each), or start tensorboard with --reload_multifile=true",
                )
            )
    return findings


@dataclass
class _File:
    """Reading one file: which loaders still read it (and why one stopped), the Python
    loader's first value of each tag in it, and its summaries' first and last wall time."""

    name: str
    reading: dict[str, bool]
    ended: dict[str, tuple[str, str]] = field(default_factory=dict)  # loader -> (reason, fix)
    initial: dict[str, tuple[str, int]] = field(default_factory=dict)
    first: float = math.nan
    last: float = math.nan

    def saw(self, wall_time: float) -> None:
        if math.isfinite(wall_time):
            self.first = wall_time if math.isnan(self.first) else self.first
            self.last = wall_time


def _read_file(state: _Run, path: str, data: bytes) -> tuple[float, float] | None:
    """Read one file of the run into ``state``; the first and last finite wall times of
    its summaries, if any.

    Plain scalar events (one simple_value without metadata, a finite wall time: most
    records of most files) are taken in bulk, tag by tag, between the other records,
    which go one by one through protobuf; both ways give the same result
    (tests/test_visibility.py compares them)."""
    records = plain_scalars(data, path)
    file = _File(path.rsplit("/", 1)[-1], {DEFAULT: True, PYTHON: state.python_stopped is None})
    if state.python_stopped is not None:
        file.ended[PYTHON] = state.python_stopped
    elif path.endswith(".profile-empty"):
        file.reading[PYTHON] = False
        file.ended[PYTHON] = (
            "the Python loader skips files named *.profile-empty (the profiler's marker files)",
            "rename the file, or view with the default loader",
        )
    plain = records.plain & np.isfinite(records.wall) if BULK else np.zeros(len(records.starts), dtype=bool)
    done = 0
    for index in [*np.nonzero(~plain)[0].tolist(), len(plain)]:
        if index > done:
            _plain_events(state, file, data, records, done, index)
        if index < len(plain):
            _record(state, file, data, records, index)
        done = index + 1
    if records.problems:  # a bad length CRC: nothing after it can be found, by any reader
        offset = records.problems[0].offset
        state.findings.append(
            Finding(
                state.name,
                file.name,
                BOTH,
                Effect.LOST,
                f"a bad length CRC at byte {offset}: both loaders stop reading the file there "
                f"({len(data) - offset} bytes unread)",
                "the bytes are damaged: restore the file from a copy",
            )
        )
    return None if math.isnan(file.first) else (file.first, file.last)


BULK = True  # take plain scalar events in bulk (tests switch it off to compare)


def _record(state: _Run, file: _File, data: bytes, records: PlainScalars, index: int) -> None:
    """One record, through protobuf."""
    start, length, data_ok = int(records.starts[index]), int(records.lengths[index]), bool(records.good[index])
    offset, reading, ended = start - 12, file.reading, file.ended
    try:
        event: Event | None = Event.FromString(data[start : start + length])
    except Exception:  # protobuf raises DecodeError or RuntimeError by backend
        event = None
    if event is None and reading[DEFAULT]:
        _end(ended, reading, DEFAULT, file.name, offset, "a record that is no Event")
    if reading[PYTHON] and not data_ok:
        _end(ended, reading, PYTHON, file.name, offset, "a record whose data CRC does not match")
    elif reading[PYTHON] and event is None:
        reading[PYTHON] = False
        ended[PYTHON] = state.python_stopped = (
            f"the Python loader stopped at a record of {file.name} that is no Event",
            "",
        )
        state.findings.append(
            Finding(
                state.name,
                file.name,
                PYTHON,
                Effect.LOST,
                f"the record at byte {offset} is no Event: the Python loader's reload thread dies there, "
                "so runs it has not loaded yet stay empty and nothing is reloaded (with --reload_task "
                "blocking, TensorBoard does not start)",
                "remove or repair the file",
            )
        )
    if event is None:
        return
    if reading[DEFAULT] and math.isnan(event.wall_time):
        _end(ended, reading, DEFAULT, file.name, offset, "an event whose wall_time is NaN")
    for loader in (DEFAULT, PYTHON):
        if not reading[loader] and loader in ended:
            _lose_event(state, event, loader, *ended[loader])
    if reading[DEFAULT]:
        _default_event(state, event)
    if reading[PYTHON]:
        _python_event(state, event, file.initial)
    if event.WhichOneof("what") == "summary":
        file.saw(event.wall_time)
        for value in event.summary.value:
            state.view(value, event.step)


def _plain_events(state: _Run, file: _File, data: bytes, records: PlainScalars, start: int, end: int) -> None:
    """Records ``start`` to ``end``, plain scalar events all, tag by tag: within such a
    stretch no tag's values bear on another's (but for the Python loader's purge in files
    before ``brain.Event:2``, which the stretch then goes through one by one)."""
    python = state.python
    if file.reading[PYTHON] and not (python.file_version is not None and python.file_version >= 2):
        for index in range(start, end):
            _record(state, file, data, records, index)
        return
    tags, steps = records.tag[start:end], records.step[start:end]
    file.saw(float(records.wall[start]))
    file.saw(float(records.wall[end - 1]))
    order = np.argsort(tags, kind="stable")
    codes, first_index, counts = np.unique(tags[order], return_index=True, return_counts=True)
    groups = sorted(zip(order[first_index].tolist(), codes.tolist(), first_index.tolist(), counts.tolist()))
    for _, code, at, count in groups:
        tag = cast(str, records.names[code])  # plain events have UTF-8 tags
        tag_steps = steps[order[at : at + count]]
        _plain_view(state, tag, tag_steps)
        for loader in (DEFAULT, PYTHON):
            if not file.reading[loader]:
                if loader in file.ended:
                    state.unread[loader].setdefault(tag, _Losses()).lose(*file.ended[loader], int(tag_steps[0]), count)
                continue
            if loader == DEFAULT:
                _plain_default(state, tag, tag_steps)
            else:
                _plain_python(state, file, tag, tag_steps)
    if file.reading[PYTHON]:
        python.most_recent_step = int(steps[-1])


def _plain_view(state: _Run, tag: str, steps: np.ndarray) -> None:
    view = state.views.get(tag)
    if view is None:
        view = state.views[tag] = TagView(state.name, tag, "")
    view.plugin = view.plugin or "scalars"
    view.values += len(steps)
    low, high = int(steps.min()), int(steps.max())
    view.first_step = low if view.first_step is None else min(view.first_step, low)
    view.last_step = high if view.last_step is None else max(view.last_step, high)


def _plain_default(state: _Run, tag: str, steps: np.ndarray) -> None:
    series = state.default.get(tag)
    if series is None:
        series = state.default[tag] = _DefaultSeries(DATA_CLASS_SCALAR, "scalars", None)
    if series.data_class == DATA_CLASS_UNKNOWN:
        if series.unknown_reason is not None:
            series.losses.lose(*series.unknown_reason, int(steps[0]), len(steps))
        return
    series.offer_all(steps, None if series.data_class == DATA_CLASS_SCALAR else _other_kind("simple_value", series))


def _plain_python(state: _Run, file: _File, tag: str, steps: np.ndarray) -> None:
    run = state.python
    first_plugin, first_class = file.initial.setdefault(tag, ("scalars", DATA_CLASS_UNKNOWN))
    if tag not in run.metadata:
        data_class = DATA_CLASS_UNKNOWN if first_class else _CLASS_OF_PLUGIN.get(first_plugin, DATA_CLASS_UNKNOWN)
        run.metadata[tag] = ("scalars", data_class)
    _python_series(run, tag).steps.extend(steps.tolist())


def _end(
    ended: dict[str, tuple[str, str]], reading: dict[str, bool], loader: str, name: str, offset: int, what: str
) -> None:
    """A loader stops reading the file: the values after are lost to it (reported per
    tag; the damage itself is in the file's framing report)."""
    reading[loader] = False
    who = "the default loader" if loader == DEFAULT else "the Python loader"
    ended[loader] = (f"{who} stops reading {name} at byte {offset}, at {what}", _END_FIXES.get(what, ""))


_END_FIXES = {
    "an event whose wall_time is NaN": "write finite wall times (walltime=None takes the clock's)",
    "a record whose data CRC does not match": "the bytes are damaged: restore the file from a copy",
    "a record that is no Event": "the bytes are damaged: restore the file from a copy",
}


def _lose_event(state: _Run, event: Event, loader: str, reason: str, fix: str) -> None:
    if event.WhichOneof("what") != "summary":
        return
    unread = state.unread[loader]
    for value in event.summary.value:
        unread.setdefault(value.tag, _Losses()).lose(reason, fix, event.step)


# -- the default loader (Rust) ---------------------------------------------------------


def _default_event(state: _Run, event: Event) -> None:
    if event.WhichOneof("what") != "summary":
        return
    infinite = math.isinf(event.wall_time)
    for value in event.summary.value:
        series = state.default.get(value.tag)
        if series is None:
            series = state.default[value.tag] = _default_series(value)
        if series.data_class == DATA_CLASS_UNKNOWN:
            if series.unknown_reason is not None:
                series.losses.lose(*series.unknown_reason, event.step)
            continue
        if infinite:
            series.losses.lose(
                f"the event's wall_time is {event.wall_time}: the default loader drops the event",
                "write finite wall times (walltime=None takes the clock's)",
                event.step,
            )
            continue
        series.offer(event.step, _default_refusal(value, series))


def _default_series(value: Summary.Value) -> _DefaultSeries:
    kind = value.WhichOneof("value") or ""
    has_metadata = value.HasField("metadata")
    plugin = value.metadata.plugin_data.plugin_name
    if has_metadata and value.metadata.data_class != DATA_CLASS_UNKNOWN:
        return _DefaultSeries(value.metadata.data_class, plugin, None)
    if kind in _IMPLIED:
        plugin = _IMPLIED[kind]
        return _DefaultSeries(_CLASS_OF_PLUGIN[plugin], plugin, None)
    if plugin in _CLASS_OF_PLUGIN:
        return _DefaultSeries(_CLASS_OF_PLUGIN[plugin], plugin, None)
    if not has_metadata or not plugin:
        reason = (
            "the tag's first value carries no plugin metadata: the default loader drops the whole tag",
            "write the plugin metadata with the tag's first value (every SummaryWriter method does)",
        )
    else:
        reason = (
            f"plugin {plugin!r} has no data class TensorBoard knows and the metadata sets none: "
            "the default loader drops the whole tag"
            + (" (torch's add_tensor writes this plugin)" if plugin == "tensor" else ""),
            _UNKNOWN_PLUGIN_FIX,
        )
    return _DefaultSeries(DATA_CLASS_UNKNOWN, plugin, reason)


def _other_kind(kind: str, series: _DefaultSeries) -> tuple[str, str]:
    return (
        f"{_KIND_NAMES.get(kind, 'a ' + kind)} value under a tag whose first value made it "
        f"a {_CLASS_NAMES[series.data_class]} tag: the default loader drops it",
        "log each kind of data under its own tag",
    )


def _default_refusal(value: Summary.Value, series: _DefaultSeries) -> tuple[str, str] | None:
    """Why the default loader drops this value of the series, or None if it keeps it."""
    kind = value.WhichOneof("value") or ""
    data_class = series.data_class
    other_kind = _other_kind(kind, series)
    if data_class == DATA_CLASS_SCALAR:
        if kind == "simple_value":
            return None
        if kind != "tensor":
            return other_kind
        tensor = value.tensor
        if tensor.dtype != DT_FLOAT:
            name = DataType.Name(tensor.dtype) if tensor.dtype in DataType.values() else str(tensor.dtype)
            fix = "view with --load_fast=false, or log float32 scalars"
            if name == "DT_DOUBLE":
                fix = "log with double_precision=False, or view with --load_fast=false"
            return f"a scalar written as {name}: the default loader takes only DT_FLOAT scalars and drops it", fix
        if tensor.tensor_shape.dim:
            shape = [dim.size for dim in tensor.tensor_shape.dim]
            return (
                f"a scalar tensor of shape {shape}: the default loader takes only rank-0 scalars and drops it",
                "log a rank-0 value (simple_value), or view with --load_fast=false",
            )
        if len(tensor.float_val) == 1 or (not tensor.float_val and len(tensor.tensor_content) == 4):
            return None
        return "a scalar tensor that holds no single float32: the default loader drops it", ""
    if data_class == DATA_CLASS_TENSOR:
        if kind == "histo":
            if len(value.histo.bucket) == len(value.histo.bucket_limit):
                return None
            return "a histogram whose bucket and bucket_limit differ in length: the default loader drops it", ""
        return None if kind in ("tensor", "") else other_kind
    if kind in ("image", "audio"):
        return None
    tensor = value.tensor
    if kind == "tensor" and tensor.dtype == DT_STRING:
        shape = [dim.size for dim in tensor.tensor_shape.dim]
        if len(shape) == 1 or (len(shape) == 2 and shape[1] == 2 and series.plugin == "audio"):
            return None
        if not shape and len(tensor.string_val) == 1 and series.plugin in _GRAPH_PLUGINS:
            return None
    return other_kind


# -- the Python loader -------------------------------------------------------------------


def _python_series(run: _PythonRun, tag: str) -> _PythonSeries:
    series = run.series.get(tag)
    if series is None:
        plugin = run.metadata.get(tag, ("", 0))[0]
        series = run.series[tag] = _PythonSeries(_PYTHON_KEEPS.get(plugin, _PYTHON_KEEPS_OTHERS))
    return series


def _python_event(state: _Run, event: Event, initial: dict[str, tuple[str, int]]) -> None:
    run = state.python
    what = event.WhichOneof("what")
    if what == "file_version":
        try:
            run.file_version = float(event.file_version.split(":", 1)[1])
        except (IndexError, ValueError):
            pass
    if run.file_version is not None and run.file_version >= 2:
        if what == "session_log" and event.session_log.status == SessionLog.START:
            if run.seen_start:
                for series in run.series.values():
                    _purge(series, event.step)
            run.seen_start = True
    elif what == "summary" and event.step < run.most_recent_step:
        for value in event.summary.value:
            if value.tag in run.series:
                _purge(run.series[value.tag], event.step)
    if what != "summary":
        return
    run.most_recent_step = event.step
    for value in event.summary.value:
        kind = value.WhichOneof("value") or ""
        has_metadata = kind in _IMPLIED or value.HasField("metadata")
        plugin = _IMPLIED.get(kind) or value.metadata.plugin_data.plugin_name
        explicit = value.metadata.data_class if kind not in _IMPLIED else DATA_CLASS_UNKNOWN
        first_plugin, first_class = initial.setdefault(value.tag, (plugin if has_metadata else "", explicit))
        if has_metadata and value.tag not in run.metadata:
            data_class = explicit if first_class else _CLASS_OF_PLUGIN.get(first_plugin, explicit)
            run.metadata[value.tag] = (plugin, data_class)
        if kind in _IMPLIED or kind == "tensor" or first_plugin == "hparams":
            series = _python_series(run, value.tag)
            series.steps.append(event.step)
            if kind != "simple_value" and run.metadata.get(value.tag, ("", 0))[1] == DATA_CLASS_SCALAR:
                elements = _elements(value)
                if elements != 1 and series.unservable is None:
                    series.unservable = (
                        f"a value at step {event.step} holds {elements} numbers, not one: the Python loader's "
                        "scalars route fails for the whole tag (HTTP 500)",
                        "log one number per value",
                    )


def _purge(series: _PythonSeries, step: int) -> None:
    while series.steps and series.steps[-1] >= step:
        series.steps.pop()
        series.losses.replace(step)


def _elements(value: Summary.Value) -> int:
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


# -- findings ------------------------------------------------------------------------------


def _tag_findings(state: _Run) -> list[Finding]:
    findings: list[Finding] = []
    for tag, view in state.views.items():
        default, python = state.default.get(tag), state.python.series.get(tag)
        view.shown[DEFAULT] = _default_shown(state, view, default, findings)
        view.shown[PYTHON] = _python_shown(state, view, python, findings)
        for loader in (DEFAULT, PYTHON):
            if tag in state.unread[loader]:
                _report(state, view, loader, state.unread[loader][tag], findings)
    return findings


def _report(state: _Run, view: TagView, loader: str, losses: _Losses, findings: list[Finding]) -> None:
    for (reason, fix), (count, first_step) in losses.lost.items():
        findings.append(Finding(state.name, view.tag, loader, Effect.LOST, reason, fix, count, view.values, first_step))
    if losses.replaced:
        who = "the default loader" if loader == DEFAULT else "the Python loader (after a restart's SessionLog.START)"
        findings.append(
            Finding(
                state.name,
                view.tag,
                loader,
                Effect.REPLACED,
                f"values written again at the same or an earlier step (a restart, or a step logged twice): "
                f"{who} shows the later ones",
                "pass increasing global_step values, unless a restart meant to replace them",
                losses.replaced,
                view.values,
                losses.replaced_from,
            )
        )


def _sampled(state: _Run, view: TagView, loader: str, kept: int, keeps: int, findings: list[Finding]) -> int:
    if kept <= keeps:
        return kept
    plugin = view.plugin or "PLUGIN"
    findings.append(
        Finding(
            state.name,
            view.tag,
            loader,
            Effect.SAMPLED,
            f"{kept} values, more than the {keeps} kept per tag: a random sample is shown (the last value always)",
            f"start tensorboard with --samples_per_plugin={plugin}={kept} to keep them all",
            kept - keeps,
            view.values,
        )
    )
    return keeps


def _default_shown(state: _Run, view: TagView, series: _DefaultSeries | None, findings: list[Finding]) -> int:
    if series is None:
        return 0
    _report(state, view, DEFAULT, series.losses, findings)
    if series.data_class == DATA_CLASS_UNKNOWN:
        return 0
    valid = sum(series.valid)
    if valid and series.plugin and series.plugin not in _CLASS_OF_PLUGIN:
        findings.append(
            Finding(
                state.name, view.tag, BOTH, Effect.NOTE, f"plugin {series.plugin!r}: no built-in dashboard shows it"
            )
        )
    return min(valid, _sampled(state, view, DEFAULT, len(series.steps), _DEFAULT_KEEPS[series.data_class], findings))


def _python_shown(state: _Run, view: TagView, series: _PythonSeries | None, findings: list[Finding]) -> int:
    if series is None:
        return 0
    plugin, data_class = state.python.metadata.get(view.tag, ("", DATA_CLASS_UNKNOWN))
    if series.unservable is None and data_class == DATA_CLASS_UNKNOWN:
        fix = "write the plugin metadata with the tag's first value (every SummaryWriter method does)"
        if view.tag not in state.python.metadata:
            why = "no value of the tag carries plugin metadata"
        elif plugin and plugin not in _CLASS_OF_PLUGIN:
            why = f"plugin {plugin!r} has no data class TensorBoard knows and the metadata sets none"
            fix = _UNKNOWN_PLUGIN_FIX
        else:
            why = (
                "the tag's first value in the file that gives its plugin carries no metadata, so it gets no data class"
            )
        series.unservable = (f"{why}: the Python loader serves none of the tag's values", fix)
    _report(state, view, PYTHON, series.losses, findings)
    if series.unservable is not None:
        lost = len(series.steps)
        findings.append(Finding(state.name, view.tag, PYTHON, Effect.LOST, *series.unservable, lost, view.values))
        return 0
    return _sampled(state, view, PYTHON, len(series.steps), series.keeps, findings)
