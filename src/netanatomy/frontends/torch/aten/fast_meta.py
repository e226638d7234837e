"""A fast meta kernel for the plainest elementwise arithmetic.

On meta tensors, ``add`` / ``sub`` / ``mul`` / ``div`` run torch's Python reference
kernels (type promotion, broadcasting and stride propagation in Python): about 145 µs a
call here, a fifth of a Llama forward and more of its backward. When every tensor operand
is contiguous, of one floating dtype, and the other operands are Python numbers, the result
is fully determined — the broadcast shape, that dtype, contiguous — and this override
returns it directly; in every other case (another dtype, a layout, ``out=``, a rounding
mode, a complex or bool number) the op runs as usual. ``tests/frontends/torch/
test_fast_meta.py`` compares the result's shape, strides and dtype with torch's own kernel
over a grid of cases.

The same holds for the other hot ops of a training step on meta, each with its own
condition (every tensor operand contiguous and of one floating dtype; anything else
steps aside): the unary and tensor-scalar elementwise ops (``neg``, ``sigmoid``,
``rsub``, ``pow``), ``sum`` over dimensions, ``zeros_like`` / ``new_zeros`` (no values to
fill) and the optimizers' out-of-place list ops (``_foreach_sqrt`` and friends), whose
slow path runs the per-tensor op in Python once per parameter.
"""

from __future__ import annotations

from typing import Any

import torch

from netanatomy.frontends.torch.aten.registry import meta_override

ALLOWED_KEYWORDS = frozenset({"alpha"})


