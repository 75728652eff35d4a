"""Mesh plugin (3D point clouds and meshes).

On disk a mesh is up to three values, ``{tag}_VERTEX``, ``{tag}_FACE`` and
``{tag}_COLOR``, each a DT_FLOAT tensor of shape ``[B, N, 3]``, with metadata of
plugin name "mesh" and a MeshPluginData naming the mesh (``name`` = tag), its content
type, the bitmask of the components present, the shape, and the JSON three.js
configuration (``"{}"`` when none is given).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from eventwriter.proto.mesh_plugin_data_pb2 import MeshPluginData
from eventwriter.proto.summary_pb2 import Summary, SummaryMetadata
from eventwriter.proto.tensor_pb2 import TensorProto, TensorShapeProto
from eventwriter.proto.types_pb2 import DT_FLOAT

__all__ = ["PLUGIN_NAME", "create_summary_metadata", "json_config", "mesh_pb"]

PLUGIN_NAME = "mesh"
CONTENT_TYPES = {"vertices": MeshPluginData.VERTEX, "faces": MeshPluginData.FACE, "colors": MeshPluginData.COLOR}


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):  # numpy numbers in a config are plain numbers
        return value.item()
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON")


def json_config(config_dict: dict[str, Any] | None) -> str:
    return "{}" if config_dict is None else json.dumps(config_dict, sort_keys=True, default=_json_default)


def create_summary_metadata(
    tag: str, content_type: MeshPluginData.ContentType, components: int, shape: tuple[int, ...], config: str
) -> SummaryMetadata:
    content = MeshPluginData(
        version=0, name=tag, content_type=content_type, components=components, shape=shape, json_config=config
    ).SerializeToString()
    return SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=PLUGIN_NAME, content=content))


def mesh_pb(tag: str, parts: dict[str, np.ndarray], config_dict: dict[str, Any] | None = None) -> Summary:
    """A Summary of a mesh: ``parts`` maps "vertices", "faces", "colors" to (B, N, 3) arrays."""
    components = 0
    for name in parts:
        components |= 1 << CONTENT_TYPES[name]
    config = json_config(config_dict)
    values = []
    for name in ("vertices", "faces", "colors"):
        if name not in parts:
            continue
        array = parts[name]
        content_type = CONTENT_TYPES[name]
        tensor = TensorProto(
            dtype=DT_FLOAT,
            float_val=array.astype(np.float32).reshape(-1).tolist(),
            tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=n) for n in array.shape]),
        )
        metadata = create_summary_metadata(tag, content_type, components, array.shape, config)
        instance = f"{tag}_{MeshPluginData.ContentType.Name(content_type)}"
        values.append(Summary.Value(tag=instance, tensor=tensor, metadata=metadata))
    return Summary(value=values)
