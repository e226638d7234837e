"""The terminal table of ``netanatomy diagnose``: the module tree with activation and
gradient statistics, initialisation and spectral checks, then verdict, lints, ERF and
conventions. Deterministic for a given width."""

from __future__ import annotations

import re
import textwrap
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from netanatomy.render.fit import DEFAULT_WIDTH, Column, Layout, dropped_note, fitted_table
from netanatomy.render.format import format_shape
from netanatomy.render.table import tree_labels

if TYPE_CHECKING:
    from netanatomy.diagnostics.result import DiagnoseReport, LayerDiagnostics

COLUMNS = ("Layer", "Type", "Output shape", "Act mean", "Act std", "Dead %", "Sat. %",
           "Grad norm", "Grad/W", "Gain", "Init", "σ max")


def number(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}g}"


def percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def weight_stats(row: LayerDiagnostics) -> tuple[str, str]:
    """Gradient norm and gradient/weight ratio of the layer's ``weight`` (else first)."""
    chosen = next((p for p in row.params if p.name.endswith("weight")),
                  row.params[0] if row.params else None)
    if chosen is None:
        return "", ""
    return number(chosen.grad_norm), number(chosen.grad_to_weight)


def init_cell(row: LayerDiagnostics) -> str:
    if row.init is None:
        return ""
    if row.init.normalised:
        return "norm after"
    mark = "!" if row.init.flagged else ""
    return f"{row.init.ratio:.2f}×{row.init.expected}{mark}"


def cells(report: DiagnoseReport, depth: int | None) -> list[tuple[str, ...]]:
    rows = tuple(r for r in report.layers if depth is None or r.depth <= depth)
    out: list[tuple[str, ...]] = []
    for label, row in zip(tree_labels(rows), rows):  # type: ignore[arg-type]
        grad, ratio = weight_stats(row)
        out.append((label, row.type, format_shape(row.output_shape), number(row.act_mean),
                    number(row.act_std), percent(row.dead_fraction),
                    percent(row.saturated_fraction), grad, ratio, number(row.gain),
                    init_cell(row), number(row.sigma_max)))
    return out


DIAGNOSE_COLUMNS = (
    Column("Layer", 0, name=True, min_width=20),
    Column("Type", 12, name=True, max_width=20, min_width=8),
    Column("Output shape", 11), Column("Act mean", 7, right=True),
    Column("Act std", 1, right=True), Column("Dead %", 4, right=True),
    Column("Sat. %", 8, right=True), Column("Grad norm", 2, right=True),
    Column("Grad/W", 6, right=True), Column("Gain", 3, right=True),
    Column("Init", 5, right=True), Column("σ max", 9, right=True))
"""When the table is too wide, empty columns go first, then Type, Output shape, σ max,
Sat. %, Act mean, Grad/W, Init, Dead %, Gain, Grad norm and Act std; Layer stays."""


def layer_table(report: DiagnoseReport, depth: int | None,
                width: int = DEFAULT_WIDTH) -> tuple[Table, Layout]:
    """The table of the columns that fit in ``width``, and its layout."""
    return fitted_table(DIAGNOSE_COLUMNS, cells(report, depth), width)


def footer_lines(report: DiagnoseReport) -> list[str]:
    verdict = report.verdict
    shapes = ", ".join(format_shape(s) for s in report.input_shapes)
    lines = [f"Run: {report.loss_name} loss {report.loss:.4g} on a batch {shapes}, "
             f"{report.device}, {'train' if report.training else 'eval'} mode, seed "
             f"{report.seed}, {len(report.steps)} step(s)",
             f"Verdict: {verdict.status.upper()} — {verdict.message}"]
    if verdict.responsible:
        lines.append("  responsible (smallest/largest gains): " + ", ".join(verdict.responsible))
    lines += lint_lines(report.lints)
    if report.erf is not None:
        erf = report.erf
        theory = "×".join(map(str, erf.theoretical)) if erf.theoretical else "?"
        lines.append(f"Effective receptive field of '{erf.path or '<root>'}': "
                     f"{'×'.join(map(str, erf.size))} px hold {100 * erf.fraction:.0f} % of "
                     f"the gradient mass (theoretical field {theory})")
    lines += [f"Note: {note}" for note in report.notes]
    lines += ["Conventions: Dead % = units never positive over the batch (ReLU family); "
              "Sat. % = sigmoid/tanh outputs within 1 % of an asymptote;",
              "  Grad norm, Grad/W of the layer's weight; Gain = ‖dL/d input‖ / ‖dL/d "
              "output‖; Init = weight std / He or Xavier std (! = off by > 2×, no norm "
              "after);",
              "  σ max = largest singular value (exact for Linear; Lanczos-accelerated power "
              "iteration on the conv operator)."]
    return lines


