"""add_graph and add_onnx_graph against torch.utils.tensorboard, and read by TensorBoard's graph plugin."""

from __future__ import annotations

import json
import os
import sys
import warnings

import numpy as np
import pytest
import torch
from tbread import plugin_routes
from tensorboard.compat.proto.config_pb2 import RunMetadata as TBRunMetadata
from tensorboard.compat.proto.graph_pb2 import GraphDef as TBGraphDef
from tensorboard.plugins.graph import graphs_plugin
from torch import nn
from torch.utils.tensorboard import SummaryWriter as TorchSummaryWriter

from eventwriter import GraphError, SummaryWriter
from eventwriter.proto.graph_pb2 import GraphDef
from eventwriter.reader import find_event_files, iter_events

sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")
)
from graphs import SimpleModel
from tutorial import LeNet5


class Nested(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Sequential(nn.Linear(6, 5), nn.Tanh()), nn.Linear(5, 4))
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.features(x))


class SharedLayer(nn.Module):
    """A submodule used twice."""

    def __init__(self):
        super().__init__()
        self.block = nn.Linear(4, 4)

    def forward(self, x):
        return self.block(torch.relu(self.block(x)))


class Containers(nn.Module):
    """Tuple and dict inputs, a list output."""

    def __init__(self):
        super().__init__()
        self.left, self.right = nn.Linear(3, 2), nn.Linear(3, 2)

    def forward(self, pair, mapping):
        first, second = pair
        return [self.left(first) + self.right(second), self.left(mapping["x"]), mapping["y"] * 2]


