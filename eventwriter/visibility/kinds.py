"""What a summary value is to TensorBoard's loaders: the plugin an old-style value
implies, each plugin's data class, and the tally of what a loader loses of a tag."""

from __future__ import annotations

from dataclasses import dataclass, field

from eventwriter.proto.summary_pb2 import DATA_CLASS_BLOB_SEQUENCE, DATA_CLASS_SCALAR, DATA_CLASS_TENSOR

__all__ = ["CLASS_NAMES", "CLASS_OF_PLUGIN", "GRAPH_PLUGINS", "IMPLIED", "KIND_NAMES", "UNKNOWN_PLUGIN_FIX", "Losses"]

IMPLIED = {"simple_value": "scalars", "image": "images", "audio": "audio", "histo": "histograms"}
CLASS_OF_PLUGIN = {
    "scalars": DATA_CLASS_SCALAR,
    **dict.fromkeys(("histograms", "text", "hparams", "pr_curves", "mesh", "custom_scalars"), DATA_CLASS_TENSOR),
    **dict.fromkeys(
        ("images", "audio", "graph_run_metadata", "graph_run_metadata_graph", "graph_keras_model"),
        DATA_CLASS_BLOB_SEQUENCE,
    ),
}
GRAPH_PLUGINS = {"graph_run_metadata", "graph_run_metadata_graph", "graph_keras_model"}
CLASS_NAMES: dict[int, str] = {
    DATA_CLASS_SCALAR: "scalar",
    DATA_CLASS_TENSOR: "tensor",
    DATA_CLASS_BLOB_SEQUENCE: "blob sequence",
}
KIND_NAMES = {  # a value's oneof, in words
    "": "a value without data",
    "simple_value": "a simple_value",
    "image": "an image",
    "audio": "an audio clip",
    "histo": "a histogram",
    "tensor": "a tensor",
}
UNKNOWN_PLUGIN_FIX = (
    "log with add_scalar, add_histogram or add_text, set metadata.data_class, "
    "or read the values with eventwriter.read_tensors"
)


@dataclass
class Losses:
    """Per loader, per tag: values lost by reason, and values replaced."""

    lost: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (reason, fix) -> [count, first step]
    replaced: int = 0
    replaced_from: int | None = None

    def lose(self, reason: str, fix: str, step: int, count: int = 1) -> None:
        entry = self.lost.setdefault((reason, fix), [0, step])
        entry[0] += count

    def replace(self, step: int) -> None:
        self.replaced += 1
        self.replaced_from = step if self.replaced_from is None else min(self.replaced_from, step)
