"""Figures for lab experiments: object-oriented matplotlib (``Figure``, never pyplot, so
no global figure state), one look for all of them."""

from __future__ import annotations

from typing import Any

MEASURED = "#1f6feb"
"""Colour of measured values."""
THEORY = "#d1242f"
"""Colour of what theory predicts (lines, bounds)."""
OTHER = "#6e7781"
"""Colour of a contrast case (the plain stack, the wrong gain, ...)."""


def new_figure(columns: int = 1, rows: int = 1, width: float = 5.2, height: float = 3.6
               ) -> tuple[Any, list[Any]]:
    """A figure of ``rows × columns`` panels (each ``width × height`` inches) and its axes
    as a flat list."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width * columns, height * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    return figure, [axis for row in axes for axis in row]


def verdict_title(figure: Any, title: str, passed: bool) -> None:
    """The figure's title, with the verdict."""
    figure.suptitle(f"{title} — {'holds' if passed else 'DOES NOT HOLD'}",
                    color="black" if passed else THEORY)
