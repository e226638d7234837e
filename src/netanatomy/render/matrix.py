"""The ``matrix`` command's renderers: an operator matrix (:mod:`netanatomy.lab.matrices`)
as aligned text like a hand-written matrix, LaTeX (``bmatrix``), CSV (header = column
labels, first column = row label) and JSON (``netanatomy.matrix/1``). Entries arrive as
text from the result object; nothing here imports torch or sympy."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from netanatomy.render.registry import Options, renderer

if TYPE_CHECKING:
    from netanatomy.lab.matrices import OperatorMatrix

SCHEMA = "netanatomy.matrix/1"


def bracket(row: int, rows: int) -> tuple[str, str]:
    """The left and right bracket pieces of row ``row`` of ``rows``."""
    if rows == 1:
        return "[", "]"
    if row == 0:
        return "⎡", "⎤"
    if row == rows - 1:
        return "⎣", "⎦"
    return "⎢", "⎥"


def boundaries(blocks: Sequence[int]) -> set[int]:
    """Indices after which a block ends (the last one left out)."""
    ends, total = set(), 0
    for size in blocks[:-1]:
        total += size
        ends.add(total)
    return ends


def matrix_lines(entries: Sequence[Sequence[str]], row_labels: Sequence[str],
                 column_labels: Sequence[str], row_blocks: Sequence[int] = (),
                 column_blocks: Sequence[int] = ()) -> list[str]:
    """The matrix as aligned text: column labels above, row labels left, entries
    right-aligned in brackets, ``│`` / ``─`` between channel blocks."""
    widths = [max([len(column_labels[j])] + [len(row[j]) for row in entries])
              for j in range(len(column_labels))]
    label_width = max((len(label) for label in row_labels), default=0)
    cuts, rule_after = boundaries(column_blocks), boundaries(row_blocks)

    def joined(cells: Sequence[str]) -> str:
        parts = []
        for j, cell in enumerate(cells):
            if j:
                parts.append(" │ " if j in cuts else "  ")
            parts.append(cell.rjust(widths[j]))
        return "".join(parts)

    lines = [" " * (label_width + 3) + joined(column_labels)]
    for i, row in enumerate(entries):
        left, right = bracket(i, len(entries))
        lines.append(f"{row_labels[i].ljust(label_width)} {left} {joined(row)} {right}")
        if i + 1 in rule_after:
            rule = joined(["─" * w for w in widths]).replace(" │ ", "─┼─").replace("  ", "──")
            lines.append(f"{' ' * label_width} ⎢ {rule} ⎥")
    return lines


def check_line(result: OperatorMatrix) -> str:
    if result.check_error is None:
        return "torch check: not run"
    verdict = "ok" if result.check_passed else "FAILED"
    if result.kind == "dilated":
        what = "max |conv(x, K_D) − conv(x, K, dilation=D)|"
    else:
        x = "y" if result.kind.startswith("conv-transpose") else "x"
        op = result.kind.replace("-", "_")
        what = f"max |{result.symbol}·vec({x}) − torch {op}({x})|"
    shape = "×".join(map(str, result.torch_shape or ()))
    given = "the input shown" if result.kind.startswith("max-pool") else (
        "a float64 random input" + (" and random weights" if result.symbolic else ""))
    return (f"torch check ({verdict}): {what} = {result.check_error:.3g} on {given} "
            f"(tolerance {result.check_tolerance:.2g}, float64 rounding); torch's "
            f"output shape {shape}")


@renderer("matrix", "table")
def matrix_text(result: OperatorMatrix, options: Options) -> str:
    """The title, the relation, the steps (kernel, selector, K ⊗ S; a max-pool's input),
    the matrix, the output-size formula, the vectorisation convention, the torch check and
    the notes."""
    rows, cols = result.shape
    lines = [result.title, f"{result.relation}   {result.symbol}: {rows}×{cols}", ""]
    for step in result.steps:
        lines += [f"{step.name}:", *matrix_lines(entry_texts(step.matrix), step.row_labels,
                                                 step.column_labels), ""]
    if result.steps:
        lines.append(f"{result.symbol}:")
    lines += matrix_lines(result.entries(), result.row_labels, result.column_labels,
                          result.row_blocks, result.column_blocks)
    lines += ["", *(f"output size: {line}" for line in result.formula),
              f"convention: {result.convention}", check_line(result)]
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)


def entry_texts(matrix: Any) -> list[list[str]]:
    return [[str(matrix[i, j]) for j in range(matrix.cols)] for i in range(matrix.rows)]


def latex_label(label: str) -> str:
    letter, _, index = label.partition("_")
    return f"{letter}_{{{index}}}" if index else label


def bmatrix(entries: Sequence[Sequence[str]]) -> list[str]:
    return ["\\begin{bmatrix}", *("  " + " & ".join(row) + r" \\" for row in entries),
            "\\end{bmatrix}"]


@renderer("matrix", "latex")
def matrix_latex(result: OperatorMatrix, options: Options) -> str:
    """The matrix as ``SYMBOL = \\begin{bmatrix} … \\end{bmatrix}`` (the steps first), with
    the labels, formula and convention as LaTeX comments."""
    symbol = {"Aᵀ": "A^{\\top}", "K_D": "K_{D}"}.get(result.symbol, result.symbol)
    lines = [f"% {result.title}", f"% {result.relation}; {result.convention}",
             "% rows: " + " ".join(result.row_labels),
             "% columns: " + " ".join(result.column_labels),
             *(f"% output size: {line}" for line in result.formula), f"% {check_line(result)}"]
    for step in result.steps:
        name = step.name.split(" (")[0].replace("⊗", "\\otimes")
        lines += [f"% {step.name}", f"{name} = " + bmatrix(latex_of(step.matrix))[0],
                  *bmatrix(latex_of(step.matrix))[1:]]
    body = bmatrix(result.latex_entries())
    lines += [f"{symbol} = {body[0]}", *body[1:]]
    return "\n".join(lines)


def latex_of(matrix: Any) -> list[list[str]]:
    from netanatomy.lab.matrices import latex_entries

    return latex_entries(matrix)


@renderer("matrix", "csv")
def matrix_csv(result: OperatorMatrix, options: Options) -> str:
    """One line per row: its label, then the entries; the header names the columns."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["row", *result.column_labels])
    for label, row in zip(result.row_labels, result.entries(), strict=True):
        writer.writerow([label, *row])
    return buffer.getvalue()


def matrix_document(result: OperatorMatrix) -> dict[str, Any]:
    """The ``netanatomy.matrix/1`` document."""
    rows, cols = result.shape
    return {
        "schema": SCHEMA, "kind": result.kind, "title": result.title,
        "symbol": result.symbol, "relation": result.relation, "rows": rows, "columns": cols,
        "input_shape": list(result.input_shape), "output_shape": list(result.output_shape),
        "row_labels": list(result.row_labels), "column_labels": list(result.column_labels),
        "entries": [list(row) for row in result.entries()], "symbolic": result.symbolic,
        "output_size": list(result.formula), "convention": result.convention,
        "check": {"max_abs_error": result.check_error, "tolerance": result.check_tolerance,
                  "passed": result.check_passed,
                  "torch_output_shape": (list(result.torch_shape) if result.torch_shape
                                         is not None else None)},
        "row_blocks": list(result.row_blocks), "column_blocks": list(result.column_blocks),
        "steps": [{"name": step.name, "row_labels": list(step.row_labels),
                   "column_labels": list(step.column_labels),
                   "entries": entry_texts(step.matrix)} for step in result.steps],
        "notes": list(result.notes),
    }


@renderer("matrix", "json")
def matrix_json(result: OperatorMatrix, options: Options) -> str:
    return json.dumps(matrix_document(result), indent=options.indent, ensure_ascii=False)
