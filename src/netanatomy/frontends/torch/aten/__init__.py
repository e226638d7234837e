"""The aten → IR mapping: one file per family of ops, one registry.

Importing this package registers every family below. A new aten op is one entry in the
file of its family (or a new file listed here); see ``docs/adding-an-op.md``.
"""

from netanatomy.frontends.torch.aten import (  # noqa: F401  (imported for registrations)
    attention,
    backward,
    conv,
    elementwise,
    embedding,
    extra_linalg,
    fast_meta,
    instrumentation,
    linalg,
    lookup,
    moe,
    norm,
    pool,
    quantized,
    recurrent,
    scan,
    selection,
    shape,
    spectral,
    window,
)
from netanatomy.frontends.torch.aten.registry import (
    Adapter,
    AtenCall,
    Emit,
    adapters,
    aten,
    find_adapter,
    plain,
    register_adapter,
)

ATEN_TABLE = adapters()
"""Every registered adapter by op name, as registered at import (for tests and docs)."""

__all__ = ["ATEN_TABLE", "Adapter", "AtenCall", "Emit", "adapters", "aten", "find_adapter",
           "plain", "register_adapter"]
