"""Walking a spec's layers and blocks (branch, residual, dense, repeat, named blocks and
``ref``) into the IR, with module paths that mirror the module :func:`build` makes."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netanatomy.errors import SpecError
from netanatomy.frontends.spec.context import REQUIRED, GraphContext, Where
from netanatomy.frontends.spec.layers import LAYER_TYPES
from netanatomy.frontends.spec.layers import same_value as same_sizes
from netanatomy.frontends.spec.source import LocatedDict, LocatedList, Position, load_yaml
from netanatomy.ir.graph import TensorInfo
from netanatomy.symbolic import is_concrete

BLOCK_TYPES = ("branch", "residual", "dense", "repeat", "block", "ref")


@dataclass
class Scope:
    """What names mean where a layer list is walked: symbol values, named blocks, the file."""

    values: dict[str, Any]
    blocks: Mapping[str, Any]
    directory: Path
    depth: int = 0
    refs: tuple[str, ...] = field(default_factory=tuple)


def child_path(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def position(container: Any, index: Any, fallback: Position) -> Position:
    positions = getattr(container, "positions", None)
    if positions is None:
        return getattr(container, "position", fallback)
    try:
        return positions[index]
    except (KeyError, IndexError, TypeError):
        return fallback


def walk_layers(ctx: GraphContext, x: TensorInfo, layers: Any, parent: str, label: str,
                scope: Scope, where: Position) -> TensorInfo:
    """Apply a list of layers; each becomes child ``i`` (or its ``name``) of ``parent``."""
    if not isinstance(layers, list):
        raise SpecError(f"expected a list of layers, found {type(layers).__name__}",
                        source=where.source, line=where.line, column=where.column, layer=label,
                        hint="write layers as a YAML list: '- conv: {...}'")
    saved, ctx.values = ctx.values, scope.values
    try:
        for index, entry in enumerate(layers):
            entry_position = position(layers, index, where)
            x = apply_layer(ctx, x, entry, parent, index, f"{label}[{index}]", scope,
                            entry_position)
    finally:
        ctx.values = saved
    return x


def split_entry(entry: Any, label: str, at: Position) -> tuple[str, Any]:
    """``relu`` → ("relu", {}); ``{conv: {...}}`` → ("conv", {...})."""
    if isinstance(entry, str):
        return entry, LocatedDict()
    if isinstance(entry, dict) and len(entry) == 1:
        kind, options = next(iter(entry.items()))
        return str(kind), options
    found = "a mapping with keys " + ", ".join(map(str, entry)) if isinstance(entry, dict) \
        else repr(entry)
    raise SpecError(f"expected one layer such as 'relu' or '{{conv: {{out: 64, k: 3}}}}', "
                    f"found {found}", source=at.source, line=at.line, column=at.column,
                    layer=label, hint="each list item is a single layer type with its options")


def apply_layer(ctx: GraphContext, x: TensorInfo, entry: Any, parent: str, index: int,
                label: str, scope: Scope, at: Position) -> TensorInfo:
    kind, options = split_entry(entry, label, at)
    if kind not in LAYER_TYPES and kind not in BLOCK_TYPES:
        close = difflib.get_close_matches(kind, [*LAYER_TYPES, *BLOCK_TYPES], n=3)
        raise SpecError(f"unknown layer type {kind!r}", source=at.source, line=at.line,
                        column=at.column, layer=label,
                        hint=(f"did you mean {', '.join(close)}? " if close else "")
                        + "run 'netanatomy spec-layers' for the list")
    name = options.get("name") if isinstance(options, dict) else None
    path = child_path(parent, str(name) if name is not None else str(index))
    options_position = position(entry, kind, at) if isinstance(entry, dict) else at
    where = Where(label=f"{label} ({kind})", path=path, position=options_position,
                  options=options if isinstance(options, LocatedDict) else None)
    if kind in BLOCK_TYPES:
        return apply_block(ctx, x, kind, options, where, scope)
    return LAYER_TYPES[kind].handler(ctx, x, with_defaults(ctx, kind, options, where), where)


def with_defaults(ctx: GraphContext, kind: str, options: Any, where: Where) -> dict[str, Any]:
    """The layer's options with defaults filled in; unknown or missing keys are errors."""
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise ctx.error(f"options of '{kind}' must be a mapping, found {options!r}", where,
                        hint=f"write '{kind}: {{key: value}}'")
    schema = LAYER_TYPES[kind].options
    for key in options:
        if key not in schema:
            close = difflib.get_close_matches(str(key), list(schema), n=2)
            raise ctx.error(f"unknown option {key!r} for '{kind}'", where, str(key),
                            hint=(f"did you mean {', '.join(close)}? " if close else "")
                            + f"'{kind}' takes: {', '.join(k for k in schema if k != 'name')}")
    merged = {}
    for key, default in schema.items():
        if key in options:
            merged[key] = options[key]
        elif default is REQUIRED:
            raise ctx.error(f"'{kind}' needs option {key!r}", where,
                            hint=f"e.g. {kind}: {{{key}: ...}}")
        else:
            merged[key] = default
    return merged


