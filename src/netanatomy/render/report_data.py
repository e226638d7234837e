"""The data of the HTML report: one JSON document, schema ``netanatomy.report/1``, that the
page only lays out and draws (docs/report.md lists its keys).

Top level: ``schema``, ``generator``, ``title``, ``source``, ``summary`` (exactly the
``netanatomy.summary/1`` document, every layer), ``explain`` (the ``--explain``
derivations or null), ``graph`` (the module tree, the op DAG, the graph inputs and the
repeated-block groups), ``sections`` (other commands' JSON documents, by command) and
``images`` (PNG figures, base64). Numbers are integers, symbolic values strings (sympy
text), unknown values null, as in ``netanatomy.summary/1``. Keys are only ever added.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from netanatomy.analysis.cost import NodeCost, graph_costs
from netanatomy.analysis.repeats import RepeatGroup, children_of, repeated_groups
from netanatomy.render.explain import explanations_json
from netanatomy.render.format import json_number
from netanatomy.render.json import report_to_dict, shape_json
from netanatomy.rules import get_formula

if TYPE_CHECKING:
    from netanatomy.analysis.report import Summary
    from netanatomy.ir.graph import Graph, Node

SCHEMA = "netanatomy.report/1"

SECTIONS = ("training", "inference", "diagnose", "lint", "lab", "attribute", "profile")
"""The keys ``sections`` may hold (each the JSON document of that command)."""


def module_ids(report: Summary) -> dict[str, int]:
    """Module id by path: the index of its row in ``summary.layers``."""
    return {row.path: index for index, row in enumerate(report.layers)}


def owner_of(path: str, ids: Mapping[str, int]) -> int:
    """The id of the module at ``path``, or of its nearest listed ancestor (the root)."""
    while path not in ids and path:
        path = path.rpartition(".")[0]
    return ids.get(path, 0)


def modules_json(report: Summary, ids: Mapping[str, int],
                 owners: Sequence[int]) -> list[dict[str, Any]]:
    """One entry per layer row: id, path, type, parent, children, row and its own ops (a
    row whose parent is not listed hangs under its nearest listed ancestor, as in
    :func:`netanatomy.analysis.repeats.children_of`)."""
    children = children_of(report.layers)
    parents = {kid.path: ids[row.path] for row in report.layers for kid in children[row.path]}
    ops: list[list[int]] = [[] for _ in report.layers]
    for op, owner in enumerate(owners):
        ops[owner].append(op)
    return [{"id": index, "path": row.path, "type": row.type, "parent": parents.get(row.path),
             "children": [ids[kid.path] for kid in children[row.path]], "row": index,
             "ops": ops[index]}
            for index, row in enumerate(report.layers)]


def op_label(node: Node) -> str:
    """Short text for a node: ``aten.convolution.default`` → ``convolution``; a spec
    layer's op as it is."""
    parts = node.op.split(".")
    return parts[1] if len(parts) == 3 and parts[0] in ("aten", "prims") else node.op


def op_params(node: Node) -> Any:
    """Elements of the node's weight operands by its kind's rule (None: no rule)."""
    formula = get_formula(node.kind, "params")
    if formula is None:
        return None
    return json_number(formula(tuple(t.shape for t in node.inputs), node.attrs))


def ops_json(graph: Graph, costs: Sequence[NodeCost],
             owners: Sequence[int]) -> list[dict[str, Any]]:
    """One entry per node, in graph order; ``inputs`` are producer op ids (graph input k
    as ``-(k+1)``; parameters, buffers and constants draw no edge)."""
    producer = {t.id: -(k + 1) for k, t in enumerate(graph.inputs)}
    ops = []
    for op, (node, cost) in enumerate(zip(graph.nodes, costs)):
        inputs = []
        for tensor in node.inputs:
            source = producer.get(tensor.id) if tensor.param is None else None
            if source is not None and source not in inputs:
                inputs.append(source)
        for tensor in node.outputs:
            producer[tensor.id] = op
        ops.append({
            "id": op, "module": owners[op], "kind": node.kind, "op": node.op,
            "label": op_label(node), "inputs": inputs,
            "output_shape": shape_json(node.outputs[0].shape) if node.outputs else None,
            "macs": json_number(cost.macs), "elementwise_flops":
            json_number(cost.elementwise_flops), "params": op_params(node),
            "activation_bytes": json_number(cost.activation_bytes),
            "status": "exact" if cost.counted else "unknown"})
    return ops


