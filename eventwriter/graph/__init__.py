"""Model graphs for TensorBoard's Graphs tab, from a torch model or an ONNX model.

Two ways to get a torch model's graph:

* ``"trace"``: ``torch.jit.trace``, the way torch.utils.tensorboard does it; the nodes
  are named node for node as torch names them (see torchscript.py);
* ``"export"``: ``torch.export``, which handles models the tracer rejects and does not
  depend on TorchScript, which PyTorch has deprecated (see exported.py).

``"auto"`` (the default of ``add_graph``) traces first and, if the tracer fails, tries
``torch.export`` with a warning that says why.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

from eventwriter.errors import GraphError
from eventwriter.plugins.graphs import graph_def, run_metadata
from eventwriter.proto.graph_pb2 import GraphDef
from eventwriter.proto.run_metadata_pb2 import RunMetadata

__all__ = ["GRAPH_SOURCES", "model_graph"]

GRAPH_SOURCES = ("auto", "trace", "export")


@contextlib.contextmanager
def _eval_mode(model: Any) -> Iterator[None]:
    """Evaluation mode while the graph is taken; the previous mode is restored after,
    also when taking the graph fails."""
    training = getattr(model, "training", None)
    if training is None or not hasattr(model, "train"):
        yield
        return
    model.train(False)
    try:
        yield
    finally:
        model.train(training)


def _traced(model: Any, args: Any, strict: bool, verbose: bool) -> GraphDef:
    from eventwriter.graph.torchscript import nodes_from_torchscript, trace

    graph, traced = trace(model, args, strict)
    if verbose:
        print(graph)
    return graph_def(nodes_from_torchscript(graph, traced))


def _exported(model: Any, args: Any, verbose: bool) -> GraphDef:
    from eventwriter.graph.exported import export, nodes_from_export

    exported = export(model, args)
    if verbose:
        print(exported.graph)
    return graph_def(nodes_from_export(exported, model))


def _summary(error: BaseException) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0] if lines else ''}" + (" [...]" if len(lines) > 1 else "")


def model_graph(
    model: Any, args: Any, *, verbose: bool = False, strict: bool = True, source: str = "auto"
) -> tuple[GraphDef, RunMetadata]:
    """The (GraphDef, RunMetadata) of a torch model run on ``args``.

    Raises:
        ValueError: ``source`` is not one of GRAPH_SOURCES.
        GraphError: no graph could be taken; it names the model and carries the message
            of the tracer (and of torch.export, for "auto"), chained.
    """
    if source not in GRAPH_SOURCES:
        raise ValueError(f"graph source must be one of {', '.join(GRAPH_SOURCES)}, got {source!r}")
    name = type(model).__name__
    with _eval_mode(model):
        if source == "export":
            try:
                return _exported(model, args, verbose), run_metadata()
            except Exception as exc:
                raise GraphError(f"add_graph: torch.export failed on {name}: {exc}") from exc
        try:
            return _traced(model, args, strict, verbose), run_metadata()
        except Exception as trace_error:
            if source == "trace":
                hint = "" if not strict else " (pass use_strict_trace=False for list or dict inputs and outputs)"
                raise GraphError(f"add_graph: tracing {name} failed{hint}: {trace_error}") from trace_error
            try:
                graph = _exported(model, args, verbose)
            except Exception as export_error:
                raise GraphError(
                    f"add_graph: no graph of {name}: tracing failed ({_summary(trace_error)}) and torch.export "
                    f"failed ({_summary(export_error)})"
                ) from export_error
            warnings.warn(
                f"add_graph: tracing {name} failed ({_summary(trace_error)}); the graph comes from torch.export",
                UserWarning,
                stacklevel=4,
            )
            return graph, run_metadata()
