"""The result of the cost analysis as plain data: totals, per-layer rows, uncounted ops and
the conventions every number follows.

:class:`Summary` is what :func:`netanatomy.analysis.summary.summarize` returns; the public
:class:`netanatomy.Report` is the same data with the output methods (``to_json``,
``render``, …), which live in :mod:`netanatomy.report` so that analyses never import the
renderers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netanatomy.analysis.operators import fold_by_operator
from netanatomy.analysis.receptive_field import Field, ReceptiveField
from netanatomy.ir.graph import CaptureInfo, Graph, Shape
from netanatomy.symbolic import Dim

CONVENTIONS: Mapping[str, str] = {
    "macs": "multiply-accumulates of linear algebra (conv, transposed conv, linear, matmul, "
            "attention, recurrent gates); 1 MAC = 1 multiply + 1 add; dense counting "
            "(padded and masked positions included); transposed conv counted from input "
            "positions",
    "flops": "2 x macs (linear algebra only; bias adds not included)",
    "complex": "macs are real multiply-accumulates: a product of complex operands (matmul, "
               "linear, conv, attention) counts 4 real MACs per complex MAC, as complex "
               "BLAS does (cgemm: 8·M·N·K FLOPs); PyTorch runs a complex convolution as 3 "
               "real convolutions (Gauss's trick), counted as the real convs and adds they "
               "are (3 real MACs per complex MAC); elementwise ops on complex tensors count "
               "1 per element like real ones",
    "elementwise_flops": "counted apart from flops: 1 per output element for each "
                         "elementwise op, activation, softmax, dropout and bias add; 1 per "
                         "input element for reductions; 1 per window element for pooling; "
                         "norms 2 per element + 2 when statistics are computed + 1 per "
                         "affine tensor; interpolation 2 per neighbour",
    "total_flops": "flops + elementwise_flops",
    "unknown": "an op without a rule is uncounted (listed by name and count, per layer and "
               "in total): a layer or total whose ops are all uncounted has macs, flops and "
               "elementwise_flops null (status 'unknown'); partly uncounted keeps the sum of "
               "the counted ops (status 'partial'); a layer without ops is 0 (exact)",
    "params": "unique tensors: a parameter shared by several modules (tied weights) is "
              "counted once, at its first owner, and reported in shared_params; buffers "
              "are counted apart; a layer's params are its own, params_total its subtree's",
    "bias": "bias parameters are included in params; bias adds are elementwise_flops, "
            "not macs",
    "activation_bytes": "bytes of every tensor an op allocates (views and in-place ops "
                        "allocate nothing); a layer's value covers its subtree",
    "bytes_accessed": "each operand read once and each output written once per op, views 0; "
                      "the traffic of unfused kernels, an upper bound for fused ones; a "
                      "layer's value covers its subtree",
    "training_bytes": "param_bytes + buffer_bytes + gradients (trainable params) + Adam "
                      "state (2 x trainable params, in their dtype) + activations saved "
                      "for backward (measured with autograd saved-tensor hooks)",
    "rf": "receptive field of the layer's first output per spatial axis, in input pixels: "
          "size, stride (jump) and padding (effective padding = offset of the first "
          "output's field); global when an op mixes every position (named in 'by'); "
          "where paths merge the largest field is taken; normalisation statistics are "
          "not counted as mixing positions",
}


@dataclass(frozen=True, slots=True)
class UncountedOp:
    """An op that no rule covers, and how many times it ran."""

    op: str
    count: int


@dataclass(frozen=True, slots=True)
class LayerRow:
    """One module of the tree. Costs and activation bytes include its whole subtree;
    ``params``, ``trainable_params``, ``frozen_params``, ``buffers`` and
    ``shared_params`` are the module's own, ``params_total`` its subtree's.

    ``macs``, ``flops`` and ``elementwise_flops`` are None (unknown) when every op of the
    subtree is uncounted; ``status`` is "exact", "partial" (some uncounted, the counted
    ones summed) or "unknown". ``uncounted`` lists the subtree's uncounted ops;
    ``bytes_accessed`` its memory traffic (None: unknown). ``output_shape(s)`` and ``rf``
    are those of the last call; ``call_shapes`` holds every call's output shapes."""

    path: str
    type: str
    depth: int
    calls: int
    output_shape: Shape | None
    output_shapes: tuple[Shape, ...]
    params: Dim
    params_total: Dim
    trainable_params: Dim
    frozen_params: Dim
    buffers: Dim
    shared_params: Dim
    macs: Dim | None
    flops: Dim | None
    elementwise_flops: Dim | None
    activation_bytes: Dim
    output_bytes: Dim
    status: str
    rf: Field | None = None
    uncounted: tuple[UncountedOp, ...] = ()
    bytes_accessed: Dim | None = None
    call_shapes: tuple[tuple[Shape, ...], ...] = ()

    @property
    def name(self) -> str:
        """Last component of the path (``"<root>"`` for the root)."""
        return self.path.rpartition(".")[2] if self.path else "<root>"


@dataclass(frozen=True, slots=True)
class Totals:
    """Whole-model totals; ``status`` is "exact", "partial" when some ops are uncounted,
    or "unknown" when all are (then the FLOP counts are None)."""

    params: Dim
    trainable_params: Dim
    frozen_params: Dim
    buffers: Dim
    shared_params: Dim
    macs: Dim | None
    flops: Dim | None
    elementwise_flops: Dim | None
    total_flops: Dim | None
    param_bytes: Dim
    buffer_bytes: Dim
    gradient_bytes: Dim
    optimizer_bytes: Dim
    activation_bytes: Dim
    saved_activation_bytes: Dim | None
    training_bytes: Dim | None
    ops: int
    status: str
    active_params: Dim | None = None
    """Parameters one token uses (mixture of experts: the routed share of the expert
    weights; every parameter for a dense model), see :mod:`netanatomy.analysis.active_params`;
    None when not computed."""
    bytes_accessed: Dim | None = None
    """Memory traffic of every op (see CONVENTIONS["bytes_accessed"]); None: unknown."""


@dataclass(frozen=True)
class Summary:
    """What a network costs, layer by layer (plain data)."""

    totals: Totals
    layers: tuple[LayerRow, ...]
    uncounted: tuple[UncountedOp, ...]
    capture: CaptureInfo
    graph: Graph = field(repr=False, compare=False)
    receptive_field: ReceptiveField | None = field(default=None, repr=False, compare=False)
    conventions: Mapping[str, str] = field(default_factory=lambda: dict(CONVENTIONS))

    def layer(self, path: str) -> LayerRow:
        """The row of the module at ``path`` (``""`` for the root).

        Raises:
            KeyError: with the closest paths when there is no such module.
        """
        for row in self.layers:
            if row.path == path:
                return row
        near = [row.path for row in self.layers if path.split(".")[-1] in row.path][:5]
        raise KeyError(f"no layer {path!r}; similar: {near}")

    def tree(self, depth: int | None = None) -> tuple[LayerRow, ...]:
        """Rows down to ``depth`` (None for all), in module-definition order."""
        return tuple(row for row in self.layers if depth is None or row.depth <= depth)

    def by_operator(self) -> dict[str, dict[str, Any]]:
        """Per source op name: count, MACs and elementwise FLOPs (unknown ops: None)."""
        return fold_by_operator(self.graph)
