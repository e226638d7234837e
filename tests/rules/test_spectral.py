"""FFT rule: output shapes against torch.fft for every front door, FLOPs against the
FFTW benchFFT convention written out by hand (5·N·log2 N complex, 2.5·N·log2 N real;
http://www.fftw.org/speed/method.html), symbols, and the field."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import netanatomy
from netanatomy.rules import Mixes
from tests.rules.helpers import assert_symbolic_agrees, evaluate, rule, symbols


class Apply(nn.Module):
    def __init__(self, function) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.function = function

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.function(x)


FRONT_DOORS = [
    (lambda x: torch.fft.fft(x), (2, 3, 8)),
    (lambda x: torch.fft.ifft(x, n=6, dim=1, norm="ortho"), (2, 3, 8)),
    (lambda x: torch.fft.rfft(x), (2, 3, 7)),
    (lambda x: torch.fft.irfft(torch.fft.rfft(x)), (2, 3, 8)),
    (lambda x: torch.fft.irfft(torch.fft.rfft(x), n=9), (2, 3, 8)),
    (lambda x: torch.fft.hfft(x), (2, 5)),
    (lambda x: torch.fft.ihfft(x), (2, 6)),
    (lambda x: torch.fft.fft2(x), (2, 3, 4, 8)),
    (lambda x: torch.fft.rfft2(x), (1, 3, 6, 10)),
    (lambda x: torch.fft.irfft2(torch.fft.rfft2(x), s=(6, 10)), (1, 3, 6, 10)),
    (lambda x: torch.fft.fftn(x, dim=(0, 2)), (4, 3, 5)),
    (lambda x: torch.fft.rfftn(x, dim=(1, 2, 3)), (1, 2, 4, 6, 8)),
]


@pytest.mark.parametrize("function, shape", FRONT_DOORS)
def test_every_fft_node_has_torch_shapes_and_is_counted(function, shape) -> None:
    report = netanatomy.analyze(Apply(function), shape)
    assert not report.uncounted
    nodes = [node for node in report.graph.nodes if node.kind == "fft"]
    assert nodes
    for node in nodes:
        in_shapes = tuple(t.shape for t in node.inputs)
        assert rule("fft", "output_shapes")(in_shapes, node.attrs) == (node.outputs[0].shape,)
    real = function(torch.rand(shape))
    assert tuple(report.graph.outputs[0].shape) == tuple(real.shape)


def test_one_sided_r2c_keeps_n_over_2_plus_1() -> None:
    for n in (7, 8):
        attrs = {"transform": "r2c", "dims": (2,), "onesided": True}
        outputs, _, _ = evaluate("fft", ((2, 3, n),), attrs)
        assert outputs == (tuple(torch.fft.rfft(torch.zeros(2, 3, n)).shape),)
        assert outputs == ((2, 3, n // 2 + 1),)


@pytest.mark.parametrize("shape, attrs, expected", [
    # rfft of 2·3 rows of length 8: 2.5 · 48 · log2 8
    ((2, 3, 8), {"transform": "r2c", "dims": (2,), "onesided": True}, 2.5 * 48 * 3),
    # fft of a real (4, 8): two-sided r2c, still a real-input transform
    ((4, 8), {"transform": "r2c", "dims": (1,), "onesided": False}, 2.5 * 32 * 3),
    # fft2 of a complex (4, 8): per axis (32/4)·5·4·log2 4 + (32/8)·5·8·log2 8 = 5·32·5
    ((4, 8), {"transform": "c2c", "dims": (0, 1), "forward": True},
     (32 / 4) * 5 * 4 * 2 + (32 / 8) * 5 * 8 * 3),
    # irfft of (2, 5) complex to real length 8: 2.5 · 16 · log2 8
    ((2, 5), {"transform": "c2r", "dims": (1,), "last_dim_size": 8}, 2.5 * 16 * 3),
    # rfft2 over (4, 8) of 3 images: 2.5 · 96 · log2 32
    ((3, 4, 8), {"transform": "r2c", "dims": (1, 2), "onesided": True}, 2.5 * 96 * 5),
    # length 6 is not a power of two: 5 · 6 · log2 6 = 77.55 → rounded up
    ((1, 6), {"transform": "c2c", "dims": (1,), "forward": False}, 5 * 6 * math.log2(6)),
    ((3, 1), {"transform": "c2c", "dims": (1,), "forward": True}, 0),        # length 1
])
def test_flops_follow_the_fftw_convention(shape, attrs, expected) -> None:
    outputs, macs, flops = evaluate("fft", (shape,), attrs)
    assert macs == 0
    assert isinstance(flops, int) and flops == math.ceil(expected)
    assert rule("fft", "params")((shape,), attrs) == 0


def test_bytes_read_real_and_write_complex() -> None:
    attrs = {"transform": "r2c", "dims": (1,), "onesided": True}
    outputs, _, _ = evaluate("fft", ((4, 8),), attrs)
    # float32 in (4·8·4 bytes), complex64 out (4·5·8 bytes)
    assert rule("fft", "bytes")(((4, 8),), outputs, attrs, ((4,), (8,))) == 4 * 8 * 4 + 4 * 5 * 8


@pytest.mark.parametrize("values", [{"B": 3, "H": 8, "W": 16}, {"B": 2, "H": 6, "W": 5}])
def test_symbols_agree_with_ints(values) -> None:
    b, h, w = symbols("B H W")
    subs = {b: values["B"], h: values["H"], w: values["W"]}
    for attrs in ({"transform": "r2c", "dims": (1, 2), "onesided": True},
                  {"transform": "c2c", "dims": (2,), "forward": True},
                  {"transform": "c2r", "dims": (1, 2), "last_dim_size": w}):
        assert_symbolic_agrees("fft", ((b, h, w),), attrs, subs)


def test_symbolic_flops_are_the_formula() -> None:
    sympy = pytest.importorskip("sympy")
    n, length = symbols("N L")
    _, _, flops = evaluate("fft", ((n, length),), {"transform": "c2c", "dims": (1,)})
    assert flops == sympy.ceiling(5 * n * length * sympy.log(length, 2))


def test_field_mixes_the_transformed_axes() -> None:
    attrs = {"transform": "c2c", "dims": (2, 3)}
    assert rule("fft", "rf")(((1, 2, 8, 8),), ((1, 2, 8, 8),), attrs) == Mixes(((0, (2, 3)),))