class DictInOut(nn.Module):
    """A dict input and a dict output."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(3, 2)

    def forward(self, batch):
        return {"code": self.encoder(batch["x"]), "scaled": batch["x"] * batch["scale"]}


class DictOutput(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 2)

    def forward(self, x):
        return {"out": self.linear(x)}


class Broken(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 2)

    def forward(self, x):
        raise RuntimeError("this model cannot run")


CASES = {
    "lenet5": (LeNet5, lambda: torch.rand(4, 1, 28, 28), True),
    "simple_model": (SimpleModel, lambda: torch.rand(2, 8), True),
    "nested_sequential": (Nested, lambda: torch.rand(3, 6), True),
    "submodule_used_twice": (SharedLayer, lambda: torch.rand(2, 4), True),
    "tuple_dict_in_list_out": (
        Containers,
        lambda: ((torch.rand(2, 3), torch.rand(2, 3)), {"x": torch.rand(2, 3), "y": torch.rand(2)}),
        False,
    ),
    "dict_in_dict_out": (DictInOut, lambda: ({"x": torch.rand(2, 3), "scale": torch.rand(2, 3)},), False),
}


def torch_graph(model, args, strict=True):
    from torch.utils.tensorboard._pytorch_graph import graph

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return graph(model, args, use_strict_trace=strict)


def written_graph(logdir):
    """(GraphDef, RunMetadata) from the events of ``logdir``, and the event kinds in order."""
    (path,) = find_event_files(logdir)["."]
    events = list(iter_events(path))
    kinds = [e.WhichOneof("what") for e in events]
    graph = next((TBGraphDef.FromString(e.graph_def) for e in events if e.HasField("graph_def")), None)
    metadata = next((e.tagged_run_metadata for e in events if e.HasField("tagged_run_metadata")), None)
    return graph, metadata, kinds


@pytest.mark.parametrize("case", list(CASES))
def test_add_graph_is_torchs_node_for_node(tmp_path, case):
    cls, make_args, strict = CASES[case]
    torch.manual_seed(0)
    model = cls()
    args = make_args()
    theirs, their_metadata = torch_graph(model, args, strict)
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_graph(model, args, use_strict_trace=strict)
    ours, our_metadata, kinds = written_graph(str(tmp_path))
    assert kinds == ["file_version", "graph_def", "tagged_run_metadata"]
    assert [(n.name, n.op, list(n.input)) for n in ours.node] == [(n.name, n.op, list(n.input)) for n in theirs.node]
    assert ours == theirs  # attrs (the "attr" string, _output_shapes) and versions too
    assert our_metadata.tag == "step1"
    assert TBRunMetadata.FromString(our_metadata.run_metadata) == their_metadata


def test_events_match_torchs_writer(tmp_path):
    model, images = LeNet5(), torch.rand(4, 1, 28, 28)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TorchSummaryWriter(str(tmp_path / "torch")) as writer:
            writer.add_graph(model, images)
    with SummaryWriter(str(tmp_path / "ours")) as writer:
        writer.add_graph(model, images)
    theirs, ours = written_graph(str(tmp_path / "torch")), written_graph(str(tmp_path / "ours"))
    assert theirs[0] == ours[0] and theirs[2] == ours[2]
    assert theirs[1].run_metadata == ours[1].run_metadata


def test_module_scopes_group_lenet_nodes():
    from eventwriter.graph import model_graph

    graph, _ = model_graph(LeNet5(), torch.rand(1, 1, 28, 28), source="trace")
    scopes = {node.name.rsplit("/", 1)[0] for node in graph.node}
    assert {"LeNet5/Conv2d[conv1]", "LeNet5/Conv2d[conv2]", "LeNet5/Linear[fc1]", "input", "output"} <= scopes


def test_train_mode_is_restored_also_when_tracing_fails(tmp_path):
    model = SimpleModel().train()
    with SummaryWriter(str(tmp_path / "ok")) as writer:
        writer.add_graph(model, torch.rand(2, 8))
    assert model.training
    broken = Broken().train()
    with SummaryWriter(str(tmp_path / "broken")) as writer:
        with pytest.raises(GraphError) as raised:
            writer.add_graph(broken, torch.rand(2, 3), graph_from="trace")
    assert broken.training
    assert "tracing Broken failed" in str(raised.value) and "this model cannot run" in str(raised.value)
    assert isinstance(raised.value.__cause__, RuntimeError)
    assert written_graph(str(tmp_path / "broken"))[2] == ["file_version"]  # nothing written


def test_auto_falls_back_to_export_and_says_so(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        with pytest.warns(UserWarning, match=r"tracing DictOutput failed .*; the graph comes from torch.export"):
            writer.add_graph(DictOutput(), torch.rand(2, 3))
    graph, _, kinds = written_graph(str(tmp_path))
    assert kinds == ["file_version", "graph_def", "tagged_run_metadata"]
    names = [node.name for node in graph.node]
    assert "DictOutput/Linear[linear]/weight" in names and "input/x" in names and "output/output.1" in names


def test_auto_reports_both_failures(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        with pytest.raises(
            GraphError, match=r"no graph of Broken: tracing failed .*this model cannot run.* torch.export failed"
        ):
            writer.add_graph(Broken(), torch.rand(2, 3))
    assert written_graph(str(tmp_path))[2] == ["file_version"]


def test_export_graph_has_module_scopes_shapes_and_edges(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_graph(Nested(), torch.rand(3, 6), graph_from="export")
    graph, _, _ = written_graph(str(tmp_path))
    nodes = {node.name: node for node in graph.node}
    linear = nodes["Nested/Sequential[features]/Sequential[0]/Linear[0]/linear"]
    assert linear.op == "aten.linear.default"
    layer = "Nested/Sequential[features]/Sequential[0]/Linear[0]"
    assert list(linear.input) == ["input/x", f"{layer}/weight", f"{layer}/bias"]
    assert [d.size for d in linear.attr["_output_shapes"].list.shape[0].dim] == [3, 5]
    assert list(nodes["output/output.1"].input) == ["Nested/Linear[head]/linear_2"]


def test_verbose_prints_the_graph(tmp_path, capsys):
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_graph(SimpleModel(), torch.rand(2, 8), verbose=True)
    printed = capsys.readouterr().out
    assert "graph(" in printed and "aten::linear" in printed


def test_bad_graph_source(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer, pytest.raises(ValueError, match="graph source must be one of"):
        writer.add_graph(SimpleModel(), torch.rand(2, 8), graph_from="onnx")


def test_graph_plugin_reads_the_graph(tmp_path):
    logdir = str(tmp_path)
    with SummaryWriter(logdir) as writer:
        writer.add_graph(LeNet5(), torch.rand(4, 1, 28, 28))
    get = plugin_routes(graphs_plugin.GraphsPlugin, logdir)
    assert json.loads(get("/info"))["."]["run_graph"] is True
    from google.protobuf import text_format

    response = get("/graph", run=".", conceptual="false")
    graph = text_format.Parse(response.decode(), TBGraphDef())
    assert any(node.name.startswith("LeNet5/Conv2d[conv1]/weight") for node in graph.node)
    assert len(graph.node) == 59


# -- ONNX -----------------------------------------------------------------------


def onnx_model(path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Gemm", ["x", "w", "b"], ["h"], alpha=1.0, transB=1),
        helper.make_node("Relu", ["h"], ["y"]),
        helper.make_node("ArgMax", ["y"], ["label"], axis=1, keepdims=0),
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])]
    outputs = [
        helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3]),
        helper.make_tensor_value_info("label", TensorProto.INT64, [2]),
    ]
    weights = [
        helper.make_tensor("w", TensorProto.FLOAT, [3, 4], np.ones(12).tolist()),
        helper.make_tensor("b", TensorProto.FLOAT, [3], [0, 0, 0]),
    ]
    graph = helper.make_graph(nodes, "mlp", inputs, outputs, weights)
    model = helper.make_model(graph)
    onnx.save(model, path)
    return model


def test_add_onnx_graph_as_torch_builds_it(tmp_path, capsys):
    path = str(tmp_path / "model.onnx")
    model = onnx_model(path)
    from torch.utils.tensorboard._onnx_graph import load_onnx_graph

    theirs = load_onnx_graph(path)
    assert capsys.readouterr().out  # torch prints every node name; eventwriter prints nothing
    for source in (path, model):
        logdir = str(tmp_path / str(type(source).__name__))
        with SummaryWriter(logdir) as writer:
            writer.add_onnx_graph(source)
        assert capsys.readouterr().out == ""
        ours, _, kinds = written_graph(logdir)
        assert kinds == ["file_version", "graph_def"]
        assert [(n.name, n.op, list(n.input)) for n in ours.node] == [
            (n.name, n.op, list(n.input)) for n in theirs.node
        ]
        for our_node, their_node in zip(ours.node, theirs.node):
            assert our_node.attr.keys() == their_node.attr.keys()
            for key in our_node.attr:
                if key != "dtype":
                    assert our_node.attr[key] == their_node.attr[key]


def test_difference_onnx_types_are_translated(tmp_path):
    path = str(tmp_path / "model.onnx")
    onnx_model(path)
    from torch.utils.tensorboard._onnx_graph import load_onnx_graph

    theirs = {n.name: n for n in load_onnx_graph(path).node if n.op == "Variable"}
    with SummaryWriter(str(tmp_path / "ours")) as writer:
        writer.add_onnx_graph(path)
    ours = {n.name: n for n in written_graph(str(tmp_path / "ours"))[0].node if n.op == "Variable"}
    assert theirs["label"].attr["dtype"].type == 7  # ONNX INT64 written as is: TensorFlow's DT_STRING
    assert ours["label"].attr["dtype"].type == 9  # DT_INT64
    assert ours["x"].attr["dtype"].type == theirs["x"].attr["dtype"].type == 1  # FLOAT is 1 in both


def test_add_onnx_graph_refuses_other_objects(tmp_path):
    with (
        SummaryWriter(str(tmp_path)) as writer,
        pytest.raises(TypeError, match="expected an ONNX ModelProto or the path"),
    ):
        writer.add_onnx_graph(42)


def test_our_graph_def_class_reads_torchs_graph():
    theirs, _ = torch_graph(SimpleModel(), torch.rand(2, 8))
    ours = GraphDef.FromString(theirs.SerializeToString())
    assert [n.name for n in ours.node] == [n.name for n in theirs.node]
