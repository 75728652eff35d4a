"""A model's graph from ``torch.jit.trace``, named node for node as torch.utils.tensorboard
names it.

The TorchScript graph (inlined) has three kinds of nodes: graph inputs (the model's
arguments and ``self``), operator nodes with a scope such as
``__module.features/__module.features.0``, and graph outputs. The naming follows
torch's ``_pytorch_graph.parse`` step by step, quirks included, because users compare
graphs across writers and TensorBoard groups nodes by these names:

1. inputs that are used and are not the module object become ``input/<debugName>``
   ("IO Node"); outputs become ``output/output.<i>`` fed by the returned value;
2. ``prim::GetAttr`` nodes get the scope of the attribute path they read;
3. scope aliases become ``<ModelClass>/<Class>[<attribute>]/...``;
4. each operator output becomes a node ``<scope>/<debugName>`` carrying the operator's
   kind, inputs, attributes (a dict rendered as text, quotes replaced by spaces) and
   output shape, replacing the plain value it names;
5. value names are then rewritten to their scoped names.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from eventwriter.plugins.graphs import node_def
from eventwriter.proto.graph_pb2 import NodeDef

__all__ = ["nodes_from_torchscript", "trace"]

_GETATTR = "prim::GetAttr"
_CLASS_TYPE = "ClassType"


@dataclass
class _Value:
    """One node of the GraphDef to be: a graph input/output or an operator's output."""

    name: str
    inputs: list[str] = field(default_factory=list)
    shape: list[int] | None = None
    op: str = "IO Node"
    attributes: str = ""
    scope: str | None = None  # operator outputs only
    io_prefix: str | None = None  # "input" or "output"


@dataclass
class _Operator:
    kind: str
    scope: str
    inputs: list[str]
    outputs: list[str]
    output_shapes: list[list[int] | None]
    attributes: str


def _shape(value: Any) -> list[int] | None:
    return list(value.type().sizes()) if value.isCompleteTensor() else None


def _io_shape(value: Any) -> list[int]:
    try:
        return list(value.type().sizes())
    except RuntimeError:  # not a tensor (a tuple, a constant module): torch records [1]
        return [1]


def _operator(node: Any, scope: str | None = None) -> _Operator:
    attributes = {name: getattr(node, node.kindOf(name))(name) for name in node.attributeNames()}
    return _Operator(
        kind=node.kind(),
        scope=node.scopeName() if scope is None else scope,
        inputs=[value.debugName() for value in node.inputs()],
        outputs=[value.debugName() for value in node.outputs()],
        output_shapes=[_shape(value) for value in node.outputs()],
        attributes=str(attributes).replace("'", " "),
    )


def _module_name(module: Any) -> str:
    import torch

    if isinstance(module, torch.jit.TracedModule):  # type: ignore[attr-defined]
        return str(module._name)
    return str(getattr(module, "original_name", "Module"))


def nodes_from_torchscript(graph: Any, traced: Any) -> list[NodeDef]:
    """The GraphDef nodes of an inlined TorchScript ``graph`` of the traced module."""
    values: OrderedDict[str, _Value] = OrderedDict()
    for value in graph.inputs():
        if len(value.uses()) == 0 or value.type().kind() == _CLASS_TYPE:
            continue
        values[value.debugName()] = _Value(value.debugName(), shape=_io_shape(value), io_prefix="input")
    operators = _operators(graph)
    for index, value in enumerate(graph.outputs()):
        name = f"output.{index + 1}"
        values[name] = _Value(name, inputs=[value.debugName()], shape=_io_shape(value), io_prefix="output")
    _name_scopes(operators, traced)
    for operator in operators:
        for output, shape in zip(operator.outputs, operator.output_shapes):
            values[output] = _Value(
                output, list(operator.inputs), shape, operator.kind, operator.attributes, operator.scope
            )
    _prefix_scopes(operators, values)
    return [node_def(v.name, v.op, v.inputs, v.shape, v.attributes) for v in values.values()]


def _operators(graph: Any) -> list[_Operator]:
    """The graph's operators; attribute reads get the scope path of the attribute."""
    operators: list[_Operator] = []
    attribute_scopes: dict[str, str] = {}
    for node in graph.nodes():
        if node.kind() != _GETATTR:
            operators.append(_operator(node))
            continue
        key, name, parent = node.output().debugName(), node.s("name"), node.input().node()
        if parent.kind() == _GETATTR:
            parent_scope = attribute_scopes[parent.output().debugName()]
            attribute_scopes[key] = f"{parent_scope}/{parent_scope.split('/')[-1]}.{name}"
        else:
            attribute_scopes[key] = f"__module.{name}"
        if node.output().type().kind() != _CLASS_TYPE:
            operators.append(_operator(node, scope=attribute_scopes[key]))
    return operators


def _name_scopes(operators: list[_Operator], traced: Any) -> None:
    """Scope aliases ("__module.features.0") to readable names ("Sequential[features]/...")."""
    base = _module_name(traced)
    aliases = {
        path: f"{_module_name(module)}[{path.split('.')[-1]}]"
        for path, module in traced.named_modules(prefix="__module")
    }
    for operator in operators:
        parts = [aliases.get(alias, alias.split(".")[-1]) for alias in operator.scope.split("/")]
        operator.scope = base + ("/" + "/".join(parts) if any(parts) else "")


def _prefix_scopes(operators: list[_Operator], values: OrderedDict[str, _Value]) -> None:
    """Name every value and input by its scope path, as torch does."""
    shallowest = "default"
    for operator in operators:  # torch keeps the root of the last non-empty scope
        if operator.scope and operator.outputs:
            shallowest = operator.scope.split("/")[0]
    scoped: dict[str, str] = {}
    for operator in operators:
        for name in operator.inputs:
            scoped[name] = f"{operator.scope}/{name}"
    for key, value in values.items():
        if value.io_prefix is not None:
            scoped[key] = f"{value.io_prefix}/{value.name}"
        if value.scope is not None:
            scoped[key] = f"{value.scope}/{value.name}"
            if value.scope == "" and shallowest:
                scoped[value.name] = f"{shallowest}/{value.name}"
    for value in values.values():
        value.inputs = [scoped[name] for name in value.inputs]
        value.name = scoped.get(value.name, value.name)


def trace(model: Any, args: Any, strict: bool) -> tuple[Any, Any]:
    """``torch.jit.trace`` the model and inline its graph; returns (graph, traced module).

    The caller puts the model in eval mode; torch's deprecation warning for the tracer
    is silenced here (the user asked for a graph, not for the tracer).
    """
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit")
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.trace.* deprecated", category=FutureWarning)
        # check_trace=False: the check re-runs the model to compare traces and only warns;
        # skipping it halves the time and changes nothing in the graph.
        traced = torch.jit.trace(model, args, strict=strict, check_trace=False)  # type: ignore[no-untyped-call]
    graph = traced.graph
    torch._C._jit_pass_inline(graph)
    return graph, traced
