"""Initialisation check: fans against torch's own function and the hand formula, the scheme
std formulas, and which layers get flagged (activation found by data flow on the IR)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import netanatomy
from netanatomy.analysis.dataflow import DataFlow
from netanatomy.analysis.findings import InitCheck
from netanatomy.diagnostics.init_check import check_weight, closest_scheme, fans, init_checks


@pytest.mark.parametrize("layer", [
    nn.Linear(12, 5),
    nn.Conv2d(6, 8, 3),
    nn.Conv2d(6, 8, (3, 5), groups=2),
    nn.Conv2d(8, 8, 3, groups=8),                     # depthwise
    nn.Conv1d(4, 2, 7),
    nn.Conv3d(2, 4, 3),
    nn.ConvTranspose2d(6, 4, 3, groups=2),
], ids=lambda layer: repr(layer))
def test_fans_are_torchs(layer: nn.Module) -> None:
    weight = layer.weight
    expected = torch.nn.init._calculate_fan_in_and_fan_out(weight)
    assert fans(tuple(weight.shape)) == expected


def test_conv_fan_in_is_c_in_over_groups_times_kernel_area() -> None:
    conv = nn.Conv2d(12, 16, 5, groups=4)
    assert fans(tuple(conv.weight.shape)) == (12 // 4 * 5 * 5, 16 * 5 * 5)


def captured_checks(model: nn.Module, shape: str) -> dict[str, InitCheck]:
    report = netanatomy.analyze(model, shape, training=True)
    checks = init_checks(DataFlow(report.graph), dict(model.named_parameters()))
    return {check.param: check for check in checks}


def test_scheme_stds() -> None:
    torch.manual_seed(0)
    weight = torch.randn(32, 8, 3, 3)
    check = check_weight("w", weight, "relu", "relu", normalised=False)
    fan_in, fan_out = 8 * 3 * 3, 32 * 3 * 3
    assert (check.fan_in, check.fan_out) == (fan_in, fan_out)
    assert check.he_std == pytest.approx(math.sqrt(2 / fan_in))
    assert check.xavier_std == pytest.approx(math.sqrt(2 / (fan_in + fan_out)))
    assert check.std == pytest.approx(float(weight.double().std()))
    assert check.ratio == pytest.approx(check.std / check.he_std)


def test_closest_scheme_by_log_ratio() -> None:
    stds = {"he": 0.4, "xavier": 0.1, "torch-default": 0.2 / math.sqrt(3)}
    assert closest_scheme(0.35, stds) == "he"
    assert closest_scheme(0.09, stds) == "xavier"
    assert closest_scheme(0.2 / math.sqrt(3) * 1.04, stds) == "torch-default"   # within 5 %
    assert closest_scheme(0.21, stds) == "he"        # above √(0.4·0.1) = 0.2, the midpoint


class WideReluNet(nn.Module):
    """16 → 256 → ReLU → 256 → ReLU → 10: the first layer's fan_out is 16x its fan_in, so
    Xavier's std is √(16/272) ≈ 0.24 of He's (outside the 2x tolerance)."""

    def __init__(self, first: str) -> None:
        super().__init__()
        self.fc1 = nn.Linear(16, 256)
        self.fc2 = nn.Linear(256, 256)
        self.out = nn.Linear(256, 10)
        torch.manual_seed(0)
        if first == "kaiming":
            nn.init.kaiming_normal_(self.fc1.weight, nonlinearity="relu")
        elif first == "xavier":
            nn.init.xavier_normal_(self.fc1.weight)
        nn.init.kaiming_normal_(self.fc2.weight, nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(F.relu(self.fc2(F.relu(self.fc1(x)))))      # functional ReLUs


def test_kaiming_before_relu_is_not_flagged() -> None:
    check = captured_checks(WideReluNet("kaiming"), "4x16")["fc1.weight"]
    assert check.activation == "relu" and check.expected == "he" and check.closest == "he"
    assert not check.flagged


def test_functional_relu_is_found_by_data_flow() -> None:
    checks = captured_checks(WideReluNet("kaiming"), "4x16")
    assert checks["fc1.weight"].activation == "relu"
    assert checks["fc2.weight"].activation == "relu"
    assert checks["out.weight"].activation is None


def test_xavier_before_relu_gets_na003() -> None:
    model = WideReluNet("xavier")
    check = captured_checks(model, "4x16")["fc1.weight"]
    assert check.flagged and check.closest == "xavier" and check.expected == "he"
    assert check.ratio == pytest.approx(math.sqrt(16 / (16 + 256)), rel=0.15)  # Xavier/He
    lints = [lint for lint in netanatomy.lint(model, "4x16") if lint.path == "fc1"]
    assert [lint.code for lint in lints] == ["NA003"]
    assert "kaiming_normal_" in lints[0].fix


def test_torch_default_before_relu_gets_na008() -> None:
    model = WideReluNet("default")
    check = captured_checks(model, "4x16")["fc1.weight"]
    # kaiming_uniform(a=√5) = U(±1/√fan_in): std 1/√(3·16), i.e. 1/√6 ≈ 0.41 of He's
    assert check.std == pytest.approx(1 / math.sqrt(3 * 16), rel=0.1)
    assert check.ratio == pytest.approx(1 / math.sqrt(6), rel=0.1)
    assert check.closest == "torch-default" and check.flagged
    lints = [lint for lint in netanatomy.lint(model, "4x16") if lint.path == "fc1"]
    assert [lint.code for lint in lints] == ["NA008"]
    assert "torch's default" in lints[0].message


def test_output_layer_is_not_flagged() -> None:
    check = captured_checks(WideReluNet("default"), "4x16")["out.weight"]
    assert check.ratio < 0.5 and not check.flagged                  # off, but the output


def test_layer_followed_by_batch_norm_is_never_flagged() -> None:
    model = nn.Sequential(nn.Linear(16, 256), nn.BatchNorm1d(256), nn.ReLU(),
                          nn.Linear(256, 2))
    torch.manual_seed(0)
    with torch.no_grad():
        model[0].weight.normal_(0, 10.0)                         # 25x He, deliberately
    check = captured_checks(model, "8x16")["0.weight"]
    assert check.normalised and not check.flagged
    assert not [lint for lint in netanatomy.lint(model, "8x16") if lint.path == "0"
                and lint.code in ("NA003", "NA008")]


def test_conv_before_tanh_expects_xavier() -> None:
    model = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.Tanh(), nn.Conv2d(32, 1, 1))
    torch.manual_seed(0)
    nn.init.kaiming_normal_(model[0].weight, nonlinearity="relu")
    check = captured_checks(model, "2x3x8x8")["0.weight"]
    fan_in, fan_out = 3 * 3 * 3, 32 * 3 * 3          # He/Xavier = √(315/27) ≈ 3.4 > 2
    assert check.activation == "tanh" and check.expected == "xavier"
    assert check.ratio == pytest.approx(math.sqrt(2 / fan_in)
                                        / math.sqrt(2 / (fan_in + fan_out)), rel=0.15)
    assert check.flagged and check.closest == "he"


def test_meta_parameters_are_skipped() -> None:
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    assert captured_checks(model, "2x4") == {}


class MeanPooledHead(nn.Module):
    """conv → ReLU → conv → x.mean((2, 3)) → fc: the mean is linear, so the second conv
    feeds the fc (Xavier expected), not the model's output."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3)
        self.conv2 = nn.Conv2d(8, 8, 3)
        self.fc = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv2(F.relu(self.conv1(x))).mean((2, 3)))


