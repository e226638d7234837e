"""The batch and loss of a diagnostic run: seeded synthetic inputs, saved batches in the
three accepted layouts, and the loss names."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from netanatomy.diagnostics.batch import (
    check_loss_name,
    default_loss_name,
    load_batch,
    loss_value,
    synthetic_batch,
    synthetic_target,
)
from netanatomy.errors import UsageError


def test_synthetic_batch_is_seeded() -> None:
    model = nn.Linear(4, 2)
    first = synthetic_batch(model, ["3x4", "2x5"], seed=7, device="cpu")
    again = synthetic_batch(model, ["3x4", "2x5"], seed=7, device="cpu")
    other = synthetic_batch(model, ["3x4", "2x5"], seed=8, device="cpu")
    assert [tuple(t.shape) for t in first] == [(3, 4), (2, 5)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], other[0])
    expected = torch.randn(3, 4, generator=torch.Generator().manual_seed(7))
    assert torch.equal(first[0], expected)                   # standard normal, that seed


def test_synthetic_batch_leaves_the_global_rng_alone() -> None:
    model = nn.Linear(4, 2)                       # (its init draws from the global RNG)
    before = torch.random.get_rng_state()
    synthetic_batch(model, ["3x4"], seed=1, device="cpu")
    assert torch.equal(torch.random.get_rng_state(), before)


class TwoTables(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.words = nn.Embedding(50, 4)
        self.positions = nn.Embedding(7, 4)


def test_integer_inputs_are_bounded_by_the_smallest_embedding() -> None:
    (ids,) = synthetic_batch(TwoTables(), ["64x32:int64"], seed=0, device="cpu")
    assert ids.dtype == torch.int64
    assert int(ids.min()) >= 0 and int(ids.max()) < 7        # min(50, 7)
    assert len(torch.unique(ids)) == 7                       # 2048 draws cover 0…6


def test_integer_inputs_without_embedding_are_0_or_1() -> None:
    (ids,) = synthetic_batch(nn.Linear(2, 2), ["8x8:int32"], seed=0, device="cpu")
    assert ids.dtype == torch.int32 and set(ids.unique().tolist()) == {0, 1}


def test_shape_tuples_and_dtypes() -> None:
    (x,) = synthetic_batch(nn.Linear(2, 2), [(2, 3)], seed=0, device="cpu")
    (half,) = synthetic_batch(nn.Linear(2, 2), ["2x3:float16"], seed=0, device="cpu")
    (flags,) = synthetic_batch(nn.Linear(2, 2), ["2x3:bool"], seed=0, device="cpu")
    assert x.dtype == torch.float32 and half.dtype == torch.float16
    assert flags.dtype == torch.bool


def saved(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "batch.pt"
    torch.save(data, path)
    return path


def test_load_a_lone_tensor(tmp_path: Path) -> None:
    x = torch.randn(2, 3)
    inputs, target = load_batch(saved(tmp_path, x), "cpu")
    assert len(inputs) == 1 and torch.equal(inputs[0], x) and target is None


def test_load_x_y_tuple(tmp_path: Path) -> None:
    x, y = torch.randn(2, 3), torch.tensor([0, 1])
    inputs, target = load_batch(saved(tmp_path, (x, y)), "cpu")
    assert torch.equal(inputs[0], x) and torch.equal(target, y)


def test_load_dict_with_several_inputs(tmp_path: Path) -> None:
    x1, x2, y = torch.randn(2, 3), torch.randn(2, 4), torch.randn(2)
    inputs, target = load_batch(saved(tmp_path, {"x": [x1, x2], "y": y}), "cpu")
    assert [tuple(t.shape) for t in inputs] == [(2, 3), (2, 4)] and torch.equal(target, y)
    inputs, target = load_batch(saved(tmp_path, {"x": x1}), "cpu")
    assert torch.equal(inputs[0], x1) and target is None


@pytest.mark.parametrize(("data", "found"), [
    ((torch.zeros(1), torch.zeros(1), torch.zeros(1)), "tuple of 3"),
    ({"inputs": torch.zeros(1)}, "dict with keys ['inputs']"),
    ({"x": "text"}, "dict with keys ['x']"),
    ("just text", "str"),
])
def test_other_layouts_are_usage_errors(tmp_path: Path, data: object, found: str) -> None:
    with pytest.raises(UsageError, match=r"expected a tensor x, a tuple \(x, y\)") as error:
        load_batch(saved(tmp_path, data), "cpu")
    assert found in str(error.value)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        load_batch(tmp_path / "absent.pt", "cpu")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a pickle")
    with pytest.raises(UsageError, match="cannot be read"):
        load_batch(garbage, "cpu")


def test_default_loss_name() -> None:
    logits, regression = torch.zeros(4, 10), torch.zeros(4, 1)
    assert default_loss_name(logits, None) == "ce"                 # (N, C) logits, C > 1
    assert default_loss_name(regression, None) == "mse"            # C = 1
    assert default_loss_name(torch.zeros(4, 3, 8, 8), None) == "mse"
    assert default_loss_name(logits, torch.zeros(4, dtype=torch.long)) == "ce"
    assert default_loss_name(logits, torch.zeros(4, 10)) == "mse"  # float target


def test_unknown_loss_is_a_usage_error() -> None:
    assert check_loss_name("mse") == "mse"
    with pytest.raises(UsageError, match="unknown loss 'hinge'; expected one of ce, mse, sum"):
        check_loss_name("hinge")


def test_unknown_loss_through_diagnose() -> None:
    import netanatomy

    with pytest.raises(UsageError, match="unknown loss"):
        netanatomy.diagnose(nn.Linear(2, 2), input_size="2x2", loss_fn="l1")


def test_losses_and_synthetic_targets() -> None:
    output = torch.randn(4, 3, 5)
    target = synthetic_target("ce", output, seed=0)
    assert target is not None and target.shape == (4, 5) and int(target.max()) < 3
    assert loss_value("ce", output, target) == F.cross_entropy(output, target)
    mse_target = synthetic_target("mse", output, seed=0)
    assert mse_target is not None and mse_target.shape == output.shape
    assert loss_value("sum", output, None) == output.sum()
    assert synthetic_target("sum", output, seed=0) is None
    with pytest.raises(UsageError, match=r"mse needs a target of the output's shape"):
        loss_value("mse", output, torch.zeros(4))


def test_cross_entropy_needs_a_class_axis() -> None:
    with pytest.raises(UsageError, match=r"ce needs \(N, C, …\) logits"):
        synthetic_target("ce", torch.zeros(4), seed=0)
