"""SummaryWriter methods about the model: its graph and its embeddings (projector)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from eventwriter.convert import check_tag, describe, is_torch_tensor, to_numpy, to_step
from eventwriter.projector import Embedding, write_embedding
from eventwriter.sinks import storage_for
from eventwriter.writer_core import WriterCore

__all__ = ["ModelMethods"]


def _rows(tag: str, name: str, value: Any) -> list[Any]:
    if is_torch_tensor(value) or isinstance(value, np.ndarray):
        return list(to_numpy(value, tag, name).tolist())
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{tag!r}: {name} must be a list (one entry per point), got {describe(value)}")
    return list(value)


def check_embedding(
    mat: Any,
    metadata: Any,
    label_img: Any,
    global_step: Any,
    tag: Any,
    metadata_header: Any,
    binary: bool,
) -> Embedding:
    """Check and convert ``add_embedding``'s arguments; raise before anything is written."""
    check_tag(tag)
    if tag in (".", ".."):
        raise ValueError(f"tag {tag!r} cannot name a directory of its own")
    matrix = to_numpy(mat, tag, "mat")
    if matrix.ndim != 2:
        raise ValueError(f"{tag!r}: mat must be 2-D (points x dimensions), got shape {matrix.shape}")
    if matrix.dtype.kind not in "biuf" or matrix.size == 0:
        raise ValueError(f"{tag!r}: mat must be a non-empty array of real numbers, got {matrix.dtype} {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise ValueError(f"{tag!r}: mat must be finite; it holds NaN or infinite values")
    points = matrix.shape[0]
    rows = header = None
    if metadata is not None:
        rows = _rows(tag, "metadata", metadata)
        if len(rows) != points:
            raise ValueError(f"{tag!r}: metadata must have one entry per point ({points}), got {len(rows)}")
    if metadata_header is not None:
        header = [str(name) for name in _rows(tag, "metadata_header", metadata_header)]
        if rows is None:
            raise ValueError(f"{tag!r}: metadata_header needs metadata")
        for index, row in enumerate(rows):
            if isinstance(row, (str, bytes)) or not isinstance(row, Sequence) or len(row) != len(header):
                expected = f"{len(header)} columns to match metadata_header"
                raise ValueError(f"{tag!r}: metadata row {index} must have {expected}, got {row!r}")
    thumbnails = None
    if label_img is not None:
        thumbnails = to_numpy(label_img, tag, "label_img")
        if thumbnails.ndim == 3:
            thumbnails = thumbnails[:, None]
        if thumbnails.ndim != 4 or thumbnails.shape[1] not in (1, 3) or thumbnails.shape[0] != points:
            raise ValueError(
                f"{tag!r}: label_img must be {points} images, N x C x H x W with C 1 or 3 (or N x H x W), "
                f"got shape {thumbnails.shape}"
            )
        if thumbnails.dtype.kind not in "biuf" or min(thumbnails.shape[2:]) == 0:
            raise ValueError(f"{tag!r}: label_img must hold pixels, got {thumbnails.dtype} {thumbnails.shape}")
    step = to_step(tag, global_step)
    with np.errstate(over="ignore"):  # checked just below
        single = matrix.astype(np.float32, copy=False)
    if not np.all(np.isfinite(single)):
        raise ValueError(f"{tag!r}: mat holds values beyond float32's range (about 3.4e38), which the projector reads")
    return Embedding(
        tag=tag,
        step=0 if step is None else step,
        matrix=single,
        metadata=rows,
        metadata_header=header,
        thumbnails=thumbnails,
        binary=bool(binary),
    )


class ModelMethods(WriterCore):
    """The ``add_*`` methods about the model; mixed into SummaryWriter."""

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

        Args:
            model: a ``torch.nn.Module`` (its train/eval mode is restored afterwards).
            input_to_model: a tensor, or a tuple of the model's arguments.
            verbose: print the graph.
            use_strict_trace: ``strict`` of ``torch.jit.trace``; False lets the tracer
                record list and dict inputs and outputs.
            graph_from: "trace" (``torch.jit.trace``, node for node as torch), "export"
                (``torch.export``, no TorchScript), or "auto": trace, and if the tracer
                fails, export with a warning.

        Raises:
            GraphError: no graph could be taken (nothing is written); it names the model
                and carries the tracer's message.
        """
        from eventwriter.graph import model_graph

        graph, metadata = model_graph(
            model, input_to_model, verbose=bool(verbose), strict=bool(use_strict_trace), source=graph_from
        )
        self._get_file_writer().add_graph((graph, metadata))

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

        Args:
            mat: points x dimensions (torch, numpy or nested lists).
            metadata: one label per point, or with ``metadata_header`` one row of
                columns per point.
            label_img: one thumbnail per point, N x C x H x W (C 1 or 3) or N x H x W;
                numpy or torch; uint8 is kept, other dtypes are scaled by 255.
            global_step: the step (default 0); with ``tag`` it names the embedding,
                and an embedding of the same tag and step is replaced.
            tag: the embedding's name.
            metadata_header: column names when metadata has several columns.
            binary: write the matrix as float32 ``tensors.bytes`` instead of TSV
                (much smaller and faster for large matrices).

        Raises:
            TypeError, ValueError: the shapes or counts do not fit; nothing is written.
        """
        embedding = check_embedding(mat, metadata, label_img, global_step, tag, metadata_header, binary)
        run_dir = self._get_file_writer().get_logdir()
        write_embedding(storage_for(run_dir), run_dir, embedding)
