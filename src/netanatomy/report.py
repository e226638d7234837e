"""The public result of an analysis: :class:`Report`, the per-layer data of
:class:`netanatomy.analysis.report.Summary` with its output methods.

The data (totals, layer rows, uncounted ops, conventions) is an analysis result and lives
in :mod:`netanatomy.analysis.report`; this small facade adds ``to_json``, ``to_dict``,
``to_csv``, ``to_html``, ``render`` and ``to_dataframe``, which ask the renderer registry
(:mod:`netanatomy.render.catalog`) for the format. ``str(report)`` is the terminal table.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netanatomy.analysis.report import CONVENTIONS, LayerRow, Summary, Totals, UncountedOp
from netanatomy.render.json import SCHEMA


@dataclass(frozen=True)
class Report(Summary):
    """What a network costs, layer by layer. Build it with :func:`netanatomy.analyze` or
    :func:`netanatomy.spec.analyze`."""

    @classmethod
    def of(cls, summary: Summary) -> Report:
        """The report of an analysis result (the same data, shared, not copied)."""
        if isinstance(summary, cls):
            return summary
        return cls(**{f.name: getattr(summary, f.name) for f in dataclasses.fields(summary)})

    def to_dict(self, depth: int | None = None) -> dict[str, Any]:
        """The JSON document (schema ``netanatomy.summary/1``) as Python data."""
        from netanatomy.render.json import report_to_dict

        return report_to_dict(self, depth)

    def to_json(self, depth: int | None = None, indent: int | None = 2) -> str:
        """The JSON document as text."""
        return self._write("json", depth=depth, indent=indent)

    def to_csv(self, depth: int | None = None) -> str:
        """One CSV row per layer."""
        return self._write("csv", depth=depth)

    def to_html(self, explain: bool = False, sections: Mapping[str, Any] | None = None) -> str:
        """The self-contained HTML report (docs/report.md): graph with repeated blocks
        collapsed, table, plots. A spec's carries its derivations always, a model's when
        ``explain``; ``sections`` puts other results beside it by command name
        (``{"training": netanatomy.training(model, ...)}``, or their JSON documents)."""
        from netanatomy.render.catalog import write
        from netanatomy.render.results import ReportResult

        explanations = None
        if explain:
            from netanatomy.analysis.explain import explain as explain_graph

            explanations = tuple(explain_graph(self.graph))
        documents = {name: value if isinstance(value, Mapping) else
                     json.loads(write(name, "json", value, indent=None))
                     for name, value in (sections or {}).items()}
        return write("summary", "html", ReportResult(self, explanations, None, documents))

    def to_dataframe(self, depth: int | None = None) -> Any:
        """The layer rows as a pandas DataFrame (pandas must be installed)."""
        from netanatomy.render.dataframe import report_to_dataframe

        return report_to_dataframe(self, depth)

    def render(self, depth: int | None = 3, width: int | None = None) -> str:
        """The terminal table as plain text."""
        return self._write("table", depth=depth, width=width)

    def _write(self, fmt: str, **options: Any) -> str:
        from netanatomy.render.catalog import write
        from netanatomy.render.results import SummaryResult

        return write("summary", fmt, SummaryResult(self), **options)

    def __str__(self) -> str:
        return self.render()


__all__ = ["CONVENTIONS", "SCHEMA", "LayerRow", "Report", "Summary", "Totals", "UncountedOp"]
