"""Runs: every run directory one SummaryWriter writes, all below its log dir.

torch's layout, which users' dashboards depend on: the writer's own run is ``log_dir``;
``add_scalars`` writes one sub-run per key at ``{log_dir}/{main_tag with / as _}_{key}``;
``add_hparams`` writes a child run ``{log_dir}/{run_name}``; embeddings go into
``log_dir`` itself. Child directories are named from user strings in one place,
``Runs.child``, which refuses any that would leave the log dir.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from eventwriter import forks
from eventwriter.convert import describe
from eventwriter.errors import WriterClosedError
from eventwriter.event_file import read_clock
from eventwriter.file_writer import FileWriter
from eventwriter.proto.event_pb2 import Event, SessionLog
from eventwriter.proto.summary_pb2 import Summary
from eventwriter.ranks import place
from eventwriter.run import Run, RunOptions
from eventwriter.storage import resolves_inside

__all__ = ["MAX_NAME_BYTES", "Runs", "default_log_dir"]

MAX_NAME_BYTES = 255  # the longest file name most file systems take


def default_log_dir(options: RunOptions, comment: str) -> str:
    """torch's default: ``runs/<Mon><DD>_<HH-MM-SS>_<hostname><comment>``, local time."""
    stamp = datetime.fromtimestamp(read_clock(options.clock)).strftime("%b%d_%H-%M-%S")
    hostname = socket.gethostname() if options.hostname is None else options.hostname
    return options.storage.join("runs", f"{stamp}_{hostname}{comment}")


