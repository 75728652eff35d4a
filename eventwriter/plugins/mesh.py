"""Mesh plugin (3D point clouds and meshes).

On disk a mesh is up to three values, ``{tag}_VERTEX``, ``{tag}_FACE`` and
``{tag}_COLOR``, each a DT_FLOAT tensor of shape ``[B, N, 3]``, with metadata of
plugin name "mesh" and a MeshPluginData (version ``PROTO_VERSION``) naming the mesh
(``name`` = tag), its content type, the bitmask of the components present
(``1 << content type`` each), the shape, and the JSON three.js configuration (``"{}"``
when none is given; keys sorted).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from eventwriter.convert import about_tag, check_tag, describe, real_array
from eventwriter.proto.mesh_plugin_data_pb2 import MeshPluginData
from eventwriter.proto.summary_pb2 import Summary, SummaryMetadata
from eventwriter.proto.tensor_pb2 import TensorProto, TensorShapeProto
from eventwriter.proto.types_pb2 import DT_FLOAT
from eventwriter.tensors import MAX_MESSAGE_BYTES

__all__ = ["PLUGIN_NAME", "PROTO_VERSION", "create_summary_metadata", "json_config", "mesh", "mesh_pb"]

PLUGIN_NAME = "mesh"
PROTO_VERSION = 0
CONTENT_TYPES = {"vertices": MeshPluginData.VERTEX, "faces": MeshPluginData.FACE, "colors": MeshPluginData.COLOR}


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):  # numpy numbers in a config are plain numbers
        return value.item()
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON")


def json_config(config_dict: Mapping[str, Any] | None) -> str:
    """The configuration as JSON text; numpy numbers become plain numbers.

    Raises:
        TypeError: a value JSON cannot hold.
        ValueError: the configuration refers to itself.
    """
    return "{}" if config_dict is None else json.dumps(config_dict, sort_keys=True, default=_json_default)


def create_summary_metadata(
    tag: str, content_type: MeshPluginData.ContentType, components: int, shape: tuple[int, ...], config: str
) -> SummaryMetadata:
    """Metadata of one component (``content_type``) of the mesh ``tag``."""
    content = MeshPluginData(
        version=PROTO_VERSION,
        name=tag,
        content_type=content_type,
        components=components,
        shape=shape,
        json_config=config,
    ).SerializeToString()
    return SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=PLUGIN_NAME, content=content))


def mesh_pb(tag: str, parts: Mapping[str, np.ndarray], config_dict: Mapping[str, Any] | None = None) -> Summary:
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
        with np.errstate(over="ignore"):  # beyond float32's range: ±inf, as torch writes it
            floats = array.astype(np.float32)
        tensor = TensorProto(
            dtype=DT_FLOAT,
            float_val=floats.reshape(-1).tolist(),
            tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=n) for n in array.shape]),
        )
        metadata = create_summary_metadata(tag, content_type, components, array.shape, config)
        instance = f"{tag}_{MeshPluginData.ContentType.Name(content_type)}"
        values.append(Summary.Value(tag=instance, tensor=tensor, metadata=metadata))
    return Summary(value=values)


# -- torch's builder -----------------------------------------------------------------


def _check_parts(tag: str, vertices: Any, colors: Any, faces: Any) -> dict[str, np.ndarray]:
    parts = {}
    for name, value in (("vertices", vertices), ("faces", faces), ("colors", colors)):
        if value is None:
            continue
        array = real_array(tag, name, value)
        if array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(f"{tag!r}: {name} must have shape (B, N, 3), got {array.shape}")
        parts[name] = array
    if "vertices" not in parts:
        raise ValueError(f"{tag!r}: vertices are required")
    batch, points = parts["vertices"].shape[:2]
    if "colors" in parts and parts["colors"].shape[:2] != (batch, points):
        raise ValueError(f"{tag!r}: colors must match vertices {(batch, points, 3)}, got {parts['colors'].shape}")
    if "faces" in parts:
        faces_array = parts["faces"]
        if faces_array.shape[0] not in (1, batch) or not np.all((faces_array >= 0) & (faces_array < points)):
            raise ValueError(f"{tag!r}: faces must be (B or 1, F, 3) indices into the {points} vertices")
    size = 4 * sum(array.size for array in parts.values())  # float32 each
    if size + 3 * len(tag.encode("utf-8")) + (1 << 12) > MAX_MESSAGE_BYTES:
        raise ValueError(f"{tag!r}: the mesh makes {size} bytes of float32, beyond protobuf's 2 GiB message limit")
    return parts


def mesh(
    tag: str,
    vertices: Any,
    colors: Any,
    faces: Any,
    config_dict: dict[str, Any] | None,
    display_name: str | None = None,
    description: str | None = None,
) -> Summary:
    """A Summary with a mesh or point cloud (torch's ``summary.mesh``).

    Args:
        tag: the mesh's name; the values are tagged ``{tag}_VERTEX``, ``_FACE``, ``_COLOR``.
        vertices: (B, N, 3) positions.
        colors: (B, N, 3) RGB values in [0, 255], or None.
        faces: (B or 1, F, 3) vertex indices, or None (a point cloud).
        config_dict: three.js settings (camera, lights, material), JSON-able, or None.
        display_name: accepted and not written (torch writes it into the metadata,
            where TensorBoard does not show it).
        description: accepted and not written, likewise.

    Returns:
        The Summary, for ``FileWriter.add_summary``.

    Raises:
        TypeError: an array is not real numbers, ``config_dict`` not a dict, or a value
            in it not JSON.
        ValueError: shapes do not fit, faces index missing vertices (or are NaN), or
            the mesh does not fit in a protobuf message (2 GiB).
    """
    check_tag(tag)
    parts = _check_parts(tag, vertices, colors, faces)
    if config_dict is not None and not isinstance(config_dict, Mapping):
        raise TypeError(f"{tag!r}: config_dict must be a dict, got {describe(config_dict)}")
    with about_tag(tag, "config_dict"):
        return mesh_pb(tag, parts, config_dict)
