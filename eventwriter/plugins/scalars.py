"""Scalars plugin.

On disk a scalar is either ``Summary.Value.simple_value`` (float32, no metadata; the
old style torch writes by default) or, in the new style, ``Summary.Value.tensor``: a
rank-0 TensorProto with ``dtype`` DT_FLOAT and one ``float_val`` (DT_DOUBLE and
``double_val`` with double precision) plus metadata with plugin name "scalars" and no
content. TensorBoard's default loader keeps a new-style scalar only if it is DT_FLOAT.
"""

from __future__ import annotations

from typing import Any

from eventwriter.convert import check_tag, to_float
from eventwriter.proto.summary_pb2 import Summary, SummaryMetadata
from eventwriter.proto.tensor_pb2 import TensorProto
from eventwriter.proto.types_pb2 import DT_DOUBLE, DT_FLOAT

__all__ = ["PLUGIN_NAME", "PROTO_VERSION", "create_summary_metadata", "scalar", "scalar_pb"]

PLUGIN_NAME = "scalars"
# torch writes no content: the metadata's ``content`` stays empty (a ScalarPluginData of
# this version would serialize to nothing anyway).
PROTO_VERSION = 0


def create_summary_metadata() -> SummaryMetadata:
    """Metadata marking a tensor value as a scalar."""
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


def scalar(
    name: str, tensor: Any, collections: Any = None, new_style: bool = False, double_precision: bool = False
) -> Summary:
    """A Summary with one scalar (torch's ``summary.scalar``).

    Args:
        name: the tag.
        tensor: a real number, or a one-element tensor or array (any device); NaN and
            ±Inf are kept.
        collections: accepted and ignored, as in torch.
        new_style: a rank-0 tensor with scalars metadata instead of ``simple_value``.
        double_precision: with ``new_style``, float64 instead of float32.

    Returns:
        The Summary, for ``FileWriter.add_summary``.

    Raises:
        TypeError: ``name`` is not a str, or ``tensor`` is not a real number.
        ValueError: ``name`` is empty, or ``tensor`` holds more than one element.
    """
    check_tag(name, "name")
    value = to_float(name, tensor, "tensor")
    return scalar_pb(name, value, new_style=bool(new_style), double_precision=bool(double_precision))
