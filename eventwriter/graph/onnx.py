"""An ONNX model's graph as a GraphDef, laid out as torch.utils.tensorboard lays it out.

Graph inputs and outputs become "Variable" nodes with attrs ``dtype`` and ``shape``;
each operator becomes a node named after its first output, of its ONNX op type, fed by
its inputs, with attr ``parameters`` listing its attributes as text. The ``onnx``
package is needed only here.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from eventwriter.plugins.graphs import graph_def
from eventwriter.proto import types_pb2
from eventwriter.proto.graph_pb2 import AttrValue, GraphDef, NodeDef
from eventwriter.proto.tensor_pb2 import TensorShapeProto

__all__ = ["graph_from_onnx"]

# ONNX TensorProto.DataType -> TensorFlow DataType (torch writes the ONNX number as is,
# so an int64 input shows as DT_STRING).
_TYPES = {
    1: types_pb2.DT_FLOAT, 2: types_pb2.DT_UINT8, 3: types_pb2.DT_INT8, 4: types_pb2.DT_UINT16,
    5: types_pb2.DT_INT16, 6: types_pb2.DT_INT32, 7: types_pb2.DT_INT64, 8: types_pb2.DT_STRING,
    9: types_pb2.DT_BOOL, 10: types_pb2.DT_HALF, 11: types_pb2.DT_DOUBLE, 12: types_pb2.DT_UINT32,
    13: types_pb2.DT_UINT64, 14: types_pb2.DT_COMPLEX64, 15: types_pb2.DT_COMPLEX128, 16: types_pb2.DT_BFLOAT16,
}  # fmt: skip


def _load(model_or_path: Any) -> Any:
    if isinstance(model_or_path, (str, os.PathLike)):
        try:
            import onnx
        except ImportError as exc:
            raise ImportError("add_onnx_graph needs onnx: pip install 'eventwriter[onnx]'") from exc
        return onnx.load(os.fspath(model_or_path))
    if hasattr(model_or_path, "graph") and hasattr(model_or_path.graph, "node"):
        return model_or_path
    raise TypeError(f"expected an ONNX ModelProto or the path of an .onnx file, got {type(model_or_path).__name__}")


def graph_from_onnx(model_or_path: Any) -> GraphDef:
    """The GraphDef of an ONNX ModelProto, or of the .onnx file at a path."""
    graph = _load(model_or_path).graph
    nodes = []
    for value in itertools.chain(graph.input, graph.output):
        tensor_type = value.type.tensor_type
        shape = TensorShapeProto(dim=[TensorShapeProto.Dim(size=d.dim_value) for d in tensor_type.shape.dim])
        node = NodeDef(name=value.name, op="Variable")
        node.attr["dtype"].CopyFrom(AttrValue(type=_TYPES.get(tensor_type.elem_type, types_pb2.DT_INVALID)))
        node.attr["shape"].CopyFrom(AttrValue(shape=shape))
        nodes.append(node)
    for operator in graph.node:
        parameters = ", ".join(" = ".join(str(field[1]) for field in a.ListFields()) for a in operator.attribute)
        node = NodeDef(name=operator.output[0], op=operator.op_type, input=list(operator.input))
        node.attr["parameters"].s = parameters.encode("utf-8")
        nodes.append(node)
    return graph_def(nodes)