def test_spatial_mean_passes_to_the_next_layer() -> None:
    model = MeanPooledHead()
    torch.manual_seed(0)
    with torch.no_grad():
        model.conv2.weight.normal_(0, 10 * math.sqrt(2 / (8 * 9 + 8 * 9)))   # 10x Xavier
    checks = captured_checks(model, "2x3x8x8")
    assert checks["conv1.weight"].activation == "relu"
    conv2 = checks["conv2.weight"]
    assert conv2.activation is None and conv2.expected == "xavier"
    assert conv2.flagged                   # not taken for the output layer (which is exempt)
    assert not checks["fc.weight"].flagged


class MaskTimesWeight(nn.Module):
    """A masked linear layer written ``mask * weight`` (the mask a buffer)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(256, 16) * math.sqrt(2 / 16))  # He
        self.register_buffer("mask", torch.ones(256, 16))
        self.out = nn.Linear(256, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(F.relu(F.linear(x, self.mask * self.weight)))


def test_the_weight_of_a_masked_product_is_the_parameter_not_the_mask() -> None:
    torch.manual_seed(0)
    checks = captured_checks(MaskTimesWeight(), "4x16")
    assert "weight" in checks and "mask" not in checks
    assert checks["weight"].activation == "relu" and not checks["weight"].flagged
