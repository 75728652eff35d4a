"""A run's event files, read for both of TensorBoard's loaders: what each keeps of each
tag, and the findings. Records go through protobuf one by one, the loaders' rules
(``default_loader``, ``python_loader``) applied in file order; plain scalar events (most
records of most files) are taken in bulk, tag by tag, between the others.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from eventwriter.columns import PlainScalars, plain_scalars
from eventwriter.proto.event_pb2 import Event
from eventwriter.proto.summary_pb2 import DATA_CLASS_BLOB_SEQUENCE, DATA_CLASS_TENSOR, DATA_CLASS_UNKNOWN, Summary
from eventwriter.record import FOOTER_SIZE, HEADER_SIZE, footer
from eventwriter.visibility.default_loader import DEFAULT_KEEPS, DefaultSeries, default_event, default_plain
from eventwriter.visibility.findings import BOTH, DEFAULT, PYTHON, Effect, Finding
from eventwriter.visibility.kinds import CLASS_OF_PLUGIN, IMPLIED, UNKNOWN_PLUGIN_FIX, Losses
from eventwriter.visibility.python_loader import PythonRun, PythonSeries, odd_kind, python_event, python_plain
from eventwriter.visibility.wire import prost_decodes

__all__ = ["BULK", "MAX_EVENT_BYTES", "RunCheck", "TagView", "check_run"]

MAX_EVENT_BYTES = (1 << 31) - 1  # protobuf's limit on one message


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
    exact: dict[str, bool] = field(default_factory=dict)  # False: ``shown`` is only an upper bound


@dataclass
class _Run:
    name: str
    views: dict[str, TagView] = field(default_factory=dict)
    default: dict[str, DefaultSeries] = field(default_factory=dict)
    python: PythonRun = field(default_factory=PythonRun)
    unread: dict[str, dict[str, Losses]] = field(default_factory=lambda: {DEFAULT: {}, PYTHON: {}})
    python_stopped: tuple[str, str] | None = None  # the Python loader died at a record that is no Event
    findings: list[Finding] = field(default_factory=list)
    listed: bool = False  # the default loader has read an event with a finite wall time
    contents: dict[str, bytes] = field(default_factory=dict)  # an hparams tag's first plugin content
    other_contents: dict[str, list[int]] = field(default_factory=dict)  # tag -> [later other contents, first step]

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


@dataclass
class RunCheck:
    """What ``check_run`` found: the run's tags, the findings, and whether the default
    loader lists the run at all (it does only if some event has a finite wall time)."""

    tags: list[TagView]
    findings: list[Finding]
    listed: bool


def check_run(run: str, files: Iterable[tuple[str, bytes]]) -> RunCheck:
    """What each loader keeps of a run's tags, and the findings, from its event files'
    (path, bytes) in name order."""
    state = _Run(run)
    spans: list[tuple[str, float, float]] = []
    for path, data in files:
        span = _read_file(state, path, data)
        if span is not None:
            spans.append((path.rsplit("/", 1)[-1], *span))
    findings = state.findings + _overlaps(run, spans) + _tag_findings(state)
    return RunCheck(list(state.views.values()), findings, state.listed)


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
    _check_tail(state, file, data, records)
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


def _check_tail(state: _Run, file: _File, data: bytes, records: PlainScalars) -> None:
    """A record header after the last whole record, whose length CRC holds but whose
    length no Event can have: both loaders try to take that much."""
    end = int(records.starts[-1] + records.lengths[-1]) + FOOTER_SIZE if len(records.starts) else 0
    header = data[end : end + HEADER_SIZE]
    if records.problems or len(header) < HEADER_SIZE or footer(header[:8]) != header[8:]:
        return
    (length,) = struct.unpack("<Q", header[:8])
    if length > MAX_EVENT_BYTES:
        state.findings.append(
            Finding(
                state.name,
                file.name,
                BOTH,
                Effect.LOST,
                f"the record at byte {end} claims {length} bytes, more than any Event can hold, and its length "
                "CRC matches: TensorBoard tries to read that much (the default loader's data server runs out of "
                "memory or stops loading, and TensorBoard exits; the Python loader fails), so the log dir may "
                "show nothing",
                "the bytes are damaged: cut the file at that byte, or restore it from a copy",
            )
        )


_NO_CLIP_FIX = "give every audio value a clip"
_LONG_VARINT = re.compile(rb"[\x80-\xff]{9}[\x02-\x7f]")  # nine continued bytes, then a last one above 1

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
    if reading[DEFAULT]:
        # Only bytes that are no canonical encoding (unknown fields dropped, the rest written
        # again) or that hold what may be a varint of more than 64 bits are walked.
        event.DiscardUnknownFields()
        payload = data[start : start + length]
        if (event.ByteSize() != length or _LONG_VARINT.search(payload)) and not prost_decodes(payload):
            _end(ended, reading, DEFAULT, file.name, offset, "a record the data server's decoder refuses")
    if reading[DEFAULT] and math.isnan(event.wall_time):
        _end(ended, reading, DEFAULT, file.name, offset, "an event whose wall_time is NaN")
    for loader in (DEFAULT, PYTHON):
        if not reading[loader] and loader in ended:
            _lose_event(state, event, loader, *ended[loader])
    if reading[DEFAULT]:
        state.listed |= math.isfinite(event.wall_time)
        default_event(state.default, state.unread[DEFAULT], event)
    if reading[PYTHON]:
        python_event(state.python, event, file.initial)
        _check_node_names(state, event)
    if event.WhichOneof("what") == "summary":
        file.saw(event.wall_time)
        for value in event.summary.value:
            state.view(value, event.step)
            if value.metadata.plugin_data.plugin_name == "hparams":
                content = value.metadata.plugin_data.content
                if state.contents.setdefault(value.tag, content) != content:
                    state.other_contents.setdefault(value.tag, [0, event.step])[0] += 1


def _check_node_names(state: _Run, event: Event) -> None:
    """A value with an empty tag and a node_name: the Python loader files its data under
    the node name and its metadata under the empty tag, and then fails listing tags."""
    for value in event.summary.value if event.WhichOneof("what") == "summary" else ():
        if not value.tag and value.node_name and not any(f.subject == "''" for f in state.findings):
            state.findings.append(
                Finding(
                    state.name,
                    "''",
                    PYTHON,
                    Effect.LOST,
                    f"a value with an empty tag and node_name {value.node_name!r}: the Python loader files its "
                    "data under the node name and its metadata under the empty tag, and its tag lists (the "
                    "scalars and time series dashboards) then fail for every run (HTTP 500)",
                    "give every value a tag",
                )
            )


def _plain_events(state: _Run, file: _File, data: bytes, records: PlainScalars, start: int, end: int) -> None:
    """Records ``start`` to ``end``, plain scalar events all, tag by tag: within such a
    stretch no tag's values bear on another's (but for the Python loader's purge in files
    before ``brain.Event:2``, which the stretch then goes through one by one)."""
    python = state.python
    if file.reading[PYTHON] and not (python.file_version is not None and python.file_version >= 2):
        for index in range(start, end):
            _record(state, file, data, records, index)
        return
    state.listed |= file.reading[DEFAULT]
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
    "a record the data server's decoder refuses": "the record holds a field of the wrong wire type or a varint of "
    "more than 64 bits (damaged bytes, or a writer's fault): restore the file, or fix the writer",
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
            view.exact.setdefault(loader, True)
        if tag in state.other_contents:
            count, first_step = state.other_contents[tag]
            findings.append(
                Finding(
                    state.name,
                    tag,
                    BOTH,
                    Effect.LOST,
                    "hyperparameters written again under the same tag with others: the hparams dashboard reads "
                    "only the tag's first metadata, so the later ones are not shown",
                    "log the hyperparameters once per run, all of them (each add_hparams call makes a run of its own)",
                    count,
                    view.values,
                    first_step,
                )
            )
        for loader in (DEFAULT, PYTHON):
            if tag in state.unread[loader]:
                _report(state, view, loader, state.unread[loader][tag], findings)
    return findings


def _report(state: _Run, view: TagView, loader: str, losses: Losses, findings: list[Finding]) -> None:
    for (reason, fix), (count, first_step) in losses.lost.items():
        findings.append(Finding(state.name, view.tag, loader, Effect.LOST, reason, fix, count, view.values, first_step))
    if losses.replaced:
        who = (
            "the default loader shows the later ones"
            if loader == DEFAULT
            else "the Python loader shows the later ones (it replaces values only after a second "
            "SessionLog.START, or in files older than brain.Event:2)"
        )
        findings.append(
            Finding(
                state.name,
                view.tag,
                loader,
                Effect.REPLACED,
                f"values written again at the same or an earlier step (a restart, or a step logged twice): {who}",
                "pass increasing global_step values, unless a restart meant to replace them",
                losses.replaced,
                view.values,
                losses.replaced_from,
            )
        )


def _sampled(
    state: _Run, view: TagView, loader: str, kept: int, keeps: int, findings: list[Finding], exact: bool = True
) -> int:
    """How many of ``kept`` values a loader keeping ``keeps`` holds (reported if it
    samples); ``exact``: False when the sample, once full, lost values to drops or
    replacements, so that fewer may stay."""
    view.exact[loader] = exact
    if kept <= keeps:
        return kept
    plugin = view.plugin or "PLUGIN"
    fewer = "" if exact else " (fewer, where values were dropped or replaced after the sample filled)"
    findings.append(
        Finding(
            state.name,
            view.tag,
            loader,
            Effect.SAMPLED,
            f"{kept} values, more than the {keeps} kept per tag: a random sample is shown, the last value "
            f"always{fewer}",
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
    if series.route_fails is not None:
        lost = sum(series.valid)
        findings.append(Finding(state.name, view.tag, DEFAULT, Effect.LOST, *series.route_fails, lost, view.values))
        return 0
    valid = sum(series.valid)
    if valid and series.plugin and series.plugin not in CLASS_OF_PLUGIN:
        findings.append(
            Finding(
                state.name, view.tag, BOTH, Effect.NOTE, f"plugin {series.plugin!r}: no built-in dashboard shows it"
            )
        )
    keeps = DEFAULT_KEEPS[series.data_class]
    return min(valid, _sampled(state, view, DEFAULT, len(series.steps), keeps, findings, series.exact))


def _python_shown(state: _Run, view: TagView, series: PythonSeries | None, findings: list[Finding]) -> int:
    if series is None:
        stored_none = view.values - sum(
            count for count, _ in state.unread[PYTHON].get(view.tag, Losses()).lost.values()
        )
        if stored_none > 0:  # values without data: nothing to store
            findings.append(
                Finding(
                    state.name,
                    view.tag,
                    PYTHON,
                    Effect.LOST,
                    "the tag's values hold no data (torch's add_video writes such values when moviepy is "
                    "missing): the Python loader stores none of them",
                    "install moviepy for torch's add_video, or use eventwriter's add_video (Pillow alone)",
                    stored_none,
                    view.values,
                )
            )
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
    if series.unservable is None and data_class == DATA_CLASS_TENSOR:
        odd = next(
            (
                (step, what)
                for step, kind in zip(series.steps, series.kinds)
                if (what := odd_kind(kind, plugin, data_class))
            ),
            None,
        )
        if odd is not None:
            series.unservable = (
                f"{odd[1]} at step {odd[0]} under a {plugin} tag: the Python loader's route fails for the whole "
                "tag (HTTP 500)",
                "log each kind of data under its own tag",
            )
    _report(state, view, PYTHON, series.losses, findings)
    if series.unservable is not None:
        lost = len(series.steps)
        findings.append(Finding(state.name, view.tag, PYTHON, Effect.LOST, *series.unservable, lost, view.values))
        view.exact[PYTHON] = True
        return 0
    if data_class == DATA_CLASS_BLOB_SEQUENCE:
        return _python_blobs(state, view, series, plugin, findings)
    return _sampled(state, view, PYTHON, len(series.steps), series.keeps, findings, not series.purged_when_full)


def _python_blobs(state: _Run, view: TagView, series: PythonSeries, plugin: str, findings: list[Finding]) -> int:
    """Images and audio: the Python loader serves the first value of each step, and skips
    values of another kind."""
    first_fits: dict[int, bool] = {}
    odd: dict[str, list[int]] = {}  # what -> [count, first step]
    repeated, repeated_from = 0, None
    for step, kind in zip(series.steps, series.kinds):
        what = odd_kind(kind, plugin, DATA_CLASS_BLOB_SEQUENCE)
        if what is not None and plugin == "audio":  # the audio route fails on a value of no clip
            reason = f"{what} at step {step}: the audio route fails for the whole tag (HTTP 500)"
            lost = len(series.steps)
            findings.append(Finding(state.name, view.tag, PYTHON, Effect.LOST, reason, _NO_CLIP_FIX, lost, view.values))
            return 0
        if what is not None:
            odd.setdefault(what, [0, step])[0] += 1
        if step in first_fits:
            repeated += 1
            repeated_from = step if repeated_from is None else min(repeated_from, step)
        else:
            first_fits[step] = what is None
    for what, (count, first_step) in odd.items():
        reason = f"{what} under an {plugin} tag: the Python loader's route skips it"
        fix = "log each kind of data under its own tag"
        findings.append(Finding(state.name, view.tag, PYTHON, Effect.LOST, reason, fix, count, view.values, first_step))
    if repeated:
        findings.append(
            Finding(
                state.name,
                view.tag,
                PYTHON,
                Effect.REPLACED,
                "values at a step already used: the Python loader shows the first of each step (the default "
                "loader the last)",
                "pass a new global_step for each value",
                repeated,
                view.values,
                repeated_from,
            )
        )
    cap = _sampled(state, view, PYTHON, len(series.steps), series.keeps, findings, not series.purged_when_full)
    if cap < len(series.steps) and (repeated or odd):
        view.exact[PYTHON] = False  # the sample is taken before the steps are told apart
    return min(cap, sum(first_fits.values()))
