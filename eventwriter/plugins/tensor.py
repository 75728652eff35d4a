"""Tensors written by ``add_tensor`` (torch's "tensor" plugin name).

On disk: ``Summary.Value.tensor``, a TensorProto with the tensor's dtype and shape (see
eventwriter.tensors), metadata with plugin name "tensor". TensorBoard has no plugin of
that name: its fast data loader keeps no samples of it, while ``EventAccumulator``
returns them from ``Tensors(tag)``.
"""

from __future__ import annotations

import numpy as np

from eventwriter.proto.summary_pb2 import Summary, SummaryMetadata
from eventwriter.tensors import make_tensor_proto

__all__ = ["PLUGIN_NAME", "create_summary_metadata", "tensor_pb"]

PLUGIN_NAME = "tensor"


def create_summary_metadata() -> SummaryMetadata:
    return SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=PLUGIN_NAME))


def tensor_pb(tag: str, array: np.ndarray, *, bfloat16: bool = False) -> Summary:
    """A Summary holding the whole tensor ``array`` under ``tag``."""
    tensor = make_tensor_proto(array, bfloat16=bfloat16)
    return Summary(value=[Summary.Value(tag=tag, metadata=create_summary_metadata(), tensor=tensor)])
