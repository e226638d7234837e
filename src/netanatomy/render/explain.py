"""``--explain``: the derivations of :func:`netanatomy.analysis.explain.explain` as text,
as JSON entries and as CSV rows (one per step). Only ``Explanation`` (path, op, kind,
steps) and ``Step`` (quantity, formula, substituted, result) are read."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from netanatomy.render.csv import csv_text, per_axis
from netanatomy.render.format import json_number
from netanatomy.symbolic import is_concrete

STEP_COLUMNS = ("path", "op", "kind", "quantity", "formula", "substituted", "result")


def shown(value: Any) -> str:
    """Ints with thousands separators; shapes as ``1×3×224×224``; None as ``unknown``."""
    if is_concrete(value):
        return f"{value:,}"
    if isinstance(value, tuple):
        return "×".join(str(v) for v in value)
    return "unknown" if value is None else str(value)


def pretty(expression: str) -> str:
    """A formula for people: ``*`` as ``·``, ``**`` as ``^``."""
    return expression.replace("**", "^").replace("*", "·")


def explanation_text(explanations: Iterable[Any]) -> str:
    """One block per node: ``path  [op]``, then ``quantity = formula = numbers = result``."""
    lines = []
    for item in explanations:
        convention = getattr(item, "convention", "")
        lines.append(f"{item.path or '<root>'}  [{item.op}]"
                     + (f"  ({convention})" if convention else ""))
        for step in item.steps:
            parts = [step.quantity]
            if step.formula:
                parts.append(pretty(step.formula))
                if step.substituted not in (step.formula, str(step.result)):
                    parts.append(pretty(step.substituted))
            parts.append(shown(step.result))
            lines.append("    " + " = ".join(parts))
    return "\n".join(lines) + "\n"


def result_json(value: Any) -> Any:
    return [json_number(v) for v in value] if isinstance(value, tuple) else json_number(value)


def explanations_json(explanations: Iterable[Any]) -> list[dict[str, Any]]:
    """The ``explain`` entries of the summary JSON: per node its path, op, kind, steps."""
    return [{"path": item.path, "op": item.op, "kind": item.kind,
             "steps": [{"quantity": step.quantity, "formula": step.formula,
                        "substituted": step.substituted, "result": result_json(step.result)}
                       for step in item.steps]}
            for item in explanations]


def step_rows(explanations: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for item in explanations:
        for step in item.steps:
            result = step.result
            yield {"path": item.path, "op": item.op, "kind": item.kind,
                   "quantity": step.quantity, "formula": step.formula,
                   "substituted": step.substituted,
                   "result": per_axis(result) if isinstance(result, tuple)
                   else ("?" if result is None else result)}


def explanations_csv(explanations: Iterable[Any]) -> str:
    """One CSV row per derivation step; shapes as ``1x64x56x56``, unknown as ``?``."""
    return csv_text(STEP_COLUMNS, step_rows(explanations))
