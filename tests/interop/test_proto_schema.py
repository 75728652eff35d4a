"""Every message and enum of eventwriter's protos matches tensorboard's, field by field.

eventwriter.X corresponds to tensorboard.X, and eventwriter.{hparams,mesh,projector}.X
to tensorboard.{hparams,mesh,projector}.X. A field here must exist there with the same
number, type, label and (for messages and enums) the corresponding type name. The few
messages that leave out fields TensorBoard defines (for TensorFlow features no writer
sets) name them in OMITTED, so the list can only shrink on purpose.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from google.protobuf import descriptor_pool
from google.protobuf.descriptor_pb2 import DescriptorProto, EnumDescriptorProto, FileDescriptorProto

import eventwriter.proto

# tensorboard's modules that define the counterparts, imported so their descriptors are in the pool.
TENSORBOARD_MODULES = [
    "tensorboard.compat.proto.event_pb2",
    "tensorboard.compat.proto.summary_pb2",
    "tensorboard.compat.proto.graph_pb2",
    "tensorboard.compat.proto.config_pb2",
    "tensorboard.compat.proto.step_stats_pb2",
    "tensorboard.plugins.scalar.plugin_data_pb2",
    "tensorboard.plugins.text.plugin_data_pb2",
    "tensorboard.plugins.histogram.plugin_data_pb2",
    "tensorboard.plugins.image.plugin_data_pb2",
    "tensorboard.plugins.audio.plugin_data_pb2",
    "tensorboard.plugins.pr_curve.plugin_data_pb2",
    "tensorboard.plugins.mesh.plugin_data_pb2",
    "tensorboard.plugins.hparams.plugin_data_pb2",
    "tensorboard.plugins.custom_scalar.layout_pb2",
    "tensorboard.plugins.projector.projector_config_pb2",
]

OMITTED = {
    "eventwriter.GraphDef": {"library", "debug_info"},
    "eventwriter.NodeDef": {"experimental_type"},
    "eventwriter.RunMetadata": {"cost_graph"},
}


def tensorboard_name(name: str) -> str:
    assert name.startswith(".eventwriter.") or name.startswith("eventwriter.")
    return name.replace("eventwriter.", "tensorboard.", 1)


def our_files() -> list[FileDescriptorProto]:
    files = []
    for module in pkgutil.iter_modules(eventwriter.proto.__path__):
        if module.name.endswith("_pb2"):
            descriptor = importlib.import_module(f"eventwriter.proto.{module.name}").DESCRIPTOR
            proto = FileDescriptorProto()
            descriptor.CopyToProto(proto)
            files.append(proto)
    return files


def walk(package: str, messages, enums):
    """(full name, proto) of every message and enum, nested ones included."""
    for enum in enums:
        yield f"{package}.{enum.name}", enum
    for message in messages:
        name = f"{package}.{message.name}"
        yield name, message
        yield from walk(name, [m for m in message.nested_type if not m.options.map_entry], message.enum_type)


def definitions():
    for file in our_files():
        yield from walk(file.package, file.message_type, file.enum_type)


def tensorboard_definition(name: str):
    for module in TENSORBOARD_MODULES:
        importlib.import_module(module)
    pool = descriptor_pool.Default()
    target = tensorboard_name(name)
    try:
        descriptor = pool.FindMessageTypeByName(target)
        proto = DescriptorProto()
    except KeyError:
        descriptor = pool.FindEnumTypeByName(target)
        proto = EnumDescriptorProto()
    descriptor.CopyToProto(proto)
    return proto


ALL = sorted(definitions(), key=lambda item: item[0])


def test_every_module_was_found():
    names = {name for name, _ in ALL}
    assert {"eventwriter.Event", "eventwriter.Summary.Value", "eventwriter.hparams.Experiment",
            "eventwriter.projector.ProjectorConfig", "eventwriter.mesh.MeshPluginData",
            "eventwriter.RunMetadata", "eventwriter.DataType"} <= names  # fmt: skip
    assert len(ALL) > 60


@pytest.mark.parametrize(("name", "ours"), ALL, ids=[name for name, _ in ALL])
def test_definition_matches_tensorboard(name, ours):
    theirs = tensorboard_definition(name)
    if isinstance(ours, EnumDescriptorProto):
        assert [(v.name, v.number) for v in ours.value] == [(v.name, v.number) for v in theirs.value]
        return
    their_fields = {f.name: f for f in theirs.field}
    for field in ours.field:
        assert field.name in their_fields, f"{name}.{field.name} is not in tensorboard"
        their = their_fields[field.name]
        assert (field.number, field.type, field.label) == (their.number, their.type, their.label), field.name
        if field.type_name:  # messages and enums: the counterpart type (or the same well-known type)
            expected = (
                tensorboard_name(field.type_name) if field.type_name.startswith(".eventwriter.") else field.type_name
            )
            assert expected == their.type_name, field.name
        assert field.HasField("oneof_index") == their.HasField("oneof_index"), field.name
        if field.HasField("oneof_index"):
            assert ours.oneof_decl[field.oneof_index].name == theirs.oneof_decl[their.oneof_index].name
    missing = set(their_fields) - {f.name for f in ours.field}
    assert missing == OMITTED.get(name, set()), f"{name} leaves out {sorted(missing)}"
