"""The attribution methods against maps computed by hand or by independent formulas."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import netanatomy
from netanatomy.attribution import Attribution, attribute
from netanatomy.errors import UsageError


def tiny_conv() -> nn.Module:
    """1×3×3 input → 2×2 conv (w = [[1, -1], [0, 1]], no bias) → ReLU → score
    Σ c·h with c = [[1, 1], [1, -1]]."""
    model = nn.Sequential(nn.Conv2d(1, 1, 2, bias=False), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4, 1, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[[[1.0, -1.0], [0.0, 1.0]]]]))
        model[3].weight.copy_(torch.tensor([[1.0, 1.0, 1.0, -1.0]]))
    return model


X = torch.tensor([[[[1.0, -2.0, 3.0], [0.0, 1.0, -1.0], [2.0, 0.0, 1.0]]]])
# z[i,j] = x[i,j] − x[i,j+1] + x[i+1,j+1]:
#   z00 = 1 − (−2) + 1 = 4, z01 = −2 − 3 + (−1) = −6, z10 = 0 − 1 + 0 = −1, z11 = 1 + 1 + 1 = 3
# upstream g = c = [[1, 1], [1, −1]], [z > 0] = [[1, 0], [0, 1]]
#   gradient:  g·[z>0]        = [[1, 0], [0, −1]]
#   deconvnet: g·[g>0]        = [[1, 1], [1, 0]]
#   guided:    g·[z>0]·[g>0]  = [[1, 0], [0, 0]]
# dx = transposed conv of G with w: G00 → (+1 at 00, −1 at 01, +1 at 11), G01 → (+01, −02,
# +12), G10 → (+10, −11, +21), G11 → (+11, −12, +22)
GRADIENT = [[1.0, -1.0, 0.0], [0.0, 1.0 - 1.0, 1.0], [0.0, 0.0, -1.0]]
DECONVNET = [[1.0, -1.0 + 1.0, -1.0], [1.0, 1.0 - 1.0, 1.0], [0.0, 1.0, 0.0]]
GUIDED = [[1.0, -1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]


def as_map(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows).view(1, 1, 3, 3)


def test_hand_computed_maps_on_a_tiny_conv_net() -> None:
    model = tiny_conv()
    signed = attribute(model, X, "saliency", target=0, signed=True)
    assert isinstance(signed, Attribution)
    assert torch.equal(signed.maps, as_map(GRADIENT))
    assert torch.equal(attribute(model, X, "saliency", target=0).maps,
                       as_map(GRADIENT).abs())
    assert torch.equal(attribute(model, X, "deconvnet").maps, as_map(DECONVNET))
    assert torch.equal(attribute(model, X, "guided").maps, as_map(GUIDED))
    assert torch.equal(attribute(model, X, "input_x_gradient").maps, X * as_map(GRADIENT))
    guided = attribute(model, X, "guided")
    assert guided.target == (0,) and guided.scores == (4.0 + 3.0 * -1.0,)  # 4·1 + 3·(−1)
    assert any("guided" in note for note in guided.notes)


class Twin(nn.Module):
    """conv → ReLU → max-pool → conv → ReLU → linear, the ReLU written ``how``."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.act = nn.ReLU(inplace=True)
        self.head = nn.Linear(4 * 3 * 3, 3)

    def relu(self, t: torch.Tensor) -> torch.Tensor:
        if self.how == "F.relu":
            return F.relu(t)
        if self.how == "torch.relu":
            return torch.relu(t)
        if self.how == "method":
            return t.relu()
        if self.how == "relu_":
            return t.relu_()
        return self.act(t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.max_pool2d(self.relu(self.conv1(x)), 2)
        return self.head(self.relu(self.conv2(h)).flatten(1))


def test_every_spelling_of_relu_gives_identical_maps() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 2, 6, 6)
    state = Twin("F.relu").state_dict()
    found = {}
    for how in ("F.relu", "torch.relu", "method", "relu_", "nn.ReLU(inplace=True)"):
        model = Twin(how)
        model.load_state_dict(state)
        found[how] = attribute(model, x, "all", layer="conv2", steps=8, window=2)
    reference = found.pop("F.relu")
    assert len(reference) == 9
    for how, results in found.items():
        for name, result in results.items():
            assert torch.equal(result.maps, reference[name].maps), (how, name)


