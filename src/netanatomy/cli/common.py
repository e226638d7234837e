"""What every command shares: its option declarations (written once, as ``Annotated``
aliases), the error handling (one decorator), the format check against the renderer
registry, and writing the text out.

Exit codes: 0 success; 1 analysis failed (or ``--strict`` found something); 2 bad usage.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from netanatomy.errors import NetanatomyError, UsageError

DEFAULT_TARGET = "zoo:resnet18"

TARGET_HELP = ("Model: 'pkg.module:name', 'path/to/file.py:name' (an nn.Module, a Module "
               "class or a zero-argument factory), 'zoo:NAME', a spec 'file.yaml' or "
               "'example:NAME'.")

Target = Annotated[str, typer.Argument(help=TARGET_HELP)]
Inputs = Annotated[list[str], typer.Option(
    "--input", "-i", help="Input SHAPE[:dtype], e.g. 1x3x224x224 or 1x2048:int64; repeat for "
                          "several positional inputs (PyTorch targets).")]
Settings = Annotated[list[str], typer.Option(
    "--set", help="Spec symbol values, e.g. --set K=5,F=16 (repeatable).")]
Format = Annotated[str, typer.Option(
    "--format", "-f", help="Output format: table, json or csv (a format the command does "
                           "not write is refused, naming those it writes).")]
Output = Annotated[Path | None, typer.Option(
    "--output", "-o", help="Write to this file instead of stdout.")]
Depth = Annotated[int | None, typer.Option(
    "--depth", "-d", help="Deepest module level shown (default: 3 for tables, all for json "
                          "and csv).")]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]
Width = Annotated[int | None, typer.Option("--width", help="Table width in columns.")]

F = TypeVar("F", bound=Callable[..., Any])


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


def check_format(command: str, fmt: str) -> None:
    """Refuse a format ``command`` has no renderer for (before anything runs).

    Raises:
        UsageError: naming the formats it writes.
    """
    from netanatomy.render.catalog import find

    find(command, fmt)


def handled(command: str | None = None) -> Callable[[F], F]:
    """Decorator for a command: its ``--format`` is checked against the renderers of
    ``command`` first, and every failure reaches the user as one clear message (exit 1 or
    2, the traceback only with ``--debug``)."""

    def wrap(function: F) -> F:
        signature = inspect.signature(function)

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind_partial(*args, **kwargs).arguments
            try:
                if command is not None and "format" in bound:
                    check_format(command, bound["format"])
                if "depth" in bound and bound["depth"] is not None and bound["depth"] < 0:
                    raise UsageError(f"--depth must be 0 or more, got {bound['depth']}")
                return function(*args, **kwargs)
            except typer.Exit:
                raise
            except Exception as error:  # every failure reaches the user as one message
                fail(error, bool(bound.get("debug", False)))

        return run  # type: ignore[return-value]

    return wrap


def write_result(command: str, fmt: str, result: Any, output: Path | None = None,
                 depth: int | None = None, width: int | None = None) -> None:
    """Render ``result`` with the registry's renderer and write it out; ``depth`` None
    takes the renderer's default (3 levels for tables, all for documents)."""
    from netanatomy.render.catalog import find
    from netanatomy.render.registry import Options

    renderer = find(command, fmt)
    shown = renderer.default_depth if depth is None else depth
    emit(renderer.write(result, Options(depth=shown, width=width)), output)


def emit(text: str, output: Path | None) -> None:
    """``text`` to stdout, or to ``output`` (with a note on stderr)."""
    text = text if text.endswith("\n") else text + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)
