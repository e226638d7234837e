"""The parameter table: a tensor is counted once however it is shared — one object under
several names, or several Parameter objects that are the same view of one storage — and
different tensors are counted apart, also when their values are equal.

Expected counts are written from the layer shapes (out · in per Linear weight).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import netanatomy
from netanatomy.frontends.torch.params import build_param_table, storage_identity, views_overlap


class SameStorage(nn.Module):
    """Two Linear layers whose weights are two Parameter objects on one storage."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(8, 4, bias=False)
        self.b = nn.Linear(8, 4, bias=False)
        self.b.weight = nn.Parameter(self.a.weight.data)      # a new object, same storage

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x) + self.b(x)


class EqualValues(SameStorage):
    """The same, but b's weight is a copy: equal values, its own storage."""

    def __init__(self) -> None:
        super().__init__()
        self.b.weight = nn.Parameter(self.a.weight.detach().clone())


@pytest.mark.parametrize("build_on", ["cpu", "meta"])
@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_two_parameters_on_one_storage_are_counted_once(build_on: str, device: str) -> None:
    with torch.device(build_on):
        model = SameStorage()
    assert model.a.weight is not model.b.weight
    report = netanatomy.analyze(model, (2, 8), device=device)
    assert report.totals.params == 4 * 8                      # one 4×8 weight, not two
    assert report.totals.shared_params == 4 * 8
    assert report.graph.params["a.weight"].shared_with == ("b.weight",)
    assert "b.weight" not in report.graph.params
    assert report.layer("b").shared_params == 4 * 8 and report.layer("b").params == 0
    # both products read the weight under the name it is counted by
    weights = [t.param for n in report.graph.nodes for t in n.inputs if t.param]
    assert weights and set(weights) == {"a.weight"}


def test_two_storages_with_equal_values_are_counted_twice() -> None:
    model = EqualValues()
    assert torch.equal(model.a.weight, model.b.weight)
    report = netanatomy.analyze(model, (2, 8))
    assert report.totals.params == 2 * 4 * 8
    assert report.totals.shared_params == 0


def test_one_object_under_two_names_is_counted_once() -> None:
    model = SameStorage()
    model.b.weight = model.a.weight                             # tied, as transformers does
    params, names_by_object = build_param_table(model)
    assert list(params) == ["a.weight"] and params["a.weight"].shared_with == ("b.weight",)
    assert names_by_object[id(model.a.weight)] == ["a.weight", "b.weight"]


class Views(nn.Module):
    """Parameters that are different views of one storage."""

    def __init__(self, overlap: bool) -> None:
        super().__init__()
        base = torch.randn(4, 8)
        self.left = nn.Parameter(base[:, :4])
        self.right = nn.Parameter(base if overlap else base[:, 4:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :4] @ self.left.t() + x[:, :self.right.shape[1]] @ self.right.t()


@pytest.mark.parametrize("overlap", [False, True])
def test_different_views_of_one_storage_are_counted_apart(overlap: bool) -> None:
    model = Views(overlap)
    assert (model.left.untyped_storage().data_ptr()
            == model.right.untyped_storage().data_ptr())
    report = netanatomy.analyze(model, (2, 8))
    assert report.totals.params == 4 * 4 + (4 * 8 if overlap else 4 * 4)
    assert report.totals.shared_params == 0
    noted = [note for note in report.capture.notes if "share elements" in note]
    assert len(noted) == (1 if overlap else 0)
    if overlap:
        assert "'left'" in noted[0] and "'right'" in noted[0]


def test_storage_identity_tells_views_apart_on_meta() -> None:
    base = torch.empty(4, 8, device="meta")
    assert storage_identity(base) == storage_identity(base.detach())
    assert storage_identity(base) != storage_identity(base[:, :4])
    assert storage_identity(base) != storage_identity(torch.empty(4, 8, device="meta"))


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_views_overlap_is_exact_for_interleaved_views(device: str) -> None:
    base = torch.empty(4, 8, device=device)
    assert views_overlap(base[:, ::2], base[:, 1::2]) is False     # even / odd columns
    assert views_overlap(base[:, :4], base[:, 4:]) is False        # left / right halves
    assert views_overlap(base[:, :4], base[:, 2:6]) is True        # columns 2 and 3
    assert views_overlap(base[:2], base[2:]) is False              # ranges apart
