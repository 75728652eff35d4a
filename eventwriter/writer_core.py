"""The core of SummaryWriter: construction, the run's file writers, lifecycle, and the
scalar, text and tensor methods (the hot path).

Each ``add_*`` method is a thin adapter: convert and check the inputs (errors name the
tag), build a Summary with a builder from eventwriter.summary, and hand it to the run's
EventFileWriter. Nothing is queued before every input has been checked.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from eventwriter import summary as builders
from eventwriter.convert import check_tag, describe, to_float, to_step, to_walltime
from eventwriter.file_writer import FileWriter
from eventwriter.proto.event_pb2 import Event, SessionLog
from eventwriter.proto.summary_pb2 import Summary
from eventwriter.sinks import resolves_inside

__all__ = ["WriterCore"]

if TYPE_CHECKING:
    from typing_extensions import Self


def _default_log_dir(comment: str) -> str:
    current_time = datetime.now().strftime("%b%d_%H-%M-%S")
    return os.path.join("runs", current_time + "_" + socket.gethostname() + comment)


def _sub_run_dir(log_dir: str, main_tag: str, key: Any) -> str:
    """torch's ``add_scalars`` run directory for ``key``, refused if it leaves ``log_dir``."""
    if not isinstance(key, str):
        raise TypeError(f"{main_tag!r}: add_scalars keys must be str, got {describe(key)}")
    path = log_dir + "/" + main_tag.replace("/", "_") + "_" + key
    if not resolves_inside(log_dir, path, allow_base=False):
        raise ValueError(
            f"{main_tag!r}: add_scalars key {key!r} would place its run at {path!r}, outside the log dir {log_dir!r}"
        )
    return path