def plain_result(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    """The op's output as an empty meta tensor, or None when the case is not plain."""
    if kwargs and not ALLOWED_KEYWORDS.issuperset(kwargs):
        return None
    dtype = None
    shapes = []
    for value in (*args, *kwargs.values()):
        if type(value) is float or type(value) is int:
            continue
        if not isinstance(value, torch.Tensor) or not value.is_meta:
            return None
        if dtype is None:
            dtype = value.dtype
            if not dtype.is_floating_point:
                return None
        elif value.dtype != dtype:
            return None
        if not plain_layout(value):
            return None
        shapes.append(value.shape)
    if dtype is None:
        return None
    shape = broadcast(shapes)
    if shape is None:
        return None                       # let the op raise its own message
    return torch.empty(shape, dtype=dtype, device="meta")


def plain_layout(tensor: torch.Tensor) -> bool:
    """True when ``tensor`` is laid out as ``empty`` lays out its shape: contiguous, with
    the very strides ``empty`` gives on its size-1 (and size-0) axes too. Contiguity
    alone ignores those strides, torch's kernels do not (a 4-d tensor can be contiguous
    and channels-last at once; odd strides on a size-1 axis come back in the output)."""
    if not tensor.is_contiguous():
        return False
    shape = tensor.shape
    return (1 not in shape and 0 not in shape) or tensor.stride() == contiguous_strides(shape)


def broadcast(shapes: list[Any]) -> Any:
    """The broadcast shape of ``shapes`` (as ``torch.broadcast_shapes``), or None when they
    do not broadcast; without torch's Python reference for the plain integer case."""
    first = shapes[0]
    if all(shape == first for shape in shapes):
        return first
    rank = max(len(shape) for shape in shapes)
    result = [1] * rank
    for shape in shapes:
        offset = rank - len(shape)
        for axis, size in enumerate(shape):
            if type(size) is not int:     # a symbolic size: torch decides
                try:
                    return torch.broadcast_shapes(*shapes)
                except RuntimeError:
                    return None
            current = result[offset + axis]
            if size == current or size == 1:
                continue
            if current != 1:
                return None
            result[offset + axis] = size
    return result


def fast(packet: Any) -> Any:
    def run(*args: Any, **kwargs: Any) -> Any:
        result = plain_result(args, kwargs)
        return packet(*args, **kwargs) if result is None else result

    return run


add_meta = meta_override("add")(fast(torch.ops.aten.add))
sub_meta = meta_override("sub")(fast(torch.ops.aten.sub))
mul_meta = meta_override("mul")(fast(torch.ops.aten.mul))
div_meta = meta_override("div")(fast(torch.ops.aten.div))
rsub_meta = meta_override("rsub")(fast(torch.ops.aten.rsub))
pow_meta = meta_override("pow")(fast(torch.ops.aten.pow))
neg_meta = meta_override("neg")(fast(torch.ops.aten.neg))
sigmoid_meta = meta_override("sigmoid")(fast(torch.ops.aten.sigmoid))


def sum_result(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    """``sum(x, dim, keepdim=False, *, dtype=None)`` of a contiguous floating meta tensor
    ``x`` of at least one dimension, over a list of distinct in-range dimensions (an empty
    list or None: all), as an empty meta tensor; None in every other case (``sum(x)``
    without dimensions, names, ``out=``, another dtype)."""
    if len(args) < 2 or len(args) > 3 or (kwargs and set(kwargs) - {"keepdim", "dtype"}):
        return None
    tensor, dims = args[0], args[1]
    keepdim = args[2] if len(args) == 3 else kwargs.get("keepdim", False)
    dtype = kwargs.get("dtype")
    if (not isinstance(tensor, torch.Tensor) or not tensor.is_meta
            or not tensor.dtype.is_floating_point or type(keepdim) is not bool
            or (dtype is not None and dtype != tensor.dtype) or not plain_layout(tensor)):
        return None
    rank = tensor.dim()
    if rank == 0:
        return None
    if type(dims) is int:
        dims = [dims]
    elif dims is None:
        dims = []
    elif not isinstance(dims, (list, tuple)) or any(type(d) is not int for d in dims):
        return None
    if not dims:
        dims = list(range(rank))
    axes = set()
    for dim in dims:
        if not -rank <= dim < rank:
            return None
        axes.add(dim % rank)
    if len(axes) != len(dims):
        return None                       # a repeated dimension: torch refuses it
    shape = tensor.shape
    kept = ([1 if axis in axes else size for axis, size in enumerate(shape)] if keepdim
            else [size for axis, size in enumerate(shape) if axis not in axes])
    return torch.empty(kept, dtype=tensor.dtype, device="meta")


@meta_override("sum")
def sum_meta(*args: Any, **kwargs: Any) -> Any:
    result = sum_result(args, kwargs)
    return torch.ops.aten.sum(*args, **kwargs) if result is None else result


@meta_override("zeros_like")
def zeros_like_meta(*args: Any, **kwargs: Any) -> torch.Tensor:
    """``zeros_like`` on meta is ``empty_like`` (same arguments, same layout rule): there
    are no values to fill. A tensor laid out as ``empty`` lays out its shape, with at most
    ``dtype``, a preserving or contiguous ``memory_format``, a strided ``layout``, the
    meta ``device`` and no ``pin_memory`` given, is answered directly."""
    if len(args) == 1 and ALLOWED_LIKE.issuperset(kwargs):
        tensor = args[0]
        if (isinstance(tensor, torch.Tensor) and tensor.is_meta
                and kwargs.get("memory_format", torch.preserve_format) in (
                    None, torch.preserve_format, torch.contiguous_format)
                and kwargs.get("layout") in (None, torch.strided)
                and kwargs.get("device") in (None, META) and not kwargs.get("pin_memory")
                and plain_layout(tensor)):
            dtype = kwargs.get("dtype")
            return torch.empty(tensor.shape, dtype=tensor.dtype if dtype is None else dtype,
                               device="meta")
    return torch.empty_like(*args, **kwargs)


def contiguous_strides(shape: Any) -> tuple[int, ...]:
    """The strides ``torch.empty(shape)`` gives (a size-0 axis counts as 1)."""
    strides = []
    step = 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))


ALLOWED_LIKE = frozenset({"dtype", "memory_format", "layout", "device", "pin_memory"})


@meta_override("new_zeros")
def new_zeros_meta(*args: Any, **kwargs: Any) -> torch.Tensor:
    """``new_zeros(x, size)`` on meta is ``new_empty``: a contiguous tensor of ``size`` in
    ``x``'s dtype (or ``dtype``) on meta; other arguments go to torch."""
    if len(args) == 2 and ALLOWED_NEW.issuperset(kwargs):
        tensor, size = args
        dtype = kwargs.get("dtype")
        if (isinstance(tensor, torch.Tensor) and tensor.is_meta
                and kwargs.get("layout") in (None, torch.strided)
                and kwargs.get("device") in (None, META) and not kwargs.get("pin_memory")
                and isinstance(size, (list, tuple)) and all(
                    type(n) is int and n >= 0 for n in size)):
            return torch.empty(size, dtype=tensor.dtype if dtype is None else dtype,
                               device="meta")
    return torch.ops.aten.new_zeros(*args, **kwargs)


ALLOWED_NEW = frozenset({"dtype", "layout", "device", "pin_memory"})
META = torch.device("meta")


