"""netanatomy: what a neural network costs and how it behaves, layer by layer.

Public API: :func:`analyze` (PyTorch model → :class:`Report`), :func:`diagnose` (a real
forward/backward pass → :class:`~netanatomy.diagnostics.result.DiagnoseReport`),
:func:`lint` (static checks) and the error types.
Conventions: MAC = multiply + accumulate; FLOPs of linear algebra = 2 × MACs; elementwise
work (bias adds, norms, activations) is counted apart as ``elementwise_flops``.
"""

from netanatomy.api import analyze, diagnose, lint
from netanatomy.errors import (
    CaptureError,
    InputSpecError,
    NetanatomyError,
    TargetError,
    UncountedOpsError,
    UsageError,
)
from netanatomy.report import LayerRow, Report, Totals, UncountedOp

__version__ = "0.1.0"

__all__ = [
    "CaptureError",
    "InputSpecError",
    "LayerRow",
    "NetanatomyError",
    "Report",
    "TargetError",
    "Totals",
    "UncountedOp",
    "UncountedOpsError",
    "UsageError",
    "analyze",
    "diagnose",
    "lint",
]