class WriterCore:
    """The part of SummaryWriter every other part builds on; its arguments are
    SummaryWriter's (see eventwriter.writer). On its own it logs scalars, text and
    tensors, which is what add_hparams' child runs need."""

    def __init__(
        self,
        log_dir: str | os.PathLike[str] | None = None,
        comment: str = "",
        purge_step: int | None = None,
        max_queue: int = 10,
        flush_secs: float = 120,
        filename_suffix: str = "",
    ) -> None:
        if not isinstance(comment, str):
            raise TypeError(f"comment must be a str, got {describe(comment)}")
        if log_dir is not None and not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(f"log_dir must be a str or path-like, got {describe(log_dir)}")
        self.log_dir = log_dir if log_dir else _default_log_dir(comment)
        self.purge_step = to_step("purge_step", purge_step)
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer: FileWriter | None = None
        self.all_writers: dict[str, FileWriter] | None = None
        self._get_file_writer()

    def _get_file_writer(self) -> FileWriter:
        """The FileWriter of ``log_dir``; after ``close()`` a new one (and a new file)."""
        if self.all_writers is None or self.file_writer is None:
            self.file_writer = FileWriter(self.log_dir, self.max_queue, self.flush_secs, self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                step, self.purge_step = self.purge_step, None
                self.file_writer.add_event(Event(step=step, file_version="brain.Event:2"))
                self.file_writer.add_event(Event(step=step, session_log=SessionLog(status=SessionLog.START)))
        return self.file_writer

    def get_logdir(self) -> str | os.PathLike[str]:
        """The run directory, as given (or the generated default)."""
        return self.log_dir

    def _write(self, summary: Summary, tag: str, global_step: Any, walltime: Any) -> None:
        step = to_step(tag, global_step)
        wall = time.time() if walltime is None else to_walltime(tag, walltime)
        self._get_file_writer().event_writer.write_summary(summary, step, wall)

    def _write_later(
        self, prepared: tuple[Callable[[], Summary], int], tag: str, global_step: Any, walltime: Any
    ) -> None:
        """Queue a summary whose costly part (encoding, bucketing) the writer thread does.

        ``prepared`` is a builder, made from checked and copied inputs, and its size.
        """
        step = to_step(tag, global_step)
        wall = time.time() if walltime is None else to_walltime(tag, walltime)
        build, weight = prepared
        self._get_file_writer().event_writer.write_later(build, step, wall, weight, tag)

    # -- scalars -----------------------------------------------------------------

    def add_scalar(
        self,
        tag: str,
        scalar_value: Any,
        global_step: Any = None,
        walltime: Any = None,
        new_style: bool = False,
        double_precision: bool = False,
    ) -> None:
        """Log one scalar.

        Args:
            tag: series name.
            scalar_value: a real number, or a one-element tensor or array (any device);
                NaN and ±Inf are kept.
            global_step: step of the value (an integer).
            walltime: seconds since the epoch; default now.
            new_style: store as a rank-0 tensor with scalars metadata instead of
                ``simple_value``.
            double_precision: with ``new_style``, store float64 instead of float32.

        Raises:
            TypeError, ValueError: an argument has the wrong type or value.
        """
        # The hot path: plain floats and small int steps skip the conversions.
        if type(scalar_value) is not float:
            scalar_value = to_float(tag, scalar_value)
        if (type(global_step) is not int or not 0 <= global_step < 0x200000) and global_step is not None:
            global_step = to_step(tag, global_step)
        writer = self.file_writer
        if writer is None or self.all_writers is None:
            writer = self._get_file_writer()
        writer.event_writer.write_scalar(
            tag,
            scalar_value,
            global_step,
            time.time() if walltime is None else to_walltime(tag, walltime),
            new_style,
            double_precision,
        )

    def add_scalars(
        self, main_tag: str, tag_scalar_dict: Mapping[str, Any], global_step: Any = None, walltime: Any = None
    ) -> None:
        """Log several scalars on one chart: one sub-run per key, each with tag ``main_tag``.

        Sub-runs are torch's ``{log_dir}/{main_tag with / as _}_{key}`` directories; a key
        that would place one outside ``log_dir`` is refused.

        Raises:
            TypeError, ValueError: ``main_tag``, a key, a value or the step is invalid;
                then nothing is written.
        """
        check_tag(main_tag, "main_tag")
        if not isinstance(tag_scalar_dict, Mapping):
            raise TypeError(
                f"{main_tag!r}: tag_scalar_dict must be a dict of str to scalar, got {describe(tag_scalar_dict)}"
            )
        values = {key: to_float(f"{main_tag}/{key}", value) for key, value in tag_scalar_dict.items()}
        step = to_step(main_tag, global_step)
        wall = time.time() if walltime is None else to_walltime(main_tag, walltime)
        fw_logdir = self._get_file_writer().get_logdir()
        all_writers = cast("dict[str, FileWriter]", self.all_writers)  # set by _get_file_writer
        paths = [_sub_run_dir(fw_logdir, main_tag, key) for key in values]
        for path, value in zip(paths, values.values()):
            writer = all_writers.get(path)
            if writer is None:
                writer = all_writers[path] = FileWriter(path, self.max_queue, self.flush_secs, self.filename_suffix)
            writer.event_writer.write_scalar(main_tag, value, step, wall)

    # -- text and tensors --------------------------------------------------------

    def add_text(self, tag: str, text_string: str, global_step: Any = None, walltime: Any = None) -> None:
        """Log text (rendered as Markdown) under ``{tag}/text_summary``, as torch does."""
        check_tag(tag)
        if not isinstance(text_string, str):
            raise TypeError(f"{tag!r}: text_string must be a str, got {describe(text_string)}")
        self._write(builders.text(tag, text_string), tag, global_step, walltime)

    def add_tensor(self, tag: str, tensor: Any, global_step: Any = None, walltime: Any = None) -> None:
        """Log a whole tensor (torch, numpy or nested sequence) as a TensorProto.

        Raises:
            TypeError: the tensor's dtype has no TensorProto type.
            ValueError: the tensor is 2 GiB or larger.
        """
        self._write(builders.tensor_proto(tag, tensor), tag, global_step, walltime)

    # -- lifecycle ---------------------------------------------------------------

    def flush(self) -> None:
        """Return once everything logged so far is written to the event files."""
        if self.all_writers is None:
            return
        for writer in self.all_writers.values():
            writer.flush()

    def close(self) -> None:
        """Write what is pending and close every event file; later calls do nothing.

        Every file is closed even if closing one of them fails; the first error is raised.
        """
        if self.all_writers is None:
            return
        writers = list(self.all_writers.values())
        self.file_writer = self.all_writers = None
        error: BaseException | None = None
        for writer in writers:
            try:
                writer.close()
            except Exception as exc:
                error = error or exc
        if error is not None:
            raise error

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
