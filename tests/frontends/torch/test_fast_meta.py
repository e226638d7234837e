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
    """Alike in shape, strides, dtype, device and storage (its offset and bytes: what the
    training capture's memory timeline counts)."""
    return (fast.shape, fast.stride(), fast.dtype, fast.device, fast.storage_offset(),
            fast.untyped_storage().nbytes()) == (
        real.shape, real.stride(), real.dtype, real.device, real.storage_offset(),
        real.untyped_storage().nbytes())


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


AMBIGUOUS = [(2, 1, 4, 1), (1, 3, 1, 1), (2, 3, 4, 1), (2, 3, 1, 1), (1, 1, 4, 4),
             (2, 1, 1, 4), (1, 1, 1, 1), (2, 3, 4, 5), (1, 8, 4, 4)]
"""4-d shapes, most of them both contiguous and channels-last when fresh."""


@pytest.mark.parametrize("op", OPS, ids=lambda op: str(op))
def test_four_d_tensors_contiguous_and_channels_last_alike_match_torch(op: object) -> None:
    answered = 0
    for left, right in itertools.product(AMBIGUOUS, AMBIGUOUS):
        try:
            torch.broadcast_shapes(left, right)
        except RuntimeError:
            continue
        for a, b in itertools.product(layouts(left), layouts(right)):
            fast = fast_meta.plain_result((a, b), {})
            if fast is None:
                assert not (fast_meta.plain_layout(a) and fast_meta.plain_layout(b))
                continue
            assert same(fast, op(a, b)), (op, left, a.stride(), right, b.stride())
            answered += 1
    assert answered > 100


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


def layouts(shape: tuple[int, ...]) -> list[torch.Tensor]:
    """Meta tensors of ``shape`` laid out in several ways: fresh, with odd strides on its
    size-1 axes (still contiguous), transposed, expanded, sliced, channels-last."""
    found = [meta(shape)]
    if len(shape) >= 2:
        found.append(meta(shape[::-1]).transpose(0, -1) if len(shape) == 2 else
                     meta(shape).transpose(0, 1).contiguous().transpose(0, 1))
        found.append(meta((1, *shape[1:])).expand(shape))
        found.append(meta((*shape[:-1], shape[-1] + 2))[..., :shape[-1]])
    if len(shape) == 4:
        found.append(meta(shape).to(memory_format=torch.channels_last))
    if len(shape) == 5:
        found.append(meta(shape).to(memory_format=torch.channels_last_3d))
    if 1 in shape:
        strides = list(meta(shape).stride())
        strides[shape.index(1)] = 7
        found.append(torch.empty_strided(shape, strides, device="meta"))
    return found


UNARY_OPS = [torch.ops.aten.neg.default, torch.ops.aten.sigmoid.default]
SCALAR_OPS = [torch.ops.aten.rsub.Scalar, torch.ops.aten.pow.Tensor_Scalar,
              torch.ops.aten.mul.Scalar, torch.ops.aten.div.Scalar]
GRID_SHAPES = [*SHAPES, (2, 3, 4, 5), (2, 1, 4, 1), (2, 3, 1, 1), (1, 1, 4, 4),
               (2, 1, 3, 1, 2), (2, 3, 4, 5, 6)]


@pytest.mark.parametrize("op", UNARY_OPS + SCALAR_OPS, ids=str)
def test_unary_and_scalar_ops_match_torch_or_step_aside(op: object) -> None:
    fast = {"neg": fast_meta.neg_meta, "sigmoid": fast_meta.sigmoid_meta,
            "rsub": fast_meta.rsub_meta, "pow": fast_meta.pow_meta,
            "mul": fast_meta.mul_meta, "div": fast_meta.div_meta}[op.__name__.split(".")[0]]
    answered = 0
    for shape in GRID_SHAPES:
        for tensor in layouts(shape):
            for dtype in (torch.float32, torch.bfloat16, torch.float64):
                x = tensor.to(dtype) if dtype != torch.float32 else tensor
                args = (x,) if op in UNARY_OPS else (x, 2)
                plain = fast_meta.plain_result(args, {})
                assert (plain is not None) == fast_meta.plain_layout(x)
                answered += plain is not None
                assert same(fast(*args), op(*args)), (op, shape, x.stride(), dtype)
        for number in (0.5, -3):
            if op not in UNARY_OPS:
                assert same(fast(meta(shape), number), op(meta(shape), number))
    assert answered > 30


