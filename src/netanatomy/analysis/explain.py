"""``--explain``: for every node, the formula its rule evaluates, the values put in, the result.

Nothing here is written per kind. Each node's rule is evaluated once more on *symbols*
(every concrete size of its operands and outputs, and its window attributes, replaced by a
named symbol: ``N, C_in, H, W`` for a conv input, ``k_h, s_h, p_h`` for its kernel, stride
and padding, see :func:`netanatomy.rules.registry.dim_names`), giving the formula; the
formula with the numbers put back in is the substitution; and the result is the rule's
value on the numbers. A formula whose substitution does not give the rule's value (a rule
that branches on a size) is not printed: the step shows the value alone. So a printed
derivation can never disagree with the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netanatomy.ir.graph import Graph, Node, Shape
from netanatomy.ir.kinds import UNKNOWN
from netanatomy.rules import get_convention, get_formula
from netanatomy.rules.registry import get_dim_names
from netanatomy.symbolic import is_concrete

SPATIAL_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}

SYMBOLIC_ATTRS = {"stride": "s", "dilation": "d", "kernel": "k", "padding": "p",
                  "output_padding": "op", "groups": "g", "output_size": "O"}
"""Attributes whose ints are named in formulas, and the letter each is named by."""

METRIC_LABELS = {"params": "params", "macs": "MACs", "elementwise_flops": "elementwise FLOPs",
                 "bytes": "bytes"}


@dataclass(frozen=True, slots=True)
class Step:
    """One line of a derivation: quantity = formula = substituted = result.

    ``formula`` and ``substituted`` are sympy expressions as text (``*`` for ×, ``floor``
    for ⌊ ⌋); ``substituted`` evaluates to ``result``. Both are empty when the rule's value
    has no printable formula.
    """

    quantity: str
    formula: str
    substituted: str
    result: Any


@dataclass(frozen=True, slots=True)
class Explanation:
    """The derivation for one node (op) of the graph, with its kind's convention line."""

    path: str
    op: str
    kind: str
    steps: tuple[Step, ...]
    convention: str = ""


def spatial_names(count: int) -> tuple[str, ...]:
    return SPATIAL_NAMES.get(count, tuple(f"S{i + 1}" for i in range(count)))


def expand_template(template: str, rank: int) -> list[str]:
    """Dim names of a rank-``rank`` operand from a template such as ``"N C_in *"``."""
    tokens = template.split()
    variadic = [t for t in tokens if t == "..." or t.startswith("*")]
    fixed = [t for t in tokens if t not in variadic]
    count = rank - len(fixed)
    if count < 0:
        return fixed[-rank:] if rank else []
    names: list[str] = []
    for token in tokens:
        if token not in variadic:
            names.append(token)
        elif token == "...":
            names.extend(["B"] if count == 1 else [f"B{i + 1}" for i in range(count)])
        elif token == "*k":
            names.extend(f"k_{name.lower()}" for name in spatial_names(count))
        elif token == "*'":
            names.extend(f"{name}'" for name in spatial_names(count))
        else:
            names.extend(spatial_names(count))
    if not variadic:
        names.extend(f"d{i}" for i in range(len(names), rank))
    return names


class Namer:
    """Hands out sympy symbols for concrete values: a name is reused for an equal value
    and suffixed (``_2``, ``_3``) for a different one; names of the graph's own symbols
    are never taken."""

    def __init__(self, reserved: set[str]) -> None:
        import sympy

        self.sympy = sympy
        self.reserved = reserved
        self.values: dict[Any, int] = {}
        self.by_name: dict[str, Any] = {}

    def name(self, base: str, value: Any) -> Any:
        if not is_concrete(value):
            return value
        for attempt in range(1, 100):
            name = base if attempt == 1 else f"{base}_{attempt}"
            if name in self.reserved:
                continue
            symbol = self.by_name.get(name)
            if symbol is None:
                symbol = self.sympy.Symbol(name, integer=True)
                self.by_name[name] = symbol
                self.values[symbol] = value
                return symbol
            if self.values[symbol] == value:
                return symbol
        return value


def symbolic_shapes(shapes: tuple[Shape, ...], templates: tuple[str, ...], namer: Namer,
                    prefix: str) -> tuple[Shape, ...]:
    result = []
    for index, shape in enumerate(shapes):
        template = templates[index] if index < len(templates) else ""
        names = expand_template(template, len(shape)) if template else [
            f"{prefix}{index}_{axis}" for axis in range(len(shape))]
        result.append(tuple(namer.name(name, size) for name, size in zip(names, shape)))
    return tuple(result)


def symbolic_attrs(attrs: Mapping[str, Any], namer: Namer) -> dict[str, Any]:
    """``attrs`` with the ints of window attributes named (``s_h``, ``p_w``, ``g``)."""
    result = dict(attrs)
    for key, letter in SYMBOLIC_ATTRS.items():
        value = attrs.get(key)
        if is_concrete(value):
            result[key] = namer.name(letter, value)
        elif isinstance(value, tuple) and value:
            axes = [name.lower() for name in spatial_names(len(value))]
            result[key] = tuple(
                tuple(namer.name(f"{letter}_{axis}", item) for item in entry)
                if isinstance(entry, tuple) else namer.name(f"{letter}_{axis}", entry)
                for axis, entry in zip(axes, value))
    return result


