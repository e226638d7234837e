"""The limits that keep a spec's analysis bounded in time and memory.

A spec is input from anyone (a file, ``--set``, a teaching exercise): whatever it holds,
loading and analysing it must finish in well under two seconds and 500 MB, or stop with
a located :class:`~netanatomy.errors.SpecError` that names the limit. Each limit is far
above what real architectures need (the largest built-in example, densenet121 or
inception-v3, uses 438 of the 10,000 layers, 809 of the 100,000 YAML nodes, 13 of the 100
nesting levels); they are documented in ``docs/spec-format.md`` ("Limits").

The limits are constants, not options: a spec that reaches one is almost always a mistake
(``repeat: {n: 10**9}``) or an attack (YAML "billion laughs"). To go past one on purpose,
change the constant here (``limits.MAX_LAYERS = 50_000`` before the analysis) — every
check reads the module attribute at call time.
"""

from __future__ import annotations

MAX_SPEC_CHARS = 200_000
"""Characters in one spec file (or YAML text), each ``ref:``'d file counted apart. YAML is
parsed at about 0.4 MB/s, so this bounds loading to about half a second."""

MAX_SCALAR_CHARS = 10_000
"""Characters in one YAML string (a description, a name, an expression)."""

MAX_YAML_NODES = 100_000
"""YAML nodes (mappings, lists, scalars) of a document *after* expanding aliases (``*name``):
a "billion laughs" document is stopped while it is composed, before anything is built."""

MAX_NESTING = 100
"""How deep YAML mappings and lists nest (after expanding aliases); a block inside a block
takes two levels (its mapping and its layer list)."""

MAX_EXPRESSION_CHARS = 500
"""Characters in one expression (``D*K**2 + F``)."""

MAX_EXPRESSION_DEPTH = 100
"""How deep the operations of one expression nest (``((a+b)*c)**d`` has depth 4)."""

MAX_EXPONENT = 64
"""Largest exponent (in absolute value) of ``**``; a larger one is an error before the power
is computed, so that ``9**9**9`` stops at once."""

MAX_SIMPLIFY_NODES = 30
"""Largest expression (sympy nodes) that is simplified (``D*F*K**2 + F`` becomes
``F*(D*K**2 + 1)``); a larger one, or one with powers of sums, is kept as written, since
sympy's ``simplify`` can take minutes on a short expression. Not an error."""

MAX_NUMBER_DIGITS = 18
"""Decimal digits of any number in a spec, written or computed by an expression (of each
intermediate result too): sizes and counts stay below 10**18, which also fits the int64
sizes of a built torch module. ``.inf`` and ``.nan`` are never accepted."""

MAX_SYMBOLIC_DEPTH = 60
"""How deep a symbolic size nests after a layer (``floor((floor((H - K)/S) + 1 - K)/S) + 1``
grows by about three per strided layer with a symbolic stride); sympy's work grows faster
than the depth, so this bounds the time of a long symbolic network. Give the symbols values
(``--set``) to go further."""

MAX_LAYERS = 10_000
"""Layers and blocks applied after expanding ``repeat``, ``dense``, ``block`` and ``ref``
(each repeated copy counts; so does each iteration of a ``repeat`` or ``dense``)."""

MAX_SYMBOLIC_LAYERS = 1_000
"""Layers after expansion when sizes are symbols: every symbolic layer costs sympy work
(a 6,600-layer symbolic dense block took 30 s), so symbolic specs stop here; give the
symbols values (``--set``) to analyse longer networks (up to MAX_LAYERS)."""

MAX_LAYER_NESTING = 50
"""How deep layer lists nest once ``block:`` and ``ref:`` are expanded (a residual inside
a branch inside a block used by a block...): each level costs stack frames."""

MAX_REPEAT = 10_000
"""Largest ``n`` of ``repeat`` and ``dense``, and ``layers`` of a recurrent layer."""

MAX_BLOCK_DEPTH = 32
"""How deep ``block:`` and ``ref:`` may use one another (a block using itself is caught
here)."""

MAX_PEDCC_CLASSES = 1_000
"""Largest ``classes`` of a ``pedcc`` head: building its centroids costs time and memory
quadratic (repulsion, classes > features + 1) or cubic (simplex, a QR) in the classes."""

REF_OUTSIDE_ENV = "NETANATOMY_ALLOW_REF_OUTSIDE"
"""Set this environment variable to ``1`` to let ``ref:`` read spec files outside the
spec's own folder (and the built-in examples folder)."""


def limit_hint(name: str) -> str:
    """How to raise limit ``name``, for error hints."""
    return (f"this is netanatomy.frontends.spec.limits.{name}; a spec that needs more is "
            "almost always a mistake, but the constant can be raised before the analysis")


__all__ = ["MAX_BLOCK_DEPTH", "MAX_EXPONENT", "MAX_EXPRESSION_CHARS", "MAX_EXPRESSION_DEPTH",
           "MAX_LAYERS", "MAX_LAYER_NESTING", "MAX_NESTING", "MAX_NUMBER_DIGITS",
           "MAX_PEDCC_CLASSES", "MAX_SYMBOLIC_LAYERS", "MAX_REPEAT", "MAX_SCALAR_CHARS",
           "MAX_SIMPLIFY_NODES",
           "MAX_SPEC_CHARS", "MAX_SYMBOLIC_DEPTH", "MAX_YAML_NODES", "REF_OUTSIDE_ENV",
           "limit_hint"]
