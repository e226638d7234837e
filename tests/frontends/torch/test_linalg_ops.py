"""Linear-algebra and lookup ops real models run: each analyses exact (nothing uncounted) on
meta and on CPU, with MACs and elementwise FLOPs equal to a hand formula or to an
independent route through ops netanatomy already counts."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

import netanatomy

DEVICES = ("meta", "cpu")


class Call(nn.Module):
    """A module that applies one function to its inputs."""

    def __init__(self, function: Callable[..., Any]) -> None:
        super().__init__()
        self.function = function

    def forward(self, *args: Any) -> Any:
        return self.function(*args)


def exact(model: nn.Module, inputs: Any, device: str) -> netanatomy.Report:
    """The report of ``model`` on ``inputs`` (shapes or example tensors), asserted exact."""
    if isinstance(inputs, list) and all(isinstance(i, torch.Tensor) for i in inputs):
        report = netanatomy.analyze(model, example_inputs=tuple(inputs), device=device)
    else:
        report = netanatomy.analyze(model, inputs, device=device)
    assert not report.uncounted, report.uncounted
    assert report.totals.status == "exact"
    return report


def costs(report: netanatomy.Report) -> tuple[Any, Any]:
    return report.totals.macs, report.totals.elementwise_flops


# --- addbmm, addr, outer -----------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_addbmm_is_one_product_over_batch_and_inner(device) -> None:
    b, n, m, p = 2, 3, 4, 5
    model = Call(lambda c, x, y: torch.addbmm(c, x, y, beta=0.5, alpha=2.0))
    report = exact(model, [(n, p), (b, n, m), (b, m, p)], device)
    assert costs(report) == (b * n * m * p, n * p)     # Σ_b A_b·B_b; β·C added once per output
    # the same product written as one addmm over the concatenated inner axis
    same = Call(lambda c, x, y: torch.addmm(c, x.permute(1, 0, 2).reshape(n, b * m),
                                            y.reshape(b * m, p)))
    assert costs(exact(same, [(n, p), (b, n, m), (b, m, p)], device)) == costs(report)


def test_addbmm_numerics_match_its_definition() -> None:
    c, x, y = torch.randn(3, 5), torch.randn(2, 3, 4), torch.randn(2, 4, 5)
    expected = c + x[0] @ y[0] + x[1] @ y[1]
    torch.testing.assert_close(torch.addbmm(c, x, y), expected)
    torch.testing.assert_close(torch.addmm(c, x.permute(1, 0, 2).reshape(3, 8),
                                           y.reshape(8, 5)), expected)


@pytest.mark.parametrize("device", DEVICES)
def test_addr_counts_as_the_addmm_it_equals(device) -> None:
    n, m = 3, 5
    report = exact(Call(torch.addr), [(n, m), (n,), (m,)], device)
    assert costs(report) == (n * m * 1, n * m)        # contracted size 1; β·C per output
    as_addmm = Call(lambda c, x, y: torch.addmm(c, x[:, None], y[None, :]))
    assert costs(exact(as_addmm, [(n, m), (n,), (m,)], device)) == costs(report)


@pytest.mark.parametrize("device", DEVICES)
def test_outer_reaches_aten_as_a_multiply(device) -> None:
    report = exact(Call(torch.outer), [(3,), (5,)], device)
    assert costs(report) == (0, 3 * 5)                # view + mul: n·m elementwise multiplies
    assert "aten.outer" not in {node.op.rsplit(".", 1)[0] for node in report.graph.nodes}


# --- bilinear ----------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("batch, bias", [((7,), True), ((2, 3), False)])
def test_nn_bilinear(device, batch, bias) -> None:
    layer = nn.Bilinear(3, 4, 6, bias=bias)
    report = exact(layer, [(*batch, 3), (*batch, 4)], device)
    rows = math.prod(batch)
    assert report.totals.macs == rows * 6 * (3 * 4 + 4)         # x1ᵀ·A_k, then · x2
    assert report.totals.elementwise_flops == (rows * 6 if bias else 0)
    assert report.totals.params == sum(p.numel() for p in layer.parameters())
    assert "bilinear" in {node.kind for node in report.graph.nodes}


def test_trilinear_in_another_pattern_is_uncounted_not_zero() -> None:
    model = Call(lambda a, b, c: torch.ops.aten._trilinear(a, b, c, [1], [0], [], [2]))
    report = netanatomy.analyze(model, [(2, 3), (4, 3), (2, 4, 3)])
    assert [u.op for u in report.uncounted] == ["aten._trilinear.default"]


# --- cdist -------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("p, rows, mode, macs_per_pair, flops_per_pair", [
    # direct kernel, P = 5, R = 4, M = 3: per pair M components + 1 root
    (2.0, (5, 4), None, 3, 3 + 1),                 # (x−y)² MACs; subtracts + sqrt
    (1.0, (5, 4), None, 0, 3 * 3),                 # sub, abs, add
    (0.0, (5, 4), None, 0, 3 * 3),                 # sub, ≠ 0, add
    (math.inf, (5, 4), None, 0, 3 * 3),            # sub, abs, max
    (3.0, (5, 4), None, 0, 4 * 3 + 1),             # sub, abs, pow, add; ^(1/p)
    (2.0, (5, 4), "donot_use_mm_for_euclid_dist", 3, 3 + 1),
])
def test_cdist_direct(device, p, rows, mode, macs_per_pair, flops_per_pair) -> None:
    model = Call(lambda a, b: torch.cdist(a, b, p=p, compute_mode=mode or
                                          "use_mm_for_euclid_dist_if_necessary"))
    report = exact(model, [(2, rows[0], 3), (2, rows[1], 3)], device)
    pairs = 2 * rows[0] * rows[1]
    assert costs(report) == (pairs * macs_per_pair, pairs * flops_per_pair)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("rows, mode", [((30, 40), None), ((5, 4), "use_mm_for_euclid_dist")])
def test_cdist_matrix_product_route(device, rows, mode) -> None:
    b, (p, r), m = 2, rows, 3
    model = Call(lambda x, y: torch.cdist(x, y, compute_mode=mode or
                                          "use_mm_for_euclid_dist_if_necessary"))
    report = exact(model, [(b, p, m), (b, r, m)], device)
    # x·y products; ‖x‖² (square, add) and −2·x per x element, ‖y‖² per y element;
    # per pair the two norm adds, clamp, sqrt
    assert costs(report) == (b * p * r * m, 3 * b * p * m + 2 * b * r * m + 4 * b * p * r)


def test_cdist_with_inputs_that_require_grad() -> None:
    x = torch.randn(2, 5, 3, requires_grad=True)
    report = exact(Call(torch.cdist), [x, torch.randn(2, 4, 3)], "cpu")
    assert report.totals.macs == 2 * 5 * 4 * 3


# --- embedding bag -----------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_2d_input(device, mode) -> None:
    layer = nn.EmbeddingBag(10, 3, mode=mode)
    report = exact(layer, ["2x4:int64"], device)
    gathered = 2 * 4 * 3                                   # 8 rows of 3 gathered
    assert report.totals.macs == 0
    assert report.totals.elementwise_flops == gathered + (2 * 3 if mode == "mean" else 0)
    assert report.totals.params == 10 * 3
    assert "embedding_bag" in {node.kind for node in report.graph.nodes}


@pytest.mark.parametrize("device", DEVICES)
def test_embedding_bag_offsets_and_per_sample_weights(device) -> None:
    layer = nn.EmbeddingBag(10, 3, mode="sum")
    indices, offsets = torch.tensor([1, 2, 4, 5, 4, 3, 2, 9]), torch.tensor([0, 4, 6])
    weights = torch.randn(8)
    report = exact(layer, [indices, offsets, weights], device)
    assert report.totals.elementwise_flops == 8 * 3 + 8 * 3    # adds + weight multiplies
    bag = next(node for node in report.graph.nodes if node.kind == "embedding_bag")
    assert bag.outputs[0].shape == (3, 3)


# --- scatter-add family ------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("function, inputs, added", [
    (lambda x, i, s: x.index_add(0, i, s), [(5, 3), "4:int64", (4, 3)], 4 * 3),
    (lambda x, i, s: x.clone().index_add_(1, i, s, alpha=2), [(5, 3), "2:int64", (5, 2)], 5 * 2),
    (lambda x, i, s: x.scatter_add(0, i, s), [(5, 3), "2x3:int64", (4, 3)], 2 * 3),
    (lambda x, i, s: x.clone().scatter_add_(0, i, s), [(5, 3), "2x3:int64", (2, 3)], 2 * 3),
    (lambda x, i, s: x.scatter(0, i, s, reduce="add"), [(5, 3), "2x3:int64", (2, 3)], 2 * 3),
    (lambda x, i, s: x.scatter_reduce(0, i, s, "amax"), [(5, 3), "2x3:int64", (2, 3)], 2 * 3),
    (lambda x, i, s: x.scatter_reduce(0, i, s, "mean"), [(5, 3), "2x3:int64", (2, 3)],
     2 * 3 + 5 * 3),                                          # + a divide per output
])
def test_scatter_add_family(device, function, inputs, added) -> None:
    report = exact(Call(function), inputs, device)
    assert costs(report) == (0, added)


@pytest.mark.parametrize("device", DEVICES)
def test_histc(device) -> None:
    fixed = exact(Call(lambda x: torch.histc(x, bins=10, min=-1, max=1)), [(100,)], device)
    assert costs(fixed) == (0, 100)                        # one bin add per element
    from_data = exact(Call(lambda x: torch.histc(x, bins=10)), [(100,)], device)
    assert costs(from_data) == (0, 100 + 100)              # + the data's min and max


def test_moe_style_routing_counts_its_accumulation() -> None:
    # Mixtral-style: expert outputs added back into the token rows with index_add_
    def route(hidden: torch.Tensor, rows: torch.Tensor, update: torch.Tensor) -> torch.Tensor:
        out = torch.zeros_like(hidden)
        return out.index_add_(0, rows, update.to(hidden.dtype))

    report = exact(Call(route), [(6, 8), "4:int64", (4, 8)], "meta")
    assert report.totals.elementwise_flops == 4 * 8


# --- weight norm -------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dim", [0, 2])
def test_weight_norm_interface(device, dim) -> None:
    conv = nn.utils.parametrizations.weight_norm(nn.Conv1d(8, 8, 5, groups=2, padding=2),
                                                 name="weight", dim=dim)
    report = exact(conv, [(1, 8, 20)], device)
    v = 8 * 4 * 5                                          # weight (8, 8/2, 5)
    g = 8 if dim == 0 else 5                               # one scale per slice along dim
    conv_macs = 8 * 20 * 4 * 5                             # out positions · in/group · k
    # ‖v‖ over the other axes (1 per element), g / ‖v‖ (1 per g), v · (g/‖v‖) (1 per v);
    # + the conv's bias add per output element
    assert costs(report) == (conv_macs, v + g + v + 8 * 20)
    norm = next(node for node in report.graph.nodes if node.kind == "reduction")
    kept = tuple(axis for axis in range(3) if axis != dim)
    assert norm.attrs["dims"] == kept and norm.attrs["keepdim"] is True
    assert not any("weight_norm" in note for note in report.capture.notes)


# --- speech models with weight-normed positional convs ------------------------------------

TINY_SPEECH = dict(hidden_size=64, num_hidden_layers=1, num_attention_heads=4,
                   intermediate_size=128, conv_dim=(32, 32), conv_stride=(5, 2),
                   conv_kernel=(10, 3), num_conv_pos_embeddings=16)


@pytest.mark.parametrize("name", ["Wav2Vec2", "Hubert", "WavLM"])
def test_speech_models_analyse_exact(name) -> None:
    transformers = pytest.importorskip("transformers")
    config = getattr(transformers, f"{name}Config")(**TINY_SPEECH)
    model = getattr(transformers, f"{name}Model")(config).eval()
    reports = [exact(model, [(1, 4000)], device) for device in DEVICES]
    assert reports[0].totals.macs == reports[1].totals.macs
    for report in reports:
        assert not any("ran as its decomposition" in note for note in report.capture.notes)
        norms = [node for node in report.graph.nodes
                 if node.op.startswith("aten._weight_norm_interface")]
        # pos conv weight (64, 64/16 groups, 16) normed over axes 0, 1 (dim = 2): g (1, 1, 16)
        v, g = 64 * 4 * 16, 16
        assert sum(node_flops(node) for node in norms) == v + g + v


def node_flops(node: Any) -> Any:
    from netanatomy.analysis.cost import node_cost

    return node_cost(node).elementwise_flops


# --- receptive fields through the new kinds ----------------------------------------------

def test_fields_through_distance_and_index_add() -> None:
    # (N, C, L) inputs carry positions along L: cdist sums over its last axis (global);
    # index_add along L puts source positions where the index says (global); along C the
    # positions of L pass unchanged (a 1-position field)
    cdist = netanatomy.analyze(Call(torch.cdist), [(1, 5, 3), (1, 4, 3)])
    assert cdist.receptive_field.output.is_global
    along_l = Call(lambda x, i, s: x.index_add(2, i, s))
    assert netanatomy.analyze(along_l, [(1, 2, 8), "3:int64", (1, 2, 3)]
                              ).receptive_field.output.is_global
    along_c = Call(lambda x, i, s: x.index_add(1, i, s))
    field = netanatomy.analyze(along_c, [(1, 2, 8), "3:int64", (1, 3, 8)]).receptive_field.output
    assert (field.is_global, field.size, field.stride) == (False, (1,), (1,))