def test_pow_with_a_tensor_exponent_or_a_number_base_matches_torch() -> None:
    for left, right in itertools.product(SHAPES, SHAPES):
        try:
            torch.broadcast_shapes(left, right)
        except RuntimeError:
            continue
        a, b = meta(left), meta(right)
        assert same(fast_meta.pow_meta(a, b), torch.ops.aten.pow.Tensor_Tensor(a, b))
        assert same(fast_meta.pow_meta(2, b), torch.ops.aten.pow.Scalar(2, b))


@pytest.mark.parametrize("case", ["integer", "bool", "complex exponent", "out"])
def test_unary_and_scalar_ops_step_aside(case: str) -> None:
    args, kwargs = {
        "integer": ((meta((3,), torch.int64), 2), {}),
        "bool": ((meta((3,), torch.bool),), {}),
        "complex exponent": ((meta((3,)), 2j), {}),
        "out": ((meta((3,)),), {"out": meta((3,))}),
    }[case]
    assert fast_meta.plain_result(args, kwargs) is None


def test_broadcast_is_torchs() -> None:
    shapes = [*SHAPES, (4,), (3, 0), (0,), (2, 3, 1), (1, 3, 4), (5, 1, 1, 1)]
    for combination in itertools.chain(itertools.product(shapes, repeat=2),
                                       itertools.product(shapes[:8], repeat=3)):
        try:
            expected = tuple(torch.broadcast_shapes(*combination))
        except RuntimeError:
            expected = None
        got = fast_meta.broadcast([torch.Size(s) for s in combination])
        assert (None if got is None else tuple(got)) == expected, combination


def test_sum_over_dimensions_matches_torch() -> None:
    checked = 0
    for shape in GRID_SHAPES:
        rank = len(shape)
        dim_choices: list[object] = [None, [], 0, -1, [0], [-1], [0, -1], [rank - 1, 0],
                                     list(range(rank)), [rank], [0, 0], [-rank - 1]]
        for tensor in layouts(shape):
            for dims, keepdim, dtype in itertools.product(dim_choices, (False, True),
                                                          (None, torch.float32,
                                                           torch.float64)):
                kwargs = {} if dtype is None else {"dtype": dtype}
                try:
                    expected = torch.ops.aten.sum.dim_IntList(tensor, dims, keepdim,
                                                              **kwargs)
                except (RuntimeError, IndexError):
                    expected = None
                fast = fast_meta.sum_result((tensor, dims, keepdim), kwargs)
                if fast is None:
                    continue
                assert expected is not None and same(fast, expected), (
                    shape, tensor.stride(), dims, keepdim, dtype)
                assert same(fast_meta.sum_result((tensor, dims), {"keepdim": keepdim,
                                                                  **kwargs}), expected)
                checked += 1
    assert checked > 300


@pytest.mark.parametrize("case", ["no dims", "names", "integer", "transposed", "scalar",
                                  "other dtype", "out"])
def test_sum_steps_aside(case: str) -> None:
    x = meta((2, 3))
    args, kwargs = {
        "no dims": ((x,), {}),
        "names": ((x, ["a"]), {}),
        "integer": ((meta((2, 3), torch.int64), [0]), {}),
        "transposed": ((x.t(), [0]), {}),
        "scalar": ((meta(()), [0]), {}),
        "other dtype": ((x, [0]), {"dtype": torch.float64}),
        "out": ((x, [0]), {"out": meta((3,))}),
    }[case]
    assert fast_meta.sum_result(args, kwargs) is None
    if case not in ("names", "out"):
        assert same(fast_meta.sum_meta(*args, **kwargs), torch.ops.aten.sum(*args, **kwargs))


def test_zeros_like_matches_torch_in_every_layout() -> None:
    for shape in GRID_SHAPES:
        for tensor in layouts(shape):
            for kwargs in ({}, {"dtype": torch.bfloat16},
                           {"memory_format": torch.preserve_format},
                           {"memory_format": torch.contiguous_format},
                           {"dtype": torch.float64, "memory_format": torch.preserve_format},
                           {"pin_memory": False, "layout": torch.strided,
                            "device": torch.device("meta")}):
                assert same(fast_meta.zeros_like_meta(tensor, **kwargs),
                            torch.zeros_like(tensor, **kwargs)), (shape, tensor.stride(),
                                                                  kwargs)


