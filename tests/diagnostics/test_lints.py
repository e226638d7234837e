"""Static lints NA001 (redundant bias), NA002 (small batch), NA004 (dropout before batch
norm) and NA005 (receptive field vs object size), on small models whose answer is known by
hand. NA003/NA008 are in test_init_check.py, NA006/NA007 in test_patterns.py."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import netanatomy
from netanatomy.analysis.findings import Lint


def lints(model: nn.Module, shape: str, code: str, **options: int) -> list[Lint]:
    torch.manual_seed(0)
    return [lint for lint in netanatomy.lint(model, shape, **options) if lint.code == code]


# --- NA001 -------------------------------------------------------------------------------

def test_conv_bias_before_batch_norm() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
    (lint,) = lints(model, "16x3x8x8", "NA001")
    assert lint.path == "0" and lint.wasted_params == 8                  # C_out biases
    assert "'0.bias'" in lint.message and "bias=False" in lint.fix


def test_linear_bias_before_batch_norm_1d() -> None:
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU())
    (lint,) = lints(model, "16x4", "NA001")
    assert lint.path == "0" and lint.wasted_params == 6


def test_conv_bias_before_instance_norm() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.InstanceNorm2d(8, affine=True), nn.ReLU())
    (lint,) = lints(model, "16x3x8x8", "NA001")
    assert lint.wasted_params == 8 and "instance norm" in lint.message


def test_conv_bias_before_group_norm_wastes_one_value_per_group() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.GroupNorm(2, 8), nn.ReLU())
    (lint,) = lints(model, "16x3x8x8", "NA001")
    # GroupNorm removes each group's mean: of the 8 biases, 2 directions (one per group)
    assert lint.wasted_params == 2 and "2 groups" in lint.message


def test_bias_through_max_pool_and_view_still_redundant() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.MaxPool2d(2), nn.BatchNorm2d(8))
    (lint,) = lints(model, "16x3x8x8", "NA001")
    assert lint.wasted_params == 8


def test_no_bias_no_lint() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU())
    assert lints(model, "16x3x8x8", "NA001") == []


class SharedOutput(nn.Module):
    """The conv's output feeds the batch norm and, directly, a 1×1 conv: on that second
    path the bias is not removed."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.side = nn.Conv2d(8, 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.bn(y) + self.side(y)


def test_no_lint_when_the_output_also_feeds_another_branch() -> None:
    found = lints(SharedOutput(), "16x3x8x8", "NA001")
    assert [lint.path for lint in found] == []


def test_no_lint_before_layer_norm() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.LayerNorm([8, 6, 6]), nn.ReLU())
    assert lints(model, "16x3x8x8", "NA001") == []


def test_no_lint_when_an_activation_comes_first() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.BatchNorm2d(8))
    assert lints(model, "16x3x8x8", "NA001") == []


# --- NA002 -------------------------------------------------------------------------------

def test_batch_of_two_is_a_warning() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU())
    (lint,) = lints(model, "2x3x8x8", "NA002")
    assert lint.path == "1" and lint.severity == "warning"
    assert f"({2 * 6 * 6} values per channel)" in lint.message       # N·H'·W'


def test_fully_connected_batch_norm_at_batch_one_is_an_error() -> None:
    model = nn.Sequential(nn.Linear(4, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU())
    # a training-mode BatchNorm1d cannot run on one sample, so the graph is captured at
    # batch 4 and the training batch is given apart: 1 sample x 1 position per channel
    (lint,) = lints(model, "4x4", "NA002", batch_size=1)
    assert lint.severity == "error" and "single value per channel" in lint.message


def test_conv_batch_norm_at_batch_one_is_only_a_warning() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8))
    (lint,) = lints(model, "4x3x8x8", "NA002", batch_size=1)
    assert lint.severity == "warning"
    assert f"from 1 sample ({1 * 6 * 6} values per channel)" in lint.message


def test_batch_of_32_is_fine() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU())
    assert lints(model, "32x3x8x8", "NA002") == []
    assert lints(model, "2x3x8x8", "NA002", batch_size=32) == []


@pytest.mark.parametrize(("batch", "fires"), [(7, True), (8, False), (9, False)])
def test_na002_threshold_is_fewer_than_8_samples(batch: int, fires: bool) -> None:
    # the documented threshold: "fewer than 8 samples" (DESIGN / the lint's docstring)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU())
    found = lints(model, f"{batch}x3x8x8", "NA002")
    assert [lint.severity for lint in found] == (["warning"] if fires else [])
    given = lints(model, "2x3x8x8", "NA002", batch_size=batch)   # the training batch apart
    assert [lint.severity for lint in given] == (["warning"] if fires else [])


