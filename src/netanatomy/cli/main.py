"""``netanatomy`` CLI: thin glue from options to :func:`netanatomy.analyze` and renderers.

Exit codes: 0 success; 1 analysis failed or ``--strict`` met uncounted ops; 2 bad usage
(bad target, input or option). Tracebacks only with ``--debug``.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from netanatomy.errors import NetanatomyError, UsageError

app = typer.Typer(add_completion=False, no_args_is_help=False,
                  help="What a neural network costs, layer by layer, and how it is counted.")

DEFAULT_TARGET = "zoo:resnet18"


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def fail(error: BaseException, debug: bool) -> None:
    """Print ``error`` for a person (traceback only when debugging) and exit."""
    if debug:
        import traceback

        traceback.print_exception(error)
    if isinstance(error, NetanatomyError):
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(error.exit_code)
    typer.echo(f"internal error: {type(error).__name__}: {error} (rerun with --debug for the "
               "traceback, and please report it)", err=True)
    raise typer.Exit(1)


def resolve_target(target: str, inputs: list[str]) -> tuple[Any, list[str]]:
    """Load the model, and the zoo's default input when none is given."""
    from netanatomy.frontends.torch.target import load_target
    from netanatomy.frontends.torch.zoo import ZOO

    model = load_target(target)
    if not inputs:
        name = target.partition(":")[2]
        if target.startswith("zoo:") and name in ZOO:
            return model, [ZOO[name].default_input]
        raise UsageError(f"--input is required for {target!r}: give the input shape, e.g. "
                         "--input 1x3x224x224 (or 1x128:int64 for token ids); repeat it for "
                         "several inputs")
    return model, inputs


def emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)


@app.command()
def summary(
    target: Annotated[str, typer.Argument(
        help="Model: 'pkg.module:name', 'path/to/file.py:name' (an nn.Module, a Module "
             "class or a zero-argument factory) or 'zoo:NAME'.")] = DEFAULT_TARGET,
    input: Annotated[list[str], typer.Option(
        "--input", "-i", help="Input SHAPE[:dtype], e.g. 1x3x224x224 or 1x2048:int64; "
                              "repeat for several positional inputs.")] = [],  # noqa: B006
    depth: Annotated[int | None, typer.Option(
        "--depth", "-d", help="Deepest module level shown (default: 3 for tables, all "
                              "for json/csv).")] = None,
    format: Annotated[OutputFormat, typer.Option(
        "--format", "-f", help="Output format.")] = OutputFormat.table,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write to this file instead of stdout.")] = None,
    device: Annotated[str, typer.Option(
        help="meta (nothing allocated), cpu or cuda (run for real).")] = "meta",
    train: Annotated[bool, typer.Option(
        "--train", help="Analyse the train-mode forward (dropout on, batch statistics).")]
    = False,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Exit 1 when an op has no rule (its cost unknown).")] = False,
    width: Annotated[int | None, typer.Option(help="Table width in columns.")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    """Per-layer params, MACs, FLOPs and memory of a PyTorch model (default: zoo:resnet18)."""
    import netanatomy

    try:
        if depth is not None and depth < 0:
            raise UsageError(f"--depth must be 0 or more, got {depth}")
        model, inputs = resolve_target(target, input)
        report = netanatomy.analyze(model, inputs, device=device, training=train,
                                    strict=strict)
        if format is OutputFormat.json:
            emit(report.to_json(depth), output)
        elif format is OutputFormat.csv:
            emit(report.to_csv(depth), output)
        else:
            emit(report.render(depth=3 if depth is None else depth, width=width), output)
    except typer.Exit:
        raise
    except Exception as error:  # every failure reaches the user as one clear message
        fail(error, debug)


@app.command()
def rf(
    target: Annotated[str, typer.Argument(
        help="Model: 'pkg.module:name', 'path/to/file.py:name' or 'zoo:NAME'.")]
    = DEFAULT_TARGET,
    input: Annotated[list[str], typer.Option(
        "--input", "-i", help="Input SHAPE[:dtype] in (N, C, *spatial) layout.")] = [],  # noqa: B006
    depth: Annotated[int | None, typer.Option("--depth", "-d", help="Deepest level shown.")]
    = None,
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="table or json.")]
    = OutputFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")]
    = None,
    plot: Annotated[Path | None, typer.Option(
        "--plot", help="Write a PNG of field size and stride against depth.")] = None,
    measure: Annotated[bool, typer.Option(
        "--measure", help="Check every shown layer by the gradient support of its central "
                          "output on a linearised copy of the model.")] = False,
    width: Annotated[int | None, typer.Option(help="Table width in columns.")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    """Receptive field of every layer: size, effective stride and padding per axis."""
    import netanatomy

    try:
        model, inputs = resolve_target(target, input)
        report = netanatomy.analyze(model, inputs)
        shown = report.tree(3 if depth is None and format is OutputFormat.table else depth)
        measured = None
        if measure:
            from netanatomy.diagnostics.measured_rf import measure_receptive_fields

            spatial = [row.path for row in shown if row.rf is not None and row.calls > 0]
            measured = measure_receptive_fields(model, report.graph.inputs[0].shape, spatial)
        if plot is not None:
            from netanatomy.render.plot import plot_receptive_field

            plot_receptive_field(report, plot, title=f"Receptive field of {target}")
            typer.echo(f"wrote {plot}", err=True)
        if format is OutputFormat.json:
            emit(rf_json(report, depth, measured), output)
        elif format is OutputFormat.csv:
            emit(report.to_csv(depth), output)
        else:
            from netanatomy.render.rf_table import render_rf_text

            emit(render_rf_text(report, 3 if depth is None else depth, measured, width), output)
    except typer.Exit:
        raise
    except Exception as error:  # every failure reaches the user as one clear message
        fail(error, debug)


def rf_json(report: object, depth: int | None, measured: dict | None) -> str:
    """The summary document, with the measured fields (when asked) under
    ``receptive_field.measured``."""
    import dataclasses
    import json

    data = report.to_dict(depth)  # type: ignore[attr-defined]
    if measured is not None and data.get("receptive_field") is not None:
        data["receptive_field"]["measured"] = {
            path: ({"error": value} if isinstance(value, str) else dataclasses.asdict(value))
            for path, value in measured.items()}
    return json.dumps(data, indent=2)


@app.command()
def zoo() -> None:
    """List the built-in models (targets 'zoo:NAME')."""
    from netanatomy.frontends.torch.zoo import ZOO

    for name, entry in sorted(ZOO.items()):
        typer.echo(f"zoo:{name:<10} {entry.default_input:<14} {entry.description}")


def print_version(value: bool) -> None:
    if value:
        import netanatomy

        typer.echo(netanatomy.__version__)
        raise typer.Exit(0)


@app.callback()
def root(version: Annotated[bool, typer.Option(
        "--version", help="Print the version.", is_eager=True, callback=print_version)]
        = False) -> None:
    """netanatomy: what a neural network costs and how it behaves, layer by layer."""


def main() -> None:
    """Console-script entry point."""
    app()
