"""Folding node costs into layers: subtree sums, totals, statuses, by-operator view."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import netanatomy
from netanatomy.analysis.summary import ancestors
from netanatomy.report import UncountedOp
from tests.opaque_ops import OP_NAME, HalfKnown, Mystery


def test_ancestors() -> None:
    assert ancestors("") == [""]
    assert ancestors("a.b.c") == ["", "a", "a.b", "a.b.c"]


def test_parent_rows_are_sums_of_children() -> None:
    model = nn.Sequential(nn.Sequential(nn.Linear(4, 6), nn.ReLU()), nn.Linear(6, 2))
    report = netanatomy.analyze(model, (3, 4))
    parent, first, second = report.layer("0"), report.layer("0.0"), report.layer("1")
    assert parent.macs == first.macs + report.layer("0.1").macs == 3 * 4 * 6
    assert report.layer("").macs == report.totals.macs == parent.macs + second.macs
    assert parent.params_total == first.params == 4 * 6 + 6
    assert parent.params == 0                                  # a container owns nothing
    assert report.layer("").activation_bytes == report.totals.activation_bytes


@settings(max_examples=20, deadline=None)
@given(widths=st.lists(st.integers(1, 12), min_size=2, max_size=6),
       batch=st.integers(1, 4), bias=st.booleans())
def test_random_mlps_match_hand_formula(widths: list[int], batch: int, bias: bool) -> None:
    layers = [nn.Linear(a, b, bias=bias) for a, b in zip(widths, widths[1:])]
    report = netanatomy.analyze(nn.Sequential(*layers), (batch, widths[0]))
    pairs = list(zip(widths, widths[1:]))
    assert report.totals.macs == sum(batch * a * b for a, b in pairs)
    assert report.totals.params == sum(a * b + (b if bias else 0) for a, b in pairs)
    assert report.totals.elementwise_flops == (sum(batch * b for _, b in pairs) if bias else 0)


def test_by_operator_folds_every_node() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU())
    report = netanatomy.analyze(model, (2, 4))
    table = report.by_operator()
    assert table["aten.addmm.default"]["count"] == 2
    assert table["aten.addmm.default"]["macs"] == 2 * (2 * 4 * 4)
    assert table["aten.relu.default"]["elementwise_flops"] == 2 * (2 * 4)
    assert sum(entry["count"] for entry in table.values()) == report.totals.ops


def test_never_called_module_has_no_shape_but_keeps_params() -> None:
    class Unused(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used = nn.Linear(2, 2)
            self.spare = nn.Linear(2, 3)

        def forward(self, x):  # type: ignore[no-untyped-def]
            return self.used(x)

    report = netanatomy.analyze(Unused(), (1, 2))
    spare = report.layer("spare")
    assert spare.calls == 0 and spare.output_shape is None
    assert spare.params == 2 * 3 + 3
    assert report.totals.params == 2 * 2 + 2 + 2 * 3 + 3


def test_unknown_stays_unknown_when_summed() -> None:
    report = netanatomy.analyze(HalfKnown(), (3, 4))
    unknown, known, idle, root = (report.layer(p) for p in ("unknown", "known", "idle", ""))
    assert (unknown.macs, unknown.flops, unknown.elementwise_flops) == (None, None, None)
    assert unknown.status == "unknown"
    assert unknown.uncounted == (UncountedOp(OP_NAME, 2),)       # its own subtree's ops
    assert known.macs == 3 * 4 * 4 and known.status == "exact" and known.uncounted == ()
    assert (idle.macs, idle.status, idle.bytes_accessed) == (0, "exact", 0)   # no ops at all
    assert root.macs == report.totals.macs == 3 * 4 * 4          # the counted part only
    assert root.status == report.totals.status == "partial"
    assert root.uncounted == report.uncounted == (UncountedOp(OP_NAME, 2),)
    assert unknown.bytes_accessed is None


def test_totals_of_an_all_uncounted_model_are_unknown() -> None:
    report = netanatomy.analyze(Mystery(), (2, 5))
    totals = report.totals
    assert (totals.macs, totals.flops, totals.elementwise_flops, totals.total_flops) == \
        (None, None, None, None)
    assert totals.status == "unknown" and totals.bytes_accessed is None
    assert totals.activation_bytes == 2 * 5 * 4                  # still known: one fp32 output
    data = json.loads(report.to_json())
    assert data["totals"]["macs"] is None and data["layers"][0]["macs"] is None
    assert data["layers"][0]["uncounted"] == [{"op": OP_NAME, "count": 1}]


def test_bytes_accessed_of_an_mlp_by_hand() -> None:
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU())
    report = netanatomy.analyze(model, (2, 8))
    # addmm reads bias (16), x (2·8) and Wᵀ (8·16), writes 2·16; relu reads and writes
    # 2·16; the transpose of W is a view (0); 4 bytes per float32 element
    linear = 4 * (16 + 2 * 8 + 8 * 16 + 2 * 16)
    relu = 4 * (2 * 16 + 2 * 16)
    assert report.layer("0").bytes_accessed == linear
    assert report.layer("1").bytes_accessed == relu
    assert report.layer("").bytes_accessed == report.totals.bytes_accessed == linear + relu
