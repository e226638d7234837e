"""Attribution pictures and arrays: a grid of the input and one heat-map overlay per
method (PNG, a bare Agg ``Figure``: no pyplot state, deterministic), and the maps saved
as ``.npy`` files, one per method.

Only the first sample of a batch is drawn. The input is shown min–max scaled to [0, 1]
(so a normalised image looks like itself, up to contrast); a map is drawn as the sum of
|value| over its channels, scaled by its own maximum, over a grey copy of the input.
Nothing here imports torch: tensors are read through ``numpy.asarray``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from netanatomy.errors import UsageError
from netanatomy.render.diagnose_plot import new_figure, png_target

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["array_paths", "attribution_figure", "plot_attribution", "save_arrays"]

DPI = 100
"""The resolution the grid is written at (pixels = inches × DPI)."""

COLUMNS = 4
"""Panels per row of the grid (the input first, then the methods in order)."""


def as_results(results: Any) -> dict[str, Any]:
    """One Attribution or a ``{method: Attribution}`` mapping, as the mapping."""
    if isinstance(results, Mapping):
        return dict(results)
    return {results.method: results}


def display_image(image: Any) -> np.ndarray:
    """The first sample of ``(N, C, H, W)`` (or ``(C, H, W)``, ``(H, W)``) as ``(H, W)``
    grey or ``(H, W, 3)`` colour, min–max scaled to [0, 1]."""
    array = np.asarray(image, dtype=np.float64)
    array = array[0] if array.ndim == 4 else array
    if array.ndim == 3:
        array = array[0] if array.shape[0] == 1 else np.moveaxis(array[:3], 0, -1)
    if array.ndim not in (2, 3):
        raise UsageError(f"plot_attribution draws images; an input of shape "
                         f"{np.asarray(image).shape} has no height and width")
    low, high = float(array.min()), float(array.max())
    return (array - low) / (high - low) if high > low else np.zeros_like(array)


def heat(maps: Any, height: int, width: int) -> np.ndarray:
    """The first sample's ``(H, W)`` |map| summed over channels, scaled to [0, 1]."""
    array = np.abs(np.asarray(maps, dtype=np.float64))
    array = array[0] if array.ndim == 4 else array
    array = array.sum(axis=0) if array.ndim == 3 else array
    if array.shape != (height, width):
        raise UsageError(f"a map of shape {array.shape} does not match the image's "
                         f"{(height, width)}")
    peak = float(array.max())
    return array / peak if peak > 0 else array


def panel_title(attribution: Any) -> str:
    target = attribution.target[0] if attribution.target else "?"
    layer = f" @ {attribution.layer}" if attribution.layer else ""
    return f"{attribution.method}{layer}\ntarget {target}"


def plot_attribution(results: Any, image: Any, path: Path | str,
                     title: str | None = None) -> Path:
    """Write a PNG grid to ``path``: the input, then one overlay per method, titled by
    method (and layer) and target. Returns the path written.

    Raises:
        UsageError: not a .png name, an input without spatial axes, or a map whose
        height and width differ from the input's.
    """
    target = png_target(path)
    attribution_figure(results, image, title).savefig(target, dpi=DPI,
                                                      metadata={"Software": None})
    return target


def attribution_figure(results: Any, image: Any, title: str | None = None) -> Figure:
    """The grid :func:`plot_attribution` writes (a bare ``Figure``, not saved).

    Raises:
        UsageError: an input without spatial axes, or a map whose height and width differ
        from the input's.
    """
    found = as_results(results)
    picture = display_image(image)
    grey = picture if picture.ndim == 2 else picture.mean(axis=-1)
    panels = 1 + len(found)
    columns = min(COLUMNS, panels)
    rows = -(-panels // columns)
    figure = new_figure(2.6 * columns, 2.8 * rows + (0.3 if title else 0))
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    axes[0].imshow(picture, cmap="gray" if picture.ndim == 2 else None,
                   interpolation="nearest", vmin=0, vmax=1)
    axes[0].set_title("input", fontsize=9)
    for axis, attribution in zip(axes[1:], found.values(), strict=False):
        axis.imshow(grey, cmap="gray", interpolation="nearest", vmin=0, vmax=1)
        axis.imshow(heat(attribution.maps, *grey.shape), cmap="inferno", alpha=0.6,
                    interpolation="nearest", vmin=0, vmax=1)
        axis.set_title(panel_title(attribution), fontsize=9)
    for axis in axes:
        axis.set_axis_off()
    if title:
        figure.suptitle(title, fontsize=10)
    return figure


def array_paths(methods: list[str], path: Path | str) -> dict[str, Path]:
    """Where :func:`save_arrays` writes each method: ``STEM-<method>.npy`` beside
    ``path`` (``out.npy`` → ``out-guided.npy``, ``out-saliency.npy``, ...)."""
    base = Path(path)
    if base.suffix.lower() != ".npy":
        raise UsageError(f"--npy {str(base)!r}: arrays are written as .npy; give a name "
                         "ending in .npy")
    return {method: base.with_name(f"{base.stem}-{method}.npy") for method in methods}


def save_arrays(results: Any, path: Path | str) -> dict[str, Path]:
    """Save every method's maps (the whole batch, float32, the Attribution's shape) as
    ``STEM-<method>.npy`` beside ``path`` (see :func:`array_paths`), one file per
    method, each loadable with ``numpy.load``. Returns ``{method: path}``."""
    found = as_results(results)
    written = array_paths(list(found), path)
    for method, attribution in found.items():
        np.save(written[method], np.asarray(attribution.maps, dtype=np.float32))
    return written
