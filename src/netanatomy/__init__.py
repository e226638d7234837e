"""netanatomy: what a neural network costs and how it behaves, layer by layer.

Public API: :func:`analyze` (PyTorch model → :class:`Report`), :func:`diagnose` (a real
forward/backward pass → :class:`~netanatomy.diagnostics.result.DiagnoseReport`),
:func:`lint` (static checks), :func:`attribute` (attribution maps: saliency, guided
backpropagation, Grad-CAM, integrated gradients, ...) and the error types.
Conventions: MAC = multiply + accumulate; FLOPs of linear algebra = 2 × MACs; elementwise
work (bias adds, norms, activations) is counted apart as ``elementwise_flops``.
"""

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from netanatomy.attribution.api import attribute
    from netanatomy.diagnostics.profile import profile
    from netanatomy.inference_api import inference
    from netanatomy.training_api import training

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
    "attribute",
    "diagnose",
    "inference",
    "lint",
    "profile",
    "training",
]


def __getattr__(name: str) -> Any:
    """``attribute``, ``profile`` and the other torch-backed entry points are imported on
    first use: they need torch, and ``import netanatomy`` (the spec path) must not load
    it."""
    if name == "attribute":
        from netanatomy.attribution.api import attribute

        return attribute
    if name == "profile":
        from netanatomy.diagnostics.profile import profile

        return profile
    if name == "inference":
        from netanatomy.inference_api import inference

        return inference
    if name == "training":
        from netanatomy.training_api import training

        return training
    raise AttributeError(f"module 'netanatomy' has no attribute {name!r}")
