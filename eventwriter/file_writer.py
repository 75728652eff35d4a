"""FileWriter: torch.utils.tensorboard's FileWriter API over a Run.

It takes Event and Summary objects of any protobuf class with ``SerializeToString``
(eventwriter's, tensorboard's, tensorboardX's): frameworks such as Lightning and
stable-baselines3 hand it summaries they built themselves.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from google.protobuf.message import Message

from eventwriter import forks
from eventwriter.convert import describe, to_step, to_walltime
from eventwriter.copies import added_state, copy_of, new_token
from eventwriter.errors import WriterClosedError
from eventwriter.event_file import EventFileWriter
from eventwriter.proto.event_pb2 import Event, TaggedRunMetadata
from eventwriter.proto.summary_pb2 import Summary
from eventwriter.ranks import check_ranks, place
from eventwriter.run import Run, RunOptions
from eventwriter.storage import Storage, storage_for

__all__ = ["FileWriter"]


def _convert(message: Any, cls: type[Message], what: str) -> Any:
    if isinstance(message, cls):
        return message
    serialize = getattr(message, "SerializeToString", None)
    if not callable(serialize):
        raise TypeError(f"{what} must be a protocol buffer {cls.__name__}, got {describe(message)}")
    return cls.FromString(serialize())


class FileWriter:
    """Writes Events and Summaries to an event file in ``log_dir``.

    Args:
        log_dir: directory of the event file (str or path-like).
        max_queue: pending events that make an ``add`` start a write at once.
        flush_secs: seconds between fsyncs of written data.
        filename_suffix: appended to the event file's name.
        storage: where the file goes (default: chosen from ``log_dir``, a path or an fsspec URL).
        storage_options: for a URL ``log_dir``, options of its fsspec file system.
        ranks: which ranks of a distributed job write, as for SummaryWriter (eventwriter.ranks).
        clock: seconds since the epoch, for the file name and default wall times.
        hostname, pid: identity in the file name (default: this machine and process).

    Pickled, or inherited by a forked child, it is a copy that writes its own event file
    in the same directory, opened on first use (eventwriter.copies).
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        max_queue: int = 10,
        flush_secs: float = 120,
        filename_suffix: str = "",
        *,
        storage: Storage | None = None,
        storage_options: Mapping[str, Any] | None = None,
        ranks: str = "all",
        clock: Callable[[], float] = time.time,
        hostname: str | None = None,
        pid: int | None = None,
    ) -> None:
        check_ranks(ranks)
        directory = os.fspath(log_dir)
        if storage is not None and storage_options is not None:
            raise ValueError("give storage or storage_options, not both")
        options = RunOptions(
            storage=storage if storage is not None else storage_for(directory, storage_options),
            max_queue=max_queue,
            flush_secs=flush_secs,
            filename_suffix=filename_suffix,
            clock=clock,
            hostname=hostname,
            pid=pid,
        )
        self._made = (new_token(), directory, ranks, options, "")
        self._run: Run | None = Run(*place(directory, ranks, options))
        self._closed = False  # close() of a copy never used
        self._lock = threading.Lock()  # a copy's first use in two threads opens one run
        forks.register(self)

    @classmethod
    def of(cls, run: Run, log_dir: str, ranks: str, options: RunOptions, below: str = "") -> FileWriter:
        """The FileWriter of a SummaryWriter's run ``below`` its ``log_dir`` (placed by
        ``ranks``). Pickled or forked, it is a copy that writes its own file in the run
        that ``ranks`` gives the process that uses it."""
        writer = cls.__new__(cls)
        writer._made, writer._run = (new_token(), log_dir, ranks, options, below), run
        writer._lock, writer._closed = threading.Lock(), False
        forks.register(writer)
        return writer

    @property
    def run(self) -> Run:
        """The run written; a copy opens it on first use."""
        run = self._run
        if run is None:
            if self._closed:
                raise WriterClosedError(f"the FileWriter of {self.get_logdir()} is closed; reopen() continues")
            with self._lock:
                if self._run is None:
                    self._run = Run(*place(*self._made[1:]))
                run = self._run
        return run

    def _after_fork_in_child(self) -> None:  # see eventwriter.forks: the parent's file stays the parent's
        self._run, self._lock, self._closed = None, threading.Lock(), False

    def __reduce__(self) -> Any:
        """Pickled, a FileWriter is what makes it; see eventwriter.copies."""
        return (_copy, (type(self), *self._made), added_state(self, _OWN_ATTRIBUTES))

    @property
    def event_writer(self) -> EventFileWriter:
        """The run's current event file (torch's attribute of that name)."""
        return self.run.events

    def get_logdir(self) -> str:
        """The directory of the event file."""
        if self._run is None:  # a copy not used yet: where it will write
            return place(*self._made[1:])[0]
        return self._run.directory

    def add_event(self, event: Any, step: Any = None, walltime: Any = None) -> None:
        """Write an Event, setting its wall time (now, or ``walltime``) and ``step``.

        As in torch, an eventwriter Event passed in is modified in place.
        """
        event = _convert(event, Event, "event")
        event.wall_time = self.run.clock() if walltime is None else to_walltime("event", walltime)
        if step is not None:
            event.step = to_step("event", step)
        self.run.write_event(event)

    def add_summary(self, summary: Any, global_step: Any = None, walltime: Any = None) -> None:
        """Write a Summary in an Event with ``global_step`` and ``walltime``."""
        self.add_event(Event(summary=_convert(summary, Summary, "summary")), global_step, walltime)

    def add_graph(self, graph_profile: Any, walltime: Any = None) -> None:
        """Write a ``(GraphDef, RunMetadata)`` pair as torch's ``add_graph`` does.

        The graph goes in a ``graph_def`` event, the run metadata in a
        ``tagged_run_metadata`` event with tag "step1".
        """
        graph, run_metadata = graph_profile
        # deterministic: map entries (a node's attrs) in key order, the same bytes every run
        self.add_event(Event(graph_def=graph.SerializeToString(deterministic=True)), None, walltime)
        tagged = TaggedRunMetadata(tag="step1", run_metadata=run_metadata.SerializeToString(deterministic=True))
        self.add_event(Event(tagged_run_metadata=tagged), None, walltime)

    def add_onnx_graph(self, graph: Any, walltime: Any = None) -> None:
        """Write a GraphDef in a ``graph_def`` event."""
        self.add_event(Event(graph_def=graph.SerializeToString(deterministic=True)), None, walltime)

    def flush(self) -> None:
        """Return once every event added so far is written to the file."""
        if self._run is not None:  # a copy not used yet has nothing to write
            self._run.flush()

    def close(self) -> None:
        """Write what is pending and close the file; later calls do nothing."""
        if self._run is not None:
            self._run.close()
        else:
            self._closed = True

    def reopen(self) -> None:
        """After ``close()``, continue in a new event file in the same directory."""
        if self._run is None:
            self._closed = False  # a copy opens its file on first use
            return
        self._run.reopen()


_OWN_ATTRIBUTES = frozenset(("_made", "_run", "_lock", "_closed"))


def _copy(cls: type[FileWriter], token: str, directory: str, ranks: str, options: RunOptions, below: str) -> FileWriter:
    """Unpickling: this process's copy of the FileWriter named ``token`` (eventwriter.copies)."""

    def make() -> FileWriter:
        writer = cls.__new__(cls)
        writer._made, writer._run = (token, directory, ranks, options, below), None
        writer._lock, writer._closed = threading.Lock(), False
        forks.register(writer)
        return writer

    return copy_of(token, make)