def substituted_text(expression: Any, values: Mapping[Any, int]) -> str:
    """``expression`` printed with each named symbol replaced by its number."""
    from sympy.printing.str import StrPrinter

    class ValuePrinter(StrPrinter):
        def _print_Symbol(self, symbol: Any) -> str:
            value = values.get(symbol)
            return super()._print_Symbol(symbol) if value is None else str(value)

    return ValuePrinter().doprint(expression)


def agrees(expression: Any, values: Mapping[Any, int], result: Any) -> bool:
    import sympy

    try:
        return bool(sympy.simplify(sympy.sympify(expression).subs(values) - result) == 0)
    except (TypeError, ValueError, AttributeError):
        return False


def step_for(quantity: str, expression: Any, values: Mapping[Any, int], result: Any) -> Step:
    """A step showing ``expression`` when it is a formula that gives ``result``."""
    import sympy

    if expression is None or not isinstance(expression, sympy.Basic) or expression.is_Number \
            or not agrees(expression, values, result):
        return Step(quantity, "", "", result)
    return Step(quantity, str(expression), substituted_text(expression, values), result)


def evaluate(function: Any, *arguments: Any) -> Any:
    """The formula on symbolic arguments, or None when it cannot take symbols."""
    try:
        return function(*arguments)
    except Exception:  # a rule that branches on a size: no printable formula
        return None


def node_steps(node: Node) -> list[Step]:
    """The derivation of one node: computed output sizes, then each nonzero metric."""
    in_shapes = tuple(t.shape for t in node.inputs)
    out_shapes = tuple(t.shape for t in node.outputs)
    reserved = {str(s) for shape in in_shapes + out_shapes for size in shape
                if not is_concrete(size) for s in getattr(size, "free_symbols", ())}
    namer = Namer(reserved)
    in_templates, out_templates = get_dim_names(node.kind)
    sym_in = symbolic_shapes(in_shapes, in_templates, namer, "x")
    sym_out = symbolic_shapes(out_shapes, out_templates, namer, "y")
    sym_attrs = symbolic_attrs(node.attrs, namer)
    steps = output_steps(node, sym_in, sym_out, sym_attrs, namer)
    itemsizes = (tuple(t.itemsize for t in node.inputs), tuple(t.itemsize for t in node.outputs))
    for metric, label in METRIC_LABELS.items():
        function = get_formula(node.kind, metric)
        if function is None:
            continue
        extra = (itemsizes,) if metric == "bytes" else ()
        concrete_args = (in_shapes,) if metric == "params" else (in_shapes, out_shapes)
        symbolic_args = (sym_in,) if metric == "params" else (sym_in, sym_out)
        value = function(*concrete_args, node.attrs, *extra)
        if is_concrete(value) and value == 0:
            continue
        expression = evaluate(function, *symbolic_args, sym_attrs, *extra)
        if expression is None:
            expression = evaluate(function, *symbolic_args, node.attrs, *extra)
        steps.append(step_for(label, expression, namer.values, value))
    return steps


def output_steps(node: Node, sym_in: tuple[Shape, ...], sym_out: tuple[Shape, ...],
                 sym_attrs: Mapping[str, Any], namer: Namer) -> list[Step]:
    """One step per output size the rule computes (sizes copied from an operand are not
    derivations), or the output shape when the rule cannot take symbols."""
    function = get_formula(node.kind, "output_shapes")
    if function is None or not node.outputs:
        return []
    shapes = evaluate(function, sym_in, sym_attrs) or evaluate(function, sym_in, node.attrs)
    actual = node.outputs[0].shape
    if not shapes or len(shapes[0]) != len(actual):
        return [Step("output", "", "", tuple(actual))]
    computed = [(name, expression, size) for name, expression, size in
                zip(sym_out[0], shapes[0], actual)
                if not getattr(expression, "is_Symbol", True)]
    steps = [step_for(str(name), expression, namer.values, size)
             for name, expression, size in computed]
    return steps or [Step("output", "", "", tuple(actual))]


def explain_node(node: Node) -> Explanation:
    """The derivation of ``node``; an op without a rule says so."""
    if node.kind == UNKNOWN:
        return Explanation(node.path, node.op, node.kind,
                           (Step("uncounted", "", "", None),), "no rule: costs unknown")
    return Explanation(node.path, node.op, node.kind, tuple(node_steps(node)),
                       get_convention(node.kind) or "")


def explain(graph: Graph) -> tuple[Explanation, ...]:
    """The derivation of every node, in graph order (equal nodes are derived once)."""
    cache: dict[Any, tuple[tuple[Step, ...], str]] = {}
    explanations = []
    for node in graph.nodes:
        key = (node.kind, tuple((t.shape, t.itemsize) for t in node.inputs),
               tuple((t.shape, t.itemsize) for t in node.outputs), repr(sorted(
                   node.attrs.items())))
        if key not in cache:
            done = explain_node(node)
            cache[key] = (done.steps, done.convention)
        steps, line = cache[key]
        explanations.append(Explanation(node.path, node.op, node.kind, steps, line))
    return tuple(explanations)

