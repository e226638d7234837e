"""The aten registry: duplicates refused, fused kernels emit several nodes, registered
decompositions are tried before an op is uncounted, and users can add their own ops."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import netanatomy
from netanatomy.errors import RuleError
from netanatomy.frontends.torch.aten import registry
from netanatomy.frontends.torch.aten.registry import Emit, aten, find_adapter, register_adapter


@pytest.fixture
def scratch_adapters(monkeypatch: pytest.MonkeyPatch) -> dict:
    """A copy of the registry, so registering in a test leaves the real one untouched."""
    copy = dict(registry._ADAPTERS)
    monkeypatch.setattr(registry, "_ADAPTERS", copy)
    return copy


def test_duplicate_adapter_is_refused(scratch_adapters: dict) -> None:
    original = find_adapter(torch.ops.aten.mm.default)
    with pytest.raises(RuleError, match="aten.mm"):
        register_adapter("aten.mm", lambda call: Emit("matmul", ()))
    assert find_adapter(torch.ops.aten.mm.default) is original


def test_refused_registration_changes_nothing(scratch_adapters: dict) -> None:
    with pytest.raises(RuleError):
        aten("test_fresh_op", "mm")(lambda call: Emit("matmul", ()))
    assert "aten.test_fresh_op" not in scratch_adapters


def test_same_name_twice_in_one_call_is_refused(scratch_adapters: dict) -> None:
    with pytest.raises(RuleError):
        register_adapter(["aten.test_twice", "aten.test_twice"], lambda call: Emit("view", ()))


def test_in_place_ops_share_their_base_adapter() -> None:
    assert find_adapter(torch.ops.aten.relu_.default) is find_adapter(torch.ops.aten.relu.default)


def test_every_registered_key_names_a_real_op() -> None:
    for key in registry.adapters():
        namespace, name, *overload = key.split(".")
        if namespace != "aten" and not hasattr(getattr(torch.ops, namespace), name):
            continue        # a library's own op (quantized, transformers), defined on import
        packet = getattr(getattr(torch.ops, namespace), name)     # AttributeError on a typo
        if overload:
            assert overload[0] in packet.overloads(), key


class Outer(nn.Module):
    def forward(self, c: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.addr(c, a, b)


def test_an_op_without_adapter_runs_as_its_decomposition(scratch_adapters: dict) -> None:
    scratch_adapters.pop("aten.addr", None)
    scratch_adapters.pop("aten.outer", None)
    report = netanatomy.analyze(Outer(), [(4, 5), (4,), (5,)])
    ops = [node.op for node in report.graph.nodes]
    assert "aten.addr.default" not in ops                          # its parts ran instead
    assert any("aten.addr.default ran as its decomposition" in n for n in report.capture.notes)


def test_an_op_without_adapter_or_decomposition_is_uncounted_by_name(
        scratch_adapters: dict) -> None:
    scratch_adapters.pop("aten.mm")
    report = netanatomy.analyze(nn.Linear(3, 4, bias=False), (2, 3))
    assert [(u.op, u.count) for u in report.uncounted] == [("aten.mm.default", 1)]
    assert report.totals.status != "exact"


def test_a_fused_kernel_emits_several_nodes(scratch_adapters: dict) -> None:
    def two_halves(call):  # mm as two products of half the columns each, then a concat
        a, b = call.info(call.args[0]), call.info(call.args[1])
        half = b.shape[1] // 2
        left_w, right_w = (call.virtual((b.shape[0], half), like=b) for _ in range(2))
        left, right = (call.virtual((a.shape[0], half), like=a) for _ in range(2))
        return [Emit("matmul", (a, left_w), outputs=(left,)),
                Emit("matmul", (a, right_w), outputs=(right,)),
                Emit("concat", (left, right), {"dim": 1})]

    scratch_adapters["aten.mm"] = two_halves
    report = netanatomy.analyze(nn.Linear(3, 4, bias=False), (2, 3))
    assert [n.kind for n in report.graph.nodes].count("matmul") == 2
    assert report.totals.macs == 2 * 3 * 4                        # rows · in · out, unchanged


def test_a_meta_check_runs_before_the_meta_kernel_and_is_registered_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_META_CHECKS", dict(registry._META_CHECKS))
    with pytest.raises(RuleError, match="aten.mm"):
        registry.meta_check("mm")(lambda args: None)
    assert registry.meta_check_for(torch.ops.aten.mm.default) is not None
    assert registry.meta_check_for(torch.ops.aten.relu.default) is None
