"""What every command shares: its option declarations (written once, as ``Annotated``
aliases), the error handling (one decorator), the format check against the renderer
registry, and writing the text out.

Exit codes: 0 success; 1 analysis failed (or ``--strict`` found something); 2 bad usage.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import os
import sys
from collections.abc import Callable, Mapping
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
                          "several positional inputs, and NAME=SHAPE[:dtype] for a keyword "
                          "input of forward, e.g. attention_mask=1x128:bool (PyTorch "
                          "targets).")]
Settings = Annotated[list[str], typer.Option(
    "--set", help="Spec symbol values, e.g. --set K=5,F=16 (repeatable).")]
Format = Annotated[str, typer.Option(
    "--format", "-f", help="Output format: table, json, csv or html (a format the command does "
                           "not write is refused, naming those it writes).")]
Output = Annotated[Path | None, typer.Option(
    "--output", "-o", help="Write to this file instead of stdout.")]
Depth = Annotated[int | None, typer.Option(
    "--depth", "-d", help="Deepest module level shown (default: 3 for tables, all for json "
                          "and csv).")]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]
DeviceType = Annotated[str | None, typer.Option(
    "--device-type", help="Hardware-table key (netanatomy devices): predicted times, the "
                          "roofline per module and what fits, on that device.")]
Width = Annotated[int | None, typer.Option(
    "--width", help="Table width in columns (default: the terminal's; 160 for files and "
                    "pipes). Columns that do not fit are left out, with a note naming them.")]

F = TypeVar("F", bound=Callable[..., Any])

MIN_WIDTH = 40
"""Narrowest table (--width): a tree column and one number column still fit."""

MAX_WIDTH = 10_000
"""Widest table (--width): beyond it a line is no longer readable, and rendering slows."""


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
                check_options(command, bound)
                return function(*args, **kwargs)
            except typer.Exit:
                raise
            except Exception as error:  # every failure reaches the user as one message
                fail(error, bool(bound.get("debug", False)))

        return run  # type: ignore[return-value]

    return wrap


def check_options(command: str | None, options: Mapping[str, Any]) -> None:
    """Check every option value a command got (by parameter name), before anything is
    loaded or run: ``--format``, ``--depth``, ``--width``, ``-o/--output``, ``--plot``,
    ``--device``, ``--input``, ``--data``, ``--batch-size``, ``--object-size``, ``--steps``,
    ``--erf-fraction``.

    Raises:
        UsageError: naming the option, the value and what it accepts.
    """
    if command is not None and "format" in options:
        check_format(command, options["format"])
    at_least("--depth", options.get("depth"), 0)
    at_least("--batch-size", options.get("batch_size"), 1)
    at_least("--object-size", options.get("object_size"), 1)
    at_least("--steps", options.get("steps"), 1)
    check_width(options.get("width"))
    if options.get("output") is not None:
        check_writable("-o/--output", options["output"])
    if options.get("plot") is not None:
        check_writable("--plot", options["plot"], suffix=".png")
    if options.get("data") is not None and options.get("input"):
        raise UsageError("give --data or --input, not both")
    if options.get("data") is not None and not Path(options["data"]).is_file():
        raise UsageError(f"--data {str(options['data'])[:80]!r}: no such file (a torch.save'd "
                         "batch)")
    if options.get("device") is not None:
        check_device(options["device"], real=command == "diagnose")
    if options.get("input"):
        check_inputs(options["input"], positional_only=command == "diagnose")
    fraction = options.get("erf_fraction")
    if fraction is not None and not 0 < fraction <= 1:  # also refuses NaN
        raise UsageError(f"--erf-fraction must lie in (0, 1], got {fraction}; 0.95 keeps "
                         "95 % of the gradient mass")


def at_least(option: str, value: int | None, least: int) -> None:
    if value is not None and value < least:
        word = "0 or more" if least == 0 else f"at least {least}"
        raise UsageError(f"{option} must be {word}, got {value}")


def check_width(width: int | None) -> None:
    if width is not None and not MIN_WIDTH <= width <= MAX_WIDTH:
        raise UsageError(f"--width must lie between {MIN_WIDTH} and {MAX_WIDTH} columns, got "
                         f"{width}")


def check_writable(option: str, path: Path, suffix: str | None = None) -> None:
    """Refuse a file ``path`` that cannot be written: a folder, a missing or read-only
    folder, a read-only file, or (``suffix``) another file type."""
    try:
        folder = path.parent
        if path.is_dir():
            raise UsageError(f"{option} {str(path)!r} is a folder; give a file name in it, "
                             f"e.g. {str(path / ('out' + (suffix or '.txt')))!r}")
        if suffix is not None and path.suffix.lower() != suffix:
            raise UsageError(f"{option} {str(path)!r}: the file is written as "
                             f"{suffix.lstrip('.').upper()}; give a name ending in {suffix}")
        if not folder.is_dir():
            what = "is a file, not a folder" if folder.exists() else "does not exist"
            raise UsageError(f"{option} {str(path)!r}: the folder {str(folder)!r} {what}")
        if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise UsageError(f"{option} {str(path)!r}: not writable (permissions)")
    except (OSError, ValueError) as error:  # a name too long, a NUL byte, ...
        raise UsageError(f"{option} {str(path)[:80]!r} is not a usable file name: "
                         f"{error}") from None


def check_device(device: str, real: bool) -> None:
    """``meta`` / ``cpu`` need no torch; anything else is checked against this machine."""
    if device in ("meta", "cpu") and not (real and device == "meta"):
        return
    from netanatomy.frontends.torch.devices import check_device as check_available

    check_available(device, "--device", real=real)


def check_inputs(texts: list[str], positional_only: bool) -> None:
    """Parse every ``--input`` (shape, dtype, keyword name) before anything is loaded."""
    from netanatomy.errors import InputSpecError
    from netanatomy.frontends.torch.inputs import parse_input_args

    try:
        _, keyword = parse_input_args(texts)
    except InputSpecError as error:
        raise InputSpecError(f"--input: {error}") from None
    if keyword and positional_only:
        raise UsageError(f"--input {', '.join(f'{n}=…' for n in keyword)}: diagnose passes "
                         "its inputs positionally; keyword inputs are for summary, rf, lint "
                         "and compare")


def check_module_path(option: str, model: Any, path: str | None) -> None:
    """Refuse a ``path`` that names no module of ``model``, listing close ones.

    Raises:
        UsageError: with up to five close matches, or the first paths when none is close.
    """
    if path is None:
        return
    paths = [name for name, _ in model.named_modules()]
    if path in paths:
        return
    close = difflib.get_close_matches(path, paths, n=5, cutoff=0.5)
    listing = (f"close matches: {', '.join(map(repr, close))}" if close else
               f"its paths begin {', '.join(map(repr, paths[1:6]))}")
    raise UsageError(f"{option} {path[:80]!r} is not a module path of the model; {listing} "
                     "('' is the model itself; `netanatomy summary TARGET` lists them all)")


def write_result(command: str, fmt: str, result: Any, output: Path | None = None,
                 depth: int | None = None, width: int | None = None) -> None:
    """Render ``result`` with the registry's renderer and write it out; ``depth`` None
    takes the renderer's default (3 levels for tables, all for documents), ``width`` None
    the terminal's (160 when writing to a file or a pipe)."""
    from netanatomy.render.catalog import find
    from netanatomy.render.fit import terminal_width
    from netanatomy.render.registry import Options

    renderer = find(command, fmt)
    shown = renderer.default_depth if depth is None else depth
    width = terminal_width(output is not None) if width is None else width
    emit(renderer.write(result, Options(depth=shown, width=width)), output)


def emit(text: str, output: Path | None) -> None:
    """``text`` to stdout, or to ``output`` (with a note on stderr)."""
    text = text if text.endswith("\n") else text + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"-o/--output {str(output)!r} cannot be written: {error}") from None
    typer.echo(f"wrote {output}", err=True)
