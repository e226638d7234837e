"""The ``lint`` command's renderers: the findings as text, JSON (``netanatomy.lint/1``)
and one CSV row per lint."""

from __future__ import annotations

import json

from netanatomy.analysis.findings import LintReport
from netanatomy.render.csv import csv_text
from netanatomy.render.diagnose_json import lint_document
from netanatomy.render.diagnose_table import render_lint_text
from netanatomy.render.registry import Options, renderer

LINT_COLUMNS = ("code", "path", "message", "wasted_params", "fix", "severity")


@renderer("lint", "table")
def lint_text(result: LintReport, options: Options) -> str:
    """Grouped lints (see :func:`~netanatomy.render.diagnose_table.lint_lines`), wrapped
    at ``options.width`` when one is given (a terminal's), else one line each."""
    return render_lint_text(result.lints, result.notes, options.width)


@renderer("lint", "json")
def lint_json(result: LintReport, options: Options) -> str:
    return json.dumps(lint_document(result), indent=options.indent)


@renderer("lint", "csv")
def lint_csv(result: LintReport, options: Options) -> str:
    """One row per lint (the notes, about what was not checked, are left out)."""
    return csv_text(LINT_COLUMNS, ({key: getattr(lint, key) for key in LINT_COLUMNS}
                                   for lint in result.lints))
