"""SummaryWriter: the drop-in for torch.utils.tensorboard.SummaryWriter.

Each ``add_*`` method is a thin adapter along one path: convert the step and wall time
(eventwriter.convert), build the Summary with the torch-named builder of its plugin
(eventwriter.plugins; the builder checks the data, and errors name the tag), and hand
it to a Run (eventwriter.runs: the writer's own run, ``add_scalars`` sub-runs, hparams
child runs). Nothing is queued before every input has been checked. Histograms, images
and video are checked and copied here; their costly half runs in the writer thread.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from eventwriter import projector, summary
from eventwriter.convert import check_tag, describe, to_float, to_step, to_walltime
from eventwriter.copies import added_state, copy_of, new_token
from eventwriter.errors import WriterClosedError
from eventwriter.figures import figure_to_image
from eventwriter.file_writer import FileWriter
from eventwriter.plugins import Deferred
from eventwriter.plugins.custom_scalars import CONFIG_TAG
from eventwriter.plugins.histograms import prepare_histogram, tensorflow_bins
from eventwriter.plugins.images import prepare_image, prepare_image_boxes
from eventwriter.plugins.video import prepare_video
from eventwriter.proto.summary_pb2 import Summary
from eventwriter.ranks import check_ranks, shared_name
from eventwriter.run import RunOptions
from eventwriter.runs import Runs, default_log_dir
from eventwriter.storage import Storage, storage_for

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["SummaryWriter"]


class SummaryWriter:
    """Writes TensorBoard event files into ``log_dir``; same API as torch's SummaryWriter.

    Args:
        log_dir: run directory (str or path-like); default ``runs/<Mon><DD>_<HH-MM-SS>_<hostname><comment>``.
        comment: suffix of the default ``log_dir``; ignored when ``log_dir`` is given.
        purge_step: on resuming at step T, TensorBoard hides this run's earlier events with step >= T.
        max_queue: pending events that make an ``add`` start a write at once.
        flush_secs: seconds between fsyncs (events are visible within a fraction of a second regardless).
        filename_suffix: appended to the name of every event file.
        storage: where every file goes (default: chosen from ``log_dir``, a local path or an
            fsspec URL such as ``s3://bucket/runs/exp1``; ``MemoryStorage()``: in memory).
        storage_options: for a URL ``log_dir``, options of its fsspec file system
            (endpoint, credentials, ...).
        ranks: in a distributed job, which processes write: ``"all"`` (torch's way: each
            its own event file in ``log_dir``), ``"zero"`` (global rank 0 only; the others
            check every call and write nothing), ``"each"`` (rank r under
            ``{log_dir}/rank{r}``: one run per rank). See eventwriter.ranks.
        clock: seconds since the epoch for file names, default wall times and the default log dir.
        hostname, pid: identity in event file names and the default log dir (default: this machine, process).

    After ``close()`` the next ``add_*`` call opens a new event file, as torch does.
    A writer can be pickled (and is inherited by a forked child): the copy logs to the same
    log dir through its own new event file, opened on first use (eventwriter.copies).
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] | None = None,
        comment: str = "",
        purge_step: int | None = None,
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
        if not isinstance(comment, str):
            raise TypeError(f"comment must be a str, got {describe(comment)}")
        if log_dir is not None and not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(f"log_dir must be a str or path-like, got {describe(log_dir)}")
        if storage is None:
            storage = storage_for(os.fspath(log_dir) if log_dir else "runs", storage_options)
        elif storage_options is not None:
            raise ValueError("give storage or storage_options, not both")
        options = RunOptions(storage, max_queue, flush_secs, filename_suffix, clock, hostname, pid)
        base = os.fspath(log_dir) if log_dir else shared_name(default_log_dir(options, comment))
        given = log_dir if log_dir and ranks != "each" else None  # returned as given: a Path stays one
        self._attach(Runs(base, options, to_step("purge_step", purge_step), ranks=ranks), new_token(), given)

    def _attach(self, runs: Runs, token: str, given_log_dir: str | os.PathLike[str] | None = None) -> None:
        options = runs.given
        self.max_queue, self.flush_secs = options.max_queue, options.flush_secs
        self.filename_suffix = options.filename_suffix
        self.purge_step = None  # written with the first event file, as torch does
        self._runs, self._clock, self._token = runs, options.clock, token
        self._given_log_dir = given_log_dir

    def __reduce__(self) -> Any:
        """Pickled, a writer is what makes it; see eventwriter.copies."""
        runs = self._runs
        made = (type(self), self._token, runs.base, runs.ranks, runs.given, self._given_log_dir)
        return (_copy, made, added_state(self, _OWN_ATTRIBUTES))

    @property
    def log_dir(self) -> str | os.PathLike[str]:
        """The run directory: as given, or the generated default (with ``ranks="each"``,
        this rank's directory below it)."""
        return self._given_log_dir if self._given_log_dir is not None else self._runs.log_dir

    # -- torch's attributes ----------------------------------------------------------------

    @property
    def file_writer(self) -> FileWriter | None:
        """The FileWriter of ``log_dir``; None after ``close()``."""
        writers = self._runs.writers
        return None if writers is None else writers[self._runs.log_dir]

    @property
    def all_writers(self) -> dict[str, FileWriter] | None:
        """Every run's FileWriter by directory (``log_dir`` and the sub-runs); None after ``close()``."""
        return self._runs.writers

    def _get_file_writer(self) -> FileWriter:
        """The FileWriter of ``log_dir``; after ``close()`` a new one (and a new file)."""
        return self._runs.main_writer()

    def get_logdir(self) -> str | os.PathLike[str]:
        """The run directory, as given (or the generated default)."""
        return self.log_dir

    @property
    def default_bins(self) -> list[float]:
        """TensorFlow's default histogram bucket edges."""
        return tensorflow_bins()

    def _wall(self, tag: str, walltime: Any) -> float:
        return self._clock() if walltime is None else to_walltime(tag, walltime)

    def _write(self, built: Summary, tag: str, global_step: Any, walltime: Any) -> None:
        step, wall = to_step(tag, global_step), self._wall(tag, walltime)
        try:
            self._runs.open().write_summary(built, step, wall)
        except WriterClosedError:  # closed by another thread meanwhile: a new file, as after close()
            self._runs.open().write_summary(built, step, wall)

    def _write_later(self, deferred: Deferred, tag: str, global_step: Any, walltime: Any) -> None:
        step, wall = to_step(tag, global_step), self._wall(tag, walltime)
        try:
            self._runs.open().write_later(deferred, step, wall, tag)
        except WriterClosedError:  # as in _write
            self._runs.open().write_later(deferred, step, wall, tag)

    # -- scalars, text, tensors ------------------------------------------------------------

    def add_scalar(
        self,
        tag: str,
        scalar_value: Any,
        global_step: Any = None,
        walltime: Any = None,
        new_style: bool = False,
        double_precision: bool = False,
    ) -> None:
        """Log one scalar: a real number or a one-element tensor or array (any device).

        NaN and ±Inf are kept. ``new_style`` stores a rank-0 tensor with scalars
        metadata instead of ``simple_value``; with ``double_precision``, as float64.

        Raises:
            TypeError, ValueError: an argument has the wrong type or value.
        """
        # The hot path: plain floats and small int steps skip the conversions.
        if type(scalar_value) is not float:
            scalar_value = to_float(tag, scalar_value)
        if (type(global_step) is not int or not 0 <= global_step < 0x200000) and global_step is not None:
            global_step = to_step(tag, global_step)
        wall = self._clock() if walltime is None else to_walltime(tag, walltime)
        run = self._runs.main or self._runs.open()
        try:
            run.write_scalar(tag, scalar_value, global_step, wall, new_style, double_precision)
        except WriterClosedError:  # as in _write
            self._runs.open().write_scalar(tag, scalar_value, global_step, wall, new_style, double_precision)

    def add_scalars(
        self, main_tag: str, tag_scalar_dict: Mapping[str, Any], global_step: Any = None, walltime: Any = None
    ) -> None:
        """Log several scalars on one chart: one sub-run per key, each with tag ``main_tag``.

        Sub-runs are torch's ``{log_dir}/{main_tag with / as _}_{key}``; a key that would
        place one outside ``log_dir`` is refused, and then nothing is written.
        """
        check_tag(main_tag, "main_tag")
        if not isinstance(tag_scalar_dict, Mapping):
            raise TypeError(
                f"{main_tag!r}: tag_scalar_dict must be a dict of str to scalar, got {describe(tag_scalar_dict)}"
            )
        values = [to_float(f"{main_tag}/{key}", value) for key, value in tag_scalar_dict.items()]
        step, wall = to_step(main_tag, global_step), self._wall(main_tag, walltime)
        written = 0
        try:
            for run, value in zip(self._runs.scalars_runs(main_tag, tag_scalar_dict), values):
                run.write_scalar(main_tag, value, step, wall)
                written += 1
        except WriterClosedError:  # as in _write: the rest go to the sub-runs made anew
            runs = self._runs.scalars_runs(main_tag, tag_scalar_dict)
            for run, value in list(zip(runs, values))[written:]:
                run.write_scalar(main_tag, value, step, wall)

    def add_text(self, tag: str, text_string: str, global_step: Any = None, walltime: Any = None) -> None:
        """Log text (rendered as Markdown) under ``{tag}/text_summary``, as torch does."""
        if type(tag) is not str:  # the builder says what is wrong
            self._write(summary.text(tag, text_string), tag, global_step, walltime)
            return
        step, wall = to_step(tag, global_step), self._wall(tag, walltime)
        try:
            self._runs.open().write_text(tag, text_string, step, wall)
        except WriterClosedError:  # as in _write
            self._runs.open().write_text(tag, text_string, step, wall)

    def add_tensor(self, tag: str, tensor: Any, global_step: Any = None, walltime: Any = None) -> None:
        """Log a whole tensor (torch, numpy or nested sequence) as a TensorProto."""
        self._write(summary.tensor_proto(tag, tensor), tag, global_step, walltime)

    # -- histograms, images, figures, video, audio, meshes --------------------------------

    def add_histogram(
        self,
        tag: str,
        values: Any,
        global_step: Any = None,
        bins: Any = "tensorflow",
        walltime: Any = None,
        max_bins: int | None = None,
    ) -> None:
        """Log a histogram of finite ``values`` (any shape).

        ``bins``: "tensorflow" (TensorFlow's default edges), a numpy rule ("auto", "fd",
        ...), a count or edges; ``max_bins`` merges neighbouring bins down to that many.
        """
        self._write_later(prepare_histogram(tag, values, bins, max_bins), tag, global_step, walltime)

    def add_histogram_raw(
        self,
        tag: str,
        min: Any,
        max: Any,
        num: Any,
        sum: Any,
        sum_squares: Any,
        bucket_limits: Any,
        bucket_counts: Any,
        global_step: Any = None,
        walltime: Any = None,
    ) -> None:
        """Log a histogram given as statistics, right bucket edges and counts."""
        built = summary.histogram_raw(tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts)
        self._write(built, tag, global_step, walltime)

    def add_image(
        self, tag: str, img_tensor: Any, global_step: Any = None, walltime: Any = None, dataformats: str = "CHW"
    ) -> None:
        """Log one image as a PNG; ``dataformats`` is a permutation of "CHW", or "HW".

        Pixels: uint8 kept, other dtypes scaled by 255 and clipped; 1, 3 or 4 channels.
        """
        self._write_later(prepare_image(tag, img_tensor, dataformats=dataformats), tag, global_step, walltime)

    def add_images(
        self, tag: str, img_tensor: Any, global_step: Any = None, walltime: Any = None, dataformats: str = "NCHW"
    ) -> None:
        """Log a batch of images tiled into one, eight per row (``dataformats`` like "NCHW")."""
        self._write_later(prepare_image(tag, img_tensor, dataformats=dataformats), tag, global_step, walltime)

    def add_image_with_boxes(
        self,
        tag: str,
        img_tensor: Any,
        box_tensor: Any,
        global_step: Any = None,
        walltime: Any = None,
        rescale: float = 1,
        dataformats: str = "CHW",
        labels: Sequence[str] | str | None = None,
    ) -> None:
        """Log an image with red boxes ``(N, 4)`` of xmin, ymin, xmax, ymax, one label per box."""
        deferred = prepare_image_boxes(tag, img_tensor, box_tensor, rescale, dataformats, labels)
        self._write_later(deferred, tag, global_step, walltime)

    def add_figure(
        self, tag: str, figure: Any, global_step: Any = None, close: bool = True, walltime: Any = None
    ) -> None:
        """Log a matplotlib figure, or a list of them as one tiled image; closes them by default."""
        check_tag(tag)
        pixels, dataformats = figure_to_image(tag, figure, close)
        self.add_image(tag, pixels, global_step, walltime, dataformats=dataformats)

    def add_video(
        self, tag: str, vid_tensor: Any, global_step: Any = None, fps: float = 4, walltime: Any = None
    ) -> None:
        """Log videos ``(N, T, C, H, W)`` as one animated GIF (Pillow; no moviepy needed)."""
        self._write_later(prepare_video(tag, vid_tensor, fps), tag, global_step, walltime)

    def add_audio(
        self, tag: str, snd_tensor: Any, global_step: Any = None, sample_rate: float = 44100, walltime: Any = None
    ) -> None:
        """Log a WAV clip, mono ``(L,)`` or stereo ``(2, L)``, samples in [-1, 1]."""
        self._write(summary.audio(tag, snd_tensor, sample_rate), tag, global_step, walltime)

    def add_mesh(
        self,
        tag: str,
        vertices: Any,
        colors: Any = None,
        faces: Any = None,
        config_dict: dict[str, Any] | None = None,
        global_step: Any = None,
        walltime: Any = None,
    ) -> None:
        """Log a mesh or point cloud: ``(B, N, 3)`` vertices and colors, ``(B, F, 3)`` faces."""
        self._write(summary.mesh(tag, vertices, colors, faces, config_dict), tag, global_step, walltime)

    # -- PR curves, hparams, custom scalars ------------------------------------------------

    def add_pr_curve(
        self,
        tag: str,
        labels: Any,
        predictions: Any,
        global_step: Any = None,
        num_thresholds: int = 127,
        weights: Any = None,
        walltime: Any = None,
    ) -> None:
        """Log the precision-recall curve of ``predictions`` in [0, 1] against 0/1 ``labels``."""
        built = summary.pr_curve(tag, labels, predictions, num_thresholds, weights)
        self._write(built, tag, global_step, walltime)

    def add_pr_curve_raw(
        self,
        tag: str,
        true_positive_counts: Any,
        false_positive_counts: Any,
        true_negative_counts: Any,
        false_negative_counts: Any,
        precision: Any,
        recall: Any,
        global_step: Any = None,
        num_thresholds: int = 127,
        weights: Any = None,
        walltime: Any = None,
    ) -> None:
        """Log a PR curve given as counts, precision and recall per threshold."""
        built = summary.pr_curve_raw(
            tag, true_positive_counts, false_positive_counts, true_negative_counts, false_negative_counts,
            precision, recall, num_thresholds, weights,
        )  # fmt: skip
        self._write(built, tag, global_step, walltime)

    def add_hparams(
        self,
        hparam_dict: Mapping[str, Any],
        metric_dict: Mapping[str, Any],
        hparam_domain_discrete: Mapping[str, Sequence[Any]] | None = None,
        run_name: str | None = None,
        global_step: Any = None,
        *,
        same_run: bool = False,
    ) -> None:
        """Log one hyperparameter session and its metrics for TensorBoard's HParams tab.

        As torch does, the session goes into a child run ``{log_dir}/{run_name}``
        (default: the current time) with the metrics as scalars there; with
        ``same_run=True`` it goes into this writer's own run instead.

        Raises:
            TypeError, ValueError: bad values, or a ``run_name`` that would leave the log dir.
        """
        sessions = summary.hparams(hparam_dict, metric_dict, hparam_domain_discrete)
        metrics = {name: to_float(name, value) for name, value in metric_dict.items()}
        step = to_step("add_hparams", global_step)
        self._runs.write_session(sessions, metrics, step, None if same_run else run_name or str(self._clock()))

    def add_custom_scalars(self, layout: Mapping[str, Mapping[str, Any]]) -> None:
        """Set the Custom Scalars dashboard: ``{category: {title: ["Multiline" or "Margin", tags]}}``."""
        self._write(summary.custom_scalars(layout), CONFIG_TAG, None, None)

    def add_custom_scalars_multilinechart(
        self, tags: Sequence[str], category: str = "default", title: str = "untitled"
    ) -> None:
        """Set a dashboard of one multiline chart of ``tags``."""
        self.add_custom_scalars({category: {title: ["Multiline", tags]}})

    def add_custom_scalars_marginchart(
        self, tags: Sequence[str], category: str = "default", title: str = "untitled"
    ) -> None:
        """Set a dashboard of one margin chart of three tags: value, lower, upper."""
        self.add_custom_scalars({category: {title: ["Margin", tags]}})

    # -- the model: graphs and embeddings --------------------------------------------------

    def add_graph(
        self,
        model: Any,
        input_to_model: Any = None,
        verbose: bool = False,
        use_strict_trace: bool = True,
        *,
        graph_from: str = "auto",
    ) -> None:
        """Write the graph of a torch model run on ``input_to_model``, for the Graphs tab.

        ``graph_from``: "trace" (``torch.jit.trace``, node for node as torch names them),
        "export" (``torch.export``), or "auto": trace, and export if the tracer fails.
        The model's train/eval mode is restored afterwards.

        Raises:
            GraphError: no graph could be taken (nothing is written); it carries the
                tracer's message.
        """
        from eventwriter.graph import model_graph

        graph = model_graph(
            model, input_to_model, verbose=bool(verbose), strict=bool(use_strict_trace), source=graph_from
        )
        self._get_file_writer().add_graph(graph)

    def add_onnx_graph(self, prototxt: Any) -> None:
        """Write the graph of an ONNX model (a ModelProto or the path of an .onnx file)."""
        from eventwriter.graph.onnx import graph_from_onnx

        self._get_file_writer().add_onnx_graph(graph_from_onnx(prototxt))

    def add_embedding(
        self,
        mat: Any,
        metadata: Sequence[Any] | None = None,
        label_img: Any = None,
        global_step: Any = None,
        tag: str = "default",
        metadata_header: Sequence[str] | None = None,
        *,
        binary: bool = False,
    ) -> None:
        """Write an embedding for TensorBoard's projector (files next to the event files).

        ``mat`` is points x dimensions; ``metadata`` one label per point (or, with
        ``metadata_header``, one row of columns); ``label_img`` one thumbnail per point,
        N x C x H x W or N x H x W. An embedding of the same ``tag`` and ``global_step``
        is replaced. ``binary=True`` writes float32 ``tensors.bytes`` instead of TSV.

        Raises:
            TypeError, ValueError: the shapes or counts do not fit; nothing is written.
        """
        embedding = projector.embedding(mat, metadata, label_img, global_step, tag, metadata_header, binary)
        self._runs.open().write_embedding(embedding)

    # -- lifecycle -------------------------------------------------------------------------

    def flush(self) -> None:
        """Return once everything logged so far is written to the event files."""
        self._runs.flush()

    def close(self) -> None:
        """Write what is pending and close every event file; later calls do nothing.

        Every file is closed even if closing one of them fails; the first error is raised.
        """
        self._runs.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_OWN_ATTRIBUTES = frozenset(
    ("max_queue", "flush_secs", "filename_suffix", "purge_step", "_runs", "_clock", "_token", "_given_log_dir")
)


def _copy(
    cls: type[SummaryWriter],
    token: str,
    log_dir: str,
    ranks: str,
    options: RunOptions,
    given_log_dir: str | os.PathLike[str] | None,
) -> SummaryWriter:
    """Unpickling: this process's copy of the writer named ``token`` (eventwriter.copies)."""

    def make() -> SummaryWriter:
        writer = cls.__new__(cls)
        writer._attach(Runs(log_dir, options, ranks=ranks, opened=False), token, given_log_dir)
        return writer

    return copy_of(token, make)
