"""Spec documents: loading, validation of the top level, and conversion to the IR.

A spec is YAML with ``name``, ``input``, optional ``symbols`` (default values), optional
``blocks`` (named, reusable layer lists) and ``layers``. See ``docs/spec-format.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netanatomy.errors import SpecError
from netanatomy.frontends.spec.builder import Scope, walk_layers
from netanatomy.frontends.spec.context import GraphContext, Where
from netanatomy.frontends.spec.source import LocatedDict, Position, load_yaml
from netanatomy.frontends.spec.symbols import declared, resolve, used_names
from netanatomy.frontends.spec.values import proven_negative
from netanatomy.ir.graph import CaptureInfo, Graph, TensorInfo
from netanatomy.symbolic import is_concrete

TOP_LEVEL_KEYS = ("name", "description", "input", "symbols", "blocks", "layers")


@dataclass(frozen=True)
class Spec:
    """A loaded spec document and where it came from."""

    name: str
    document: LocatedDict
    source: str
    directory: Path

    @property
    def symbols(self) -> dict[str, Any]:
        """Default symbol values declared under ``symbols:``."""
        return {str(k): v for k, v in (self.document.get("symbols") or {}).items()}


def load_spec(text_or_path: str | Path, *, source: str | None = None) -> Spec:
    """Load a spec from a file path or from YAML text.

    Raises:
        SpecError: invalid YAML, unknown top-level key, missing ``input`` or ``layers``.
    """
    path = Path(text_or_path) if isinstance(text_or_path, Path) or (
        isinstance(text_or_path, str) and "\n" not in text_or_path
        and text_or_path.endswith((".yaml", ".yml"))) else None
    if path is not None:
        if not path.is_file():
            raise SpecError(f"spec file {str(path)!r} not found", source=str(path), line=0,
                            column=0)
        text, name, directory = path.read_text(encoding="utf-8"), str(path), path.parent
    else:
        text, name, directory = str(text_or_path), source or "<spec>", Path.cwd()
    document = load_yaml(text, name)
    top = Position(name, 1, 1)
    if not isinstance(document, LocatedDict):
        raise SpecError("a spec is a mapping with 'input:' and 'layers:'", source=name,
                        line=1, column=1)
    for key in document:
        if key not in TOP_LEVEL_KEYS:
            at = document.positions[key]
            raise SpecError(f"unknown top-level key {key!r}", source=name, line=at.line,
                            column=at.column, hint=f"allowed: {', '.join(TOP_LEVEL_KEYS)}")
    for key in ("input", "layers"):
        if key not in document:
            raise SpecError(f"missing '{key}:'", source=name, line=top.line, column=top.column,
                            hint="e.g. input: [3, 224, 224] and layers: [...]")
    return Spec(name=str(document.get("name") or Path(name).stem), document=document,
                source=name, directory=directory)


def input_tensor(ctx: GraphContext, spec: Spec) -> TensorInfo:
    """The input as a batch-1 tensor: ``[C, *spatial]`` images, ``[F]`` features,
    ``{tokens: L}`` token ids (int64), ``{sequence: [T, F]}`` sequences."""
    raw = spec.document["input"]
    where = Where("input", "", spec.document.positions["input"], spec.document)
    layout = "image"
    if isinstance(raw, dict) and len(raw) == 1 and next(iter(raw)) in ("tokens", "sequence"):
        layout, raw = next(iter(raw.items()))
    values = raw if isinstance(raw, list) else [raw]
    if not values:
        raise ctx.error("the input has no sizes", where, "input",
                        hint="e.g. input: [3, 224, 224], {tokens: L} or {sequence: [T, F]}")
    sizes = tuple(ctx.number({"input": v}, "input", where, positive=False) for v in values)
    for size in sizes:
        if (is_concrete(size) and size <= 0) or proven_negative(size, allow_zero=False):
            raise ctx.error(f"input sizes must be positive, found {list(sizes)}", where, "input")
    expected = {"tokens": 1, "sequence": 2}.get(layout)
    if expected is not None and len(sizes) != expected:
        raise ctx.error(f"'{layout}' input takes {expected} size(s), found {len(sizes)}",
                        where, "input")
    if layout == "tokens":
        return ctx.tensor((1, *sizes), "int64", 8)
    return ctx.tensor((1, *sizes))


def spec_graph(spec: Spec, overrides: Mapping[str, Any] | None = None) -> Graph:
    """The IR graph of ``spec``; ``overrides`` give symbol values (they win over defaults).

    Raises:
        SpecError: any problem, located at file:line:column with the layer's path.
    """
    return spec_context(spec, overrides)[1]


def spec_context(spec: Spec, overrides: Mapping[str, Any] | None = None
                 ) -> tuple[GraphContext, Graph]:
    """The graph and the context that built it (its ``records`` build the nn.Module)."""
    values = resolve_symbols(spec, overrides or {})
    ctx = GraphContext(source=spec.source, values=values,
                       origins=dict(getattr(overrides, "origins", {})))
    ctx.module("", "SpecNetwork")
    x = input_tensor(ctx, spec)
    blocks = spec.document.get("blocks") or {}
    if not isinstance(blocks, dict):
        at = spec.document.positions["blocks"]
        raise SpecError("'blocks:' must map names to layer lists", source=spec.source,
                        line=at.line, column=at.column)
    scope = Scope(values, blocks, spec.directory)
    out = walk_layers(ctx, x, spec.document["layers"], "", "layers", scope,
                      spec.document.positions["layers"])
    ctx.finish("", out)
    notes = tuple(f"{name} = {value}" for name, value in sorted(values.items())) \
        + ctx.rounding_notes()
    graph = Graph(nodes=tuple(ctx.nodes), modules=tuple(ctx.modules.values()),
                  params=ctx.params, inputs=(x,), outputs=(out,),
                  capture=CaptureInfo(frontend="spec", device="none", training=False,
                                      grad=False, notes=notes),
                  saved_bytes=None)
    return ctx, graph


def resolve_symbols(spec: Spec, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Symbol defaults from the spec, replaced by ``overrides`` (which must name symbols
    the spec uses), evaluated in dependency order (see :mod:`.symbols`)."""
    return resolve(spec.document, spec.source, spec.directory, overrides)


def symbol_names(spec: Spec) -> set[str]:
    """The names ``spec`` declares under ``symbols:`` or writes in an expression."""
    return set(declared(spec.document, spec.source)) | used_names(spec.document,
                                                                  spec.directory)
