"""``netanatomy matrix``: the three documented commands, every format, the .npy file, and
bad input refused with exit 2 and a clear message (in-process, typer's CliRunner)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from netanatomy.cli.main import app

CONV = ["matrix", "conv2d", "--input", "3x3", "--kernel", "2x2", "--symbolic"]
TRANSPOSE = ["matrix", "conv-transpose2d", "--input", "2x2", "--kernel", "2x2", "--stride",
             "1", "--symbolic"]
DILATED = ["matrix", "dilated", "--kernel", "3x3", "--dilation", "2", "--kronecker"]


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_conv2d_prints_the_course_matrix_aligned() -> None:
    code, out, _ = invoke(*CONV)
    assert code == 0
    lines = out.splitlines()
    assert "y = A·vec(x)   A: 4×9" in out
    assert lines[3].split() == ["x_11", "x_12", "x_13", "x_21", "x_22", "x_23", "x_31", "x_32",
                                "x_33"]
    assert lines[4].split() == ["y_11", "⎡", "w_11", "w_12", "0", "w_21", "w_22", "0", "0",
                                "0", "0", "⎤"]
    assert len({len(line) for line in lines[4:8]}) == 1        # the columns line up
    assert "row-major" in out and "torch check (ok)" in out


def test_conv_transpose2d_is_the_transpose_of_conv2d() -> None:
    _, forward, _ = invoke(*CONV, "--format", "json")
    code, back, _ = invoke(*TRANSPOSE, "--format", "json")
    assert code == 0
    a, at = json.loads(forward), json.loads(back)
    assert at["schema"] == "netanatomy.matrix/1"
    assert at["entries"] == [list(column) for column in zip(*a["entries"], strict=True)]
    assert at["output_shape"] == [1, 3, 3] and at["check"]["passed"]


def test_dilated_shows_the_kronecker_steps_and_the_crop() -> None:
    code, out, _ = invoke(*DILATED)
    assert code == 0
    assert "K ⊗ S (6×6):" in out and "K_D: 5×5" in out
    assert "(3−1)·2 + 1 = 5" in out and "drop the last D−1 = 1 row and column" in out


@pytest.mark.parametrize("args", [CONV, TRANSPOSE, DILATED,
                                  ["matrix", "avg-pool2d"], ["matrix", "max-pool2d"],
                                  ["matrix", "conv1d", "--numbers"]])
def test_every_format_renders(args: list[str]) -> None:
    for fmt in ("table", "latex", "csv", "json"):
        code, out, err = invoke(*args, "--format", fmt)
        assert code == 0, err
        assert out.strip()
    _, latex, _ = invoke(*args, "--format", "latex")
    assert "\\begin{bmatrix}" in latex and "\\end{bmatrix}" in latex
    _, text, _ = invoke(*args, "--format", "csv")
    rows = list(csv.reader(io.StringIO(text)))
    _, document, _ = invoke(*args, "--format", "json")
    parsed = json.loads(document)
    assert rows[0] == ["row", *parsed["column_labels"]]
    assert [row[0] for row in rows[1:]] == parsed["row_labels"]


def test_the_default_average_pool_is_2x2_with_quarters() -> None:
    code, out, _ = invoke("matrix", "avg-pool2d", "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["rows"] == 4 and document["columns"] == 16   # 2×2 pooling of 4×4
    assert {e for row in document["entries"] for e in row} == {"0", "1/4"}


def test_npy_holds_the_numeric_matrix(tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    code, _, err = invoke("matrix", "conv2d", "--weights", "1,2,3,4", "-o", str(path))
    assert code == 0 and "wrote" in err
    array = np.load(path)
    assert array.shape == (4, 9)
    np.testing.assert_array_equal(array[0], [1, 2, 0, 3, 4, 0, 0, 0, 0])


def test_a_text_file_takes_the_format(tmp_path: Path) -> None:
    path = tmp_path / "a.tex"
    code, _, _ = invoke(*CONV, "--format", "latex", "-o", str(path))
    assert code == 0 and "bmatrix" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("args", "message"), [
    (["matrix", "conv2d", "-o", "a.npy"], "symbolic"),
    (["matrix", "conv2d", "--input", "3x3", "--kernel", "4x4"], "larger than the padded"),
    (["matrix", "conv2d", "--input", "3xa"], "--input '3xa'"),
    (["matrix", "conv2d", "--input", "0x3"], "must be positive"),
    (["matrix", "conv2d", "--input", "80x80"], "entries, more than"),
    (["matrix", "conv2d", "--output-padding", "1"], "does not apply to conv2d"),
    (["matrix", "avg-pool2d", "--weights", "1,2"], "--weights does not apply"),
    (["matrix", "conv2d", "--weights", "1,2,3"], "needs 4"),
    (["matrix", "conv2d", "--weights", "1,2,3,4", "--symbolic"], "leave out --symbolic"),
    (["matrix", "conv-2d"], "did you mean conv2d"),
    (["matrix", "conv1d", "--input", "3x3"], "has 2 axes"),
    (["matrix", "dilated", "--dilation", "2x2"], "one int"),
    (["matrix", "conv2d", "--format", "html"], "latex"),
])
def test_bad_input_exits_2_with_a_clear_message(args: list[str], message: str,
                                                 tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = invoke(*args)
    assert code == 2
    assert message in err and "Traceback" not in err
