"""Scalars plugin.

On disk a scalar is either ``Summary.Value.simple_value`` (float32, no metadata; the
old style torch writes by default) or, in the new style, ``Summary.Value.tensor``: a
rank-0 TensorProto with ``dtype`` DT_FLOAT and one ``float_val`` (DT_DOUBLE and
``double_val`` with double precision) plus metadata with plugin name "scalars".
"""

from __future__ import annotations

from eventwriter.proto.summary_pb2 import Summary, SummaryMetadata
from eventwriter.proto.tensor_pb2 import TensorProto
from eventwriter.proto.types_pb2 import DT_DOUBLE, DT_FLOAT

__all__ = ["PLUGIN_NAME", "create_summary_metadata", "scalar_pb"]

PLUGIN_NAME = "scalars"


def create_summary_metadata() -> SummaryMetadata:
    """Metadata marking a tensor value as a scalar (torch leaves ``content`` empty)."""
    return SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=PLUGIN_NAME))


def scalar_pb(tag: str, value: float, *, new_style: bool = False, double_precision: bool = False) -> Summary:
    """A Summary with one scalar value, laid out as torch.utils.tensorboard does."""
    if not new_style:
        return Summary(value=[Summary.Value(tag=tag, simple_value=value)])
    if double_precision:
        tensor = TensorProto(dtype=DT_DOUBLE, double_val=[value])
    else:
        tensor = TensorProto(dtype=DT_FLOAT, float_val=[value])
    return Summary(value=[Summary.Value(tag=tag, tensor=tensor, metadata=create_summary_metadata())])
