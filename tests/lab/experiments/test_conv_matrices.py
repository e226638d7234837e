"""conv-as-matrix, conv1d-toeplitz, transposed-conv-is-transpose: the matrices agree with
torch at the course's settings, and each check fails off its premise."""

from __future__ import annotations

from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def failed(result: LabResult) -> list[str]:
    return [c.quantity for c in result.checks if not c.passed]


def test_conv_as_matrix_at_the_course_setting(lab_default: Callable[[str], LabResult]
                                              ) -> None:
    result = lab_default("conv-as-matrix")
    assert result.passed
    assert check(result, "shape of A").measured == (2 * 2, 3 * 3)   # (3−2+1)² outputs, 3² inputs
    assert check(result, "nonzeros of A").measured == 2 * 2 * 2 * 2  # outputs × K²
    assert result.data["A"][0] == ["w_11", "w_12", "0", "w_21", "w_22", "0", "0", "0", "0"]
    assert result.seconds < 10


def test_conv_as_matrix_fails_with_a_column_major_vec() -> None:
    result = lab.run("conv-as-matrix", order="column-major")
    assert result.verdict == "fail"
    assert failed(result) == ["max |A·vec(x) − conv2d(x)| (column-major vec)"]


def test_conv_as_matrix_with_padding_has_fewer_nonzeros_than_macs() -> None:
    result = lab.run("conv-as-matrix", size=4, kernel=3, stride=2, padding=1)
    assert result.passed
    mac = check(result, "nonzeros of A")
    assert mac.expected == 2 * 2 * 3 * 3                 # ⌊(4+2−3)/2⌋+1 = 2 per axis, K² = 9
    assert mac.measured < mac.expected


def test_conv1d_toeplitz_at_n_inputs_and_k_taps(lab_default: Callable[[str], LabResult]
                                                ) -> None:
    result = lab_default("conv1d-toeplitz")
    assert result.passed
    assert check(result, "rows of A").measured == 8 - 3 + 1        # N − K + 1
    assert check(result, "nonzeros of A = netanatomy MACs").measured == 3 * (8 - 3 + 1)


def test_conv1d_toeplitz_fails_with_the_flipped_kernel() -> None:
    result = lab.run("conv1d-toeplitz", flip=True)
    assert result.verdict == "fail"
    assert failed(result) == ["max |A·x − conv1d(x)| (flipped kernel)"]


def test_transposed_conv_at_the_course_setting(lab_default: Callable[[str], LabResult]
                                               ) -> None:
    result = lab_default("transposed-conv-is-transpose")
    assert result.passed
    assert check(result, "output size").measured == (2 - 1) * 1 - 0 + 2   # (H−1)S − 2P + K
    assert result.data["shape"] == [9, 4]


def test_transposed_conv_fails_with_a_column_major_vec() -> None:
    result = lab.run("transposed-conv-is-transpose", order="column-major")
    assert failed(result) == ["max |Aᵀ·vec(y) − conv_transpose2d(y)| (column-major vec)"]


def test_the_course_size_formula_fails_for_dilated_transposed_convs() -> None:
    result = lab.run("transposed-conv-is-transpose", dilation=2, formula="course")
    assert failed(result) == ["output size by the course formula = torch's"]
    # torch: (2−1)·1 + 2·(2−1) + 1 = 4, the course's K-form says (2−1)·1 + 2 = 3
    size = check(result, "output size")
    assert (size.measured, size.expected) == (4, 3)
    assert lab.run("transposed-conv-is-transpose", size=3, stride=2, padding=1,
                   output_padding=1).passed
