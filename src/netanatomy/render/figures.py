"""The figures of the HTML report's ``images`` key: the PNGs the terminal commands write
(``lab -o``, ``attribute -o``, ``diagnose --plot``, ``rf --plot``), drawn again from the
command's result into memory (``BytesIO``; no file is written) and base64-encoded.

Every figure is a bare ``matplotlib.figure.Figure`` saved as PNG, which uses the Agg
canvas for that one call: no pyplot, no backend switched, no global state touched. The
figure is the one the command's file gets (same function, same size in inches), saved at
:data:`PAGE_DPI` (pixels = inches × DPI): lab and attribute at their files' resolution,
diagnose and rf a little lower than their ``--plot`` files so a page stays small. A lab
result already saved to a file (every CLI run is) embeds that file's bytes. A PNG larger
than :data:`MAX_BYTES` is saved again at a lower resolution until it fits
(docs/report.md gives measured sizes).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Iterable
from typing import Any

from netanatomy.errors import UsageError

__all__ = ["MAX_BYTES", "MIN_DPI", "PAGE_DPI", "command_images", "image_entry", "png_bytes"]

MAX_BYTES = 200_000
"""The most bytes one embedded PNG may take before it is saved at a lower resolution."""

PAGE_DPI = {"lab": 110, "attribute": 100, "diagnose": 90, "rf": 100}
"""The resolution of each command's figures on the page (the files: lab 110, attribute
100, diagnose 110, rf 120)."""

MIN_DPI = 40
"""The lowest resolution a too-large PNG is brought down to."""


def png_bytes(save: Callable[[Any, int], None], dpi: int) -> bytes:
    """The PNG that ``save(file, dpi)`` writes, at ``dpi``, or lower while it is over
    :data:`MAX_BYTES` (never below :data:`MIN_DPI`)."""
    while True:
        buffer = io.BytesIO()
        save(buffer, dpi)
        data = buffer.getvalue()
        if len(data) <= MAX_BYTES or dpi <= MIN_DPI:
            return data
        dpi = max(MIN_DPI, int(dpi * min(0.9, math.sqrt(MAX_BYTES / len(data)))))


def image_entry(title: str, section: str, png: bytes) -> dict[str, Any]:
    """One ``images`` entry: ``{"title", "section", "png"}`` with the PNG in base64."""
    return {"title": title, "section": section, "png": base64.b64encode(png).decode("ascii")}


def figure_entry(title: str, section: str, figure: Any, dpi: int,
                 **savefig: Any) -> dict[str, Any]:
    def save(file: Any, resolution: int) -> None:
        figure.savefig(file, format="png", dpi=resolution, **savefig)

    return image_entry(title, section, png_bytes(save, dpi))


def lab_images(result: Any) -> list[dict[str, Any]]:
    """One figure per experiment run (a listing has none): the file the run saved, or
    the figure saved as ``lab -o`` saves it."""
    from netanatomy.lab.base import LabResult, LabRun

    runs: Iterable[Any] = (result.results if isinstance(result, LabRun) else
                           (result,) if isinstance(result, LabResult) else ())
    images = []
    for run in runs:
        if run.figure is None:
            continue
        png = saved_png(run) or png_bytes(saver(run), PAGE_DPI["lab"])
        images.append(image_entry(f"{run.name}: {run.experiment.title}", "lab", png))
    return images


def saved_png(run: Any) -> bytes | None:
    """The PNG a saved lab result wrote (``figure_path``; every CLI run saves one), when
    it is still there and within :data:`MAX_BYTES`. Drawing the figure again would not
    give the same bytes: a second draw of a constrained-layout figure with colour bars
    shifts its layout by a pixel or so."""
    if not run.figure_path:
        return None
    try:
        with open(run.figure_path, "rb") as file:
            data = file.read(MAX_BYTES + 1)
    except OSError:
        return None
    return data if data.startswith(PNG_SIGNATURE) and len(data) <= MAX_BYTES else None


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def saver(run: Any) -> Callable[[Any, int], None]:
    """``save(file, dpi)`` of a lab result: ``LabResult.save_figure``, as ``lab -o``."""
    def save(file: Any, dpi: int) -> None:
        run.save_figure(file, dpi=dpi)

    return save


def attribute_images(result: Any) -> list[dict[str, Any]]:
    """The grid ``attribute -o FILE.png`` writes (none when the input was not kept or has
    no height and width)."""
    from netanatomy.render.attribution_plot import attribution_figure

    if result.inputs is None or not result.attributions:
        return []
    title = f"Attributions of {result.target}"
    try:
        figure = attribution_figure(result.attributions, result.inputs, title=title)
    except UsageError:
        return []
    return [figure_entry(title, "attribute", figure, PAGE_DPI["attribute"],
                         metadata={"Software": None})]


def diagnose_images(report: Any) -> list[dict[str, Any]]:
    """The gradient-flow / activation figure of ``diagnose --plot`` and, when the run
    measured one with a heatmap, the effective receptive field's."""
    from netanatomy.render.diagnose_plot import diagnostics_figure, effective_field_figure

    images = [figure_entry("Diagnostics: weight gradients, activations"
                           + (", loss per step" if report.steps else ""), "diagnose",
                           diagnostics_figure(report), PAGE_DPI["diagnose"])]
    erf = report.erf
    if erf is not None and erf.heatmap is not None:
        try:
            figure = effective_field_figure(erf)
        except UsageError:
            return images
        images.append(figure_entry(f"Effective receptive field of {erf.path or 'the output'}",
                                   "diagnose", figure, PAGE_DPI["diagnose"]))
    return images


def rf_images(report: Any) -> list[dict[str, Any]]:
    """The plot of ``rf --plot`` (none when the model has no spatial input)."""
    from netanatomy.render.plot import receptive_field_figure

    try:
        figure = receptive_field_figure(report)
    except UsageError:
        return []
    return [figure_entry("Receptive field and effective stride by layer", "rf", figure,
                         PAGE_DPI["rf"])]


def command_images(command: str, result: Any) -> list[dict[str, Any]]:
    """The ``images`` of ``command``'s result: lab, attribute, diagnose and rf draw
    figures; other commands none. Missing matplotlib leaves them out (the page's own
    plots need none)."""
    drawers: dict[str, Callable[[Any], list[dict[str, Any]]]] = {
        "lab": lab_images, "attribute": attribute_images, "diagnose": diagnose_images,
        "rf": rf_images}
    drawer = drawers.get(command)
    if drawer is None:
        return []
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return []
    return drawer(result)
