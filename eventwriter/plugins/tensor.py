"""Tensors written by ``add_tensor`` (torch's "tensor" plugin name).

On disk: ``Summary.Value.tensor``, a TensorProto with the tensor's dtype and shape (see
eventwriter.tensors; bfloat16 as DT_BFLOAT16), metadata with plugin name "tensor" and no
content. TensorBoard has no plugin of that name: its fast data loader keeps no samples
of it, while ``EventAccumulator`` returns them from ``Tensors(tag)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from eventwriter.convert import about_tag, check_tag, is_torch_tensor, to_numpy
from eventwriter.proto.summary_pb2 import Summary, SummaryMetadata
from eventwriter.tensors import make_tensor_proto

__all__ = ["PLUGIN_NAME", "PROTO_VERSION", "create_summary_metadata", "tensor_pb", "tensor_proto"]

PLUGIN_NAME = "tensor"
PROTO_VERSION = 0  # torch writes no content: there is no plugin to read a version


def create_summary_metadata() -> SummaryMetadata:
    """Metadata naming the "tensor" plugin."""
    return SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=PLUGIN_NAME))


def tensor_pb(tag: str, array: np.ndarray, *, bfloat16: bool = False) -> Summary:
    """A Summary holding the whole tensor ``array`` under ``tag``.

    Raises:
        TypeError: the dtype has no TensorProto type.
        ValueError: the tensor's encoding (see eventwriter.tensors) does not fit in
            protobuf's 2 GiB message limit, or its strings are not valid Unicode.
    """
    tensor = make_tensor_proto(array, bfloat16=bfloat16, room=len(tag.encode("utf-8")))
    return Summary(value=[Summary.Value(tag=tag, metadata=create_summary_metadata(), tensor=tensor)])


def tensor_proto(tag: str, tensor: Any) -> Summary:
    """A Summary holding the whole ``tensor`` (torch's ``summary.tensor_proto``).

    Args:
        tag: the tag.
        tensor: a torch tensor (any device; bfloat16 kept as such), a numpy array, or a
            nested sequence of numbers, bools or strings.

    Returns:
        The Summary, for ``FileWriter.add_summary``.

    Raises:
        TypeError: ``tag`` is not a str, or the tensor's dtype has no TensorProto type.
        ValueError: ``tag`` is empty, the tensor's encoding does not fit in protobuf's
            2 GiB message limit (checked from the array before anything is built), or
            its strings are not valid Unicode.
    """
    check_tag(tag)
    bfloat16 = is_torch_tensor(tensor) and str(tensor.dtype) == "torch.bfloat16"
    array = to_numpy(tensor, tag, "tensor")
    with about_tag(tag, "tensor"):
        return tensor_pb(tag, array, bfloat16=bfloat16)
