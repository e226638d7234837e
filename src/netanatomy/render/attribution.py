"""The ``attribute`` command's renderers: per method, the explained target and score and
the map's statistics, as a table or as JSON (schema ``netanatomy.attribute/1``,
documented in docs/attribution.md).

Map statistics (all over the whole batch unless said): ``sum`` and ``max`` of the map's
values; ``top10`` the share of |attribution| mass in the top 10 % of pixels (a pixel's
mass is the sum of |value| over its channels; the share is taken per sample, over
⌈0.1 · H · W⌉ pixels, and averaged; inputs without spatial axes count each value as a
pixel). Nothing here imports torch: maps are read through ``numpy.asarray``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from netanatomy.render.registry import Options, renderer

__all__ = ["AttributeResult", "MapStatistics", "attribute_document", "map_statistics"]

SCHEMA = "netanatomy.attribute/1"
TOP_SHARE = 0.10
"""The share of pixels whose |mass| fraction ``top10`` reports."""


@dataclass(frozen=True)
class AttributeResult:
    """What ``netanatomy attribute`` explained: the target's name, the input's shape, the
    attributions by method (in run order), and the demo's measurements when ``--demo``."""

    target: str
    input_shape: tuple[int, ...]
    attributions: Mapping[str, Any]
    demo: Mapping[str, float] | None = None
    notes: tuple[str, ...] = field(default=())
    inputs: Any = field(default=None, compare=False, repr=False)
    """The explained input tensor (drawn by the HTML page's figure; None: not kept)."""


@dataclass(frozen=True)
class MapStatistics:
    total: float
    largest: float
    top10: float


def pixel_mass(maps: np.ndarray) -> np.ndarray:
    """``(N, pixels)`` |mass| per pixel: summed over channels for ``(N, C, H, W)`` maps,
    each value its own pixel otherwise."""
    values = np.abs(maps.astype(np.float64))
    if values.ndim == 4:
        return values.sum(axis=1).reshape(values.shape[0], -1)
    return values.reshape(values.shape[0] if values.ndim > 1 else 1, -1)


def top_fraction(mass: np.ndarray, share: float = TOP_SHARE) -> float:
    """Mean over samples of the |mass| share in the top ``share`` of pixels (0 for an
    all-zero map)."""
    count = max(1, math.ceil(share * mass.shape[1]))
    top = -np.sort(-mass, axis=1)[:, :count].sum(axis=1)
    totals = mass.sum(axis=1)
    shares = np.divide(top, totals, out=np.zeros_like(top), where=totals > 0)
    return float(shares.mean())


def map_statistics(maps: Any) -> MapStatistics:
    """Sum, max and top-10 % |mass| share of one method's maps (a tensor or array)."""
    values = np.asarray(maps, dtype=np.float64)
    return MapStatistics(float(values.sum()), float(values.max()),
                         top_fraction(pixel_mass(values)))


def method_document(attribution: Any) -> dict[str, Any]:
    stats = map_statistics(attribution.maps)
    return {"method": attribution.method, "layer": attribution.layer,
            "target": list(attribution.target), "scores": list(attribution.scores),
            "shape": list(attribution.maps.shape), "sum": stats.total, "max": stats.largest,
            "top10_fraction": stats.top10, "delta": attribution.delta,
            "notes": list(attribution.notes)}


def attribute_document(result: AttributeResult) -> dict[str, Any]:
    """The JSON document (``netanatomy.attribute/1``) as a dict."""
    return {"schema": SCHEMA, "target": result.target, "input": list(result.input_shape),
            "methods": [method_document(a) for a in result.attributions.values()],
            "demo": dict(result.demo) if result.demo is not None else None,
            "notes": list(result.notes)}


@renderer("attribute", "json")
def attribute_json(result: AttributeResult, options: Options) -> str:
    return json.dumps(attribute_document(result), indent=options.indent)


def listed(values: Sequence[Any], shown: int = 4, digits: int | None = None) -> str:
    texts = [f"{v:.{digits}g}" if digits else str(v) for v in values[:shown]]
    return ",".join(texts) + (",…" if len(values) > shown else "")


def delta_text(delta: float | None) -> str:
    return "-" if delta is None else f"{delta:.3g}"


@renderer("attribute", "table")
def attribute_table(result: AttributeResult, options: Options) -> str:
    """One row per method: target(s), score(s), map sum, max, top-10 % share, IG delta;
    then the demo's measurement and the conventions (each method's notes, once)."""
    header = ("method", "layer", "target", "score", "sum", "max", "top10%", "delta")
    rows = [header] + [
        (a.method, a.layer or "-", listed(a.target), listed(a.scores, digits=4),
         f"{s.total:.4g}", f"{s.largest:.4g}", f"{100 * s.top10:.1f}", delta_text(a.delta))
        for a in result.attributions.values() for s in [map_statistics(a.maps)]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [f"attribute {result.target}  input {'x'.join(map(str, result.input_shape))}"]
    lines += ["  ".join(cell.ljust(w) if i < 3 else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
              for row in rows]
    lines += demo_lines(result.demo) + note_lines(result)
    return "\n".join(line[:options.width] if options.width else line for line in lines)


def demo_lines(demo: Mapping[str, float] | None) -> list[str]:
    if demo is None:
        return []
    return [f"demo: held-out accuracy {demo['accuracy']:.3f} after {int(demo['epochs'])} "
            f"epochs ({demo['seconds']:.1f} s); guided |mass| on ink "
            f"{demo['guided_fraction']:.3f} vs random map {demo['random_fraction']:.3f} "
            f"({demo['guided_fraction'] / max(demo['random_fraction'], 1e-12):.2f}×)"]


def note_lines(result: AttributeResult) -> list[str]:
    seen: list[str] = []
    for attribution in result.attributions.values():
        seen += [note for note in attribution.notes if note not in seen]
    return [f"note: {note}" for note in [*seen, *result.notes]]