def test_without_relus_the_three_agree() -> None:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.Tanh(), nn.Flatten(), nn.Linear(3 * 4 * 4, 2))
    x = torch.randn(3, 1, 6, 6)
    signed = attribute(model, x, "saliency", signed=True).maps
    assert torch.equal(attribute(model, x, "deconvnet").maps, signed)
    assert torch.equal(attribute(model, x, "guided").maps, signed)


def test_with_relus_each_rule_masks_where_it_says() -> None:
    """y = v · relu(W x): ∂y/∂h = v; the input gradient is Wᵀ (v · mask)."""
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(5, 8, bias=False), nn.ReLU(), nn.Linear(8, 1, bias=False))
    x = torch.randn(1, 5)
    w, v = model[0].weight.detach(), model[2].weight.detach()[0]
    pre = w @ x[0]
    by_hand = {"gradient": v * (pre > 0), "deconvnet": v * (v > 0),
               "guided": v * (pre > 0) * (v > 0)}
    assert (pre > 0).any() and (pre <= 0).any() and (v > 0).any() and (v < 0).any()
    maps = {"gradient": attribute(model, x, "saliency", signed=True).maps,
            "deconvnet": attribute(model, x, "deconvnet").maps,
            "guided": attribute(model, x, "guided").maps}
    for rule, upstream in by_hand.items():
        torch.testing.assert_close(maps[rule][0], w.T @ upstream.float(), rtol=0, atol=1e-6)
    assert not torch.equal(maps["gradient"], maps["deconvnet"])
    assert not torch.equal(maps["gradient"], maps["guided"])
    assert not torch.equal(maps["deconvnet"], maps["guided"])


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_integrated_gradients_is_complete_within_the_stated_tolerance(kind: str) -> None:
    torch.manual_seed(3)
    if kind == "mlp":
        model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4))
        x = torch.randn(3, 6)
    else:
        model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(),
                              nn.Linear(4 * 4 * 4, 3))
        x = torch.randn(2, 1, 6, 6)
    found = attribute(model, x, "integrated_gradients", target=1, steps=64)
    assert isinstance(found, Attribution)
    with torch.no_grad():
        gap = model(x)[:, 1] - model(torch.zeros_like(x))[:, 1]      # f(x) − f(0)
    deltas = found.maps.flatten(1).sum(1) - gap
    assert (deltas.abs() <= 0.02 * gap.abs() + 1e-3).all()           # IG_TOLERANCE
    assert found.delta is not None and abs(found.delta) == pytest.approx(
        float(deltas.abs().max()), abs=1e-6)
    assert found.extra["within_tolerance"]


def test_gradcam_weights_are_the_spatial_mean_of_the_gradient() -> None:
    """conv(stride 2) → ReLU → linear: ∂score/∂A[k,i,j] = L[t, k·9 + 3i + j]·[A > 0]."""
    torch.manual_seed(4)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
                          nn.Linear(2 * 3 * 3, 3))
    x = torch.randn(2, 1, 6, 6)
    found = attribute(model, x, "gradcam", layer="0", target=[2, 0])
    assert isinstance(found, Attribution)
    a = F.conv2d(x, model[0].weight, model[0].bias, stride=2, padding=1).detach()
    lin = model[3].weight.detach()
    for n, t in enumerate((2, 0)):
        grad = lin[t].view(2, 3, 3) * (a[n] > 0)
        weights = grad.mean(dim=(1, 2))
        torch.testing.assert_close(found.extra["weights"][n], weights)
        cam = (weights[:, None, None] * a[n]).sum(0).clamp(min=0)
        torch.testing.assert_close(found.extra["layer_map"][n, 0], cam)
    assert found.maps.shape == (2, 1, 6, 6) and (found.maps >= 0).all()
    torch.testing.assert_close(found.maps, F.interpolate(found.extra["layer_map"], (6, 6),
                                                         mode="bilinear"))
    guided = attribute(model, x, "guided_gradcam", layer="0", target=[2, 0])
    expected = attribute(model, x, "guided", target=[2, 0]).maps * found.maps
    torch.testing.assert_close(guided.maps, expected)


