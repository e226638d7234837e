"""The ``summary`` command's renderers: table, JSON and CSV of a report, with the
derivations when ``--explain`` asked for them (table: before it; JSON: under ``explain``;
CSV: instead of the layers, one row per derivation step)."""

from __future__ import annotations

import json

from netanatomy.render.csv import report_to_csv
from netanatomy.render.explain import explanation_text, explanations_csv, explanations_json
from netanatomy.render.json import report_to_dict
from netanatomy.render.registry import Options, renderer
from netanatomy.render.results import SummaryResult
from netanatomy.render.table import render_table_text


@renderer("summary", "table", default_depth=3)
def summary_table(result: SummaryResult, options: Options) -> str:
    text = render_table_text(result.report, depth=options.depth, width=options.width)
    if result.explanations is None:
        return text
    return explanation_text(result.explanations) + "\n" + text


@renderer("summary", "json")
def summary_json(result: SummaryResult, options: Options) -> str:
    data = report_to_dict(result.report, options.depth)
    if result.explanations is not None:
        data["explain"] = explanations_json(result.explanations)
    return json.dumps(data, indent=options.indent)


@renderer("summary", "csv")
def summary_csv(result: SummaryResult, options: Options) -> str:
    if result.explanations is not None:
        return explanations_csv(result.explanations)
    return report_to_csv(result.report, options.depth)
