"""YAML loading that remembers where every value came from (file, line, column).

Values are plain Python containers (:class:`Located` dicts and lists) that also carry the
position of each item, so that every later error can point at ``file:line:column``. Only
YAML's safe scalar types are produced and any other tag (``!!python/object``, ``!foo``) is
an error: a spec never executes code. Loading is bounded (see :mod:`.limits`): the text's
length, how deep it nests and how many nodes it has once aliases are expanded (counted
while composing, so that a "billion laughs" document stops before it grows), the length
of a string and the size of a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import yaml

from netanatomy.errors import SpecError
from netanatomy.frontends.spec import limits

CORE = "tag:yaml.org,2002:"
SAFE_TAGS = frozenset(CORE + name for name in
                      ("str", "int", "float", "bool", "null", "timestamp", "seq", "map"))
"""The YAML tags a spec may hold (explicitly or as resolved); every other one is an error."""


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


def error_at(mark: Any, source: str, message: str, hint: str = "") -> SpecError:
    return SpecError(message, source=source, line=mark.line + 1, column=mark.column + 1,
                     hint=hint)


class SpecLoader(yaml.SafeLoader):
    """PyYAML's safe loader, composing within :data:`~.limits.MAX_NESTING` levels and
    :data:`~.limits.MAX_YAML_NODES` nodes counted with every alias expanded."""

    def __init__(self, text: str, source: str) -> None:
        super().__init__(text)
        self.source, self.level = source, 0
        self.measured: dict[int, tuple[int, int]] = {}
        """``id(node)`` → (nodes with aliases expanded, levels) of each composed node."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            target = self.anchors.get(event.anchor)
            if target is not None and id(target) not in self.measured:
                raise error_at(event.start_mark, self.source,
                               f"alias *{event.anchor} is used inside its own anchor "
                               "(a recursive alias)")
        self.level += 1
        try:
            if self.level > limits.MAX_NESTING:
                raise self.too_deep(self.peek_event().start_mark)
            node = super().compose_node(parent, index)
        finally:
            self.level -= 1
        return self.measure(node)

    def measure(self, node: yaml.Node) -> yaml.Node:
        if id(node) not in self.measured:
            children = [self.measured[id(child)] for child in children_of(node)]
            self.measured[id(node)] = (1 + sum(size for size, _ in children),
                                       1 + max((levels for _, levels in children), default=0))
        size, levels = self.measured[id(node)]
        if self.level + levels > limits.MAX_NESTING:
            raise self.too_deep(node.start_mark)
        if size > limits.MAX_YAML_NODES:
            raise error_at(node.start_mark, self.source,
                           f"this value expands to more than MAX_YAML_NODES = "
                           f"{limits.MAX_YAML_NODES} YAML nodes (aliases '*name' counted "
                           "each time they are used)", limits.limit_hint("MAX_YAML_NODES"))
        return node

    def too_deep(self, mark: Any) -> SpecError:
        return error_at(mark, self.source, f"the YAML nests more than MAX_NESTING = "
                        f"{limits.MAX_NESTING} levels deep (aliases expanded)",
                        limits.limit_hint("MAX_NESTING"))


def children_of(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [item for pair in node.value for item in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def construct(node: yaml.Node, source: str, scalars: yaml.SafeLoader | None = None) -> Any:
    """Turn a composed YAML node into located containers and safe scalars.

    Raises:
        SpecError: an unsupported tag, a mapping used as a key, a duplicate key, a number
            that is not finite or too large, a string too long.
    """
    scalars = scalars or yaml.SafeLoader("")
    check_tag(node, source)
    if isinstance(node, yaml.MappingNode):
        mapping = LocatedDict()
        mapping.position, mapping.positions = position_of(node, source), {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise error_at(key_node.start_mark, source,
                               "a mapping key must be a plain value, not a list or mapping")
            key = construct(key_node, source, scalars)
            if key in mapping:
                raise error_at(key_node.start_mark, source, f"duplicate key {key!r}")
            mapping[key] = construct(value_node, source, scalars)
            mapping.positions[key] = position_of(value_node, source)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        sequence = LocatedList(construct(item, source, scalars) for item in node.value)
        sequence.position = position_of(node, source)
        sequence.positions = [position_of(item, source) for item in node.value]
        return sequence
    return scalar(node, source, scalars)


def check_tag(node: yaml.Node, source: str) -> None:
    if node.tag in SAFE_TAGS:
        return
    if node.tag == CORE + "merge":
        raise error_at(node.start_mark, source, "YAML merge keys ('<<') are not supported",
                       "write the keys out, or reuse layers with 'blocks:'")
    tag = node.tag.replace(CORE, "!!")
    raise error_at(node.start_mark, source, f"unsupported YAML tag {tag[:60]!r}",
                   "a spec holds only mappings, lists, strings, numbers, booleans and null")


def scalar(node: yaml.Node, source: str, scalars: yaml.SafeLoader) -> Any:
    """A scalar: int, float, str, bool or null (or a date), checked against the limits."""
    if len(node.value) > limits.MAX_SCALAR_CHARS:
        raise error_at(node.start_mark, source, f"this value has {len(node.value)} "
                       f"characters, more than MAX_SCALAR_CHARS = {limits.MAX_SCALAR_CHARS}",
                       limits.limit_hint("MAX_SCALAR_CHARS"))
    if node.tag in (CORE + "int", CORE + "float") \
            and len(node.value) > 2 * limits.MAX_NUMBER_DIGITS + 10:
        raise too_many_digits(node, source)
    try:
        value = scalars.construct_object(node)
    except (yaml.YAMLError, ArithmeticError, ValueError, TypeError):
        raise error_at(node.start_mark, source,
                       f"cannot read this {node.tag.replace(CORE, '')} value") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise error_at(node.start_mark, source, f"{value} is not allowed: numbers in a spec "
                       "are finite", "write the size or count itself")
    if isinstance(value, (int, float)) and not isinstance(value, bool) \
            and abs(value) >= 10 ** limits.MAX_NUMBER_DIGITS:
        raise too_many_digits(node, source)
    return value


def too_many_digits(node: yaml.Node, source: str) -> SpecError:
    return error_at(node.start_mark, source, f"this number has more than MAX_NUMBER_DIGITS = "
                    f"{limits.MAX_NUMBER_DIGITS} digits", limits.limit_hint("MAX_NUMBER_DIGITS"))


def load_yaml(text: str, source: str = "<spec>") -> Any:
    """Parse YAML text into located containers.

    Raises:
        SpecError: the text is not valid YAML (with the parser's position, never the
            text itself), or passes a limit of :mod:`.limits`.
    """
    if len(text) > limits.MAX_SPEC_CHARS:
        raise SpecError(f"the spec has {len(text)} characters, more than MAX_SPEC_CHARS = "
                        f"{limits.MAX_SPEC_CHARS}", source=source, line=1, column=1,
                        hint=limits.limit_hint("MAX_SPEC_CHARS"))
    loader = None
    try:
        loader = SpecLoader(text, source)
        node = loader.get_single_node()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = getattr(error, "problem", None) or type(error).__name__
        raise SpecError(f"invalid YAML: {problem}", source=source, line=line, column=column,
                        hint="check indentation and that lists use '- ' items") from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        raise SpecError("the spec is empty", source=source, line=1, column=1,
                        hint="a spec needs at least 'input:' and 'layers:'")
    return construct(node, source)
