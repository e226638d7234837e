"""``--explain``: for every node, the formula with names, the values put in, the result.

Works on numbers and symbols alike; the results are the same op rules' values (this module
only writes them out), so an explanation can never disagree with the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from netanatomy.analysis.cost import node_cost
from netanatomy.ir.graph import Graph, Node
from netanatomy.symbolic import is_concrete, prod


@dataclass(frozen=True, slots=True)
class Step:
    """One line of a derivation: quantity = formula = substitution = result."""

    quantity: str
    formula: str
    substituted: str
    result: Any


@dataclass(frozen=True, slots=True)
class Explanation:
    """The derivation for one node (op) of the graph."""

    path: str
    op: str
    kind: str
    steps: tuple[Step, ...]


def show(value: Any) -> str:
    """Ints with thousands separators; expressions as sympy prints them."""
    if is_concrete(value):
        return f"{value:,}"
    if isinstance(value, tuple):
        return "×".join(str(v) for v in value)
    try:
        import sympy

        return str(sympy.simplify(value))
    except (TypeError, ValueError):
        return str(value)


def joined(values: Any, sep: str = "·") -> str:
    return sep.join(str(v) for v in values)


def spatial_names(rank: int) -> list[str]:
    return {1: ["L"], 2: ["H", "W"], 3: ["D", "H", "W"]}.get(rank, [f"S{i}" for i in range(rank)])


def conv_steps(node: Node) -> list[Step]:
    x, w, out = node.inputs[0].shape, node.inputs[1].shape, node.outputs[0].shape
    rank = len(x) - 2
    steps = []
    transposed = node.kind == "conv_transpose"
    for axis, name in enumerate(spatial_names(rank)):
        k, s = w[2 + axis], node.attrs["stride"][axis]
        d, (before, after) = node.attrs["dilation"][axis], node.attrs["padding"][axis]
        if transposed:
            extra = node.attrs["output_padding"][axis]
            steps.append(Step(f"{name}'", f"({name} − 1)·s − p_before − p_after + d·(k − 1) + "
                              "output_padding + 1",
                              f"({x[2 + axis]} − 1)·{s} − {before} − {after} + {d}·({k} − 1) + "
                              f"{extra} + 1", out[2 + axis]))
        else:
            steps.append(Step(f"{name}'", f"⌊({name} + p_before + p_after − d·(k − 1) − 1) / s⌋"
                              " + 1", f"⌊({x[2 + axis]} + {before} + {after} − {d}·({k} − 1) − 1)"
                              f" / {s}⌋ + 1", out[2 + axis]))
    groups = node.attrs["groups"]
    if transposed:
        steps.append(Step("weights", "C_in · (C_out/groups) · kernel",
                          f"{w[0]} · {w[1]} · {joined(w[2:])}", prod(w)))
    else:
        steps.append(Step("weights", "C_out · (C_in/groups) · kernel",
                          f"{w[0]} · {w[1]} · {joined(w[2:])}", prod(w)))
    if len(node.inputs) > 2:
        steps.append(Step("bias", "C_out", f"{node.inputs[2].shape[0]}", node.inputs[2].shape[0]))
    cost = node_cost(node)
    if transposed:
        steps.append(Step("MACs", "N·C_in·(input positions)·(C_out/groups)·kernel",
                          f"{x[0]}·{x[1]}·{joined(x[2:])} · {w[1]}·{joined(w[2:])}", cost.macs))
    else:
        steps.append(Step("MACs", "N·C_out·(output positions)·(C_in/groups)·kernel",
                          f"{out[0]}·{out[1]}·{joined(out[2:])} · {w[1]}·{joined(w[2:])}"
                          + (f"   (groups = {groups})" if groups != 1 else ""), cost.macs))
    return steps


def linear_steps(node: Node) -> list[Step]:
    x, w = node.inputs[0].shape, node.inputs[1].shape
    steps = [Step("output", "(…, out_features)", f"(…, {w[0]})", tuple(node.outputs[0].shape)),
             Step("weights", "out · in", f"{w[0]} · {w[1]}", prod(w))]
    if len(node.inputs) > 2:
        steps.append(Step("bias", "out", f"{w[0]}", w[0]))
    steps.append(Step("MACs", "rows · in · out", f"{joined(x[:-1])} · {w[1]} · {w[0]}",
                      node_cost(node).macs))
    return steps


def pool_steps(node: Node) -> list[Step]:
    x, out = node.inputs[0].shape, node.outputs[0].shape
    rounding = "⌈ ⌉" if node.attrs["ceil_mode"] else "⌊ ⌋"
    steps = []
    for axis, name in enumerate(spatial_names(len(node.attrs["kernel"]))):
        k, s = node.attrs["kernel"][axis], node.attrs["stride"][axis]
        before, after = node.attrs["padding"][axis]
        steps.append(Step(f"{name}'", f"{rounding[0]}({name} + 2p − k) / s{rounding[2]} + 1",
                          f"{rounding[0]}({x[2 + axis]} + {before} + {after} − {k}) / {s}"
                          f"{rounding[2]} + 1", out[2 + axis]))
    steps.append(Step("elementwise FLOPs", "outputs · window", f"{joined(out)} · "
                      f"{joined(node.attrs['kernel'])}", node_cost(node).elementwise_flops))
    return steps


def norm_steps(node: Node) -> list[Step]:
    x = node.inputs[0].shape
    steps = [Step("params", "scale + shift", " + ".join(joined(t.shape) for t in node.inputs[1:])
                  or "0", sum(t.numel for t in node.inputs[1:]))]
    per = 2 + (2 if node.attrs["stats"] else 0) + len(node.inputs) - 1
    steps.append(Step("elementwise FLOPs", "elements · (2 + 2·[stats] + affine tensors)",
                      f"{joined(x)} · {per}", node_cost(node).elementwise_flops))
    return steps


def recurrent_steps(node: Node) -> list[Step]:
    a = node.attrs
    gates = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}[a["mode"]]
    directions = 2 if a["bidirectional"] else 1
    return [Step("MACs", "T·N · Σ_layers directions · G·H·(in + H)",
                 f"x {joined(node.inputs[0].shape)}, G = {gates}, H = {a['hidden_size']}, "
                 f"layers = {a['num_layers']}, directions = {directions}", node_cost(node).macs)]


def generic_steps(node: Node) -> list[Step]:
    cost = node_cost(node)
    steps = [Step("output", node.kind, joined(node.inputs[0].shape if node.inputs else (), "×"),
                  tuple(node.outputs[0].shape))]
    if cost.macs:
        steps.append(Step("MACs", node.kind, "", cost.macs))
    if cost.elementwise_flops:
        steps.append(Step("elementwise FLOPs", "1 per element" if node.kind in (
            "activation", "elementwise", "softmax") else node.kind,
            joined(node.outputs[0].shape), cost.elementwise_flops))
    return steps


EXPLAINERS: dict[str, Callable[[Node], list[Step]]] = {
    "conv": conv_steps, "conv_transpose": conv_steps, "linear": linear_steps,
    "pool": pool_steps, "norm": norm_steps, "recurrent": recurrent_steps,
}


def explain(graph: Graph) -> tuple[Explanation, ...]:
    """The derivation of every node, in graph order."""
    return tuple(Explanation(node.path, node.op, node.kind,
                             tuple(EXPLAINERS.get(node.kind, generic_steps)(node)))
                 for node in graph.nodes)


def explanation_text(explanations: tuple[Explanation, ...]) -> str:
    lines = []
    for item in explanations:
        lines.append(f"{item.path or '<root>'}  [{item.op}]")
        for step in item.steps:
            shown = show(step.result)
            middle = f" = {step.substituted}" if step.substituted and step.substituted not in (
                shown, str(step.result)) else ""
            lines.append(f"    {step.quantity} = {step.formula}{middle} = {shown}")
    return "\n".join(lines) + "\n"
