"""What TensorBoard will show of a log dir, and what it will drop, cut or replace.

``check_logdir`` reads every event file and projector config of a log dir (no
tensorboard needed) and predicts, per run and tag, what each of TensorBoard's two
loaders keeps: the Rust data server (the default) and the Python loader
(``--load_fast=false``). The rules, taken from tensorboard 2.21's source, are in
``eventwriter.visibility.default_loader`` and ``python_loader`` (event data) and ``eventwriter.visibility.projector``
(the projector's files); tests/interop/test_visibility_server.py checks each one against
the real server.

    from eventwriter.visibility import check_logdir
    report = check_logdir("runs")
    for finding in report.findings: ...
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from eventwriter.logdir import LOOP, SkippedEntry, find_event_files, open_regular
from eventwriter.storage.remote import is_url
from eventwriter.visibility.findings import BOTH, DEFAULT, LOADERS, PROJECTOR, PYTHON, Effect, Finding
from eventwriter.visibility.projector import check_projector
from eventwriter.visibility.runs import TagView, check_run

__all__ = [
    "BOTH",
    "DEFAULT",
    "LOADERS",
    "PROJECTOR",
    "PYTHON",
    "Effect",
    "Finding",
    "TagView",
    "Visibility",
    "check_logdir",
]


@dataclass
class Visibility:
    """What ``check_logdir`` found.

    Attributes:
        logdir: the log dir checked.
        loaders: the loaders that can read it (``DEFAULT`` only for local and ``gs://``
            log dirs; TensorBoard reads others with its Python loader alone).
        tags: every tag of every run, with what each loader keeps of it.
        findings: what a loader or the projector will not show as written.
        unread: entries that could not be read (their data is not counted).
    """

    logdir: str
    loaders: tuple[str, ...]
    tags: list[TagView] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    unread: list[SkippedEntry] = field(default_factory=list)

    @property
    def loses_data(self) -> bool:
        """Whether some loader (or the projector) will never show some of the data."""
        return any(finding.effect is Effect.LOST for finding in self.findings)


def check_logdir(logdir: str | os.PathLike[str], *, storage_options: Mapping[str, Any] | None = None) -> Visibility:
    """Predict what TensorBoard's loaders and projector will show of ``logdir``.

    Args:
        logdir: a log dir (local or a URL), or a single event file.
        storage_options: for a URL log dir, the options of its fsspec file system.

    Raises:
        FileNotFoundError: ``logdir`` does not exist.
        OSError: ``logdir`` cannot be listed.
    """
    logdir = os.fspath(logdir)
    remote = is_url(logdir)
    loaders = LOADERS if not remote or logdir.startswith("gs://") else (PYTHON,)
    report = Visibility(logdir, loaders)
    runs = find_event_files(logdir, skipped=report.unread, storage_options=storage_options)
    unlisted = set()
    for run, paths in runs.items():
        checked = check_run(run, _contents(paths, storage_options, report.unread))
        report.tags.extend(checked.tags)
        report.findings.extend(finding for finding in checked.findings if finding.loader in (*loaders, BOTH))
        if not checked.listed:
            unlisted.add(run)
    report.findings.extend(_entries(logdir, report.unread))
    if not remote and os.path.isdir(logdir):
        report.findings.extend(f for f in check_projector(logdir, runs, unlisted) if f.loader in (*loaders, PROJECTOR))
    if not remote and os.path.isfile(logdir):
        report.findings.append(
            Finding(
                ".",
                os.path.basename(logdir),
                BOTH,
                Effect.LOST,
                "TensorBoard takes a directory: given an event file as --logdir it shows nothing (the Python "
                "loader refuses it, the default loader finds no runs)",
                f"start tensorboard with --logdir {os.path.dirname(logdir) or '.'}",
            )
        )
    if remote and loaders == (PYTHON,):
        scheme = logdir.split("://", 1)[0]
        report.findings.append(
            Finding(
                ".",
                logdir,
                PYTHON,
                Effect.NOTE,
                f"TensorBoard reads {scheme}:// log dirs with its Python loader only (--load_fast=true refuses them)",
            )
        )
    return report


def _entries(logdir: str, unread: list[SkippedEntry]) -> list[Finding]:
    """Entries of the log dir that the Python loader trips on: a FIFO named like an event
    file, which it opens and waits on forever; a symlink loop, which it walks round."""
    findings = []
    for entry in unread:
        if entry.reason == LOOP:
            findings.append(
                Finding(
                    os.path.relpath(os.path.dirname(entry.path), logdir),
                    os.path.basename(entry.path),
                    PYTHON,
                    Effect.NOTE,
                    "a symlink to a directory above it: the Python loader follows the loop and lists the runs "
                    "below it again and again under longer names, until the system refuses the path (the default "
                    "loader, and this check, read them once)",
                    "remove the link",
                )
            )
        if "FIFO" in entry.reason:
            run = os.path.relpath(os.path.dirname(entry.path), logdir)
            findings.append(
                Finding(
                    run,
                    os.path.basename(entry.path),
                    PYTHON,
                    Effect.LOST,
                    "a FIFO named like an event file: the Python loader opens it and waits for a writer forever, "
                    "so it never finishes loading (with --reload_task blocking, TensorBoard never starts)",
                    "remove it, or give it a name without 'tfevents'",
                )
            )
    return findings


def _contents(
    paths: list[str], storage_options: Mapping[str, Any] | None, unread: list[SkippedEntry]
) -> Iterator[tuple[str, bytes]]:
    for path in paths:
        try:
            with open_regular(path, storage_options) as handle:
                data = handle.read()
        except OSError as exc:
            unread.append(SkippedEntry.from_error(path, exc))
            continue
        yield path, data
