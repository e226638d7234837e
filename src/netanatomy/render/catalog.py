"""Every built-in renderer, registered on import, and the two questions asked of them:
which formats a command writes, and the text of a result in one of them.

>>> formats("summary")
('table', 'json', 'csv', 'html')
"""

from __future__ import annotations

from typing import Any

from netanatomy.errors import UsageError
from netanatomy.render import (  # noqa: F401  (register)
    attribution,
    compare,
    devices,
    diagnose,
    html,
    inference,
    lab,
    lint,
    matrix,
    profile,
    rf,
    summary,
    training,
)
from netanatomy.render.registry import Options, Renderer, registered

FORMAT_ORDER = ("table", "json", "csv", "html")
"""The order formats are listed in (others after these, alphabetically)."""


def formats(command: str) -> tuple[str, ...]:
    """The formats ``command`` writes, table first."""
    found = {fmt for name, fmt in registered() if name == command}
    return tuple(sorted(found, key=lambda f: (FORMAT_ORDER.index(f) if f in FORMAT_ORDER
                                              else len(FORMAT_ORDER), f)))


def find(command: str, fmt: str) -> Renderer:
    """The renderer of ``command`` in ``fmt``.

    Raises:
        UsageError: the command does not write that format (the message names those it
        writes).
    """
    found = registered().get((command, fmt))
    if found is None:
        offered = formats(command)
        if not offered:
            raise UsageError(f"{command!r} writes no text output")
        listed = " or ".join([", ".join(offered[:-1]), offered[-1]] if len(offered) > 1
                             else offered)
        raise UsageError(f"{command} writes {listed}, not {fmt!r}: give --format "
                         + "|".join(offered))
    return found


def write(command: str, fmt: str, result: Any, **options: Any) -> str:
    """The text of ``result`` (the command's result object) in ``fmt``."""
    return find(command, fmt).write(result, Options(**options))
