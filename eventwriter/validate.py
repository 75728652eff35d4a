"""``eventwriter validate``: are the files sound, and what will TensorBoard show of them.

    eventwriter validate LOGDIR                 every record of every event file
    eventwriter validate --tensorboard LOGDIR   also what each of TensorBoard's loaders and
                                                its projector will drop, cut or replace
    eventwriter validate ... --json             the same as one JSON document

Exit status: 0 sound; 1 a corrupt record, or an entry that could not be read;
3 (with ``--tensorboard``) the files are sound but TensorBoard will lose data: some
values are never shown by a loader, or the projector refuses an embedding. Sampling of
long series and values replaced by a restart are reported but leave the status 0.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from eventwriter.logdir import SkippedEntry, find_event_files, series_of
from eventwriter.reader import FileReport, scan_file
from eventwriter.visibility import DEFAULT, PYTHON, Effect, Finding, Visibility, check_logdir

__all__ = ["LOSES_DATA", "validate"]

LOSES_DATA = 3  # the exit status for sound files of which TensorBoard will not show everything

_LOADER_NAMES = {
    DEFAULT: "default loader",
    PYTHON: "--load_fast=false",
    "both": "both loaders",
    "projector": "projector",
}


def validate(logdir: str, out: TextIO, *, tensorboard: bool = False, as_json: bool = False) -> int:
    """Check ``logdir``, print the results on ``out``, return the exit status."""
    skipped: list[SkippedEntry] = []
    files = [path for paths in find_event_files(logdir, skipped=skipped).values() for path in paths]
    checked, unread = _scan(files, skipped)
    unchecked = sum(not entry.searched for entry in unread)
    corrupt = sum(not file.sound for file in checked)
    visibility = check_logdir(logdir) if tensorboard else None
    status = 1 if corrupt or unchecked else (LOSES_DATA if visibility is not None and visibility.loses_data else 0)
    try:
        if as_json:
            json.dump(_document(logdir, checked, unread, visibility, status), out, indent=1, default=_json_number)
            out.write("\n")
        else:
            _write(logdir, files, checked, unread, visibility, out)
    except BrokenPipeError as exc:  # the reader went away (| head): the status still tells
        exc.status = status  # type: ignore[attr-defined]
        raise
    return status


def _write(
    logdir: str,
    files: list[str],
    checked: list[_Checked],
    unread: list[SkippedEntry],
    visibility: Visibility | None,
    out: TextIO,
) -> None:
    unchecked = sum(not entry.searched for entry in unread)
    corrupt = sum(not file.sound for file in checked)
    for entry in unread:
        what = "note:" if entry.searched else "skipped"
        print(f"eventwriter validate: {what} {entry.path}: {entry.reason}", file=sys.stderr)
    if not files and not unchecked:
        print(f"{logdir}: no event files", file=out)
        return
    for file in checked:
        _print_file(file, out)
    could_not = f", {unchecked} could not be checked (see stderr)" if unchecked else ""
    print(f"{len(checked)} file(s) checked, {corrupt} corrupt{could_not}", file=out)
    if visibility is not None:
        _print_visibility(visibility, out)


def _scan(files: list[str], skipped: list[SkippedEntry]) -> tuple[list[_Checked], list[SkippedEntry]]:
    """Each file's report; the entries that could not be read (and those only noted)."""
    unread = list(skipped)
    names = set(files)
    checked: list[_Checked] = []
    for index, path in enumerate(files):
        try:
            report = scan_file(path)
        except OSError as exc:  # gone since the listing, unreadable, an I/O error
            unread.append(SkippedEntry.from_error(path, exc))
            continue
        series = series_of(path, names) or path
        following = files[index + 1] if index + 1 < len(files) else None
        followed = following is not None and series_of(following, names) == series
        checked.append(
            _Checked(report, later_object=series != path, lost_tail=report.truncated is not None and followed)
        )
    return checked, unread


@dataclass(frozen=True)
class _Checked:
    """A file's report. ``later_object``: a later object of an event file written as a
    series of objects (no first event of its own); ``lost_tail``: its truncated tail is
    followed by more objects of its series, so the records cut off are lost."""

    report: FileReport
    later_object: bool
    lost_tail: bool

    @property
    def sound(self) -> bool:
        return self.report.sound and not self.lost_tail


def _print_file(checked: _Checked, out: TextIO) -> None:
    report = checked.report
    print(
        f"{'ok' if checked.sound else 'CORRUPT'}: {report.path} ({report.records} records, {report.size} bytes)",
        file=out,
    )
    for problem in report.problems:
        print(f"  corrupt record at byte {problem.offset}: {problem.reason}", file=out)
    if report.truncated is not None:
        why = (
            "later objects of this event file follow: the records cut off are lost"
            if checked.lost_tail
            else "normal while a writer is running; not corruption"
        )
        print(f"  truncated tail at byte {report.truncated.offset}: {report.truncated.reason} ({why})", file=out)
    if report.records and not report.first_event_ok and not checked.later_object:
        print("  note: the first event carries no file_version", file=out)


