"""A model's graph from ``torch.export``, for models the TorchScript tracer rejects.

``torch.export`` records the model as an FX graph of ATen operators; each node knows
the module call stack it came from (``nn_module_stack``). Nodes are named like the
TorchScript path names them, so the Graphs tab groups them by module the same way:
``<ModelClass>/<Class>[<attribute>]/.../<node>``. Parameters and buffers sit in the
scope of the module that owns them; the model's inputs are ``input/<name>`` and its
outputs ``output/output.<i>`` ("IO Node").
"""

from __future__ import annotations

from typing import Any

from eventwriter.plugins.graphs import node_def
from eventwriter.proto.graph_pb2 import NodeDef

__all__ = ["export", "nodes_from_export"]


def export(model: Any, args: Any) -> Any:
    """``torch.export.export`` the model (non-strict: Python control flow is traced)."""
    import torch

    if not isinstance(args, tuple):
        args = (args,) if args is not None else ()
    return torch.export.export(model, args, strict=False)


def _shape(node: Any) -> list[int] | None:
    value = node.meta.get("val")
    shape = getattr(value, "shape", None)
    if shape is None:
        return None
    try:
        return [int(size) for size in shape]
    except TypeError:  # a symbolic size
        return None


def _flat_nodes(argument: Any) -> list[Any]:
    import torch.fx

    found: list[Any] = []
    torch.fx.node.map_arg(argument, found.append)
    return found


def _describe(argument: Any) -> Any:
    import torch.fx

    return torch.fx.node.map_arg(argument, lambda node: f"%{node.name}")


def nodes_from_export(exported: Any, model: Any) -> list[NodeDef]:
    """The GraphDef nodes of an ExportedProgram of ``model``."""
    base = type(model).__name__
    module_types = {path: type(module).__name__ for path, module in model.named_modules()}

    def module_scope(path: str) -> str:
        parts = path.split(".") if path else []
        names = [f"{module_types.get('.'.join(parts[: i + 1]), 'Module')}[{part}]" for i, part in enumerate(parts)]
        return "/".join([base, *names])

    signature = exported.graph_signature
    owned = {**signature.inputs_to_parameters, **signature.inputs_to_buffers}
    names: dict[str, str] = {}
    nodes: list[NodeDef] = []
    outputs = 0
    for node in exported.graph.nodes:
        if node.op == "placeholder":
            if node.name in owned:
                path, _, leaf = owned[node.name].rpartition(".")
                names[node.name] = f"{module_scope(path)}/{leaf}"
                kind = "Parameter" if node.name in signature.inputs_to_parameters else "Buffer"
                nodes.append(node_def(names[node.name], kind, (), _shape(node), ""))
            else:
                names[node.name] = f"input/{node.name}"
                nodes.append(node_def(names[node.name], "IO Node", (), _shape(node), ""))
        elif node.op == "output":
            for value in _flat_nodes(node.args):
                outputs += 1
                nodes.append(node_def(f"output/output.{outputs}", "IO Node", [names[value.name]], _shape(value), ""))
        else:
            stack = list((node.meta.get("nn_module_stack") or {}).values())
            scope = module_scope(stack[-1][0]) if stack else base
            names[node.name] = f"{scope}/{node.name}"
            inputs = [names[arg.name] for arg in _flat_nodes((node.args, node.kwargs)) if arg.name in names]
            attributes = str({"args": _describe(node.args), "kwargs": _describe(node.kwargs)}).replace("'", " ")
            nodes.append(node_def(names[node.name], str(node.target), inputs, _shape(node), attributes))
    return nodes
