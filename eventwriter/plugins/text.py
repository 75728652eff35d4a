"""Text plugin.

On disk: ``Summary.Value.tensor`` of dtype DT_STRING and shape ``[1]`` holding the UTF-8
text (TensorBoard renders it as Markdown), metadata with plugin name "text" and an
empty TextPluginData (version 0). torch puts the value under ``{tag}/text_summary``.
"""

from __future__ import annotations

from eventwriter.proto.plugin_data_pb2 import TextPluginData
from eventwriter.proto.summary_pb2 import Summary, SummaryMetadata
from eventwriter.proto.tensor_pb2 import TensorProto, TensorShapeProto
from eventwriter.proto.types_pb2 import DT_STRING

__all__ = ["PLUGIN_NAME", "TAG_SUFFIX", "create_summary_metadata", "text_pb"]

PLUGIN_NAME = "text"
TAG_SUFFIX = "/text_summary"


def create_summary_metadata() -> SummaryMetadata:
    content = TextPluginData(version=0).SerializeToString()
    return SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=PLUGIN_NAME, content=content))


def text_pb(tag: str, text: str) -> Summary:
    """A Summary holding ``text`` under ``tag`` (the caller adds torch's tag suffix)."""
    tensor = TensorProto(
        dtype=DT_STRING,
        string_val=[text.encode("utf-8")],
        tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]),
    )
    return Summary(value=[Summary.Value(tag=tag, metadata=create_summary_metadata(), tensor=tensor)])