def lint_lines(lints: Any) -> list[str]:
    """``Lints (N):`` and one line per lint; lints that say the same thing of several
    layers (same code, fix and message but for its numbers and quoted names) are one
    line with their count and the first paths (JSON and CSV keep every lint)."""
    if not lints:
        return ["Lints: none"]
    lines = [f"Lints ({len(lints)}):"]
    for group in group_lints(lints):
        lines.append(lint_line(group))
    return lines


LINT_PATHS_SHOWN = 3
"""Paths listed on a grouped lint's line before ``… and N more``."""

VARYING = re.compile(r"('[^']*'|-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)")
"""The parts of a lint message that may differ between layers: numbers, quoted names."""


def group_lints(lints: Any) -> list[list[Any]]:
    """Lints grouped by code, fix, severity and message pattern, in first-seen order."""
    groups: dict[tuple[str, ...], list[Any]] = {}
    for lint in lints:
        pattern = VARYING.sub("#", lint.message)
        groups.setdefault((lint.code, pattern, lint.fix, lint.severity), []).append(lint)
    return list(groups.values())


def lint_line(group: list[Any]) -> str:
    first = group[0]
    wasted_total = sum(lint.wasted_params for lint in group)
    if len(group) == 1:
        wasted = f" [{wasted_total:,} params wasted]" if wasted_total else ""
        where = f" {first.path}" if first.path else ""
        return f"  {first.code}{where}: {first.message}{wasted}. Fix: {first.fix}"
    wasted = f" [{wasted_total:,} params wasted in all]" if wasted_total else ""
    paths = [lint.path or "<root>" for lint in group]
    listed = ", ".join(paths[:LINT_PATHS_SHOWN])
    if len(paths) > LINT_PATHS_SHOWN:
        listed += f", … and {len(paths) - LINT_PATHS_SHOWN} more"
    return (f"  {first.code} ×{len(group)}: {merged_message(group)}{wasted} ({listed}). "
            f"Fix: {first.fix}")


def merged_message(group: list[Any]) -> str:
    """The group's message with each varying part as it is where all agree, else as its
    range (``4–3136``) for numbers or ``…`` for names."""
    split = [VARYING.split(lint.message) for lint in group]
    parts = []
    for index, part in enumerate(split[0]):
        values = [pieces[index] for pieces in split]
        if index % 2 == 0 or len(set(values)) == 1:
            parts.append(part)
        elif part.startswith("'"):
            parts.append("…")
        else:
            numbers = sorted(values, key=float)
            parts.append(f"{numbers[0]}–{numbers[-1]}")
    return "".join(parts)


def wrap_lines(lines: list[str], width: int | None) -> list[str]:
    """``lines`` wrapped at ``width`` (None: as they are), continuations indented two
    cells more than the line they continue."""
    if width is None:
        return lines
    out = []
    for line in lines:
        if len(line) <= width:
            out.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip(" ")) + 2)
        out += textwrap.wrap(line, width, subsequent_indent=indent, break_long_words=True,
                             break_on_hyphens=False)
    return out


def render_diagnose_text(report: DiagnoseReport, depth: int | None = 3,
                         width: int | None = None) -> str:
    width = width or DEFAULT_WIDTH
    table, layout = layer_table(report, depth, width)
    console = Console(color_system=None, width=max(width, layout.width), force_terminal=False)
    with console.capture() as drawn:
        console.print(table)
    note = dropped_note(layout, width)
    lines = wrap_lines(([note] if note else []) + footer_lines(report), width)
    console = Console(color_system=None, width=width, force_terminal=False)
    with console.capture() as captured:
        console.print(Text("\n".join(lines)))
    return drawn.get() + captured.get()


def render_lint_text(lints: Any, notes: Any = (), width: int | None = None) -> str:
    """The lints (grouped, see :func:`lint_lines`) and notes, wrapped at ``width``."""
    lines = [*lint_lines(lints), *[f"Note: {n}" for n in notes]]
    return "\n".join(wrap_lines(lines, width)) + "\n"