def test_new_zeros_matches_torch() -> None:
    for tensor in (meta((2, 3)), meta((4, 3)).t(), meta((2, 3), torch.bfloat16)):
        for size in ([], [0], [3], [2, 3, 4], (5, 1)):
            for kwargs in ({}, {"dtype": torch.float64}, {"device": torch.device("meta")},
                           {"layout": torch.strided, "pin_memory": False}):
                assert same(fast_meta.new_zeros_meta(tensor, size, **kwargs),
                            torch.ops.aten.new_zeros(tensor, size, **kwargs))


FOREACH = ["_foreach_add", "_foreach_sub", "_foreach_mul", "_foreach_div", "_foreach_sqrt",
           "_foreach_neg"]


@pytest.mark.parametrize("name", FOREACH)
def test_out_of_place_foreach_matches_torch_or_steps_aside(name: str) -> None:
    op = getattr(torch.ops.aten, name)
    unary = name in ("_foreach_sqrt", "_foreach_neg")
    for shapes in ([(3, 4), (5,), ()], [(2, 1, 4)], [(0, 4), (1, 1, 1)]):
        for layout in (0, 1):
            tensors = [t for shape in shapes for t in layouts(shape)[layout:layout + 1]]
            others = tensors if layout == 0 else [meta(t.shape) for t in tensors]
            calls = [((tensors,), {})] if unary else [
                ((tensors, others), {}), ((tensors, 0.5), {}),
                ((tensors, [2.0] * len(tensors)), {})]
            if name in ("_foreach_add", "_foreach_sub") and not unary:
                calls.append(((tensors, others), {"alpha": 2}))
            for args, kwargs in calls:
                fast = fast_meta.foreach_results(args, kwargs)
                expected = op(*args, **kwargs)
                if fast is None:
                    assert not all(fast_meta.plain_layout(t) for t in tensors)
                    continue
                assert len(fast) == len(expected)
                assert all(same(f, e) for f, e in zip(fast, expected)), (name, shapes, args)


def test_out_of_place_foreach_steps_aside() -> None:
    tensors = [meta((3,)), meta((4,))]
    assert fast_meta.foreach_results((tensors, [meta((3,))]), {}) is None      # lengths
    assert fast_meta.foreach_results((tensors, [1.0]), {}) is None             # lengths
    assert fast_meta.foreach_results((tensors, meta(())), {}) is None          # tensor
    assert fast_meta.foreach_results((tensors, True), {}) is None              # bool
    assert fast_meta.foreach_results((tensors, tensors), {"alpha": 1j}) is None
    assert fast_meta.foreach_results(([meta((3,), torch.int64)],), {}) is None
    assert fast_meta.foreach_results(([],), {}) is None


def test_slice_scatter_matches_torch_or_steps_aside() -> None:
    answered = 0
    for shape in GRID_SHAPES:
        if not shape or 0 in shape:
            continue
        for base in layouts(shape):
            for dim in range(len(shape)):
                for start, end, step in ((0, shape[dim], 1), (0, 1, 1), (None, None, 1),
                                         (1, None, 2)):
                    src_shape = list(shape)
                    src_shape[dim] = len(range(*slice(start, end, step).indices(shape[dim])))
                    args = (base, meta(tuple(src_shape)), dim, start, end, step)
                    expected = torch.ops.aten.slice_scatter(*args)
                    fast = fast_meta.slice_scatter_meta(*args)
                    assert same(fast, expected), (shape, base.stride(), dim, start, end)
                    answered += fast_meta.plain_layout(base)
    sliced = meta((4, 6))[1:]                                  # an offset: steps aside
    assert same(fast_meta.slice_scatter_meta(sliced, meta((3, 6))),
                torch.ops.aten.slice_scatter(sliced, meta((3, 6))))
    out = meta((4, 6))
    assert fast_meta.slice_scatter_meta(meta((4, 6)), meta((1, 6)), 0, 0, 1, out=out) is out
    assert answered > 100
