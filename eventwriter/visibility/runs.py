"""A run's event files, read for both of TensorBoard's loaders: what each keeps of each
tag, and the findings. Records go through protobuf one by one, the loaders' rules
(``default_loader``, ``python_loader``) applied in file order; plain scalar events (most
records of most files) are taken in bulk, tag by tag, between the others.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from eventwriter.columns import PlainScalars, plain_scalars
from eventwriter.proto.event_pb2 import Event
from eventwriter.proto.summary_pb2 import DATA_CLASS_UNKNOWN, Summary
from eventwriter.visibility.default_loader import DEFAULT_KEEPS, DefaultSeries, default_event, default_plain
from eventwriter.visibility.findings import BOTH, DEFAULT, PYTHON, Effect, Finding
from eventwriter.visibility.kinds import CLASS_OF_PLUGIN, IMPLIED, UNKNOWN_PLUGIN_FIX, Losses
from eventwriter.visibility.python_loader import PythonRun, PythonSeries, python_event, python_plain

__all__ = ["BULK", "TagView", "check_run"]


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
class _Run:
    name: str
    views: dict[str, TagView] = field(default_factory=dict)
    default: dict[str, DefaultSeries] = field(default_factory=dict)
    python: PythonRun = field(default_factory=PythonRun)
    unread: dict[str, dict[str, Losses]] = field(default_factory=lambda: {DEFAULT: {}, PYTHON: {}})
    python_stopped: tuple[str, str] | None = None  # the Python loader died at a record that is no Event
    findings: list[Finding] = field(default_factory=list)

    def view(self, value: Summary.Value, step: int) -> TagView:
        view = self.views.get(value.tag)
        if view is None:
            view = self.views[value.tag] = TagView(self.name, value.tag, "")
        if not view.plugin:
            view.plugin = IMPLIED.get(value.WhichOneof("value") or "") or value.metadata.plugin_data.plugin_name
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
        default_event(state.default, event)
    if reading[PYTHON]:
        python_event(state.python, event, file.initial)
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
                    state.unread[loader].setdefault(tag, Losses()).lose(*file.ended[loader], int(tag_steps[0]), count)
                continue
            if loader == DEFAULT:
                default_plain(state.default, tag, tag_steps)
            else:
                python_plain(state.python, file.initial, tag, tag_steps)
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
        unread.setdefault(value.tag, Losses()).lose(reason, fix, event.step)


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


def _report(state: _Run, view: TagView, loader: str, losses: Losses, findings: list[Finding]) -> None:
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


def _default_shown(state: _Run, view: TagView, series: DefaultSeries | None, findings: list[Finding]) -> int:
    if series is None:
        return 0
    _report(state, view, DEFAULT, series.losses, findings)
    if series.data_class == DATA_CLASS_UNKNOWN:
        return 0
    valid = sum(series.valid)
    if valid and series.plugin and series.plugin not in CLASS_OF_PLUGIN:
        findings.append(
            Finding(
                state.name, view.tag, BOTH, Effect.NOTE, f"plugin {series.plugin!r}: no built-in dashboard shows it"
            )
        )
    return min(valid, _sampled(state, view, DEFAULT, len(series.steps), DEFAULT_KEEPS[series.data_class], findings))


def _python_shown(state: _Run, view: TagView, series: PythonSeries | None, findings: list[Finding]) -> int:
    if series is None:
        return 0
    plugin, data_class = state.python.metadata.get(view.tag, ("", DATA_CLASS_UNKNOWN))
    if series.unservable is None and data_class == DATA_CLASS_UNKNOWN:
        fix = "write the plugin metadata with the tag's first value (every SummaryWriter method does)"
        if view.tag not in state.python.metadata:
            why = "no value of the tag carries plugin metadata"
        elif plugin and plugin not in CLASS_OF_PLUGIN:
            why = f"plugin {plugin!r} has no data class TensorBoard knows and the metadata sets none"
            fix = UNKNOWN_PLUGIN_FIX
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
