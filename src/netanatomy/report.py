"""The result of an analysis: totals, per-layer rows, uncounted ops and conventions.

A :class:`Report` is plain data (frozen dataclasses); renderers turn it into a table, JSON
or CSV. ``str(report)`` is the terminal table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netanatomy.analysis.receptive_field import Field, ReceptiveField
from netanatomy.ir.graph import CaptureInfo, Graph, Shape
from netanatomy.symbolic import Dim

SCHEMA = "netanatomy.summary/1"

CONVENTIONS: Mapping[str, str] = {
    "macs": "multiply-accumulates of linear algebra (conv, transposed conv, linear, matmul, "
            "attention, recurrent gates); 1 MAC = 1 multiply + 1 add; dense counting "
            "(padded and masked positions included); transposed conv counted from input "
            "positions",
    "flops": "2 x macs (linear algebra only; bias adds not included)",
    "elementwise_flops": "counted apart from flops: 1 per output element for each "
                         "elementwise op, activation, softmax, dropout and bias add; 1 per "
                         "input element for reductions; 1 per window element for pooling; "
                         "norms 2 per element + 2 when statistics are computed + 1 per "
                         "affine tensor; interpolation 2 per neighbour",
    "total_flops": "flops + elementwise_flops",
    "params": "unique tensors: a parameter shared by several modules (tied weights) is "
              "counted once, at its first owner, and reported in shared_params; buffers "
              "are counted apart; a layer's params are its own, params_total its subtree's",
    "bias": "bias parameters are included in params; bias adds are elementwise_flops, "
            "not macs",
    "activation_bytes": "bytes of every tensor an op allocates (views and in-place ops "
                        "allocate nothing); a layer's value covers its subtree",
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
class LayerRow:
    """One module of the tree. Costs and activation bytes include its whole subtree;
    ``params``, ``trainable_params``, ``frozen_params``, ``buffers`` and
    ``shared_params`` are the module's own, ``params_total`` its subtree's."""

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
    macs: Dim
    flops: Dim
    elementwise_flops: Dim
    activation_bytes: Dim
    output_bytes: Dim
    status: str
    rf: Field | None = None

    @property
    def name(self) -> str:
        """Last component of the path (``"<root>"`` for the root)."""
        return self.path.rpartition(".")[2] if self.path else "<root>"


@dataclass(frozen=True, slots=True)
class Totals:
    """Whole-model totals; ``status`` is "exact", or "partial" when some ops are uncounted."""

    params: Dim
    trainable_params: Dim
    frozen_params: Dim
    buffers: Dim
    shared_params: Dim
    macs: Dim
    flops: Dim
    elementwise_flops: Dim
    total_flops: Dim
    param_bytes: Dim
    buffer_bytes: Dim
    gradient_bytes: Dim
    optimizer_bytes: Dim
    activation_bytes: Dim
    saved_activation_bytes: Dim | None
    training_bytes: Dim | None
    ops: int
    status: str


@dataclass(frozen=True, slots=True)
class UncountedOp:
    """An op that no rule covers, and how many times it ran."""

    op: str
    count: int


@dataclass(frozen=True)
class Report:
    """What a network costs, layer by layer. Build it with :func:`netanatomy.analyze`."""

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
        from netanatomy.analysis.summary import fold_by_operator

        return fold_by_operator(self.graph)

    def to_dict(self, depth: int | None = None) -> dict[str, Any]:
        """The JSON document (schema ``netanatomy.summary/1``) as Python data."""
        from netanatomy.render.json import report_to_dict

        return report_to_dict(self, depth)

    def to_json(self, depth: int | None = None, indent: int | None = 2) -> str:
        """The JSON document as text."""
        from netanatomy.render.json import report_to_json

        return report_to_json(self, depth, indent)

    def to_csv(self, depth: int | None = None) -> str:
        """One CSV row per layer."""
        from netanatomy.render.csv import report_to_csv

        return report_to_csv(self, depth)

    def to_dataframe(self, depth: int | None = None) -> Any:
        """The layer rows as a pandas DataFrame (pandas must be installed)."""
        from netanatomy.render.dataframe import report_to_dataframe

        return report_to_dataframe(self, depth)

    def render(self, depth: int | None = 3, width: int | None = None) -> str:
        """The terminal table as plain text."""
        from netanatomy.render.table import render_table_text

        return render_table_text(self, depth=depth, width=width)

    def __str__(self) -> str:
        return self.render()
