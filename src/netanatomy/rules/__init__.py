"""Op rules: one bundle of small pure formulas per op kind, registered by decorator.

Importing this package registers every rule module below; :func:`rule_for` returns the
bundle of a kind, :func:`get_formula` one of its formulas.
"""

from netanatomy.rules import (  # noqa: F401  (imported for their registrations)
    backward,
    bilinear,
    conv,
    elementwise,
    embedding,
    linalg,
    lookup,
    moe,
    norm,
    pool,
    recurrent,
    scan,
    selection,
    shape,
    spectral,
    upsample,
    window,
)
from netanatomy.rules.registry import (
    METRICS,
    Rule,
    convention,
    formula,
    get_convention,
    get_formula,
    has_rule,
    known_kinds,
    rule_for,
)
from netanatomy.rules.transfer import (
    GLOBAL,
    NO_FIELD,
    POINTWISE,
    UNKNOWN,
    AxisWindow,
    Mixes,
    Relayout,
    Transfer,
)

__all__ = ["GLOBAL", "METRICS", "NO_FIELD", "POINTWISE", "UNKNOWN", "AxisWindow", "Mixes",
           "Relayout", "Rule", "Transfer", "convention", "formula", "get_convention",
           "get_formula", "has_rule", "known_kinds", "rule_for"]
