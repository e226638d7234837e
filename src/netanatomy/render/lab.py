"""The ``lab`` command's renderers: the catalogue, one result or many, as text, JSON
(``netanatomy.lab/1``; the catalogue ``netanatomy.lab-list/1``, both documented in
docs/lab/index.md) and CSV (one row per check). Nothing here imports torch."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from netanatomy.lab.base import TOPICS, Check, LabListing, LabResult, LabRun
from netanatomy.render.csv import csv_text
from netanatomy.render.registry import Options, renderer

SCHEMA = "netanatomy.lab/1"
LIST_SCHEMA = "netanatomy.lab-list/1"
CHECK_COLUMNS = ("experiment", "topic", "verdict", "quantity", "measured", "relation",
                 "expected", "rtol", "atol", "passed", "reason")

LabOutput = LabResult | LabRun | LabListing


def jsonable(value: Any) -> Any:
    """``value`` with tuples as lists, NumPy scalars/arrays as Python values, non-finite
    floats as None and unknown objects as their text."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    return str(value)


def check_document(check: Check) -> dict[str, Any]:
    return {"quantity": check.quantity, "measured": jsonable(check.measured),
            "relation": check.relation, "expected": jsonable(check.expected),
            "rtol": check.rtol, "atol": check.atol, "tolerance": check.tolerance,
            "passed": check.passed, "reason": check.reason}


def result_document(result: LabResult) -> dict[str, Any]:
    entry = result.experiment
    return {"name": entry.name, "topic": entry.topic, "title": entry.title,
            "claim": entry.claim, "setting": entry.setting, "params": jsonable(result.params),
            "verdict": result.verdict, "seconds": round(result.seconds, 3),
            "figure": result.figure_path, "checks": [check_document(c) for c in result.checks],
            "data": jsonable(result.data), "notes": list(result.notes)}


def results_of(output: LabResult | LabRun) -> tuple[LabResult, ...]:
    return (output,) if isinstance(output, LabResult) else output.results


def lab_document(output: LabResult | LabRun) -> dict[str, Any]:
    """The ``netanatomy.lab/1`` document of one result or a run."""
    results = results_of(output)
    return {"schema": SCHEMA, "passed": sum(r.passed for r in results),
            "failed": sum(not r.passed for r in results),
            "seconds": round(sum(r.seconds for r in results), 3),
            "folder": output.folder if isinstance(output, LabRun) else None,
            "experiments": [result_document(r) for r in results]}


def listing_document(listing: LabListing) -> dict[str, Any]:
    return {"schema": LIST_SCHEMA, "topics": [
        {"topic": key, "title": title, "experiments": [
            {"name": e.name, "title": e.title, "claim": e.claim, "setting": e.setting,
             "params": jsonable(e.defaults)} for e in listing.experiments if e.topic == key]}
        for key, title in TOPICS.items()]}


def shown(value: Any) -> str:
    """A measured or expected value for a person: 6 significant digits for floats."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def result_text(result: LabResult) -> list[str]:
    entry = result.experiment
    lines = [f"{entry.name}  [{entry.topic}]  {result.verdict.upper()}  "
             f"({result.seconds:.2f} s)", f"  {entry.title}", f"  claim: {entry.claim}"]
    if entry.setting:
        lines.append(f"  setting: {entry.setting}")
    if result.params:
        lines.append("  params: " + ", ".join(f"{k}={v!r}" for k, v in result.params.items()))
    for check in result.checks:
        mark = "ok  " if check.passed else "FAIL"
        lines.append(f"  {mark} {check.quantity}: measured {shown(check.measured)} "
                     f"{check.symbol} {shown(check.expected)} ({check.tolerance}; "
                     f"{check.reason})")
    lines += [f"  note: {note}" for note in result.notes]
    if result.figure_path:
        lines.append(f"  figure: {result.figure_path}")
    return lines


@renderer("lab", "table")
def lab_text(output: LabOutput, options: Options) -> str:
    """The catalogue grouped by topic, or per result its claim, parameters, each check
    (measured, relation, expected, tolerance and its reason) and the figure's path."""
    if isinstance(output, LabListing):
        lines = []
        for key, title in TOPICS.items():
            entries = [e for e in output.experiments if e.topic == key]
            if entries:
                lines.append(f"{key}: {title}")
                width = max(len(e.name) for e in entries)
                lines += [f"  {e.name:<{width}}  {e.title}" for e in entries]
        lines.append(f"{len(output.experiments)} experiments; run one with `netanatomy lab "
                     "NAME`, all with `netanatomy lab --all -o DIR`")
        return "\n".join(lines)
    results = results_of(output)
    lines = []
    for result in results:
        lines += [*result_text(result), ""]
    failed = [r.name for r in results if not r.passed]
    total = sum(r.seconds for r in results)
    lines.append(f"{len(results) - len(failed)} of {len(results)} passed in {total:.1f} s"
                 + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    if isinstance(output, LabRun) and output.folder:
        lines.append(f"figures and summary.json in {output.folder}")
    return "\n".join(lines)


@renderer("lab", "json")
def lab_json(output: LabOutput, options: Options) -> str:
    document = (listing_document(output) if isinstance(output, LabListing)
                else lab_document(output))
    return json.dumps(document, indent=options.indent, ensure_ascii=False)


@renderer("lab", "csv")
def lab_csv(output: LabOutput, options: Options) -> str:
    """One row per check (the catalogue: one row per experiment)."""
    if isinstance(output, LabListing):
        return csv_text(("name", "topic", "title", "claim"),
                        ({"name": e.name, "topic": e.topic, "title": e.title, "claim": e.claim}
                         for e in output.experiments))
    return csv_text(CHECK_COLUMNS, (
        {"experiment": r.name, "topic": r.experiment.topic, "verdict": r.verdict,
         "quantity": c.quantity, "measured": jsonable(c.measured), "relation": c.relation,
         "expected": jsonable(c.expected), "rtol": c.rtol, "atol": c.atol,
         "passed": c.passed, "reason": c.reason}
        for r in results_of(output) for c in r.checks))