class Runs:
    """The runs of one SummaryWriter, made with the same options.

    The writer's own run is opened at once (unless ``opened`` is False: a copy made by
    pickling opens on first use) and again on first use after ``close()`` (a new event
    file, as torch does); sub-runs are made on first use. ``close`` closes them all and
    raises the first error. In a forked child the runs of the parent are left to it, and
    the child's first use opens its own, as a copy does.

    Args:
        log_dir: the writer's log dir, before ``ranks`` places it (eventwriter.ranks).
        options: how every run creates its files.
        purge_step: written once at the start of the writer's own run (torch's
            ``purge_step``: TensorBoard hides this run's earlier events from that step on).
        ranks: which ranks write, and where (eventwriter.ranks.MODES).
        opened: open the writer's own run now (reading the rank now).
    """

    def __init__(
        self,
        log_dir: str,
        options: RunOptions,
        purge_step: int | None = None,
        *,
        ranks: str = "all",
        opened: bool = True,
    ) -> None:
        self.base, self.ranks, self.given = log_dir, ranks, options
        self._log_dir, self.options = log_dir, options  # placed by the first open()
        self.main: Run | None = None  # None after close()
        self._purge_step = purge_step
        self._writers: dict[str, FileWriter] | None = None
        self._scalars_runs: dict[tuple[str, str], Run] = {}  # (main_tag, key) -> sub-run
        self._closing: list[FileWriter] = []  # detached by close(), not yet closed
        self._lock = threading.RLock()
        self._placed = False  # the rank is read at the first open in this process
        self._lazy = not opened  # a copy that neither opened nor closed yet: ``writers`` opens it
        forks.register(self)
        if opened:
            self.open()

    def _after_fork_in_child(self) -> None:  # see eventwriter.forks
        # The parent's files and queues stay the parent's: never closed or flushed here.
        self._lock = threading.RLock()
        self.main, self._writers, self._scalars_runs, self._closing = None, None, {}, []
        self._purge_step = None
        self._placed, self._lazy = False, True

    @property
    def log_dir(self) -> str:
        """The writer's run directory; until the first open, where it would be now (the
        rank is read then)."""
        return self._log_dir if self._placed else place(self.base, self.ranks, self.given)[0]

    @property
    def writers(self) -> dict[str, FileWriter] | None:
        """FileWriters by run directory (torch's ``all_writers``); None after close().
        An unused copy opens its runs here."""
        if self._lazy:
            self.open()
        return self._writers

    def open(self) -> Run:
        """The writer's own run, opened anew if closed."""
        with self._lock:
            if self.main is None or self._writers is None:
                if not self._placed:
                    self._log_dir, self.options = place(self.base, self.ranks, self.given)
                    self._placed = True
                writer = FileWriter.of(Run(self._log_dir, self.options), self.base, self.ranks, self.given)
                self._lazy = False
                if self._purge_step is not None:
                    step, self._purge_step = self._purge_step, None
                    writer.add_event(Event(step=step, file_version="brain.Event:2"))
                    writer.add_event(Event(step=step, session_log=SessionLog(status=SessionLog.START)))
                self._writers = {self.log_dir: writer}
                self.main = writer.run
            return self.main

    def main_writer(self) -> FileWriter:
        """The FileWriter of the writer's own run, opened anew if closed."""
        with self._lock:
            self.open()
            return self._writers[self.log_dir]  # type: ignore[index]  # set by open()

    def child(self, relative: str, what: str, *, allow_base: bool = False) -> str:
        """The path of ``relative`` below the log dir.

        Raises:
            ValueError: the path would leave the log dir (or be the log dir itself,
                unless ``allow_base``), holds NUL or a lone surrogate, or names a
                directory of over 255 bytes; ``what`` starts the message.
        """
        if "\0" in relative:
            raise ValueError(f"{what} cannot name a directory: it holds a NUL character")
        try:
            relative.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"{what} cannot name a directory: it holds a lone surrogate at {exc.start}") from None
        path = self.options.storage.join(self.log_dir, relative)
        if not resolves_inside(self.log_dir, path, allow_base=allow_base):
            raise ValueError(f"{what} would place its run at {path!r}, outside the log dir {self.log_dir!r}")
        longest = max(len(part.encode("utf-8")) for part in relative.split("/"))
        if longest > MAX_NAME_BYTES:
            raise ValueError(f"{what} makes a directory name of {longest} bytes; file systems allow {MAX_NAME_BYTES}")
        return path

    def scalars_runs(self, main_tag: str, keys: Iterable[Any]) -> list[Run]:
        """The ``add_scalars`` sub-run of each key, made if new; every key is checked
        before any run is made.

        Raises:
            TypeError: a key is not a str.
            ValueError: a key would place its run outside the log dir.
        """
        known = self._scalars_runs
        try:  # the common case: every key seen before, its path already checked
            return [known[main_tag, key] for key in keys]
        except (KeyError, TypeError):
            pass
        if not self._placed:
            self.open()  # the rank places the log dir, and sub-runs below it
        paths = []
        for key in keys:
            if not isinstance(key, str):
                raise TypeError(f"{main_tag!r}: add_scalars keys must be str, got {describe(key)}")
            what = f"{main_tag!r}: add_scalars key {key!r}"
            relative = main_tag.replace("/", "_") + "_" + key
            paths.append((key, relative, self.child(relative, what)))
        with self._lock:  # one sub-run per path however many threads ask at once
            self.open()
            writers: dict[str, FileWriter] = self._writers  # type: ignore[assignment]  # set by open()
            known = self._scalars_runs  # not the one read above if close() ran since
            for key, relative, path in paths:
                writer = writers.get(path)
                if writer is None:
                    run = Run(path, self.options)
                    writer = writers[path] = FileWriter.of(run, self.base, self.ranks, self.given, relative)
                known[main_tag, key] = writer.run
            return [known[main_tag, key] for key, _, _ in paths]

    def hparams_run(self, run_name: Any) -> Run:
        """A new run at ``{log_dir}/{run_name}`` for one hparams session; the caller
        closes it. ``run_name`` may name the log dir itself (``"."``).

        Raises:
            TypeError: ``run_name`` is not a str.
            ValueError: ``run_name`` would place the run outside the log dir.
        """
        if not isinstance(run_name, str):
            raise TypeError(f"run_name must be a str, got {describe(run_name)}")
        if not self._placed:
            self.open()
        return Run(self.child(run_name, f"run_name {run_name!r}", allow_base=True), self.options)

    def write_session(
        self, sessions: Iterable[Summary], metrics: dict[str, float], step: int | None, run_name: str | None
    ) -> None:
        """Write one hparams session and its metrics: into a child run ``{log_dir}/{run_name}``
        (closed afterwards), or with ``run_name`` None into the writer's own run.

        Raises:
            TypeError, ValueError: a bad ``run_name`` (see ``hparams_run``).
        """
        run = self.open() if run_name is None else self.hparams_run(run_name)
        clock = self.options.clock
        try:
            for built in sessions:
                run.write_summary(built, step, clock())
            for name, value in metrics.items():
                run.write_scalar(name, value, step, clock())
        finally:
            if run_name is not None:
                run.close()

    def flush(self) -> None:
        """Return once everything logged so far is written; the first error is raised
        after every run was flushed."""
        with self._lock:  # other threads may be adding sub-runs
            writers = None if self._writers is None else list(self._writers.values())
        if writers is not None:
            _each(writers, _flush_unless_closed)

    def close(self) -> None:
        """Close every run; later calls do nothing. Every run is closed even if closing
        one fails; the first error is raised. If interrupted (Ctrl-C), the next call
        closes the runs still open."""
        with self._lock:
            if self._writers is not None:
                self._closing += self._writers.values()
            self._writers, self.main, self._lazy = None, None, False
            self._scalars_runs = {}
        error: Exception | None = None
        while self._closing:  # another thread may be closing them too: closing is idempotent
            writer = self._closing[0]
            try:
                writer.close()
            except Exception as exc:
                error = error or exc
            with contextlib.suppress(ValueError):  # not reached if interrupted: the next call goes on
                self._closing.remove(writer)
        if error is not None:
            raise error


def _flush_unless_closed(writer: FileWriter) -> None:
    try:
        writer.flush()
    except WriterClosedError:  # closed by another thread since: close() wrote everything
        pass


def _each(writers: list[FileWriter], method: Any) -> None:
    error: BaseException | None = None
    for writer in writers:
        try:
            method(writer)
        except Exception as exc:
            error = error or exc
    if error is not None:
        raise error
