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
        if not value.is_contiguous():
            return None
        shapes.append(value.shape)
    if dtype is None:
        return None
    try:
        shape = torch.broadcast_shapes(*shapes)
    except RuntimeError:
        return None                       # let the op raise its own message
    return torch.empty(shape, dtype=dtype, device="meta")


def fast(packet: Any) -> Any:
    def run(*args: Any, **kwargs: Any) -> Any:
        result = plain_result(args, kwargs)
        return packet(*args, **kwargs) if result is None else result

    return run


add_meta = meta_override("add")(fast(torch.ops.aten.add))
sub_meta = meta_override("sub")(fast(torch.ops.aten.sub))
mul_meta = meta_override("mul")(fast(torch.ops.aten.mul))
div_meta = meta_override("div")(fast(torch.ops.aten.div))


@meta_override("zeros_like")
def zeros_like_meta(*args: Any, **kwargs: Any) -> torch.Tensor:
    """``zeros_like`` on meta is ``empty_like`` (same arguments, same layout rule): there
    are no values to fill."""
    return torch.empty_like(*args, **kwargs)


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