@meta_override("slice_scatter")
def slice_scatter_meta(*args: Any, **kwargs: Any) -> torch.Tensor:
    """``slice_scatter(x, src, ...)`` on meta is a copy of ``x`` with its strides (torch's
    meta kernel clones it, strides preserved): for ``x`` laid out as ``empty`` lays out
    its shape, at offset 0, of a floating dtype, that is ``empty``; other cases go to
    torch."""
    tensor = args[0] if args else kwargs.get("self")
    if ("out" not in kwargs and isinstance(tensor, torch.Tensor) and tensor.is_meta
            and tensor.dtype.is_floating_point and tensor.storage_offset() == 0
            and plain_layout(tensor)):
        return torch.empty(tensor.shape, dtype=tensor.dtype, device="meta")
    return torch.ops.aten.slice_scatter(*args, **kwargs)


OUT_OF_PLACE_FOREACH = ("_foreach_add", "_foreach_sub", "_foreach_mul", "_foreach_div",
                        "_foreach_sqrt", "_foreach_neg")
"""Out-of-place list ops of the optimizers' foreach implementations."""


def foreach_results(args: tuple[Any, ...], kwargs: dict[str, Any]
                    ) -> list[torch.Tensor] | None:
    """The outputs of an out-of-place list op whose tensor lists are all of one length,
    other operands Python numbers (or lists of them, one per tensor), each position plain
    (:func:`plain_result`); None otherwise."""
    if kwargs and not (ALLOWED_KEYWORDS.issuperset(kwargs) and all(
            type(v) is float or type(v) is int for v in kwargs.values())):
        return None
    lists = []
    numbers = []
    for value in args:
        if isinstance(value, (list, tuple)):
            if value and all(isinstance(t, torch.Tensor) for t in value):
                lists.append(value)
            elif value and all(type(v) is float or type(v) is int for v in value):
                numbers.append(value)
            else:
                return None
        elif type(value) is float or type(value) is int:
            continue
        else:
            return None
    if not lists or any(len(found) != len(lists[0]) for found in (*lists, *numbers)):
        return None
    results = []
    for tensors in zip(*lists):
        result = plain_result(tensors, {})
        if result is None:
            return None
        results.append(result)
    return results


def fast_foreach(packet: Any) -> Any:
    def run(*args: Any, **kwargs: Any) -> Any:
        results = foreach_results(args, kwargs)
        return packet(*args, **kwargs) if results is None else results

    return run


for _name in OUT_OF_PLACE_FOREACH:
    meta_override(_name)(fast_foreach(getattr(torch.ops.aten, _name)))


IN_PLACE_FOREACH = ("_foreach_add_", "_foreach_sub_", "_foreach_mul_", "_foreach_div_",
                    "_foreach_addcmul_", "_foreach_addcdiv_", "_foreach_lerp_",
                    "_foreach_sqrt_", "_foreach_maximum_", "_foreach_neg_", "_foreach_zero_")
"""In-place list ops of the optimizers' foreach implementations."""


def same_layout_lists(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """True when every tensor-list argument has the first list's length and each of its
    tensors the first list's shape, dtype and contiguity at that position (and all are on
    meta): then an in-place list op changes nothing a meta tensor holds."""
    lists = [value for value in (*args, *kwargs.values())
             if isinstance(value, (list, tuple)) and value
             and all(isinstance(t, torch.Tensor) for t in value)]
    if not lists:
        return False
    first = lists[0]
    for tensors in lists:
        if len(tensors) != len(first):
            return False
        for tensor, reference in zip(tensors, first):
            if not (tensor.is_meta and tensor.shape == reference.shape
                    and tensor.dtype == reference.dtype and tensor.is_contiguous()):
                return False
    listed = {id(value) for value in lists}
    others = [value for value in (*args, *kwargs.values()) if id(value) not in listed]
    return all(isinstance(value, (int, float)) and not isinstance(value, bool)
               or (isinstance(value, (list, tuple)) and all(
                   isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
                   and len(value) == len(first))
               or (isinstance(value, torch.Tensor) and value.is_meta and value.dim() == 0)
               for value in others)


def fast_in_place_foreach(packet: Any) -> Any:
    def run(*args: Any, **kwargs: Any) -> Any:
        if same_layout_lists(args, kwargs):
            return None                   # in place, on meta: nothing to compute
        return packet(*args, **kwargs)

    return run


for _name in IN_PLACE_FOREACH:
    meta_override(_name)(fast_in_place_foreach(getattr(torch.ops.aten, _name)))