def block_options(ctx: GraphContext, options: Any, where: Where, allowed: dict[str, Any]
                  ) -> dict[str, Any]:
    if not isinstance(options, dict):
        raise ctx.error(f"expected a mapping of options, found {options!r}", where)
    for key in options:
        if key not in allowed:
            raise ctx.error(f"unknown option {key!r}", where, str(key),
                            hint=f"allowed: {', '.join(allowed)}")
    merged = {}
    for key, default in allowed.items():
        if key not in options and default is REQUIRED:
            raise ctx.error(f"missing option {key!r}", where)
        merged[key] = options.get(key, default)
    return merged


def apply_block(ctx: GraphContext, x: TensorInfo, kind: str, options: Any, where: Where,
                scope: Scope) -> TensorInfo:
    handlers = {"branch": branch, "residual": residual, "dense": dense, "repeat": repeat,
                "block": named_block, "ref": reference}
    return handlers[kind](ctx, x, options, where, scope)


def branch(ctx: GraphContext, x: TensorInfo, options: Any, where: Where, scope: Scope
           ) -> TensorInfo:
    """Parallel paths from one input, concatenated on channels."""
    paths = options.get("paths") if isinstance(options, dict) else options
    if not isinstance(paths, list) or not paths:
        raise ctx.error("branch needs a non-empty list of paths (each a list of layers)", where)
    ctx.module(where.path, "Branch")
    outputs = []
    for index, layers in enumerate(paths):
        path = child_path(where.path, str(index))
        ctx.module(path, "Sequential")
        out = walk_layers(ctx, x, layers, path, f"{where.label}[{index}]", scope,
                          position(paths, index, where.position))
        ctx.finish(path, out)
        outputs.append(out)
    first = outputs[0]
    for index, out in enumerate(outputs[1:], start=1):
        if len(out.shape) != len(first.shape) or not all(
                same_sizes(a, b) for a, b in zip(out.shape[2:], first.shape[2:])):
            raise ctx.error(f"branch paths end in different shapes: path 0 gives "
                            f"{tuple(first.shape[1:])}, path {index} gives "
                            f"{tuple(out.shape[1:])}", where,
                            hint="concatenation needs equal spatial sizes: check strides "
                                 "and padding ('p: same')")
    result = ctx.op("concat", "concat", tuple(outputs), {"dim": 1}, where)
    ctx.finish(where.path, result)
    return result


def residual(ctx: GraphContext, x: TensorInfo, options: Any, where: Where, scope: Scope
             ) -> TensorInfo:
    """y = body(x) + shortcut(x), the shortcut being the identity unless given."""
    if isinstance(options, list):
        options = {"body": options}
    merged = block_options(ctx, options, where, {"body": REQUIRED, "shortcut": None,
                                                 "name": None})
    ctx.module(where.path, "Residual")
    body_path = child_path(where.path, "body")
    ctx.module(body_path, "Sequential")
    body = walk_layers(ctx, x, merged["body"], body_path, f"{where.label}.body", scope,
                       where.position)
    ctx.finish(body_path, body)
    shortcut = x
    if merged["shortcut"] is not None:
        short_path = child_path(where.path, "shortcut")
        ctx.module(short_path, "Sequential")
        shortcut = walk_layers(ctx, x, merged["shortcut"], short_path,
                               f"{where.label}.shortcut", scope, where.position)
        ctx.finish(short_path, shortcut)
    if len(body.shape) != len(shortcut.shape) or not all(
            same_sizes(a, b) for a, b in zip(body.shape, shortcut.shape)):
        raise ctx.error(f"residual body gives {tuple(body.shape[1:])} but the shortcut gives "
                        f"{tuple(shortcut.shape[1:])}", where,
                        hint="add a 'shortcut:' (e.g. a 1×1 conv with the body's stride) "
                             "when the body changes the shape")
    result = ctx.op("elementwise", "add", (body, shortcut), {"op": "add", "fn": "add"}, where)
    ctx.finish(where.path, result)
    return result


