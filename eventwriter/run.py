"""Run: one run directory, with its event file and the clock and storage its files use.

TensorBoard shows each directory that holds event files as a run. A Run owns the
current event file of its directory (eventwriter.event_file) and writes its side files
(the projector's) through the same Storage; every Run of one SummaryWriter shares one
RunOptions, so the clock, host name, pid and storage given to the writer reach every
file it creates.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eventwriter.event_file import EventFileWriter, check_file_options
from eventwriter.proto.event_pb2 import Event
from eventwriter.proto.summary_pb2 import Summary
from eventwriter.storage import LocalStorage, Storage

if TYPE_CHECKING:
    from eventwriter.plugins import Deferred
    from eventwriter.projector import Embedding

__all__ = ["Run", "RunOptions"]


@dataclass(frozen=True)
class RunOptions:
    """How the runs of one writer create their files.

    Args:
        storage: where every file goes.
        max_queue: pending events that make an add start a write at once.
        flush_secs: seconds between fsyncs of written data.
        filename_suffix: appended to the name of every event file.
        clock: seconds since the epoch: file names, first events, default wall times.
        hostname, pid: identity in event file names (default: this machine, this process).
    """

    storage: Storage = field(default_factory=LocalStorage)
    max_queue: int = 10
    flush_secs: float = 120
    filename_suffix: str = ""
    clock: Callable[[], float] = time.time
    hostname: str | None = None
    pid: int | None = None

    def __post_init__(self) -> None:
        """Raises TypeError, ValueError: an option is of the wrong type or range."""
        check_file_options(self.max_queue, self.flush_secs, self.filename_suffix, self.clock, self.hostname, self.pid)


class Run:
    """One run directory and the event file currently written in it.

    Raises:
        TypeError, ValueError: bad options; OSError: the directory or file cannot be made.
    """

    write_scalar: Callable[..., None]
    """``EventFileWriter.write_scalar`` of this run's file (bound once: the hot path)."""

    def __init__(self, directory: str, options: RunOptions) -> None:
        self.directory = directory
        self.options = options
        self.storage = options.storage
        self.clock = options.clock
        self.events = EventFileWriter(
            directory,
            options.max_queue,
            options.flush_secs,
            options.filename_suffix,
            clock=options.clock,
            hostname=options.hostname,
            pid=options.pid,
            storage=options.storage,
        )
        self.write_scalar = self.events.write_scalar

    @property
    def closed(self) -> bool:
        return self.events.closed

    def write_summary(self, summary: Summary, step: int | None, wall_time: float) -> None:
        """Queue a Summary built by eventwriter (its repeated plugin metadata is dropped)."""
        self.events.write_summary(summary, step, wall_time)

    def write_text(self, tag: str, text_string: Any, step: int | None, wall_time: float) -> None:
        """Queue ``add_text``'s event (the text is checked here)."""
        self.events.write_text(tag, text_string, step, wall_time)

    def write_later(self, deferred: Deferred, step: int | None, wall_time: float, tag: str) -> None:
        """Queue a summary the writer thread builds (histograms, images, video)."""
        self.events.write_later(deferred.build, step, wall_time, deferred.weight, tag)

    def write_event(self, event: Event) -> None:
        """Queue a whole Event as it is."""
        self.events.add_event(event)

    def write_embedding(self, embedding: Embedding) -> None:
        """Write an embedding's projector files into this run's directory."""
        from eventwriter.projector import write_embedding

        write_embedding(self.storage, self.directory, embedding)

    def flush(self) -> None:
        self.events.flush()

    def close(self) -> None:
        self.events.close()

    def reopen(self) -> None:
        """After ``close()``, continue in a new event file; does nothing while open."""
        self.events.reopen()
