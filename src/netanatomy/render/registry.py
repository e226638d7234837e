"""The renderer registry: one text renderer per (command, format), registered by decorator.

A renderer takes the command's result object and :class:`Options` and returns the text.
Registering a (command, format) pair twice raises :class:`~netanatomy.errors.RuleError`,
as for op rules. The built-in renderers are registered by importing
:mod:`netanatomy.render.catalog`, which is where the CLI and the Python API look formats
up (:func:`~netanatomy.render.catalog.formats`, :func:`~netanatomy.render.catalog.write`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from netanatomy.errors import RuleError


@dataclass(frozen=True, slots=True)
class Options:
    """What a renderer may be told: ``depth`` (deepest module level; None: all),
    ``width`` (table columns; None: 160), ``indent`` (JSON; None: one line)."""

    depth: int | None = None
    width: int | None = None
    indent: int | None = 2


Write = Callable[[Any, Options], str]


@dataclass(frozen=True, slots=True)
class Renderer:
    """A registered renderer; ``default_depth`` is the depth the CLI shows when none is
    given (tables stop at 3 levels, documents list every layer)."""

    command: str
    format: str
    write: Write
    default_depth: int | None = None


_RENDERERS: dict[tuple[str, str], Renderer] = {}

W = TypeVar("W", bound=Write)


def renderer(command: str, fmt: str, default_depth: int | None = None) -> Callable[[W], W]:
    """Decorator: register ``write(result, options) -> str`` for ``command`` in ``fmt``.

    Raises:
        RuleError: the pair has a renderer already.
    """

    def register(write: W) -> W:
        if (command, fmt) in _RENDERERS:
            raise RuleError(f"{command!r} already has a {fmt!r} renderer")
        _RENDERERS[(command, fmt)] = Renderer(command, fmt, write, default_depth)
        return write

    return register


def registered() -> Mapping[tuple[str, str], Renderer]:
    """Every renderer registered so far, by (command, format) (a copy)."""
    return dict(_RENDERERS)
