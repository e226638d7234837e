"""YAML loading that remembers where every value came from (file, line, column).

Values are plain Python containers (:class:`Located` dicts and lists) that also carry the
position of each item, so that every later error can point at ``file:line:column``. Only
YAML's safe scalar types are produced: a spec never executes code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from netanatomy.errors import SpecError


@dataclass(frozen=True, slots=True)
class Position:
    """1-based line and column in a source file."""

    source: str
    line: int
    column: int


class LocatedDict(dict):  # type: ignore[type-arg]
    """A mapping that knows its own position and the position of each value."""

    position: Position
    positions: dict[Any, Position]


class LocatedList(list):  # type: ignore[type-arg]
    """A sequence that knows its own position and the position of each item."""

    position: Position
    positions: list[Position]


def position_of(node: yaml.Node, source: str) -> Position:
    return Position(source, node.start_mark.line + 1, node.start_mark.column + 1)


def construct(node: yaml.Node, source: str, scalars: yaml.SafeLoader | None = None) -> Any:
    """Turn a composed YAML node into located containers and safe scalars."""
    scalars = scalars or yaml.SafeLoader("")
    if isinstance(node, yaml.MappingNode):
        mapping = LocatedDict()
        mapping.position, mapping.positions = position_of(node, source), {}
        for key_node, value_node in node.value:
            key = construct(key_node, source, scalars)
            if key in mapping:
                raise SpecError(f"duplicate key {key!r}", source=source,
                                line=key_node.start_mark.line + 1,
                                column=key_node.start_mark.column + 1)
            mapping[key] = construct(value_node, source, scalars)
            mapping.positions[key] = position_of(value_node, source)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        sequence = LocatedList(construct(item, source, scalars) for item in node.value)
        sequence.position = position_of(node, source)
        sequence.positions = [position_of(item, source) for item in node.value]
        return sequence
    return scalars.construct_object(node)  # a scalar: int, float, str, bool or null


def load_yaml(text: str, source: str = "<spec>") -> Any:
    """Parse YAML text into located containers.

    Raises:
        SpecError: the text is not valid YAML (with the parser's position).
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = getattr(error, "problem", None) or str(error)
        raise SpecError(f"invalid YAML: {problem}", source=source, line=line, column=column,
                        hint="check indentation and that lists use '- ' items") from None
    if node is None:
        raise SpecError("the spec is empty", source=source, line=1, column=1,
                        hint="a spec needs at least 'input:' and 'layers:'")
    return construct(node, source)
