"""Graphs plugin: model graphs as TensorFlow GraphDefs.

On disk a graph is two events: ``Event.graph_def``, a serialized GraphDef, and
``Event.tagged_run_metadata`` with tag "step1" and a serialized RunMetadata (torch's
placeholder step stats for device "/device:CPU:0"). The GraphDef's nodes are named by
their scope path ("LeNet/Conv2d[conv1]/input.3"), which the Graphs tab folds into one
box per module; each node has ``op``, its ``input`` node names, the attr ``attr`` (a
string describing the operation) and, when known, ``_output_shapes``.
``versions.producer`` is 22, as torch writes it.

Graphs are events, not summary values: they carry no metadata (so this module has no
``create_summary_metadata``) and have no ``_pb`` builder; ``graph_def`` and
``run_metadata`` build the two protos; eventwriter.graph turns models into nodes.
"""

from __future__ import annotations

from collections.abc import Sequence

from eventwriter.proto.graph_pb2 import AttrValue, GraphDef, NodeDef, VersionDef
from eventwriter.proto.run_metadata_pb2 import DeviceStepStats, RunMetadata, StepStats
from eventwriter.proto.tensor_pb2 import TensorShapeProto

__all__ = [
    "PLUGIN_NAME",
    "PRODUCER_VERSION",
    "PROTO_VERSION",
    "RUN_METADATA_TAG",
    "graph_def",
    "node_def",
    "run_metadata",
]

PLUGIN_NAME = "graphs"
# Nothing carries it: a graph is an Event field, without summary metadata or content.
PROTO_VERSION = 0
PRODUCER_VERSION = 22  # GraphDef.versions.producer, the GraphDef format torch writes
RUN_METADATA_TAG = "step1"


def node_def(
    name: str,
    op: str,
    inputs: Sequence[str] = (),
    output_shape: Sequence[int] | None = None,
    attributes: str | None = "",
) -> NodeDef:
    """A node: ``attributes`` goes into the string attr "attr", the shape into
    "_output_shapes" (omitted when None)."""
    node = NodeDef(name=name, op=op, input=list(inputs))
    if attributes is not None:
        node.attr["attr"].s = attributes.encode("utf-8")
    if output_shape is not None:
        shape = TensorShapeProto(dim=[TensorShapeProto.Dim(size=size) for size in output_shape])
        node.attr["_output_shapes"].CopyFrom(AttrValue(list=AttrValue.ListValue(shape=[shape])))
    return node


def graph_def(nodes: Sequence[NodeDef]) -> GraphDef:
    """A GraphDef of ``nodes``, with torch's producer version."""
    return GraphDef(node=list(nodes), versions=VersionDef(producer=PRODUCER_VERSION))


def run_metadata() -> RunMetadata:
    """torch's placeholder run metadata: no timings, one CPU device."""
    return RunMetadata(step_stats=StepStats(dev_stats=[DeviceStepStats(device="/device:CPU:0")]))
