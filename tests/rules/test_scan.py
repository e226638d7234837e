"""Scan rules (cumsum, cumprod, cummax, cummin, logcumsumexp): torch shapes, one FLOP per
element by hand, the causal field against torch's Jacobian, symbols and capture."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import netanatomy
from netanatomy.rules.transfer import AlongAxis, AxisWindow
from tests.rules.helpers import assert_symbolic_agrees, evaluate, rule, symbols

SCANS = {"cumsum": torch.cumsum, "cumprod": torch.cumprod, "cummax": torch.cummax,
         "cummin": torch.cummin, "logcumsumexp": torch.logcumsumexp}


@pytest.mark.parametrize("fn", sorted(SCANS))
@pytest.mark.parametrize("shape, dim", [((2, 3, 4, 5), -1), ((2, 3, 4, 5), 1), ((7,), 0),
                                        ((3, 6), -2)])
def test_scan_shapes_match_torch_and_cost_one_flop_per_element(fn, shape, dim) -> None:
    result = SCANS[fn](torch.rand(shape), dim)
    expected = tuple(tuple(t.shape) for t in (result if isinstance(result, tuple)
                                              else (result,)))
    attrs = {"dim": dim, "fn": fn}
    outputs, macs, flops = evaluate("scan", (shape,), attrs)
    assert outputs == expected
    assert macs == 0 and flops == math.prod(shape)          # 1 add / multiply / compare each
    assert rule("scan", "params")((shape,), attrs) == 0
    itemsizes = ((4,), tuple(4 if i == 0 else 8 for i in range(len(outputs))))  # int64 indices
    assert rule("scan", "bytes")((shape,), outputs, attrs, itemsizes) == \
        4 * math.prod(shape) + sum(size * math.prod(s) for size, s in zip(itemsizes[1], expected))


@pytest.mark.parametrize("n", [1, 5, 9])
def test_scan_field_is_causal_over_the_axis(n: int) -> None:
    transfer = rule("scan", "rf")(((2, n),), ((2, n),), {"dim": 1, "fn": "cumsum"})
    assert isinstance(transfer, AlongAxis) and transfer.dim == 1
    window = transfer.window
    jacobian = torch.autograd.functional.jacobian(lambda x: torch.cumsum(x, 0),
                                                  torch.rand(n, dtype=torch.float64))
    for o in range(n):
        read = torch.nonzero(jacobian[o]).flatten()
        low = o * window.stride + window.start       # may lie left of the input (zeros)
        assert (max(low, 0), low + window.extent) == (int(read[0]), int(read[-1]))


def test_scan_symbols_agree_with_ints() -> None:
    n, c, h, w = symbols("N C H W")
    values = {n: 2, c: 3, h: 5, w: 7}
    for dim in (1, 2, -1):
        assert_symbolic_agrees("scan", ((n, c, h, w),), {"dim": dim, "fn": "cumsum"}, values)
    assert_symbolic_agrees("scan", ((n, c, h, w),), {"dim": 3, "fn": "cummax"}, values)
    transfer = rule("scan", "rf")(((n, c, h, w),), ((n, c, h, w),), {"dim": -1, "fn": "cumsum"})
    assert transfer == AlongAxis(3, AxisWindow(extent=w - 1, stride=1, start=1 - w))
    byte_count = rule("scan", "bytes")(((n, c, h, w),), ((n, c, h, w),), {"dim": 1},
                                       ((2,), (2,)))
    assert byte_count.subs(values) == 2 * 2 * (2 * 3 * 5 * 7)


class Scans(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values, _ = torch.cummax(x, 2)
        return torch.cumsum(x, -1) + torch.cumprod(x, 1) + values + torch.logcumsumexp(x, 3)


def test_capture_maps_every_scan_and_is_exact() -> None:
    report = netanatomy.analyze(Scans(), (1, 2, 4, 5))
    scans = [node for node in report.graph.nodes if node.kind == "scan"]
    assert sorted(node.attrs["fn"] for node in scans) == sorted(SCANS.keys() - {"cummin"})
    assert not report.uncounted
    # 4 scans of 40 elements + 3 adds of 40 elements
    assert report.totals.elementwise_flops == 4 * 40 + 3 * 40