def groups_json(groups: Iterable[RepeatGroup], ids: Mapping[str, int]) -> list[dict[str, Any]]:
    return [{"id": index, "parent": ids[group.parent],
             "members": [ids[path] for path in group.members], "count": group.count,
             "type": group.type, "label": group.label,
             "totals": {key: json_number(value) for key, value in group.totals.items()}}
            for index, group in enumerate(groups)]


def graph_json(report: Summary) -> dict[str, Any]:
    """The ``graph`` key: modules, ops, inputs and repeated groups."""
    graph = report.graph
    ids = module_ids(report)
    owners = [owner_of(node.path, ids) for node in graph.nodes]
    return {
        "modules": modules_json(report, ids, owners),
        "ops": ops_json(graph, graph_costs(graph), owners),
        "inputs": [{"name": f"input {k}", "shape": shape_json(t.shape), "dtype": t.dtype}
                   for k, t in enumerate(graph.inputs)],
        "groups": groups_json(repeated_groups(report.layers), ids),
    }


def explain_json(explanations: Iterable[Any]) -> list[dict[str, Any]]:
    """The ``explain`` entries: those of the summary JSON with each kind's convention."""
    explanations = tuple(explanations)
    entries = explanations_json(explanations)
    for entry, item in zip(entries, explanations):
        entry["convention"] = getattr(item, "convention", "")
    return entries


def default_source(report: Summary) -> dict[str, Any]:
    return {"kind": "spec" if report.capture.frontend == "spec" else "torch",
            "target": None, "inputs": [shape_json(t.shape) for t in report.graph.inputs],
            "settings": {}}


def default_title(report: Summary, source: Mapping[str, Any]) -> str:
    shapes = ", ".join("x".join(str(size) for size in t.shape) for t in report.graph.inputs)
    name = source.get("target") or report.layers[0].type
    return f"{name} · input {shapes}" if shapes else str(name)


def generator() -> dict[str, str]:
    """``{"name": "netanatomy", "version"}``. The package is imported before any of its
    modules, so its version is read from it without an import (which would be a cycle)."""
    return {"name": "netanatomy", "version": sys.modules["netanatomy"].__version__}


def report_payload(report: Summary, *, explanations: Iterable[Any] | None = None,
                   sections: Mapping[str, Any] | None = None,
                   images: Sequence[Mapping[str, Any]] = (),
                   source: Mapping[str, Any] | None = None,
                   title: str | None = None) -> dict[str, Any]:
    """The ``netanatomy.report/1`` document of ``report``.

    Args:
        report: the analysis (its graph is read for the ops and edges).
        explanations: ``netanatomy.analysis.explain.explain`` results, or None.
        sections: other commands' JSON documents by command name (:data:`SECTIONS`).
        images: ``{"title", "section", "png"}`` with the PNG base64-encoded.
        source: ``{"kind", "target", "inputs", "settings"}`` (default: from the report).
        title: the page title (default: target and input shapes).

    Raises:
        ValueError: a section name not in :data:`SECTIONS`.
    """
    unknown = set(sections or {}) - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown report sections {sorted(unknown)}; known: {SECTIONS}")
    source = dict(source) if source is not None else default_source(report)
    return {
        "schema": SCHEMA,
        "generator": generator(),
        "title": title if title is not None else default_title(report, source),
        "source": source,
        "summary": report_to_dict(report, None),
        "explain": None if explanations is None else explain_json(explanations),
        "graph": graph_json(report),
        "sections": dict(sections or {}),
        "images": [dict(image) for image in images],
    }
