"""Scans: cumulative sum / product / max / min / log-sum-exp along one axis.

Operand ``x``; attrs ``dim`` (the scanned axis) and ``fn`` (``"cumsum"``, ...). The output
has x's shape; ``cummax`` / ``cummin`` also return the indices (a second output).

Convention: 1 elementwise FLOP per element (an add, a multiply or a comparison; the
first element's "free" step is not subtracted, as for the other per-element kinds); no MACs.

Receptive field: along the scanned axis output o reads inputs 0 … o. That is a causal
window of the whole axis, exactly as a scan is a causal convolution with a kernel as long
as the axis (n) and n − 1 zeros of left padding: extent n − 1, stride 1, start −(n − 1).
The reported field of the first output is therefore n (times the jump) wide with an
effective padding of n − 1; clipped to the input, the field of output o is 0 … o, which
is what the gradient measurement finds. The window follows the tensor axis (``AlongAxis``),
so a scan along channels leaves the spatial field as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netanatomy.ir.graph import Shape
from netanatomy.rules.common import no_params, traffic_bytes
from netanatomy.rules.registry import convention, formula
from netanatomy.rules.transfer import AlongAxis, AxisWindow
from netanatomy.symbolic import Dim, prod

WITH_INDICES = ("cummax", "cummin")
"""Scans that also return the index of each running extreme."""


@formula("scan", "output_shapes")
def scan_output_shapes(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> tuple[Shape, ...]:
    """x's shape (twice for cummax / cummin: values and indices)."""
    x_shape = tuple(inputs[0])
    return (x_shape, x_shape) if attrs.get("fn") in WITH_INDICES else (x_shape,)


@formula("scan", "macs")
def scan_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
              attrs: Mapping[str, Any]) -> Dim:
    """A scan has no multiply-accumulates."""
    return 0


@formula("scan", "elementwise_flops")
def scan_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                           attrs: Mapping[str, Any]) -> Dim:
    """One FLOP per element of x."""
    return prod(inputs[0])


@formula("scan", "rf")
def scan_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
            attrs: Mapping[str, Any]) -> AlongAxis:
    """Along ``dim`` (n positions): extent n − 1, stride 1, start −(n − 1)."""
    x_shape = inputs[0]
    dim = attrs["dim"] % max(len(x_shape), 1)
    n = x_shape[dim] if x_shape else 1
    return AlongAxis(dim, AxisWindow(extent=n - 1, stride=1, start=-(n - 1)))


formula("scan", "params")(no_params)
formula("scan", "bytes")(traffic_bytes)
convention("scan", "1 elementwise FLOP per element; no MACs; the field along the scanned "
                   "axis is causal over the whole axis")