def test_occlusion_is_the_drop_of_the_score() -> None:
    """A linear score Σ u·x: occluding one pixel (window 1) drops it by u·x there."""
    torch.manual_seed(5)
    model = nn.Sequential(nn.Flatten(), nn.Linear(9, 2, bias=False))
    x = torch.randn(1, 1, 3, 3)
    found = attribute(model, x, "occlusion", target=1, window=1, stride=1)
    u = model[1].weight.detach()[1].view(1, 1, 3, 3)
    torch.testing.assert_close(found.maps, u * x)


def test_deconvnet_projection_seeds_the_strongest_activation() -> None:
    model = tiny_conv()
    found = attribute(model, X, "deconvnet_projection", layer="0", channel=0)
    # strongest z is z00 = 4; seed 4 at (0, 0) → 4·w placed at the top-left corner
    assert found.extra["positions"] == ((0, 0),) and found.scores == (4.0,)
    expected = [[4.0, -4.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 0.0]]
    assert torch.equal(found.maps, as_map(expected))


class Stateful(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(3 * 4 * 4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(F.relu(self.bn(self.conv(x)), inplace=True))
        return self.head(h.flatten(1))


def test_the_model_and_the_process_are_unchanged_after_every_method() -> None:
    torch.manual_seed(6)
    model = Stateful().train()
    model.conv.weight.grad = torch.ones_like(model.conv.weight)
    model.head.weight.requires_grad_(False)
    model.register_forward_hook(lambda *_: None)
    x = torch.randn(2, 1, 4, 4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    hooks = [(dict(m._forward_hooks), dict(m._backward_hooks)) for m in model.modules()]
    rng, python_rng = torch.get_rng_state(), random.getstate()
    x_before = x.clone()
    with torch.no_grad():
        results = attribute(model, x, "all", layer="conv", steps=4)
        assert not torch.is_grad_enabled()                  # grad mode as before
    assert set(results) == set(netanatomy.attribution.METHODS)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert hooks == [(dict(m._forward_hooks), dict(m._backward_hooks))
                     for m in model.modules()]
    assert torch.equal(model.conv.weight.grad, torch.ones_like(model.conv.weight))
    assert model.conv.bias.grad is None and not model.head.weight.requires_grad
    assert model.training and all(m.training for m in model.modules())
    assert torch.equal(torch.get_rng_state(), rng) and random.getstate() == python_rng
    assert torch.equal(x, x_before) and not x.requires_grad


def test_a_missing_layer_lists_close_matches() -> None:
    model = Twin("F.relu")
    with pytest.raises(UsageError, match=r"'conv3' does not exist.*close matches: conv2, conv1"):
        attribute(model, torch.zeros(1, 2, 6, 6), "gradcam", layer="conv3")
    with pytest.raises(UsageError, match="needs layer"):
        attribute(model, torch.zeros(1, 2, 6, 6), "gradcam")


def test_bad_arguments_are_usage_errors() -> None:
    model = tiny_conv()
    with pytest.raises(UsageError, match="did you mean saliency"):
        attribute(model, X, "salency")
    with pytest.raises(UsageError, match="'steps' is not taken"):
        attribute(model, X, "guided", steps=3)
    with pytest.raises(UsageError, match="out of range"):
        attribute(model, X, "guided", target=5)
    assert netanatomy.attribute is attribute
