"""Data-flow questions about an IR graph, for lints and the initialisation check: which
parameter a tensor comes from, who reads a tensor, and what a layer's output meets next
(an activation, a normalisation, another linear layer, or the end).

Ops are told apart by their kind and their function (``node.attrs["fn"]``: ``"add"``,
``"relu"``, ``"mean"``, which both front-ends set), never by parsing op names."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property

from netanatomy.ir.graph import Graph, Node

TRANSPARENT_KINDS = frozenset({"view", "reshape", "copy", "pad", "dropout", "pool",
                               "adaptive_pool", "upsample", "concat"})
"""Kinds a layer's output passes through on its way to the next nonlinearity."""

LINEAR_REDUCTIONS = ("mean", "sum")


def fn_of(node: Node) -> str:
    """The function a node computes (``attrs["fn"]``; ``""`` when the front-end gave none)."""
    return str(node.attrs.get("fn", ""))


def passes_to_nonlinearity(node: Node) -> bool:
    """Data movement, pooling (``x.mean((2, 3))`` too), dropout and elementwise arithmetic
    (bias and residual adds) do not change which nonlinearity a layer feeds."""
    return node.kind in TRANSPARENT_KINDS or node.kind == "elementwise" or (
        node.kind == "reduction" and fn_of(node) in LINEAR_REDUCTIONS)


def keeps_channel_constants(node: Node) -> bool:
    """Ops that map a per-channel constant offset to a per-channel constant offset exactly
    (so a normalisation after them still removes it): data movement, max-pooling,
    upsampling, and adding or subtracting another tensor."""
    if node.kind in ("view", "reshape", "copy", "concat", "upsample"):
        return True
    if node.kind == "pool":
        return node.attrs.get("mode") == "max"
    return node.kind == "elementwise" and fn_of(node) in ("add", "sub")


LINEAR_KINDS = frozenset({"conv", "conv_transpose", "matmul"})

RELU_FAMILY = ("relu", "hardtanh", "leaky_relu", "prelu", "elu", "selu", "celu", "gelu",
               "silu", "mish", "hardswish", "rrelu", "threshold", "softplus")
SATURATING = ("sigmoid", "tanh", "hardsigmoid", "log_sigmoid")


def activation_name(node: Node) -> str:
    """The activation's function: ``fn`` ``_prelu_kernel`` → ``prelu``,
    ``log_sigmoid_forward`` → ``log_sigmoid``, ``leaky_relu`` as it is."""
    name = fn_of(node).strip("_")
    for suffix in ("_kernel", "_forward", "_with_noise"):
        name = name.removesuffix(suffix)
    return name


def activation_family(node: Node) -> str:
    """``"relu"`` (ReLU family: He init), ``"saturating"`` (sigmoid/tanh: Xavier) or
    ``"other"``."""
    name = activation_name(node)
    if name in RELU_FAMILY:
        return "relu"
    if name in SATURATING:
        return "saturating"
    return "other"


@dataclass(frozen=True)
class Meeting:
    """What a tensor reaches first downstream: ``kind`` is ``"activation"``, ``"norm"``,
    ``"linear"`` or ``"output"``; ``node`` the node met (None for the output)."""

    kind: str
    node: Node | None


