"""Symbol values of a spec: defaults under ``symbols:`` and values given from outside
(``--set``, ``--vary``, the ``symbols`` argument of the API), resolved as a dependency graph.

``symbols: {H: 2*W, W: 8}`` gives H = 16 whatever the order written; a cycle (``A: B,
B: A``) is an error naming its members and where they were given. A value given from
outside must be for a name the spec uses (declared under ``symbols:`` or written in an
expression anywhere in it, including the files it names with ``ref:``) or that another
given value uses (``--set H=2*W,W=8``).
"""

from __future__ import annotations

import difflib
import graphlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from netanatomy.errors import SpecError, UsageError
from netanatomy.frontends.spec.expressions import ExpressionError, evaluate
from netanatomy.frontends.spec.layers import LAYER_TYPES
from netanatomy.frontends.spec.refs import RefError, allowed_roots, read_ref, ref_target
from netanatomy.frontends.spec.source import LocatedDict, Position, load_yaml
from netanatomy.frontends.spec.values import names_in

NOT_EXPRESSIONS = frozenset({"name", "description", "use", "ref", "type", "mode"})
"""Keys whose values are words, not expressions (a layer's name, an upsample mode)."""

WORDS = frozenset({"same", "valid"})


class Assignments(dict[str, Any]):
    """Symbol values with where each was given (``{"K": "--set K=5"}``), for messages."""

    def __init__(self, values: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
                 origins: Mapping[str, str] | None = None) -> None:
        super().__init__(values)
        self.origins: dict[str, str] = dict(origins or {})


def declared(document: LocatedDict, source: str) -> dict[str, tuple[Any, Position]]:
    """The ``symbols:`` mapping: name → (value as written, its position).

    Raises:
        SpecError: not a mapping, or a key that is not a name.
    """
    raw = document.get("symbols")
    if raw is None:
        return {}
    at = document.positions["symbols"]
    if not isinstance(raw, dict):
        raise SpecError(f"'symbols:' must map names to values, found {raw!r}", source=source,
                        line=at.line, column=at.column, hint="e.g. symbols: {F: 64, K: 3}")
    positions = getattr(raw, "positions", {})
    result = {}
    for name, value in raw.items():
        where = positions.get(name, at)
        if not isinstance(name, str) or not name.isidentifier():
            raise SpecError(f"symbol name {name!r} is not a name", source=source,
                            line=where.line, column=where.column,
                            hint="a name is letters, digits and _, not starting with a digit")
        result[name] = (value, where)
    return result


def used_names(node: Any, directory: Path, seen: set[str] | None = None) -> set[str]:
    """Every name written in an expression in ``node`` (a spec document or part of one),
    following ``ref:`` files; layer types and words such as ``same`` are not names."""
    seen = set() if seen is None else seen
    if isinstance(node, dict):
        names: set[str] = set()
        for key, value in node.items():
            if key == "ref" and isinstance(value, str):
                names |= referenced_names(value, directory, seen)
            elif key == "symbols" and isinstance(value, dict):
                names |= {str(k) for k in value} | used_names(list(value.values()), directory,
                                                               seen)
            elif key not in NOT_EXPRESSIONS and not (key == "block" and isinstance(value, str)):
                names |= used_names(value, directory, seen)
        return names
    if isinstance(node, list):
        return set().union(*(used_names(item, directory, seen) for item in node))
    if isinstance(node, str) and node not in LAYER_TYPES and node not in WORDS:
        return set(names_in(node))
    return set()


def referenced_names(name: str, directory: Path, seen: set[str]) -> set[str]:
    """The names of a ``ref``'d file, read under the same confinement as the walk
    (:mod:`.refs`); none when it cannot be read (the walk reports why)."""
    try:
        path = ref_target(name, directory, allowed_roots(directory))
        if str(path) in seen:
            return set()
        seen.add(str(path))
        document = load_yaml(read_ref(path, name), str(path))
    except (RefError, SpecError, OSError):
        return set()
    return used_names(document, path.parent, seen)


