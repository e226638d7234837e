"""The fast meta kernels give what torch's own meta kernels give (shape, strides, dtype),
and step aside for every case they do not cover."""

from __future__ import annotations

import itertools

import pytest
import torch

from netanatomy.frontends.torch.aten import fast_meta

SHAPES = [(), (1,), (5,), (3, 1), (1, 4), (3, 4), (2, 3, 4), (2, 1, 4), (0, 4), (1, 1, 1)]
OPS = [torch.ops.aten.add, torch.ops.aten.sub, torch.ops.aten.mul, torch.ops.aten.div]


def meta(shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.empty(shape, dtype=dtype, device="meta")


def same(fast: torch.Tensor, real: torch.Tensor) -> bool:
    return (fast.shape, fast.stride(), fast.dtype, fast.device) == (
        real.shape, real.stride(), real.dtype, real.device)


@pytest.mark.parametrize("op", OPS, ids=lambda op: str(op))
def test_tensor_tensor_cases_match_torch(op: object) -> None:
    checked = 0
    for left, right in itertools.product(SHAPES, SHAPES):
        try:
            torch.broadcast_shapes(left, right)
        except RuntimeError:
            continue
        for dtype in (torch.float32, torch.bfloat16, torch.float64):
            a, b = meta(left, dtype), meta(right, dtype)
            fast = fast_meta.plain_result((a, b), {})
            assert fast is not None and same(fast, op(a, b)), (op, left, right, dtype)
            checked += 1
    assert checked > 100


@pytest.mark.parametrize("op", OPS, ids=lambda op: str(op))
def test_tensor_number_cases_match_torch(op: object) -> None:
    for shape, number in itertools.product(SHAPES, (2, 0.5, -3)):
        a = meta(shape, torch.float16)
        fast = fast_meta.plain_result((a, number), {})
        assert fast is not None and same(fast, op(a, number))


def test_alpha_is_plain_and_other_keywords_are_not() -> None:
    a, b = meta((3, 4)), meta((4,))
    fast = fast_meta.plain_result((a, b), {"alpha": 2})
    assert fast is not None and same(fast, torch.ops.aten.add(a, b, alpha=2))
    assert fast_meta.plain_result((a, b), {"rounding_mode": "floor"}) is None
    assert fast_meta.plain_result((a, b), {"out": meta((3, 4))}) is None


@pytest.mark.parametrize("case", ["integer", "mixed dtypes", "channels_last", "expanded",
                                  "transposed", "complex number", "bool number", "cpu"])
def test_other_cases_step_aside(case: str) -> None:
    x = meta((2, 3, 4, 5))
    args = {
        "integer": (meta((3,), torch.int64), meta((3,), torch.int64)),
        "mixed dtypes": (meta((3,)), meta((3,), torch.float64)),
        "channels_last": (x.to(memory_format=torch.channels_last), x),
        "expanded": (meta((1, 4)).expand(3, 4), meta((3, 4))),
        "transposed": (meta((4, 3)).t(), meta((3, 4))),
        "complex number": (meta((3,)), 1j),
        "bool number": (meta((3,)), True),
        "cpu": (meta((3,)), torch.ones(3)),
    }[case]
    assert fast_meta.plain_result(args, {}) is None


def test_mismatched_shapes_are_left_to_torch_to_refuse() -> None:
    assert fast_meta.plain_result((meta((3,)), meta((4,))), {}) is None


def test_zeros_like_on_meta_is_empty_like() -> None:
    for tensor in (meta((2, 3)), meta((2, 3, 4, 5)).to(memory_format=torch.channels_last),
                   meta((4, 3)).t()):
        for kwargs in ({}, {"dtype": torch.bfloat16},
                       {"memory_format": torch.contiguous_format}):
            assert same(fast_meta.zeros_like_meta(tensor, **kwargs),
                        torch.zeros_like(tensor, **kwargs))


def test_in_place_foreach_is_plain_only_for_matching_lists() -> None:
    params = [meta((3, 4)), meta((5,))]
    grads = [meta((3, 4)), meta((5,))]
    assert fast_meta.same_layout_lists((params, grads, 0.1), {})
    assert fast_meta.same_layout_lists((params, grads), {"alpha": 2})
    assert fast_meta.same_layout_lists((params, [0.1, 0.2]), {})
    assert not fast_meta.same_layout_lists((params, [meta((3, 4)), meta((6,))]), {})
    assert not fast_meta.same_layout_lists((params, grads[:1]), {})
    assert not fast_meta.same_layout_lists((params, [0.1]), {})
    assert not fast_meta.same_layout_lists(([meta((4, 3)).t()], [meta((3, 4))]), {})
