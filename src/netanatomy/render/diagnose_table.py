"""The terminal table of ``netanatomy diagnose``: the module tree with activation and
gradient statistics, initialisation and spectral checks, then verdict, lints, ERF and
conventions. Deterministic for a given width."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

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


def layer_table(report: DiagnoseReport, depth: int | None) -> Table:
    rows = cells(report, depth)
    table = Table(show_lines=False, header_style="bold", pad_edge=False)
    for index, header in enumerate(COLUMNS):
        if header == "Type":
            table.add_column(header, no_wrap=True, max_width=20, overflow="ellipsis")
        else:
            widest = max([len(header)] + [len(r[index]) for r in rows])
            table.add_column(header, justify="right" if index >= 3 else "left",
                             no_wrap=True, min_width=widest)
    for row in rows:
        table.add_row(*row)
    return table


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
    if not lints:
        return ["Lints: none"]
    lines = [f"Lints ({len(lints)}):"]
    for lint in lints:
        wasted = f" [{lint.wasted_params:,} params wasted]" if lint.wasted_params else ""
        where = f" {lint.path}" if lint.path else ""
        lines.append(f"  {lint.code}{where}: {lint.message}{wasted}. Fix: {lint.fix}")
    return lines


def render_diagnose_text(report: DiagnoseReport, depth: int | None = 3,
                         width: int | None = None) -> str:
    console = Console(color_system=None, width=width or 160, force_terminal=False)
    with console.capture() as captured:
        console.print(Group(layer_table(report, depth), Text("\n".join(footer_lines(report)))))
    return captured.get()


def render_lint_text(lints: Any, notes: Any = ()) -> str:
    return "\n".join([*lint_lines(lints), *[f"Note: {n}" for n in notes]]) + "\n"