def resolve(document: LocatedDict, source: str, directory: Path,
            overrides: Mapping[str, Any], base: Mapping[str, Any] | None = None
            ) -> dict[str, Any]:
    """Symbol values: the spec's defaults, replaced by ``overrides``, each evaluated after
    the symbols it uses. A value of ``None`` leaves the name symbolic. ``base``: values
    already resolved (those of the spec whose ``ref:`` names this one), which win over the
    defaults and are returned with the rest.

    Raises:
        UsageError: an override for a name the spec does not use, or a bad override.
        SpecError: a bad default, or defaults that depend on each other in a cycle.
    """
    defaults = declared(document, source)
    used_by_overrides = {used for value in overrides.values() for used in names_in(value)}
    check_known(overrides, set(defaults) | used_names(document, directory) | used_by_overrides)
    base = base or {}
    raw = {**{name: value for name, (value, _) in defaults.items() if name not in base},
           **overrides}
    place = Place(source, defaults, overrides)
    values: dict[str, Any] = dict(base)
    for name in evaluation_order(raw, place):
        if raw[name] is None:
            continue
        try:
            values[name] = evaluate(raw[name], values)
        except ExpressionError as error:
            raise place.error(name, f"symbol {name}: {error}",
                              "use numbers, symbol names and + - * / // ** %") from None
    return values


def evaluation_order(raw: Mapping[str, Any], place: Place) -> list[str]:
    """The names of ``raw`` with every symbol after those its value uses."""
    graph = {name: [used for used in names_in(value) if used in raw]
             for name, value in raw.items()}
    try:
        return list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        cycle = list(dict.fromkeys(error.args[1]))
        members = sorted(cycle, key=list(raw).index)
        chain = " → ".join([*cycle, cycle[0]])
        raise place.error(place.first(members), f"symbols {', '.join(members)} depend on "
                          f"each other ({chain}: "
                          + ", ".join(f"{name} = {raw[name]}" for name in members) + ")",
                          "give one of them a number") from None


class Place:
    """Where a symbol's value was given, for errors: the command line or the spec."""

    def __init__(self, source: str, defaults: Mapping[str, tuple[Any, Position]],
                 overrides: Mapping[str, Any]) -> None:
        self.source, self.defaults, self.overrides = source, defaults, overrides
        self.origins: Mapping[str, str] = getattr(overrides, "origins", {})

    def first(self, names: list[str]) -> str:
        """The name to point at: one given from outside, else the first written."""
        return next((name for name in names if name in self.overrides), names[0])

    def error(self, name: str, message: str, hint: str) -> Exception:
        if name in self.overrides:
            origin = self.origins.get(name, f"symbol {name}={self.overrides[name]!r}")
            return UsageError(f"{origin}: {message}. Hint: {hint}")
        at = self.defaults[name][1]
        return SpecError(message, source=self.source, line=at.line, column=at.column,
                         hint=hint)


def check_known(overrides: Mapping[str, Any], known: set[str], what: str = "the spec"
                ) -> None:
    """Every override names a symbol of the spec (of ``what``: "the spec", "the specs").

    Raises:
        UsageError: naming the known symbols and the closest matches.
    """
    origins: Mapping[str, str] = getattr(overrides, "origins", {})
    for name in overrides:
        if name in known:
            continue
        origin = origins.get(name, f"symbol {name}={overrides[name]!r}")
        close = [k for k in sorted(known) if k.lower() == name.lower()] or \
            difflib.get_close_matches(name, sorted(known), n=3)
        listing = f"symbols: {', '.join(sorted(known))}" if known else "no symbols"
        raise UsageError(f"{origin}: {what} {'has' if what == 'the spec' else 'have'} no "
                         f"symbol {name!r} ({listing})"
                         + (f". Hint: did you mean {', '.join(close)}?" if close else ""))
