"""Walking a spec's layers and blocks (branch, residual, dense, repeat, named blocks and
``ref``) into the IR, with module paths that mirror the module :func:`build` makes."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from netanatomy.errors import SpecError
from netanatomy.frontends.spec import limits
from netanatomy.frontends.spec.context import REQUIRED, GraphContext, Where
from netanatomy.frontends.spec.layers import LAYER_TYPES
from netanatomy.frontends.spec.layers import same_value as same_sizes
from netanatomy.frontends.spec.refs import RefError, allowed_roots, read_ref, ref_target
from netanatomy.frontends.spec.source import LocatedDict, LocatedList, Position, load_yaml
from netanatomy.frontends.spec.symbols import resolve
from netanatomy.frontends.spec.values import fraction_of, is_multiplier
from netanatomy.ir.graph import TensorInfo
from netanatomy.symbolic import is_concrete

BLOCK_TYPES = ("branch", "residual", "dense", "repeat", "block", "ref")


@dataclass
class Work:
    """What walking one spec has cost so far (shared by all its scopes), against the limits
    of :mod:`.limits`: layers applied, how deep layer lists nest now, ``ref``'d documents
    already read (each file is parsed once)."""

    layers: int = 0
    nesting: int = 0
    symbolic: bool = False
    documents: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scope:
    """What names mean where a layer list is walked: symbol values, named blocks, the file,
    and (shared) the work done so far and the folders ``ref:`` may read."""

    values: dict[str, Any]
    blocks: Mapping[str, Any]
    directory: Path
    depth: int = 0
    refs: tuple[str, ...] = field(default_factory=tuple)
    work: Work = field(default_factory=Work)
    roots: tuple[Path, ...] = ()


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
    if scope.work.nesting >= limits.MAX_LAYER_NESTING:
        raise limit_error(f"layer lists nest more than MAX_LAYER_NESTING = "
                          f"{limits.MAX_LAYER_NESTING} deep (blocks and refs expanded)",
                          where, label, "MAX_LAYER_NESTING")
    saved, ctx.values = ctx.values, scope.values
    taken: dict[str, str] = {}
    scope.work.nesting += 1
    try:
        for index, entry in enumerate(layers):
            entry_position = position(layers, index, where)
            x = apply_layer(ctx, x, entry, parent, index, f"{label}[{index}]", scope,
                            entry_position, taken)
    finally:
        ctx.values = saved
        scope.work.nesting -= 1
    return x


def limit_error(message: str, at: Position, label: str, name: str) -> SpecError:
    return SpecError(message, source=at.source, line=at.line, column=at.column, layer=label,
                     hint=limits.limit_hint(name))


def spend(work: Work, at: Position, label: str, amount: int = 1) -> None:
    """Count ``amount`` layers (or loop iterations) against MAX_LAYERS."""
    work.layers += amount
    if work.layers > limits.MAX_LAYERS:
        raise limit_error(f"the spec expands to more than MAX_LAYERS = {limits.MAX_LAYERS} "
                          "layers (repeat, dense, block and ref expanded)", at, label,
                          "MAX_LAYERS")
    if work.symbolic and work.layers > limits.MAX_SYMBOLIC_LAYERS:
        raise limit_error(f"the spec expands to more than MAX_SYMBOLIC_LAYERS = "
                          f"{limits.MAX_SYMBOLIC_LAYERS} layers while its sizes are symbols; "
                          "give them values with --set (or symbols:) to go further", at,
                          label, "MAX_SYMBOLIC_LAYERS")


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
                label: str, scope: Scope, at: Position,
                taken: dict[str, str] | None = None) -> TensorInfo:
    """Apply one layer or block; ``taken`` maps the module paths its siblings already use
    to their labels (a path used twice is an error)."""
    if not scope.work.symbolic and not all(is_concrete(size) for size in x.shape):
        scope.work.symbolic = True
    spend(scope.work, at, label)
    kind, options = split_entry(entry, label, at)
    if kind not in LAYER_TYPES and kind not in BLOCK_TYPES:
        close = difflib.get_close_matches(kind, [*LAYER_TYPES, *BLOCK_TYPES], n=3)
        raise SpecError(f"unknown layer type {kind!r}", source=at.source, line=at.line,
                        column=at.column, layer=label,
                        hint=(f"did you mean {', '.join(close)}? " if close else "")
                        + "run 'netanatomy spec-layers' for the list")
    options_position = position(entry, kind, at) if isinstance(entry, dict) else at
    where = Where(label=f"{label} ({kind})", path="", position=options_position,
                  options=options if isinstance(options, LocatedDict) else None)
    where.path = child_path(parent, layer_name(ctx, options, index, where))
    if taken is not None:
        claim_path(ctx, where, options, taken)
    if kind in BLOCK_TYPES:
        return apply_block(ctx, x, kind, options, where, scope)
    return apply_layer_type(ctx, x, kind, options, where)


def apply_layer_type(ctx: GraphContext, x: TensorInfo, kind: str, options: Any, where: Where
                     ) -> TensorInfo:
    """Run a layer type's handler. Its output sizes must stay within MAX_SYMBOLIC_DEPTH. An
    arithmetic or type error in the handler (a value it did not validate) becomes a
    located SpecError naming the layer: a spec never ends in a traceback."""
    try:
        out = LAYER_TYPES[kind].handler(ctx, x, with_defaults(ctx, kind, options, where),
                                        where)
    except (ArithmeticError, ValueError, TypeError, AttributeError, KeyError, IndexError,
            RecursionError) as error:
        detail = f"{type(error).__name__}: {str(error)[:120]}".rstrip(": ")
        raise ctx.error(f"'{kind}' cannot be applied with these options ({detail})", where,
                        hint="check its option values ('netanatomy spec-layers' lists "
                             "them); if they look right, please report this") from error
    for size in out.shape:
        if symbolic_depth(size) > limits.MAX_SYMBOLIC_DEPTH:
            raise ctx.error(f"a symbolic size nests more than MAX_SYMBOLIC_DEPTH = "
                            f"{limits.MAX_SYMBOLIC_DEPTH} operations deep after this layer",
                            where, hint="give the symbols values (symbols: or --set); "
                            + limits.limit_hint("MAX_SYMBOLIC_DEPTH"))
    return out


def symbolic_depth(size: Any) -> int:
    """How deep a sympy size nests (0 for a number), counted without recursion."""
    deepest, stack = 0, [(size, 1)] if getattr(size, "args", None) else []
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((arg, level + 1) for arg in node.args)
    return deepest


def claim_path(ctx: GraphContext, where: Where, options: Any, taken: dict[str, str]) -> None:
    """Record ``where.path`` as used; a second layer on it is an error (it would merge
    with the first into one row, and its parameters would replace the first's)."""
    if where.path in taken:
        named = isinstance(options, dict) and "name" in options
        raise ctx.error(f"module path {where.path!r} is already used by {taken[where.path]}",
                        where, "name" if named else None,
                        hint="give each layer of a list its own name")
    taken[where.path] = where.label


def layer_name(ctx: GraphContext, options: Any, index: int, where: Where) -> str:
    """The layer's path segment: its ``name`` (non-empty, no '.', no spaces), else its
    index in the list."""
    if not isinstance(options, dict) or "name" not in options:
        return str(index)
    name = options["name"]
    if isinstance(name, bool) or not isinstance(name, (str, int)):
        raise ctx.error(f"'name' must be a string, found {name!r}", where, "name",
                        hint="e.g. name: conv1")
    text = str(name)
    if not text or "." in text or any(char.isspace() for char in text):
        problem = "is empty" if not text else "contains '.' or a space"
        raise ctx.error(f"layer name {text!r} {problem}", where, "name",
                        hint="a name is one segment of a module path (e.g. conv1): nest "
                             "layers in a block for a deeper path")
    return text


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
            # options whose default is a boolean are booleans: read them typed
            merged[key] = ctx.flag(options, key, where) if isinstance(default, bool) \
                else options[key]
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
    check_count(ctx, count, where)
    ctx.module(where.path, "DenseBlock")
    inner = replace(scope, values={**scope.values, "growth": growth})
    for index in range(count):
        spend(scope.work, where.position, where.label)
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
    check_count(ctx, count, where)
    ctx.module(where.path, "Sequential")
    for index in range(count):
        spend(scope.work, where.position, where.label)
        path = child_path(where.path, str(index))
        ctx.module(path, "Sequential")
        x = walk_layers(ctx, x, merged["body"], path, f"{where.label}[{index}]", scope,
                        where.position)
        ctx.finish(path, x)
    ctx.finish(where.path, x)
    return x


def check_count(ctx: GraphContext, count: Any, where: Where) -> None:
    """``n`` of repeat or dense: a whole number up to MAX_REPEAT."""
    if count != int(count):
        raise ctx.error(f"'n' must be a whole number, found {count}", where, "n")
    if count > limits.MAX_REPEAT:
        raise ctx.error(f"'n' is {count}, more than MAX_REPEAT = {limits.MAX_REPEAT}", where,
                        "n", hint=limits.limit_hint("MAX_REPEAT"))


def named_block(ctx: GraphContext, x: TensorInfo, options: Any, where: Where, scope: Scope
                ) -> TensorInfo:
    """``block: NAME`` or ``block: {use: NAME, with: {F: 64}}``: a block from ``blocks:``,
    its symbols set by ``with``."""
    if isinstance(options, str):
        options = {"use": options}
    merged = block_options(ctx, options, where, {"use": REQUIRED, "with": {}, "name": None})
    block_name = merged["use"]
    if not isinstance(block_name, str) or block_name not in scope.blocks:
        raise ctx.error(f"no block named {block_name!r}", where, "use",
                        hint=f"defined blocks: {', '.join(map(str, scope.blocks)) or 'none'}")
    if merged["with"] is not None and not isinstance(merged["with"], dict):
        raise ctx.error(f"'with' must map symbol names to values, found {merged['with']!r}",
                        where, "with", hint="e.g. block: {use: stage, with: {F: 64}}")
    values = dict(scope.values)
    for key in merged["with"] or {}:
        values[str(key)] = bound_value(ctx, merged["with"], key, where)
    check_block_depth(ctx, scope, where)
    inner = replace(scope, values=values, depth=scope.depth + 1)
    ctx.module(where.path, "Sequential")
    out = walk_layers(ctx, x, scope.blocks[block_name], where.path,
                      f"{where.label}<{block_name}>", inner, where.position)
    ctx.finish(where.path, out)
    return out


def check_block_depth(ctx: GraphContext, scope: Scope, where: Where) -> None:
    if scope.depth >= limits.MAX_BLOCK_DEPTH:
        raise ctx.error(f"blocks and refs nest more than MAX_BLOCK_DEPTH = "
                        f"{limits.MAX_BLOCK_DEPTH} deep (a block using itself?)", where,
                        hint=limits.limit_hint("MAX_BLOCK_DEPTH"))


def bound_value(ctx: GraphContext, bindings: Any, key: Any, where: Where) -> Any:
    """A ``with:`` value: a multiplier product (64*alpha) rounds to a size as in
    :meth:`GraphContext.number`; anything else is kept (alpha: 0.5), whole floats as ints."""
    value = ctx.number(bindings, key, where, allow_zero=True, whole=False)
    if is_multiplier(bindings[key], ctx.values):
        return ctx.whole(value, bindings[key], str(key), where)
    exact = fraction_of(value)
    return int(exact) if exact is not None and exact.denominator == 1 else value


def reference(ctx: GraphContext, x: TensorInfo, options: Any, where: Where, scope: Scope
              ) -> TensorInfo:
    """``ref: other.yaml``: the layers of another spec file (relative to this one), which
    must lie in the first spec's folder or the examples folder (see :mod:`.refs`)."""
    if not isinstance(options, str):
        raise ctx.error("ref takes a file name, e.g. 'ref: stem.yaml'", where)
    roots = scope.roots or allowed_roots(scope.directory)
    try:
        target = ref_target(options, scope.directory, roots)
    except RefError as error:
        raise ctx.error(str(error), where, hint="a ref names a spec file next to this "
                        "one, e.g. 'ref: stem.yaml'") from None
    if str(target) in scope.refs:
        raise ctx.error(f"{options} refers back to itself", where)
    check_block_depth(ctx, scope, where)
    document = referenced_document(ctx, target, options, where, scope.work)
    values = {**referenced_symbols(ctx, document, target), **scope.values}
    blocks = document.get("blocks") or {}
    inner = replace(scope, values=values, blocks={**blocks, **scope.blocks},
                    directory=target.parent, depth=scope.depth + 1,
                    refs=(*scope.refs, str(target)), roots=roots)
    ctx.module(where.path, "Sequential")
    out = walk_layers(ctx, x, document["layers"], where.path, f"{where.label}<{options}>",
                      inner, document.positions["layers"])
    ctx.finish(where.path, out)
    return out


def referenced_document(ctx: GraphContext, target: Path, name: str, where: Where,
                        work: Work) -> LocatedDict:
    """The parsed spec ``target`` (read once per walk): a mapping with ``layers:`` and, if
    given, mappings ``symbols:`` and ``blocks:``. Errors never show the file's contents."""
    if str(target) not in work.documents:
        try:
            text = read_ref(target, name)
        except RefError as error:
            raise ctx.error(str(error), where) from None
        work.documents[str(target)] = load_yaml(text, str(target))
    document = work.documents[str(target)]
    if not isinstance(document, LocatedDict) or "layers" not in document:
        raise ctx.error(f"referenced file {name!r} is not a spec (a mapping with 'layers:')",
                        where)
    for key in ("symbols", "blocks"):
        if document.get(key) is not None and not isinstance(document[key], dict):
            at = document.positions[key]
            raise SpecError(f"'{key}:' must be a mapping", source=at.source, line=at.line,
                            column=at.column, layer=where.label)
    return document


def referenced_symbols(ctx: GraphContext, document: LocatedDict, target: Path
                       ) -> dict[str, Any]:
    """The default symbol values of a ``ref``'d spec, in dependency order, those known
    where it is used taking their outer values."""
    declared = {str(name) for name in document.get("symbols") or {}}
    outer = {name: value for name, value in ctx.values.items() if name in declared}
    return resolve(document, str(target), target.parent, outer)


__all__ = ["Scope", "walk_layers", "LocatedList"]
