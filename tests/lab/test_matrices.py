"""Operator matrices against torch's own ops: conv (1-D/2-D, stride, padding, dilation,
channels), transposed conv = Aᵀ, pooling, the dilated kernel; exact symbolic entries,
output-size formulas against torch's shapes, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import torch
import torch.nn.functional as functional
from hypothesis import given, settings
from hypothesis import strategies as st

from netanatomy.errors import UsageError
from netanatomy.lab import matrices

w11, w12, w21, w22 = sympy.symbols("w_11 w_12 w_21 w_22")


def test_the_course_matrix_a_2x2_kernel_over_3x3() -> None:
    op = matrices.build("conv2d", size=(3, 3), kernel=(2, 2))
    # written out by hand from y_ij = Σ w_ab x_(i+a−1)(j+b−1), x row-major
    assert op.matrix == sympy.Matrix([
        [w11, w12, 0, w21, w22, 0, 0, 0, 0],
        [0, w11, w12, 0, w21, w22, 0, 0, 0],
        [0, 0, 0, w11, w12, 0, w21, w22, 0],
        [0, 0, 0, 0, w11, w12, 0, w21, w22]])
    assert op.row_labels == ("y_11", "y_12", "y_21", "y_22")
    assert op.column_labels[:3] == ("x_11", "x_12", "x_13")
    assert op.nonzeros == 4 * 4                          # 4 outputs × K² = 4 taps
    assert op.check_passed and op.torch_shape == (1, 2, 2)
    assert op.formula[0].endswith("= 2")


def test_transposed_conv_is_the_transpose_of_the_matching_conv() -> None:
    forward = matrices.build("conv2d", size=(3, 3), kernel=(2, 2))
    back = matrices.build("conv-transpose2d", size=(2, 2), kernel=(2, 2), stride=1)
    assert back.matrix == forward.matrix.T
    assert back.shape == (9, 4) and back.check_passed
    assert back.output_shape == (1, 3, 3)                # (2−1)·1 − 0 + 2 = 3


def test_numbers_are_exact_and_default_to_one_two_three() -> None:
    op = matrices.build("conv1d", size=5, kernel=3, symbolic=False)
    assert op.matrix.tolist()[0] == [1, 2, 3, 0, 0]
    halves = matrices.build("conv1d", size=4, kernel=2, symbolic=False, weights=["0.5", "1/3"])
    assert halves.matrix[0, 0] == sympy.Rational(1, 2)
    assert halves.matrix[0, 1] == sympy.Rational(1, 3)
    np.testing.assert_array_equal(op.numeric()[0], [1.0, 2.0, 3.0, 0.0, 0.0])


def test_channels_give_a_block_matrix_with_channel_indexed_weights() -> None:
    op = matrices.build("conv2d", size=(3, 3), kernel=(2, 2), in_channels=2, out_channels=3)
    assert op.shape == (3 * 4, 2 * 9)
    assert op.row_blocks == (4, 4, 4) and op.column_blocks == (9, 9)
    assert op.matrix[4, 9] == sympy.Symbol("w_2211")     # out 2, in 2, tap (1, 1)
    assert op.check_passed


CONV_CASES = [
    dict(size=(5, 5), kernel=(3, 3), stride=2, padding=1),
    dict(size=(6, 4), kernel=(3, 2), stride=(1, 2), padding=(1, 0), dilation=(2, 1)),
    dict(size=(4, 4), kernel=(2, 2), in_channels=2, out_channels=2, padding=1),
    dict(size=(7, 7), kernel=(3, 3), dilation=3),
]


@pytest.mark.parametrize("options", CONV_CASES)
def test_conv2d_matrices_match_torch(options: dict) -> None:
    op = matrices.build("conv2d", **options)
    assert op.check_passed, (op.check_error, op.torch_shape, op.output_shape)


@pytest.mark.parametrize("options", [
    dict(size=(3, 3), kernel=(3, 3), stride=2, padding=1, output_padding=1),
    dict(size=(2, 3), kernel=(2, 3), stride=(2, 1), dilation=(1, 2)),
    dict(size=(2, 2), kernel=(2, 2), in_channels=2, out_channels=3, stride=2),
])
def test_conv_transpose2d_matrices_match_torch(options: dict) -> None:
    op = matrices.build("conv-transpose2d", **options)
    assert op.check_passed, (op.check_error, op.torch_shape, op.output_shape)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 9), k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 2),
       d=st.integers(1, 3), op=st.integers(0, 2), c_in=st.integers(1, 2),
       c_out=st.integers(1, 2))
def test_1d_conv_and_transpose_match_torch_and_the_size_formulas(
        n: int, k: int, s: int, p: int, d: int, op: int, c_in: int, c_out: int) -> None:
    if d * (k - 1) + 1 <= n + 2 * p:
        conv = matrices.build("conv1d", size=n, kernel=k, stride=s, padding=p, dilation=d,
                              in_channels=c_in, out_channels=c_out)
        assert conv.check_passed
        # floor((n + 2p − d(k−1) − 1)/s) + 1, the conv output-size formula
        assert conv.output_shape[1] == (n + 2 * p - d * (k - 1) - 1) // s + 1
    if op < max(s, d) and (n - 1) * s - 2 * p + d * (k - 1) + 1 + op >= 1:
        try:
            transposed = matrices.build("conv-transpose1d", size=n, kernel=k, stride=s,
                                        padding=p, dilation=d, output_padding=op,
                                        in_channels=c_in, out_channels=c_out)
        except UsageError:       # padding so large the matching conv misses the input
            return
        assert transposed.check_passed
        torch_size = functional.conv_transpose1d(
            torch.zeros(1, c_in, n), torch.zeros(c_in, c_out, k), stride=s, padding=p,
            dilation=d, output_padding=op).shape[-1]
        assert transposed.output_shape[1] == torch_size == (n - 1) * s - 2 * p + d * (k - 1) \
            + 1 + op


def test_average_pooling_holds_one_over_r_squared() -> None:
    op = matrices.build("avg-pool2d", size=(4, 4), kernel=(2, 2))
    assert op.shape == (4, 16)
    assert {v for v in op.matrix if v != 0} == {sympy.Rational(1, 4)}   # 1/r², r = 2
    assert all(sum(1 for v in op.matrix.row(i) if v != 0) == 4 for i in range(4))
    assert op.check_passed
    padded = matrices.build("avg-pool2d", size=(5, 5), kernel=(3, 3), stride=2, padding=1,
                            in_channels=2)
    assert padded.check_passed


def test_the_max_pool_switch_matrix_of_a_given_input() -> None:
    op = matrices.build("max-pool2d", size=(2, 4), kernel=(2, 2),
                        values=[1, 9, 3, 4, 5, 6, 8, 7])
    # windows {1,9,5,6} → 9 at x_12, {3,4,8,7} → 8 at x_23
    assert op.matrix.tolist() == [[0, 1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1, 0]]
    assert op.check_passed and op.steps[0].name == "input x"
    seeded = matrices.build("max-pool2d", size=(6, 6), kernel=(3, 3), stride=2, padding=1,
                            dilation=1, in_channels=2, seed=3)
    assert seeded.check_passed


def test_the_dilated_kernel_is_the_cropped_kronecker_product() -> None:
    op = matrices.build("dilated", kernel=(3, 3), dilation=2)
    assert op.shape == (5, 5)                              # (3−1)·2 + 1
    kernel, chooser, product = (step.matrix for step in op.steps)
    assert chooser == sympy.Matrix([[1, 0], [0, 0]])
    assert product.shape == (6, 6)
    assert op.matrix == product[:5, :5]
    assert op.matrix[0, 2] == sympy.Symbol("w_12") and op.matrix[1, 1] == 0
    assert op.check_passed
    one_d = matrices.build("dilated", kernel=4, dilation=3)
    assert one_d.shape == (1, 10) and one_d.check_passed   # (4−1)·3 + 1


@pytest.mark.parametrize(("kind", "options", "message"), [
    ("conv2d", dict(size=(3, 3), kernel=(4, 4)), "larger than the padded input"),
    ("conv2d", dict(size=(3, 0), kernel=(2, 2)), "--input must be positive"),
    ("conv2d", dict(size=(3, 3), kernel=(2, 2), stride=0), "--stride must be positive"),
    ("conv2d", dict(size=3, kernel=(2, 2, 2)), "has 3 axes"),
    ("conv2d", dict(size=(100, 100), kernel=(3, 3)), "more than the 65,536"),
    ("conv2d", dict(size=(3, 3), kernel=(2, 2), weights=[1, 2]), "needs 4"),
    ("conv2d", dict(size=(3, 3), kernel=(2, 2), weights=["a", 2, 3, 4], symbolic=False),
     "not a number"),
    ("conv2d", dict(size=(3, 3), kernel=(2, 2), in_channels=0), "--in-channels"),
    ("conv-transpose2d", dict(size=(2, 2), kernel=(2, 2), output_padding=1),
     "smaller than the stride"),
    ("max-pool2d", dict(size=(4, 4), kernel=(2, 2), padding=2), "half the window"),
    ("max-pool2d", dict(size=(2, 2), kernel=(2, 2), values=[1, 2]), "needs 4"),
    ("dilated", dict(kernel=(3, 3), dilation=0), "--dilation"),
    ("conv3d", dict(size=(3, 3), kernel=(2, 2)), "no operator"),
])
def test_bad_requests_are_refused_with_a_reason(kind: str, options: dict, message: str
                                                ) -> None:
    with pytest.raises(UsageError, match=message):
        matrices.build(kind, **options)


def test_a_symbolic_matrix_has_no_numpy_form() -> None:
    with pytest.raises(UsageError, match="symbolic"):
        matrices.build("conv2d", size=(3, 3), kernel=(2, 2)).numeric()