@pytest.mark.parametrize(("batch", "severity"), [(1, "error"), (2, "warning")])
def test_na002_single_value_per_channel_is_the_error_threshold(batch: int,
                                                               severity: str) -> None:
    model = nn.Sequential(nn.Linear(4, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU())
    (lint,) = lints(model, "4x4", "NA002", batch_size=batch)      # batch x 1 position
    assert lint.severity == severity


def test_instance_norm_does_not_depend_on_the_batch() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.InstanceNorm2d(8), nn.ReLU())
    assert lints(model, "2x3x8x8", "NA002") == []


class FunctionalInstanceNorm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.instance_norm(self.conv(x))


def test_functional_instance_norm_is_not_a_batch_norm() -> None:
    assert lints(FunctionalInstanceNorm(), "2x3x8x8", "NA002") == []


# --- NA004 -------------------------------------------------------------------------------

def test_dropout_then_conv_then_batch_norm() -> None:
    model = nn.Sequential(nn.Dropout(0.2), nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8),
                          nn.ReLU())
    (lint,) = lints(model, "16x3x8x8", "NA004")
    assert lint.path == "0" and "'2'" in lint.message


def test_dropout2d_directly_before_batch_norm() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.Dropout2d(0.2),
                          nn.BatchNorm2d(8))
    assert [lint.path for lint in lints(model, "16x3x8x8", "NA004")] == ["1"]


def test_batch_norm_then_dropout_then_fc_is_fine() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Flatten(), nn.Dropout(0.5), nn.Linear(8 * 6 * 6, 2))
    assert lints(model, "16x3x8x8", "NA004") == []


# --- NA005 -------------------------------------------------------------------------------

def strided_stack() -> nn.Module:
    """Three 3×3 convs of stride 2, then global pooling. Fields (r += (k−1)·jump): 3, 7,
    15 px; effective strides 2, 4, 8."""
    return nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(),
                         nn.Conv2d(4, 4, 3, stride=2), nn.ReLU(),
                         nn.Conv2d(4, 4, 3, stride=2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 2))


def test_objects_larger_than_the_largest_local_field() -> None:
    found = lints(strided_stack(), "2x3x64x64", "NA005", object_size=16)
    assert [lint.path for lint in found] == ["4"]
    assert "15 px" in found[0].message and "16 px" in found[0].message


def test_objects_the_size_of_the_field_are_fine() -> None:
    assert lints(strided_stack(), "2x3x64x64", "NA005", object_size=15) == []


def test_stride_larger_than_the_objects() -> None:
    (lint,) = lints(strided_stack(), "2x3x64x64", "NA005", object_size=6)
    assert "effective stride 8 px" in lint.message                      # 2·2·2


def test_no_object_size_no_na005() -> None:
    assert lints(strided_stack(), "2x3x64x64", "NA005") == []


def test_lints_are_sorted_by_code_then_path() -> None:
    model = nn.Sequential(nn.Dropout(0.2), nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8))
    found = netanatomy.lint(model, "2x3x12x12")
    keys = [(lint.code, lint.path) for lint in found]
    assert keys == sorted(keys)
    assert {"NA001", "NA002", "NA004"} <= {code for code, _ in keys}


class SharedConv(nn.Module):
    """One conv applied twice: once into a batch norm, once straight to the output, where
    its bias does get a gradient."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.bn(self.conv(x)))


def test_shared_layer_needs_every_call_normalised() -> None:
    assert lints(SharedConv(), "16x3x8x8", "NA001") == []


class IntoBatchAndGroupNorm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        self.gn = nn.GroupNorm(4, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.bn(y) + self.gn(y)


def test_batch_and_group_norm_together_waste_only_the_group_means() -> None:
    (lint,) = lints(IntoBatchAndGroupNorm(), "16x3x8x8", "NA001")
    assert lint.wasted_params == 4 and "'gn'" in lint.message


def test_dataflow_reads_functions_from_attrs_on_specs_and_torch() -> None:
    """Both front-ends name the function in attrs['fn']: no op-name parsing."""
    from netanatomy.analysis.dataflow import DataFlow, activation_family, activation_name
    from netanatomy.frontends.spec import load_spec, spec_graph

    text = "input: [3, 8, 8]\nlayers:\n  - conv: {out: 4, k: 3}\n  - leakyrelu: {}\n"
    graph = spec_graph(load_spec(text))
    conv = next(node for node in graph.nodes if node.kind == "conv")
    met = DataFlow(graph).meets(conv)
    assert met.kind == "activation" and met.node is not None
    assert (activation_name(met.node), activation_family(met.node)) == ("leaky_relu", "relu")
    torch_graph = netanatomy.analyze(nn.Sequential(nn.Conv2d(3, 4, 3), nn.LeakyReLU()),
                                     (1, 3, 8, 8)).graph
    torch_conv = next(node for node in torch_graph.nodes if node.kind == "conv")
    torch_met = DataFlow(torch_graph).meets(torch_conv).node
    assert torch_met is not None and activation_name(torch_met) == "leaky_relu"
