"""The result of one attribution method on one batch of inputs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass(frozen=True)
class Attribution:
    """What one method says about which input values drove the target scores.

    Attributes:
        method: the method's registered name (``"guided"``, ``"gradcam"``, ...).
        maps: detached CPU tensor; the input's shape for pixel methods, ``(N, 1, H, W)``
            for Grad-CAM (upsampled to the input's height and width).
        target: the explained class (or channel, for ``deconvnet_projection``) per sample.
        layer: the module path a layer method used, else None.
        scores: the explained score per sample (the target logit, before any softmax;
            the projected activation for ``deconvnet_projection``).
        delta: integrated gradients' completeness error, Σ maps − (f(x) − f(baseline)),
            of the sample where it is largest in magnitude; None for other methods.
        notes: the conventions used (ReLU backward rule, quadrature, window, ...).
        extra: method-specific data (Grad-CAM's layer-resolution map and channel weights,
            IG's per-sample deltas, ...).
    """

    method: str
    maps: torch.Tensor
    target: tuple[int, ...]
    layer: str | None = None
    scores: tuple[float, ...] = ()
    delta: float | None = None
    notes: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
