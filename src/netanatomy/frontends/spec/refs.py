"""Where ``ref:`` may read: spec files (``.yaml``, ``.yml``) inside the referring spec's
folder tree (the folder of the spec that was opened; for YAML text, the working
directory) or inside the built-in examples folder.

A ``ref`` that leaves those folders (an absolute path, ``../``, a symbolic link pointing
out) is an error unless the user opts in: the environment variable
``NETANATOMY_ALLOW_REF_OUTSIDE=1``, or in Python ``with refs_outside_allowed(): ...``.
Errors name the file and never show its contents.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from netanatomy.frontends.spec import limits

SPEC_SUFFIXES = (".yaml", ".yml")
ALLOW_OUTSIDE: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "netanatomy_allow_ref_outside", default=False)


class RefError(ValueError):
    """A ``ref:`` names a file it may not read, or one that cannot be read."""


def examples_folder() -> Path:
    return Path(str(resources.files("netanatomy") / "examples")).resolve()


def outside_allowed() -> bool:
    """True when the user opted in to ``ref:`` files outside the allowed folders."""
    return ALLOW_OUTSIDE.get() or os.environ.get(limits.REF_OUTSIDE_ENV, "") in (
        "1", "true", "yes")


@contextlib.contextmanager
def refs_outside_allowed() -> Iterator[None]:
    """Within this block, ``ref:`` may read spec files anywhere (for trusted specs)."""
    token = ALLOW_OUTSIDE.set(True)
    try:
        yield
    finally:
        ALLOW_OUTSIDE.reset(token)


def allowed_roots(directory: Path) -> tuple[Path, ...]:
    """The folders a spec opened in ``directory`` may ``ref`` into."""
    return (directory.resolve(), examples_folder())


def ref_target(name: str, directory: Path, roots: tuple[Path, ...]) -> Path:
    """The file ``ref: name`` reads, written in a spec in ``directory``.

    Raises:
        RefError: not a ``.yaml``/``.yml`` file, outside ``roots`` (unless opted in), or
            not found.
    """
    target = (directory / name).resolve()
    if target.suffix.lower() not in SPEC_SUFFIXES:
        raise RefError(f"ref {name!r} is not a spec file (.yaml or .yml)")
    if not outside_allowed() and not any(target.is_relative_to(root) for root in roots):
        raise RefError(f"ref {name!r} points outside the spec's folder "
                       f"({roots[0]}) and the built-in examples; set "
                       f"{limits.REF_OUTSIDE_ENV}=1 (or use refs_outside_allowed() in Python) "
                       "to allow it for a spec you trust")
    if not target.is_file():
        raise RefError(f"referenced file {name!r} not found (looked in {directory})")
    return target


def read_ref(target: Path, name: str) -> str:
    """The text of a ``ref``'d file, at most MAX_SPEC_CHARS long.

    Raises:
        RefError: too large, not UTF-8, or unreadable (the contents are never shown).
    """
    try:
        if target.stat().st_size > 4 * limits.MAX_SPEC_CHARS:
            raise RefError(f"referenced file {name!r} is larger than MAX_SPEC_CHARS = "
                           f"{limits.MAX_SPEC_CHARS} characters")
        return target.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RefError(f"referenced file {name!r} is not UTF-8 text") from None
    except OSError as error:
        raise RefError(f"referenced file {name!r} cannot be read ({error.strerror})") from None


__all__ = ["RefError", "allowed_roots", "outside_allowed", "read_ref", "ref_target",
           "refs_outside_allowed"]
