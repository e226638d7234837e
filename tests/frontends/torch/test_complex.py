"""Complex arithmetic: MACs are real multiply-accumulates. A product of complex operands
counts 4 real MACs per complex MAC ((a + ib)(c + id) = (ac − bd) + i(ad + bc), as complex
BLAS counts cgemm: 8·M·N·K FLOPs); PyTorch runs a complex convolution as 3 real
convolutions (Gauss's trick, ATen's complex_convolution), which are counted as they run.
Real-valued numbers are unchanged.
"""

from __future__ import annotations

import sympy
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import netanatomy
from netanatomy.rules import get_formula

COMPLEX = torch.complex64


def flop_counter_macs(model: nn.Module, x: torch.Tensor) -> int:
    """FlopCounterMode's FLOPs / 2 on a real run (it ignores dtypes: 1 per complex MAC)."""
    with FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops() // 2


def test_complex_linear_counts_four_real_macs_per_complex_mac() -> None:
    report = netanatomy.analyze(nn.Linear(16, 8, dtype=COMPLEX),
                                example_inputs=torch.empty(2, 16, dtype=COMPLEX))
    assert report.totals.macs == 4 * 2 * 16 * 8          # 4 real MACs · rows · in · out
    assert report.totals.flops == 8 * 2 * 16 * 8         # cgemm: 8·M·N·K FLOPs
    assert report.totals.elementwise_flops == 2 * 8      # bias add: 1 per output element
    matmul = next(n for n in report.graph.nodes if n.kind == "matmul")
    assert matmul.attrs["complex"] is True


class ComplexProduct(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a, b)


def test_complex_batched_matmul_agrees_with_linear() -> None:
    a, b = torch.empty(3, 4, 5, dtype=COMPLEX), torch.empty(3, 5, 7, dtype=COMPLEX)
    report = netanatomy.analyze(ComplexProduct(), example_inputs=(a, b))
    assert report.totals.macs == 4 * 3 * 4 * 7 * 5        # 4 · batch · M · N · K


def test_complex_conv_counts_the_three_real_convs_it_runs() -> None:
    conv = nn.Conv2d(3, 4, 3, dtype=COMPLEX)
    x = torch.randn(1, 3, 6, 6, dtype=COMPLEX)
    report = netanatomy.analyze(conv, example_inputs=x)
    # Gauss's trick: 3 real convs of N·C_out·H'·W'·C_in·k² MACs each
    assert report.totals.macs == 3 * (1 * 4 * 4 * 4 * 3 * 3 * 3)
    assert [n.kind for n in report.graph.nodes].count("conv") == 3
    assert report.totals.macs == flop_counter_macs(conv, x)   # FlopCounterMode: the same 3


def test_real_layers_are_unchanged() -> None:
    for model, shape in ((nn.Linear(16, 8), (2, 16)), (nn.Conv2d(3, 4, 3), (1, 3, 6, 6))):
        report = netanatomy.analyze(model, shape)
        assert report.totals.macs == flop_counter_macs(model, torch.randn(shape))
        assert all("complex" not in n.attrs for n in report.graph.nodes)


def test_complex_factor_in_the_rules_works_on_symbols() -> None:
    m, n, k = sympy.symbols("M N K", integer=True, positive=True)
    macs = get_formula("matmul", "macs")
    assert sympy.simplify(macs(((m, k), (k, n)), ((m, n),), {"complex": True})
                          - 4 * m * n * k) == 0
    assert macs(((m, k), (k, n)), ((m, n),), {}) == m * n * k
    conv = get_formula("conv", "macs")
    weight, out = (4, 3, 3, 3), (1, 4, 4, 4)
    assert conv(((1, 3, 6, 6), weight), (out,), {"complex": True}) == 4 * (1 * 4 * 4 * 4) * 3 * 9
