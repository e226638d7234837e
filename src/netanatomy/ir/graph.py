"""The intermediate representation every front-end produces and every analysis reads.

A :class:`Graph` is a list of :class:`Node` (ops of a small normalised vocabulary, see
:mod:`netanatomy.ir.kinds`) in execution order, the tensors they read and write, the
modules that own them (by dotted path, ``""`` for the root) and the parameter table.
Analyses never look at ``nn.Module`` classes or YAML, only at this.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netanatomy.symbolic import Dim, prod

Shape = tuple[Dim, ...]


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One tensor value: identity, shape, dtype and element size in bytes.

    ``param`` names the parameter or buffer this tensor is (``None`` for activations).
    """

    id: int
    shape: Shape
    dtype: str
    itemsize: int
    param: str | None = None

    @property
    def numel(self) -> Dim:
        """Number of elements."""
        return prod(self.shape)

    @property
    def nbytes(self) -> Dim:
        """Size in bytes (elements × itemsize)."""
        return self.numel * self.itemsize


@dataclass(frozen=True, slots=True)
class Node:
    """One op of the graph.

    Attributes:
        index: position in execution order.
        kind: the IR op kind (``"conv"``, ``"matmul"``, ...); rules are keyed by it.
        op: the source op's name (``"aten.convolution.default"``, or a spec layer name).
        path: dotted path of the module that ran the op (``""`` for the root).
        inputs: operand tensors in the order the kind's rule expects.
        outputs: result tensors.
        attrs: hyper-parameters of the op (stride, padding, ...), normalised per kind.
        allocates: False when the outputs alias an input (views, in-place ops), so they
            take no new activation memory.
    """

    index: int
    kind: str
    op: str
    path: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    allocates: bool = True


@dataclass(frozen=True, slots=True)
class ParamInfo:
    """A parameter or buffer, counted once however many modules share it.

    ``owner`` is the path of the first module that registers it; ``shared_with`` lists the
    other fully qualified names under which the same tensor is registered (tied weights).
    """

    name: str
    owner: str
    shape: Shape
    dtype: str
    itemsize: int
    trainable: bool
    is_buffer: bool
    shared_with: tuple[str, ...] = ()

    @property
    def numel(self) -> Dim:
        return prod(self.shape)

    @property
    def nbytes(self) -> Dim:
        return self.numel * self.itemsize


@dataclass(frozen=True, slots=True)
class ModuleInfo:
    """A module of the model: its path, class, how often it ran and what it returned
    (shapes, dtype, bytes and tensor ids of the output tensors of its last call;
    ``call_shapes``: the output shapes of every call, in call order)."""

    path: str
    type: str
    calls: int
    output_shapes: tuple[Shape, ...] = ()
    output_dtype: str | None = None
    output_bytes: Dim = 0
    output_ids: tuple[int, ...] = ()
    call_shapes: tuple[tuple[Shape, ...], ...] = ()

    @property
    def depth(self) -> int:
        """0 for the root, 1 for its children, ..."""
        return 0 if self.path == "" else self.path.count(".") + 1


@dataclass(frozen=True, slots=True)
class CaptureInfo:
    """How the graph was obtained: device, train/eval mode, and any fallback taken."""

    frontend: str
    device: str
    training: bool
    grad: bool
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Graph:
    """The whole captured or declared network.

    ``modules`` is in definition order (the order of ``named_modules()``), root first;
    ``params`` maps each unique parameter or buffer name to its info; ``saved_bytes`` is the
    bytes of activations autograd keeps for backward (``None`` when not measured).
    """

    nodes: tuple[Node, ...]
    modules: tuple[ModuleInfo, ...]
    params: Mapping[str, ParamInfo]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    capture: CaptureInfo
    saved_bytes: Dim | None = None
