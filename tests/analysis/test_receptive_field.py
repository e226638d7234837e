"""Receptive fields: closed forms, the gradient measurement as a second method, merges,
global fields and the JSON contract."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import netanatomy
from netanatomy.analysis.receptive_field import AxisField, FieldState, apply_windows
from netanatomy.diagnostics.measured_rf import measure_receptive_field
from netanatomy.rules import get_formula


def computed(model: nn.Module, shape: tuple[int, ...]):  # type: ignore[no-untyped-def]
    return netanatomy.analyze(model, shape).receptive_field.output


def check_against_measurement(model: nn.Module, shape: tuple[int, ...]):  # type: ignore[no-untyped-def]
    field = computed(model, shape)
    measured = measure_receptive_field(model, shape)
    assert not any(measured.clipped), "test input too small for an unclipped field"
    assert tuple(field.size) == measured.size
    return field


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_stacks_of_3x3_convs(depth: int) -> None:
    model = nn.Sequential(*[nn.Conv2d(2, 2, 3) for _ in range(depth)])
    field = check_against_measurement(model, (1, 2, 24, 24))
    assert field.size == (2 * depth + 1,) * 2                      # 3, 5, 7, 9
    assert field.stride == (1, 1)


def test_strided_chain_conv_pool_conv_pool() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.MaxPool2d(2),
                          nn.Conv2d(2, 2, 3, stride=2), nn.MaxPool2d(2))
    field = check_against_measurement(model, (1, 1, 96, 96))
    # r = 1 + (3−1)·1 + (2−1)·2 + (3−1)·4 + (2−1)·8 = 21, jump 2·2·2·2 = 16
    assert field.size == (21, 21) and field.stride == (16, 16)


@pytest.mark.parametrize("w, d", [(3, 2), (4, 3), (5, 2)])
def test_dilated_stack_closed_form(w: int, d: int) -> None:
    model = nn.Sequential(nn.Conv2d(1, 1, w - 1, dilation=d - 1), nn.Conv2d(1, 1, w, dilation=d),
                          nn.Conv2d(1, 1, w + 1, dilation=d + 1))
    field = check_against_measurement(model, (1, 1, 64, 64))
    assert field.size == ((3 * w - 3) * d + 3,) * 2


def test_axes_are_independent_and_1d_3d_work() -> None:
    factorised = nn.Sequential(nn.Conv2d(1, 2, (1, 7), padding=(0, 3)),
                               nn.Conv2d(2, 2, (5, 1), stride=(2, 1)))
    field = check_against_measurement(factorised, (1, 1, 32, 32))
    assert field.size == (5, 7) and field.stride == (2, 1) and field.padding == (0, 3)
    one_d = nn.Sequential(nn.Conv1d(1, 2, 5, stride=2, padding=2), nn.MaxPool1d(3, 2))
    assert check_against_measurement(one_d, (1, 1, 64)).size == (5 + 2 * 2,)
    three_d = nn.Sequential(nn.Conv3d(1, 2, 3), nn.Conv3d(2, 2, (1, 3, 3), stride=2))
    assert check_against_measurement(three_d, (1, 1, 12, 16, 16)).size == (3, 5, 5)


def test_effective_padding_follows_distill() -> None:
    # conv 7×7 s2 p3 then max-pool 3×3 s2 p1 (ResNet stem): P = 3 + 1·2 = 5, r = 7 + 2·2 = 11
    stem = nn.Sequential(nn.Conv2d(3, 4, 7, 2, 3), nn.MaxPool2d(3, 2, 1))
    field = check_against_measurement(stem, (1, 3, 64, 64))
    assert field.size == (11, 11) and field.stride == (4, 4) and field.padding == (5, 5)


def test_pool_ceil_mode_and_grouped_convs() -> None:
    model = nn.Sequential(nn.Conv2d(4, 4, 3, groups=4), nn.Conv2d(4, 8, 1),
                          nn.MaxPool2d(3, 2, ceil_mode=True), nn.AvgPool2d(2))
    field = check_against_measurement(model, (1, 4, 41, 41))
    assert field.size == (3 + 2 + 1 * 2, ) * 2 and field.stride == (4, 4)


def test_transposed_conv_and_upsampling_have_fractional_strides() -> None:
    up = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1),
                       nn.Conv2d(2, 2, 3))
    field = check_against_measurement(up, (1, 1, 40, 40))
    # 3 → +⌊2/2⌋·1 = 4 at jump ½ → +2·½ = 5
    assert field.size == (5, 5) and float(field.stride[0]) == 0.5
    for mode, expected in (("nearest", 4), ("bilinear", 5)):
        model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Upsample(scale_factor=2, mode=mode),
                              nn.Conv2d(2, 2, 3))
        assert check_against_measurement(model, (1, 1, 40, 40)).size == (expected, expected)


class Branches(nn.Module):
    """An even 'same' conv (pads 0 before, 1 after) summed with the identity: centres differ."""

    def __init__(self) -> None:
        super().__init__()
        self.even = nn.Conv2d(2, 2, 2, padding="same")
        self.wide = nn.Conv2d(2, 2, 5, padding=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.wide(x) + self.even(x) + x


def test_merges_take_largest_field_and_report_misalignment() -> None:
    report = netanatomy.analyze(Branches(), (1, 2, 16, 16))
    assert report.receptive_field.output.size == (5, 5)
    offsets = {float(m.offset) for m in report.receptive_field.misalignments}
    assert offsets == {0.5}                        # centre ½ px right for the even kernel
    assert measure_receptive_field(Branches(), (1, 2, 16, 16)).size == (5, 5)


class SqueezeExcite(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.gate = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        weights = torch.sigmoid(self.gate(self.pool(y).flatten(1)))
        return y * weights[:, :, None, None]


def test_global_fields_name_the_node_that_made_them() -> None:
    se = netanatomy.analyze(SqueezeExcite(), (1, 4, 8, 8))
    assert se.layer("conv").rf.size == (3, 3)
    assert se.receptive_field.output.is_global and se.receptive_field.output.by == "pool"
    assert measure_receptive_field(SqueezeExcite(), (1, 4, 8, 8)).is_global
    head = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 6 * 6, 3))
    report = netanatomy.analyze(head, (1, 1, 8, 8))
    assert report.layer("0").rf.size == (3, 3)
    assert report.layer("1").rf is None                     # positions flattened, not mixed yet
    assert report.layer("2").rf.is_global and report.layer("2").rf.by == "2"


def test_channel_mixing_keeps_the_field() -> None:
    class ChannelsLast(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.mix = nn.Linear(4, 4)            # ConvNeXt-style pointwise linear

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.mix(self.conv(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    report = netanatomy.analyze(ChannelsLast(), (1, 3, 10, 10))
    assert report.receptive_field.output.size == (3, 3)


def test_padding_and_cropping_shift_the_field() -> None:
    class Crop(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(F.pad(x, (2, 0, 0, 0))[:, :, 4:, ::2])

    field = computed(Crop(), (1, 1, 32, 32))
    # H: crop 4 → start 4, jump 1; W: pad 2 before → start −2, stride 2 → jump 2
    assert field.size == (3, 1 + 2 * 2) and field.stride == (1, 2)
    assert field.padding == (-4, 2)
    assert measure_receptive_field(Crop(), (1, 1, 32, 32)).size == field.size


def test_symbolic_composition_is_a_formula() -> None:
    sympy = pytest.importorskip("sympy")
    k, s = sympy.symbols("K S", positive=True, integer=True)
    conv = get_formula("conv", "rf")
    attrs = {"stride": (s,), "dilation": (1,), "padding": ((0, 0),)}
    windows = conv(((1, 1, 100), (1, 1, k)), ((1, 1, 10),), attrs)
    state = FieldState(axes=(2,), fields=(AxisField(1, 1, 0),))
    twice = apply_windows(apply_windows(state, windows, None), windows, None)  # type: ignore[arg-type]
    assert sympy.simplify(twice.fields[0].size - (1 + (k - 1) + (k - 1) * s)) == 0
    assert twice.fields[0].jump == s ** 2


def test_json_rf_contract() -> None:
    data = json.loads(netanatomy.analyze(SqueezeExcite(), (1, 4, 8, 8)).to_json())
    by_path = {layer["path"]: layer for layer in data["layers"]}
    assert by_path["conv"]["rf"] == {"size": [3, 3], "stride": [1, 1], "padding": [1, 1],
                                     "global": False}
    assert by_path["pool"]["rf"] == {"global": True, "by": "pool"}
    assert by_path["gate"]["rf"] == {"global": True, "by": "pool"}
    tokens = json.loads(netanatomy.analyze(nn.Embedding(5, 3), ["1x4:int64"]).to_json())
    assert tokens["layers"][0]["rf"] is None
