"""The JSON document of a Report (schema ``netanatomy.summary/1``).

Top level: ``schema``, ``conventions``, ``capture``, ``totals``, ``layers``, ``uncounted``,
``receptive_field``. Numbers are integers; symbolic values are strings; unknown values are
``null``. Keys are only ever added, never renamed.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from netanatomy.analysis.receptive_field import field_json, plain_number
from netanatomy.render.format import json_number

if TYPE_CHECKING:
    from netanatomy.analysis.report import LayerRow, Summary, UncountedOp

SCHEMA = "netanatomy.summary/1"


def shape_json(shape: Any) -> Any:
    return None if shape is None else [json_number(size) for size in shape]


def layer_to_dict(row: LayerRow) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for field in dataclasses.fields(row):
        value = getattr(row, field.name)
        if field.name == "output_shape":
            data[field.name] = shape_json(value)
        elif field.name == "output_shapes":
            data[field.name] = [shape_json(shape) for shape in value]
        elif field.name == "call_shapes":
            data[field.name] = [[shape_json(shape) for shape in call] for call in value]
        elif field.name == "rf":
            data[field.name] = field_json(value)
        elif field.name == "uncounted":
            data[field.name] = uncounted_json(value)
        else:
            data[field.name] = json_number(value)
    return data


def uncounted_json(ops: tuple[UncountedOp, ...]) -> list[dict[str, Any]]:
    return [{"op": u.op, "count": u.count} for u in ops]


def report_to_dict(report: Summary, depth: int | None = None) -> dict[str, Any]:
    """The JSON document as Python data; ``depth`` limits the layers listed."""
    totals = {field.name: json_number(getattr(report.totals, field.name))
              for field in dataclasses.fields(report.totals)}
    return {
        "schema": SCHEMA,
        "conventions": dict(report.conventions),
        "capture": dataclasses.asdict(report.capture),
        "totals": totals,
        "layers": [layer_to_dict(row) for row in report.tree(depth)],
        "uncounted": uncounted_json(report.uncounted),
        "receptive_field": receptive_field_json(report),
    }


def receptive_field_json(report: Summary) -> dict[str, Any] | None:
    """The model output's field, merge misalignments and ops the analysis did not know."""
    fields = report.receptive_field
    if fields is None:
        return None
    return {
        "output": field_json(fields.output),
        "misalignments": [
            {"node": m.node, "path": m.path, "op": m.op, "axis": m.axis,
             "centres": [plain_number(c) for c in m.centres],
             "sizes": [plain_number(s) for s in m.sizes], "offset": plain_number(m.offset)}
            for m in fields.misalignments],
        "unknown_ops": list(fields.unknown_ops),
    }


def report_to_json(report: Summary, depth: int | None = None, indent: int | None = 2) -> str:
    """The JSON document as text."""
    return json.dumps(report_to_dict(report, depth), indent=indent)
