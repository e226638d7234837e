"""The layer rows as a pandas DataFrame (pandas is an optional dependency)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netanatomy.errors import UsageError
from netanatomy.render.json import layer_to_dict

if TYPE_CHECKING:
    from netanatomy.analysis.report import Summary as Report


def report_to_dataframe(report: Report, depth: int | None = None) -> Any:
    """One row per layer, indexed by path, columns as in the JSON ``layers`` entries."""
    try:
        import pandas
    except ImportError:
        raise UsageError("to_dataframe() needs pandas: pip install pandas") from None
    rows = [layer_to_dict(row) for row in report.tree(depth)]
    return pandas.DataFrame(rows).set_index("path")
