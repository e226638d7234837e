"""Window rules (unfold / fold / pixel shuffle): shapes against torch, fold's adds counted by
brute force, fields against index tensors pushed through torch's own ops, and symbols."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import netanatomy
from netanatomy.rules import AxisWindow
from netanatomy.rules.transfer import Regrid
from tests.rules.helpers import assert_symbolic_agrees, evaluate, rule, symbols

# (x shape, kernel, dilation, padding, stride)
UNFOLD_CASES = [
    ((1, 2, 6, 6), (3, 3), (1, 1), (1, 1), (2, 2)),
    ((2, 3, 7, 5), (2, 3), (1, 2), (0, 1), (1, 2)),
    ((1, 1, 9, 8), (3, 2), (2, 1), (2, 0), (3, 1)),
    ((4, 5, 5), (2, 2), (1, 1), (0, 0), (1, 1)),              # unbatched (C, H, W)
]


def window_attrs(kernel, dilation, padding, stride):  # type: ignore[no-untyped-def]
    return {"kernel": kernel, "dilation": dilation, "stride": stride,
            "padding": tuple((p, p) for p in padding)}


@pytest.mark.parametrize("x_shape, kernel, dilation, padding, stride", UNFOLD_CASES)
def test_unfold_shape_matches_torch_and_moves_only(x_shape, kernel, dilation, padding,
                                                   stride) -> None:
    expected = F.unfold(torch.zeros(x_shape), kernel, dilation, padding, stride).shape
    attrs = window_attrs(kernel, dilation, padding, stride)
    outputs, macs, flops = evaluate("unfold", (x_shape,), attrs)
    assert outputs == (tuple(expected),)
    assert (macs, flops) == (0, 0)
    assert rule("unfold", "params")((x_shape,), attrs) == 0
    # read the input once, write the columns once, float32
    assert rule("unfold", "bytes")((x_shape,), outputs, attrs, ((4,), (4,))) == \
        4 * math.prod(x_shape) + 4 * math.prod(expected)


@pytest.mark.parametrize("x_shape, kernel, dilation, padding, stride", UNFOLD_CASES)
def test_fold_shape_matches_torch_and_counts_every_accumulated_entry(
        x_shape, kernel, dilation, padding, stride) -> None:
    columns = F.unfold(torch.zeros(x_shape), kernel, dilation, padding, stride)
    size = x_shape[-2:]
    folded = F.fold(torch.ones_like(columns), size, kernel, dilation, padding, stride)
    attrs = {**window_attrs(kernel, dilation, padding, stride), "output_size": size}
    outputs, macs, flops = evaluate("fold", (tuple(columns.shape),), attrs)
    assert outputs == (tuple(folded.shape),)
    assert macs == 0
    assert flops == columns.numel()            # 1 add per column entry (padded ones too)
    in_bounds = int(folded.sum())              # brute force: entries that land inside
    assert flops >= in_bounds
    if padding == (0, 0):
        assert flops == in_bounds


def test_fold_of_an_exact_tiling_adds_each_pixel_once() -> None:
    # 2×2 blocks, stride 2, on 6×4: every pixel lands once — adds = 3·2·2·(3·2) = 72
    columns = (1, 3 * 2 * 2, 3 * 2)
    attrs = {**window_attrs((2, 2), (1, 1), (0, 0), (2, 2)), "output_size": (6, 4)}
    outputs, _, flops = evaluate("fold", (columns,), attrs)
    assert outputs == ((1, 3, 6, 4),) and flops == 72


def source_rows(output: torch.Tensor, axis: int) -> list[tuple[int, int]]:
    """(first, last) input index read by each output position along ``axis``; inputs carry
    their index + 1 and padding reads 0 (ignored)."""
    moved = output.movedim(axis, 0).reshape(output.shape[axis], -1)
    spans = []
    for row in moved:
        read = row[row > 0] - 1
        spans.append((int(read.min()), int(read.max())))
    return spans


def assert_window_holds(window: AxisWindow, spans: list[tuple[int, int]], size: int) -> None:
    """Each output's reads lie in [o·s + start, o·s + start + extent] and reach both ends
    where they are inside the input (dilation may leave the padded end's neighbour unread)."""
    for o, (first, last) in enumerate(spans):
        low = math.floor(o * window.stride + window.start)
        high = low + window.extent
        assert max(low, 0) <= first and last <= min(high, size - 1), (o, first, last)
        assert (first == low or low < 0) and (last == high or high > size - 1), (o, low, high)


def index_tensor(shape: tuple[int, ...], axis: int) -> torch.Tensor:
    ramp = torch.arange(1, shape[axis] + 1, dtype=torch.float64)
    view = [1] * len(shape)
    view[axis] = shape[axis]
    return ramp.view(view).expand(shape).contiguous()


@pytest.mark.parametrize("x_shape, kernel, dilation, padding, stride", UNFOLD_CASES[:3])
def test_unfold_field_is_the_conv_window_over_a_flattened_grid(
        x_shape, kernel, dilation, padding, stride) -> None:
    attrs = window_attrs(kernel, dilation, padding, stride)
    (out_shape,) = rule("unfold", "output_shapes")((x_shape,), attrs)
    transfer = rule("unfold", "rf")((x_shape,), (out_shape,), attrs)
    assert isinstance(transfer, Regrid) and transfer.before is None
    grid = transfer.after[-2:]
    assert math.prod(grid) == out_shape[-1]
    for axis in (0, 1):
        x = index_tensor(x_shape, 2 + axis)
        columns = F.unfold(x, kernel, dilation, padding, stride)
        on_grid = columns.view(*columns.shape[:-1], *grid)
        assert len(source_rows(on_grid, 2 + axis)) == grid[axis]
        assert_window_holds(transfer.windows[axis], source_rows(on_grid, 2 + axis),
                            x_shape[2 + axis])


@pytest.mark.parametrize("x_shape, kernel, dilation, padding, stride", UNFOLD_CASES[:3])
def test_fold_field_is_the_transposed_window(x_shape, kernel, dilation, padding,
                                             stride) -> None:
    size = x_shape[-2:]
    columns = F.unfold(torch.zeros(x_shape), kernel, dilation, padding, stride)
    attrs = {**window_attrs(kernel, dilation, padding, stride), "output_size": size}
    transfer = rule("fold", "rf")((tuple(columns.shape),), ((),), attrs)
    grid = transfer.before[-2:]
    assert math.prod(grid) == columns.shape[-1] and transfer.after is None
    for axis in (0, 1):
        # column l of the grid carries l + 1 along ``axis``; fold then sums what lands
        ramp = index_tensor((1, columns.shape[1], *grid), 2 + axis).flatten(2)
        indicator = [F.fold((ramp == value).double(), size, kernel, dilation, padding, stride)
                     for value in range(1, grid[axis] + 1)]
        feeds = torch.stack([f.sum(dim=(0, 1)) > 0 for f in indicator])  # (l, H, W)
        feeds = feeds.any(dim=2 - axis)                                  # (l, output o)
        window = transfer.windows[axis]
        for o in range(size[axis]):
            fed_by = torch.nonzero(feeds[:, o]).flatten()
            if len(fed_by) == 0:
                continue
            low = math.floor(o * window.stride + window.start)
            assert low <= int(fed_by[0]) and int(fed_by[-1]) <= low + window.extent


@pytest.mark.parametrize("shape, r", [((1, 8, 3, 3), 2), ((2, 3, 18, 2, 4), 3),
                                      ((9, 2, 5), 3)])
def test_pixel_shuffle_shapes_match_torch_and_move_only(shape, r) -> None:
    attrs = {"factor": r, "mode": "shuffle"}
    expected = F.pixel_shuffle(torch.zeros(shape), r).shape
    outputs, macs, flops = evaluate("pixel_shuffle", (shape,), attrs)
    assert outputs == (tuple(expected),) and (macs, flops) == (0, 0)
    back = F.pixel_unshuffle(torch.zeros(expected), r).shape
    outputs, macs, flops = evaluate("pixel_shuffle", (tuple(expected),),
                                    {"factor": r, "mode": "unshuffle"})
    assert outputs == (tuple(back),) and (macs, flops) == (0, 0)
    assert rule("pixel_shuffle", "bytes")((shape,), outputs, attrs, ((2,), (2,))) == \
        2 * 2 * math.prod(shape)                         # fp16: read + write, same count


@pytest.mark.parametrize("mode, function", [("shuffle", F.pixel_shuffle),
                                            ("unshuffle", F.pixel_unshuffle)])
def test_pixel_shuffle_field_against_index_tensors(mode, function) -> None:
    r = 3
    shape = (1, 9, 6, 6) if mode == "shuffle" else (1, 1, 6, 6)
    out_shape = tuple(function(torch.zeros(shape), r).shape)
    windows = rule("pixel_shuffle", "rf")((shape,), (out_shape,), {"factor": r, "mode": mode})
    for axis in (0, 1):
        moved = function(index_tensor(shape, 2 + axis), r)
        assert len(source_rows(moved, 2 + axis)) == out_shape[2 + axis]
        assert_window_holds(windows[axis], source_rows(moved, 2 + axis), shape[2 + axis])


def test_symbols_agree_with_ints() -> None:
    n, c, h, w, k, s, p, r = symbols("N C H W K S P R")
    attrs = {"kernel": (k, k), "dilation": (1, 1), "stride": (s, s),
             "padding": ((p, p), (p, p))}
    values = {n: 2, c: 3, h: 9, w: 7, k: 3, s: 2, p: 1, r: 2}
    assert_symbolic_agrees("unfold", ((n, c, h, w),), attrs, values)
    columns = rule("unfold", "output_shapes")(((n, c, h, w),), attrs)[0]
    assert_symbolic_agrees("fold", (columns,), {**attrs, "output_size": (h, w)}, values)
    for mode, shape in (("shuffle", (n, c * r * r, h, w)), ("unshuffle", (n, c, h * r, w * r))):
        assert_symbolic_agrees("pixel_shuffle", (shape,), {"factor": r, "mode": mode}, values)
    (out,) = rule("unfold", "output_shapes")(((n, c, h, w),), attrs)
    assert out[1] == c * k * k
    byte_count = rule("unfold", "bytes")(((n, c, h, w),), (out,), attrs, ((4,), (4,)))
    assert byte_count.subs(values) == 4 * (2 * 3 * 9 * 7) + 4 * (2 * 3 * 9 * 5 * 4)
    shuffled = rule("pixel_shuffle", "rf")(((n, c, h, w),), ((n, c, h, w),),
                                           {"factor": r, "mode": "shuffle"})
    assert shuffled[0] == AxisWindow(extent=0, stride=1 / r, start=0)


@pytest.mark.parametrize("module, shape, kind", [
    (nn.Unfold(3, padding=1, stride=2), (1, 2, 7, 7), "unfold"),
    (nn.Fold((6, 6), 2, stride=2), (1, 8, 9), "fold"),
    (nn.PixelShuffle(2), (1, 8, 3, 3), "pixel_shuffle"),
    (nn.PixelUnshuffle(2), (1, 2, 6, 4), "pixel_shuffle"),
])
def test_capture_gives_torch_shapes_and_is_exact(module, shape, kind) -> None:
    report = netanatomy.analyze(module, shape)
    (node,) = report.graph.nodes
    assert node.kind == kind and not report.uncounted
    expected = module(torch.zeros(shape)).shape
    assert rule(kind, "output_shapes")(tuple(t.shape for t in node.inputs), node.attrs) == \
        (tuple(expected),)