def _print_visibility(visibility: Visibility, out: TextIO) -> None:
    loaders = " and ".join(
        "the default loader (Rust data server)" if loader == DEFAULT else "the Python loader (--load_fast=false)"
        for loader in visibility.loaders
    )
    print(f"\nTensorBoard: what {loaders} will show", file=out)
    by_run: dict[str, dict[str, list[Finding]]] = {}
    for finding in visibility.findings:
        by_run.setdefault(finding.run, {}).setdefault(finding.subject, []).append(finding)
    tags_of_run: dict[str, int] = {}
    for tag_view in visibility.tags:
        tags_of_run[tag_view.run] = tags_of_run.get(tag_view.run, 0) + 1
    views = {(tag_view.run, tag_view.tag): tag_view for tag_view in visibility.tags}
    for run in sorted(set(tags_of_run) | set(by_run)):
        subjects = by_run.get(run, {})
        print(f"run {run!r}: {tags_of_run.get(run, 0)} tag(s), {len(subjects)} with findings", file=out)
        for subject, findings in subjects.items():
            view = views.get((run, subject))
            if view is not None:
                shown = ", ".join(
                    f"{_LOADER_NAMES[loader]} {'' if view.exact.get(loader, True) else 'at most '}{view.shown[loader]}"
                    for loader in visibility.loaders
                )
                print(f"  {subject!r} ({view.plugin or 'no plugin'}): {view.values} value(s); shown: {shown}", file=out)
            else:
                print(f"  {subject}", file=out)
            for line in _finding_lines(findings):
                print(line, file=out)
    lost = sum(1 for run in by_run.values() for found in run.values() if any(f.effect is Effect.LOST for f in found))
    verdict = f"data of {lost} tag(s) or file(s) will not be shown" if lost else "nothing will be lost"
    print(f"TensorBoard: {len(visibility.tags)} tag(s) in {len(tags_of_run)} run(s); {verdict}", file=out)


def _finding_lines(findings: Sequence[Finding]) -> list[str]:
    """One entry per distinct finding; the same finding of both loaders is written once."""
    merged: dict[tuple[Any, ...], list[str]] = {}
    for finding in findings:
        key = (finding.effect, finding.reason, finding.fix, finding.count, finding.first_step)
        merged.setdefault(key, []).append(finding.loader)
    lines = []
    for (effect, reason, fix, count, first_step), loaders in merged.items():
        who = (
            "both loaders" if set(loaders) == {DEFAULT, PYTHON} else ", ".join(_LOADER_NAMES[name] for name in loaders)
        )
        how_many = ""
        if count is not None:
            finding = next(f for f in findings if f.reason == reason and f.count == count)
            how_many = f"{count}" + (f" of {finding.total}" if finding.total is not None else "") + " value(s)"
            how_many += f" from step {first_step}" if first_step is not None else ""
            how_many += ": "
        lines.append(f"    {effect.value.upper()} ({who}): {how_many}{reason}")
        if fix:
            lines.append(f"      fix: {fix}")
    return lines


def _document(
    logdir: str,
    checked: list[_Checked],
    unread: list[SkippedEntry],
    visibility: Visibility | None,
    status: int,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "logdir": logdir,
        "status": {0: "sound", 1: "corrupt", LOSES_DATA: "loses data"}[status],
        "exit_status": status,
        "files": [_file_entry(file) for file in checked],
        "unread": [{"path": entry.path, "reason": entry.reason, "searched": entry.searched} for entry in unread],
    }
    if visibility is not None:
        document["tensorboard"] = {
            "loaders": list(visibility.loaders),
            "tags": [
                {
                    "run": view.run,
                    "tag": view.tag,
                    "plugin": view.plugin,
                    "values": view.values,
                    "first_step": view.first_step,
                    "last_step": view.last_step,
                    "shown": view.shown,
                    "exact": view.exact,
                }
                for view in visibility.tags
            ],
            "findings": [finding.as_dict() for finding in visibility.findings],
        }
    return document


def _file_entry(checked: _Checked) -> dict[str, Any]:
    report, truncated = checked.report, checked.report.truncated
    return {
        "path": report.path,
        "sound": checked.sound,
        "records": report.records,
        "size": report.size,
        "problems": [{"offset": problem.offset, "reason": problem.reason} for problem in report.problems],
        "truncated": None if truncated is None else {"offset": truncated.offset, "reason": truncated.reason},
        "file_version": report.first_event_ok or checked.later_object,
    }


def _json_number(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
