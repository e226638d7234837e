"""Drawing operator matrices and grids for the "matrices" lab topic: the sparsity pattern
as an image (each distinct symbol its own colour, or the numbers on a colour scale), the
entries written in when the matrix is small, and the op's input/output grids."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

ANNOTATE_UP_TO = 20
"""Write the entries in when rows and columns are both at most this many."""


def draw_pattern(axis: Any, texts: Sequence[Sequence[str]], title: str,
                 row_labels: Sequence[str] = (), column_labels: Sequence[str] = (),
                 shade: Any = None) -> Any:
    """A symbolic (or exact) matrix as an image: zeros white, each distinct nonzero entry
    its own colour, entries written in when small; ``shade`` (a boolean array of the same
    shape) greys cells out (e.g. rows cropped away). Returns the image."""
    import numpy as np
    from matplotlib.colors import ListedColormap

    distinct = sorted({t for row in texts for t in row if t != "0"})
    codes = np.array([[distinct.index(t) + 1 if t != "0" else 0 for t in row]
                      for row in texts], dtype=float)
    palette = ["#ffffff"] + [_colour(i) for i in range(len(distinct))]
    image = axis.imshow(codes, cmap=ListedColormap(palette), vmin=-0.5,
                        vmax=len(palette) - 0.5, interpolation="nearest", aspect="equal")
    if shade is not None:
        axis.imshow(np.where(shade, 0.5, np.nan), cmap="Greys", vmin=0, vmax=1, alpha=0.55,
                    interpolation="nearest", aspect="equal")
    rows, cols = codes.shape
    if rows <= ANNOTATE_UP_TO and cols <= ANNOTATE_UP_TO:
        size = 8 if max(rows, cols) <= 9 else 6
        for i in range(rows):
            for j in range(cols):
                axis.text(j, i, texts[i][j].replace("_", ""), ha="center", va="center",
                          fontsize=size, color="0.35" if texts[i][j] == "0" else "black")
    _ticks(axis, rows, cols, row_labels, column_labels)
    axis.set_title(title, fontsize=9)
    return image


def draw_grid(axis: Any, values: Any, title: str, texts: Sequence[Sequence[str]] | None = None,
              highlight: Any = None, cmap: str = "RdBu_r") -> Any:
    """A 2-D grid of numbers (an input or output of the op) on a colour scale centred at
    0, each cell written in (``texts`` or the value to 2 decimals); ``highlight``: a
    boolean array of cells framed in black (max-pool switches). Returns the image."""
    import numpy as np

    grid = np.asarray(values, dtype=float)
    if grid.ndim == 1:
        grid = grid[None, :]
    limit = float(np.abs(grid).max()) or 1.0
    image = axis.imshow(grid, cmap=cmap, vmin=-limit if cmap == "RdBu_r" else 0, vmax=limit,
                        interpolation="nearest", aspect="equal", alpha=0.55)
    rows, cols = grid.shape
    for i in range(rows):
        for j in range(cols):
            text = texts[i][j] if texts is not None else f"{grid[i, j]:.2f}"
            axis.text(j, i, text, ha="center", va="center", fontsize=8)
            if highlight is not None and np.asarray(highlight)[i, j]:
                axis.add_patch(_frame(i, j))
    _ticks(axis, rows, cols, [str(i + 1) for i in range(rows)],
           [str(j + 1) for j in range(cols)], rotation=0)
    axis.set_title(title, fontsize=9)
    return image


def _frame(i: int, j: int) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=2)


def _ticks(axis: Any, rows: int, cols: int, row_labels: Sequence[str],
           column_labels: Sequence[str], rotation: int = 90) -> None:
    small = 7 if max(rows, cols) <= 12 else 5
    if row_labels and rows <= 40:
        axis.set_yticks(range(rows), [label.replace("_", "") for label in row_labels],
                        fontsize=small)
    if column_labels and cols <= 40:
        axis.set_xticks(range(cols), [label.replace("_", "") for label in column_labels],
                        fontsize=small, rotation=rotation)
    axis.tick_params(length=0)


def _colour(index: int) -> str:
    """A light colour per distinct entry (so the black text stays readable)."""
    palette = ("#9ecae1", "#fdae6b", "#a1d99b", "#bcbddc", "#fc9272", "#c7e9c0", "#fdd0a2",
               "#dadaeb", "#c6dbef", "#d9d9d9", "#fee391", "#f1b6da")
    return palette[index % len(palette)]