class DataFlow:
    """Producer/consumer maps of a graph's tensors (by id)."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.consumers: dict[int, list[Node]] = {}
        self.producer: dict[int, Node] = {}
        for node in graph.nodes:
            for tensor in node.inputs:
                self.consumers.setdefault(tensor.id, []).append(node)
            for tensor in node.outputs:
                self.producer[tensor.id] = node

    @cached_property
    def module_types(self) -> dict[str, str]:
        return {module.path: module.type for module in self.graph.modules}

    def is_buffer(self, name: str) -> bool:
        info = self.graph.params.get(name)
        return info is not None and info.is_buffer

    def source_param(self, tensor_id: int, through_masks: bool = True) -> str | None:
        """The parameter a tensor is, or is a view/copy of (``W.t()`` in ``addmm``), or —
        with ``through_masks`` — the parameter of a ``weight * mask`` product."""
        for _ in range(16):
            producer = self.producer.get(tensor_id)
            if producer is None:
                return None
            params = [t.param for t in producer.inputs if t.param is not None
                      and not self.is_buffer(t.param)]                # the weight, not a mask
            if producer.kind in ("view", "reshape", "copy") and producer.inputs:
                if producer.inputs[0].param is not None:
                    return producer.inputs[0].param
                tensor_id = producer.inputs[0].id
            elif through_masks and producer.kind == "elementwise" and params:
                return params[0]
            else:
                return None
        return None

    def param_of(self, tensor_id: int) -> str | None:
        """``param_of`` for a node operand: its own param name, else its source."""
        for node in self.consumers.get(tensor_id, []):
            for tensor in node.inputs:
                if tensor.id == tensor_id and tensor.param is not None:
                    return tensor.param
        return self.source_param(tensor_id)

    def weight_of(self, node: Node) -> str | None:
        """The weight parameter of a linear-algebra node (conv weight, or the parameter
        operand of a matmul), or None when both operands are activations."""
        if node.kind in ("conv", "conv_transpose"):
            weight = node.inputs[1]
            return weight.param or self.source_param(weight.id)
        if node.kind == "matmul":
            for tensor in node.inputs[:2]:
                name = tensor.param or self.source_param(tensor.id, through_masks=False)
                if name is not None:
                    return name
            for tensor in node.inputs[:2]:
                name = self.derived_weight(tensor.id)
                if name is not None:
                    return name
        return None

    def derived_weight(self, tensor_id: int) -> str | None:
        """The parameter of an elementwise product of parameters and buffers only, seen
        through views (``F.linear(x, mask * weight)``); never of an activation × parameter
        product such as ``q @ (k * scale)``."""
        for _ in range(16):
            producer = self.producer.get(tensor_id)
            if producer is None or not producer.inputs:
                return None
            if producer.kind in ("view", "reshape", "copy"):
                tensor_id = producer.inputs[0].id
                continue
            if producer.kind != "elementwise" or any(t.param is None for t in producer.inputs):
                return None
            names = [t.param for t in producer.inputs
                     if t.param is not None and not self.is_buffer(t.param)]
            return names[0] if names else None
        return None

    def bias_of(self, node: Node) -> str | None:
        """The bias parameter a linear node adds (its third operand, or a following
        ``+ bias`` of a parameter)."""
        if node.kind in ("conv", "conv_transpose", "matmul") and len(node.inputs) > 2:
            return node.inputs[2].param or self.source_param(node.inputs[2].id)
        for consumer in self.consumers.get(node.outputs[0].id, []):
            if consumer.kind == "elementwise" and fn_of(consumer) == "add":
                for tensor in consumer.inputs:
                    name = tensor.param or self.source_param(tensor.id, through_masks=False)
                    if name is not None and name.endswith("bias"):
                        return name
        return None

    def downstream(self, node: Node, passes: Callable[[Node], bool]) -> Iterator[Node]:
        """Nodes reading ``node``'s outputs, breadth first, going on through the nodes for
        which ``passes`` is true."""
        frontier = [t.id for t in node.outputs]
        seen: set[int] = set()
        while frontier:
            tensor_id = frontier.pop(0)
            for consumer in self.consumers.get(tensor_id, []):
                if consumer.index in seen:
                    continue
                seen.add(consumer.index)
                yield consumer
                if passes(consumer):
                    frontier.extend(t.id for t in consumer.outputs)

    def is_bias_add(self, node: Node) -> bool:
        return node.kind == "elementwise" and fn_of(node) == "add" and any(
            (t.param or self.source_param(t.id, through_masks=False)) is not None
            for t in node.inputs)

    def meets(self, node: Node) -> Meeting:
        """The first activation, normalisation or linear layer ``node``'s output reaches."""
        for consumer in self.downstream(node, passes_to_nonlinearity):
            if consumer.kind == "activation":
                return Meeting("activation", consumer)
            if consumer.kind == "norm":
                return Meeting("norm", consumer)
            if consumer.kind in LINEAR_KINDS or consumer.kind == "softmax":
                return Meeting("linear", consumer)
        return Meeting("output", None)
