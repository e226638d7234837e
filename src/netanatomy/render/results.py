"""What the summary and ``rf`` commands hand to their renderers: the analysis result and
what was asked beside it (the derivations of ``--explain``, the fields of ``--measure``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netanatomy.analysis.report import Summary


@dataclass(frozen=True)
class SummaryResult:
    """``summary``: the report, and its explanations (``netanatomy.analysis.explain``
    objects, None when not asked for)."""

    report: Summary
    explanations: tuple[Any, ...] | None = None
    source: Mapping[str, Any] | None = None
    """What was analysed (``{"kind", "target", "inputs", "settings"}``, for the HTML
    report; None: taken from the report)."""


@dataclass(frozen=True)
class ReportResult(SummaryResult):
    """``report``: a summary and the other commands' JSON documents shown beside it
    (``sections``, by command name)."""

    sections: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldResult:
    """``rf``: the report, and the measured field per layer path (a
    ``MeasuredField``, or the reason it could not be measured; None when not asked for)."""

    report: Summary
    measured: Mapping[str, Any] | None = None
