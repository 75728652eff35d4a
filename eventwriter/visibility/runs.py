"""A run's event files, read for both of TensorBoard's loaders, in file order: records go
through protobuf one by one, the loaders' rules (``default_loader``, ``python_loader``)
applied to each; plain scalar events (most records of most files) are taken in bulk, tag
by tag, between the others. What is found while reading (damage, a loader stopping) is
a finding here; what each loader then shows of each tag is ``verdicts``'.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from eventwriter.columns import LONG_VARINT, PlainScalars, plain_scalars
from eventwriter.proto.event_pb2 import Event
from eventwriter.proto.hparams_pb2 import HParamsPluginData
from eventwriter.record import FOOTER_SIZE, HEADER_SIZE, footer
from eventwriter.visibility.default_loader import default_event, default_plain
from eventwriter.visibility.findings import BOTH, DEFAULT, PYTHON, Effect, Finding
from eventwriter.visibility.kinds import Losses
from eventwriter.visibility.python_loader import python_event, python_plain
from eventwriter.visibility.state import RunState, TagView
from eventwriter.visibility.verdicts import tag_findings
from eventwriter.visibility.wire import prost_decodes

__all__ = ["BULK", "MAX_EVENT_BYTES", "RunCheck", "TagView", "check_run"]

MAX_EVENT_BYTES = (1 << 31) - 1  # protobuf's limit on one message


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
    state = RunState(run)
    spans: list[tuple[str, float, float]] = []
    for path, data in files:
        span = _read_file(state, path, data)
        if span is not None:
            spans.append((path.rsplit("/", 1)[-1], *span))
    findings = state.findings + _overlaps(run, spans) + tag_findings(state)
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


def _read_file(state: RunState, path: str, data: bytes) -> tuple[float, float] | None:
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


def _check_tail(state: RunState, file: _File, data: bytes, records: PlainScalars) -> None:
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


BULK = True  # take plain scalar events in bulk (tests switch it off to compare)


def _record(state: RunState, file: _File, data: bytes, records: PlainScalars, index: int) -> None:
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
        if (event.ByteSize() != length or LONG_VARINT.search(payload)) and not prost_decodes(payload):
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
                content = _hparams_key(value.metadata.plugin_data.content)
                if state.contents.setdefault(value.tag, content) != content:
                    state.other_contents.setdefault(value.tag, [0, event.step])[0] += 1


def _check_node_names(state: RunState, event: Event) -> None:
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


def _hparams_key(content: bytes) -> bytes:
    """The hparams a plugin content holds, in a form that is the same for the same
    hparams: infos sorted by name, maps in key order, creation and start times left out."""
    try:
        data = HParamsPluginData.FromString(content)
    except Exception:  # no HParamsPluginData: compared as it is
        return content
    experiment = data.experiment
    infos = sorted(info.SerializeToString(deterministic=True) for info in experiment.hparam_infos)
    infos += sorted(info.SerializeToString(deterministic=True) for info in experiment.metric_infos)
    del experiment.hparam_infos[:], experiment.metric_infos[:]
    experiment.time_created_secs = 0
    if data.HasField("session_start_info"):
        data.session_start_info.start_time_secs = 0
    return b"\0".join([data.SerializeToString(deterministic=True), *infos])


def _plain_events(state: RunState, file: _File, data: bytes, records: PlainScalars, start: int, end: int) -> None:
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


def _plain_view(state: RunState, tag: str, steps: np.ndarray) -> None:
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


def _lose_event(state: RunState, event: Event, loader: str, reason: str, fix: str) -> None:
    if event.WhichOneof("what") != "summary":
        return
    unread = state.unread[loader]
    for value in event.summary.value:
        unread.setdefault(value.tag, Losses()).lose(reason, fix, event.step)
