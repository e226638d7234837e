"""Op rules: one small pure formula per (op kind, metric), registered by decorator.

Importing this package registers every rule module below.
"""

from netanatomy.rules import (  # noqa: F401  (imported for their registrations)
    conv,
    elementwise,
    embedding,
    linalg,
    norm,
    pool,
    recurrent,
    shape,
    upsample,
)
from netanatomy.rules.registry import (
    GLOBAL,
    METRICS,
    AxisWindow,
    formula,
    get_formula,
    has_rule,
    known_kinds,
)

__all__ = ["GLOBAL", "METRICS", "AxisWindow", "formula", "get_formula", "has_rule",
           "known_kinds"]