def dense(ctx: GraphContext, x: TensorInfo, options: Any, where: Where, scope: Scope
          ) -> TensorInfo:
    """DenseNet block: each of n layers sees the concatenation of all previous outputs."""
    merged = block_options(ctx, options, where, {"n": REQUIRED, "growth": REQUIRED,
                                                 "body": REQUIRED, "name": None})
    count = ctx.number(merged, "n", where)
    growth = ctx.number(merged, "growth", where)
    if not is_concrete(count):
        raise ctx.error("dense 'n' must be a number", where, "n")
    ctx.module(where.path, "DenseBlock")
    inner = Scope({**scope.values, "growth": growth}, scope.blocks, scope.directory,
                  scope.depth, scope.refs)
    for index in range(count):
        path = child_path(where.path, str(index))
        ctx.module(path, "Sequential")
        out = walk_layers(ctx, x, merged["body"], path, f"{where.label}[{index}]", inner,
                          where.position)
        ctx.finish(path, out)
        if not same_sizes(out.shape[1], growth):
            raise ctx.error(f"dense layer {index} gives {out.shape[1]} channels, not the "
                            f"growth rate {growth}", where, hint="end the body with a conv "
                            "of 'out: growth'")
        x = ctx.op("concat", "concat", (x, out), {"dim": 1}, where, path=where.path)
    ctx.finish(where.path, x)
    return x


def repeat(ctx: GraphContext, x: TensorInfo, options: Any, where: Where, scope: Scope
           ) -> TensorInfo:
    merged = block_options(ctx, options, where, {"n": REQUIRED, "body": REQUIRED, "name": None})
    count = ctx.number(merged, "n", where)
    if not is_concrete(count):
        raise ctx.error("repeat 'n' must be a number", where, "n",
                        hint="give it a value with 'symbols:' or --set")
    ctx.module(where.path, "Sequential")
    for index in range(count):
        path = child_path(where.path, str(index))
        ctx.module(path, "Sequential")
        x = walk_layers(ctx, x, merged["body"], path, f"{where.label}[{index}]", scope,
                        where.position)
        ctx.finish(path, x)
    ctx.finish(where.path, x)
    return x


def named_block(ctx: GraphContext, x: TensorInfo, options: Any, where: Where, scope: Scope
                ) -> TensorInfo:
    """``block: NAME`` or ``block: {use: NAME, with: {F: 64}}``: a block from ``blocks:``,
    its symbols set by ``with``."""
    if isinstance(options, str):
        options = {"use": options}
    merged = block_options(ctx, options, where, {"use": REQUIRED, "with": {}, "name": None})
    block_name = merged["use"]
    if block_name not in scope.blocks:
        raise ctx.error(f"no block named {block_name!r}", where, "use",
                        hint=f"defined blocks: {', '.join(scope.blocks) or 'none'}")
    values = dict(scope.values)
    for key in merged["with"] or {}:
        values[str(key)] = ctx.number(merged["with"], key, where, allow_zero=True)
    if scope.depth > 32:
        raise ctx.error("blocks nest more than 32 deep (a block using itself?)", where)
    inner = Scope(values, scope.blocks, scope.directory, scope.depth + 1, scope.refs)
    ctx.module(where.path, "Sequential")
    out = walk_layers(ctx, x, scope.blocks[block_name], where.path,
                      f"{where.label}<{block_name}>", inner, where.position)
    ctx.finish(where.path, out)
    return out


def reference(ctx: GraphContext, x: TensorInfo, options: Any, where: Where, scope: Scope
              ) -> TensorInfo:
    """``ref: other.yaml``: the layers of another spec file (relative to this one)."""
    if not isinstance(options, str):
        raise ctx.error("ref takes a file name, e.g. 'ref: stem.yaml'", where)
    target = (scope.directory / options).resolve()
    if str(target) in scope.refs:
        raise ctx.error(f"{options} refers back to itself", where)
    if not target.is_file():
        raise ctx.error(f"referenced file {options} not found (looked in {scope.directory})",
                        where)
    document = load_yaml(target.read_text(encoding="utf-8"), str(target))
    layers = document.get("layers") if isinstance(document, dict) else None
    values = {**{str(k): v for k, v in (document.get("symbols") or {}).items()},
              **scope.values}
    inner = Scope(values, {**(document.get("blocks") or {}), **scope.blocks}, target.parent,
                  scope.depth + 1, (*scope.refs, str(target)))
    ctx.module(where.path, "Sequential")
    out = walk_layers(ctx, x, layers, where.path, f"{where.label}<{options}>", inner,
                      getattr(document, "position", where.position))
    ctx.finish(where.path, out)
    return out


__all__ = ["Scope", "walk_layers", "LocatedList"]
