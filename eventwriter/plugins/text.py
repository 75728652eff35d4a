"""Text plugin.

On disk: ``Summary.Value.tensor`` of dtype DT_STRING and shape ``[1]`` holding the UTF-8
text (TensorBoard renders it as Markdown), metadata with plugin name "text" and an
empty TextPluginData of version ``PROTO_VERSION``. torch puts the value under
``{tag}/text_summary``.
"""

from __future__ import annotations

from eventwriter.convert import check_tag, check_text, describe
from eventwriter.proto.plugin_data_pb2 import TextPluginData
from eventwriter.proto.summary_pb2 import Summary, SummaryMetadata
from eventwriter.proto.tensor_pb2 import TensorProto, TensorShapeProto
from eventwriter.proto.types_pb2 import DT_STRING

__all__ = ["PLUGIN_NAME", "PROTO_VERSION", "TAG_SUFFIX", "create_summary_metadata", "text", "text_pb"]

PLUGIN_NAME = "text"
PROTO_VERSION = 0
TAG_SUFFIX = "/text_summary"


def create_summary_metadata() -> SummaryMetadata:
    """Metadata marking a string tensor as text."""
    content = TextPluginData(version=PROTO_VERSION).SerializeToString()
    return SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=PLUGIN_NAME, content=content))


def text_pb(tag: str, text: str) -> Summary:
    """A Summary holding ``text`` under ``tag`` (the caller adds torch's tag suffix)."""
    tensor = TensorProto(
        dtype=DT_STRING,
        string_val=[text.encode("utf-8")],
        tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]),
    )
    return Summary(value=[Summary.Value(tag=tag, metadata=create_summary_metadata(), tensor=tensor)])


def text(tag: str, text: str) -> Summary:
    """A Summary holding ``text`` under ``{tag}/text_summary`` (torch's ``summary.text``).

    Args:
        tag: the tag, without torch's suffix.
        text: the text, shown as Markdown.

    Returns:
        The Summary, for ``FileWriter.add_summary``.

    Raises:
        TypeError: ``tag`` or ``text`` is not a str (the message says ``text_string``).
        ValueError: ``tag`` is empty, or ``text`` holds a lone surrogate (UTF-8 cannot
            encode it).
    """
    check_tag(tag)
    if not isinstance(text, str):
        # Named as SummaryWriter.add_text names it, the call nearly every user makes.
        raise TypeError(f"{tag!r}: text_string must be a str, got {describe(text)}")
    return text_pb(tag + TAG_SUFFIX, check_text(tag, "text_string", text))
