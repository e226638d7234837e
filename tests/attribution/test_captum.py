"""netanatomy's attribution methods against Captum 0.9, an independent implementation.

Captum is the reference where it is right: on networks whose ReLUs are ``nn.ReLU``
modules (not in-place), because its guided backprop and deconvolution hook ReLU
*modules*. All models here are float64 and every comparison is to
``rtol=1e-9, atol=1e-12`` (TOL; where Captum rounds to float32 on the way,
FLOAT32_TOL ``rtol=1e-6, atol=1e-9``): the two implementations do the same arithmetic in a
possibly different order, so they agree to a few float64 ulps of the map's scale.

Then the blind spot: the same network written with functional ``F.relu`` gets no hook, so
Captum's guided backprop and deconvolution silently return the plain gradient there, while
netanatomy overrides the ReLU backward at the op level and returns the ``nn.ReLU`` twin's
maps. A single ``nn.ReLU(inplace=True)`` module reused twice is handled by both (checked).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

captum_attr = pytest.importorskip("captum.attr")

netanatomy = pytest.importorskip("netanatomy")
if not hasattr(netanatomy, "attribute"):  # pragma: no cover - the engine is being written
    pytest.skip("netanatomy.attribute not available yet", allow_module_level=True)

TOL = (1e-9, 1e-12)
"""(rtol, atol) for float64 maps computed the same way."""
TARGETS = [1, 3]
"""One target class per sample of the batch of two."""


# --------------------------------------------------------------------------------------
# Models: conv-relu-maxpool-conv-relu-avgpool-linear, three shapes, three ReLU spellings
# --------------------------------------------------------------------------------------

class Activation(nn.Module):
    """The ReLUs of one network, spelled three ways with identical arithmetic.

    ``module``: one ``nn.ReLU()`` per use (what Captum hooks); ``functional``: ``F.relu``;
    ``inplace``: one ``nn.ReLU(inplace=True)`` module reused for every use.
    """

    def __init__(self, spelling: str, uses: int) -> None:
        super().__init__()
        self.spelling = spelling
        self.relus = nn.ModuleList(nn.ReLU() for _ in range(uses))
        self.shared = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor, use: int) -> torch.Tensor:
        if self.spelling == "module":
            return self.relus[use](x)
        if self.spelling == "functional":
            return F.relu(x)
        return self.shared(x)


class PlainCNN(nn.Module):
    """conv 3→4 (3×3) - relu - maxpool 2 - conv 4→6 - relu - global avgpool - linear 6→5."""

    def __init__(self, spelling: str = "module") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 5)
        self.act = Activation(spelling, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.act(self.conv1(x), 0))
        x = self.act(self.conv2(x), 1)
        return self.fc(self.avgpool(x).flatten(1))


class ResidualCNN(nn.Module):
    """conv - relu - maxpool - (conv - relu - conv) + identity - relu - avgpool - linear."""

    def __init__(self, spelling: str = "module") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 5, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(5, 5, 3, padding=1)
        self.conv3 = nn.Conv2d(5, 5, 3, padding=1)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(5, 5)
        self.act = Activation(spelling, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.act(self.conv1(x), 0))
        x = self.act(self.conv3(self.act(self.conv2(x), 1)) + x, 2)
        return self.fc(self.avgpool(x).flatten(1))


class StridedCNN(nn.Module):
    """conv 5×5 stride 1 - relu - maxpool 3/2 - conv stride 2 - relu - avgpool 2 - linear."""

    def __init__(self, spelling: str = "module") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 5, padding=2)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.conv2 = nn.Conv2d(4, 6, 3, stride=2, padding=1)
        self.avgpool = nn.AvgPool2d(2)
        self.fc = nn.Linear(6, 5)
        self.act = Activation(spelling, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.act(self.conv1(x), 0))
        x = self.act(self.conv2(x), 1)
        return self.fc(self.avgpool(x).flatten(1))


MODELS: dict[str, tuple[type[nn.Module], tuple[int, ...]]] = {
    "plain": (PlainCNN, (2, 3, 8, 8)),
    "residual": (ResidualCNN, (2, 3, 8, 8)),
    "strided": (StridedCNN, (2, 3, 8, 8)),
}
"""name → (class, input shape): after the 2×2 pools / strides each final map is 2×2 or
bigger, so Grad-CAM has a spatial map to upsample."""


def build(name: str, spelling: str = "module") -> tuple[nn.Module, torch.Tensor]:
    """The float64 model ``name`` (seeded: the same weights for every spelling) in eval
    mode, and its seeded input."""
    cls, shape = MODELS[name]
    torch.manual_seed(0)
    model = cls(spelling).double().eval()
    generator = torch.Generator().manual_seed(1)
    return model, torch.randn(shape, dtype=torch.float64, generator=generator)


def captum(kind: Callable[..., Any], model: nn.Module, x: torch.Tensor, /, *args: Any,
           **kwargs: Any) -> torch.Tensor:
    """``kind(model, *args).attribute(x, target=TARGETS, **kwargs)``, detached, with
    Captum's warnings ("required_grads has been set", "setting backward hooks") quiet."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return kind(model, *args).attribute(x.clone(), target=TARGETS, **kwargs).detach()


def ours(model: nn.Module, x: torch.Tensor, method: str, **options: Any) -> Any:
    return netanatomy.attribute(model, x.clone(), method=method, target=TARGETS, **options)


def close(actual: torch.Tensor, expected: torch.Tensor, tol: tuple[float, float]) -> bool:
    return torch.allclose(actual, expected, rtol=tol[0], atol=tol[1])


def assert_close(actual: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    difference = (actual - expected).abs().max().item()
    assert close(actual, expected, TOL), (
        f"{what}: max |difference| {difference:.3e} (scale {expected.abs().max().item():.3e})")


# --------------------------------------------------------------------------------------
# Equal to Captum where Captum is right
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(MODELS))
def test_gradient_methods_equal_captum(name: str) -> None:
    model, x = build(name)
    cases = [
        ("saliency", {}, captum_attr.Saliency, {"abs": True}),
        ("saliency", {"signed": True}, captum_attr.Saliency, {"abs": False}),
        ("input_x_gradient", {}, captum_attr.InputXGradient, {}),
        ("guided", {}, captum_attr.GuidedBackprop, {}),
        ("deconvnet", {}, captum_attr.Deconvolution, {}),
    ]
    for method, options, reference, reference_options in cases:
        result = ours(model, x, method, **options)
        assert result.target == tuple(TARGETS)
        assert_close(result.maps, captum(reference, model, x, **reference_options),
                     f"{name} {method} {options}")


def test_scores_are_the_target_logits() -> None:
    model, x = build("plain")
    result = ours(model, x, "saliency")
    logits = model(x).detach()
    assert result.scores == pytest.approx([logits[i, t].item() for i, t in enumerate(TARGETS)],
                                          rel=1e-12)


def layer_map(result: Any) -> torch.Tensor:
    """Grad-CAM's layer-resolution map from ``Attribution.extra`` (N, 1, h, w)."""
    return result.extra["layer_map"]


@pytest.mark.parametrize("name,layer", [("plain", "conv2"), ("residual", "conv3"),
                                        ("strided", "conv2"), ("plain", "pool")])
def test_gradcam_equals_captum(name: str, layer: str) -> None:
    model, x = build(name)
    raw = captum(captum_attr.LayerGradCam, model, x, model.get_submodule(layer),
                 relu_attributions=True)
    assert raw.max() > 0, "a Grad-CAM map of zeros would compare nothing"
    result = ours(model, x, "gradcam", layer=layer)
    assert result.layer == layer
    assert_close(layer_map(result), raw, f"{name} gradcam {layer} layer resolution")
    upsampled = captum_attr.LayerAttribution.interpolate(raw, tuple(x.shape[-2:]),
                                                         interpolate_mode="bilinear")
    assert_close(result.maps, upsampled, f"{name} gradcam {layer} upsampled (bilinear)")


@pytest.mark.parametrize("name,layer", [("plain", "conv2"), ("residual", "conv3")])
def test_guided_gradcam_equals_captum(name: str, layer: str) -> None:
    model, x = build(name)
    expected = captum(captum_attr.GuidedGradCam, model, x, model.get_submodule(layer),
                      interpolate_mode="bilinear")
    assert_close(ours(model, x, "guided_gradcam", layer=layer).maps, expected,
                 f"{name} guided gradcam {layer}")


FLOAT32_TOL = (1e-6, 1e-9)
"""Where Captum rounds to float32 on the way (its IG nodes come from a float32
``torch.linspace(...).tolist()``; its occlusion returns float32 maps for float64 models):
float32's unit roundoff 6e-8, with margin for the sums of a few dozen terms."""


def trapezoid_ig(model: nn.Module, x: torch.Tensor, baseline: torch.Tensor,
                 steps: int) -> torch.Tensor:
    """Integrated gradients by the trapezoid rule, written out: nodes i/steps, weights
    1/steps (halved at both ends), one float64 autograd gradient per node."""
    total = torch.zeros_like(x)
    for i in range(steps + 1):
        point = (baseline + i / steps * (x - baseline)).requires_grad_(True)
        (grad,) = torch.autograd.grad(model(point)[range(2), TARGETS].sum(), point)
        total += (0.5 if i in (0, steps) else 1.0) / steps * grad
    return (x - baseline) * total


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("steps", [1, 7])
def test_integrated_gradients_equal_captum(name: str, steps: int) -> None:
    """netanatomy's rule is the trapezoid with ``steps`` intervals (``steps + 1`` gradient
    evaluations at i/steps, weights 1/steps halved at the ends; methods.py's docstring).

    Captum's ``riemann_trapezoid`` with ``n_steps = steps + 1`` has the same nodes but
    weights 1/n_steps (halved at the ends), which sum to steps/(steps + 1), not 1: its map
    is exactly ``steps / (steps + 1)`` times the trapezoid's (and misses completeness by
    that factor). So: netanatomy = the written-out trapezoid to TOL, and
    netanatomy · steps/(steps + 1) = Captum to FLOAT32_TOL (Captum's float32 nodes).
    """
    model, x = build(name)
    baseline = 0.1 * torch.randn(x.shape, dtype=x.dtype,
                                 generator=torch.Generator().manual_seed(2))
    for given in (None, baseline):
        base = torch.zeros_like(x) if given is None else given
        what = f"{name} IG steps={steps} baseline={'given' if given is not None else 'zeros'}"
        result = ours(model, x, "integrated_gradients", steps=steps,
                      **({} if given is None else {"baseline": given}))
        assert_close(result.maps, trapezoid_ig(model, x, base, steps), what + " vs by hand")
        expected = captum(captum_attr.IntegratedGradients, model, x, n_steps=steps + 1,
                          method="riemann_trapezoid", baselines=base)
        scaled = result.maps * steps / (steps + 1)
        assert close(scaled, expected, FLOAT32_TOL), (
            f"{what}: netanatomy × {steps}/{steps + 1} vs Captum riemann_trapezoid: max "
            f"|difference| {(scaled - expected).abs().max().item():.3e}")
        # delta against the model itself, not the engine's own f(x) − f(baseline)
        gap = (model(x) - model(base)).detach()[range(2), TARGETS]
        deltas = result.maps.flatten(1).sum(1) - gap
        assert result.delta == pytest.approx(deltas[deltas.abs().argmax()].item(),
                                             rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_occlusion_equals_captum(name: str) -> None:
    """Windows that tile the 8×8 input (window 4 stride 4, and window 4 stride 2): the
    same window set as Captum's, whose map is the mean drop over covering windows too."""
    model, x = build(name)
    for stride in (4, 2):
        expected = captum(captum_attr.Occlusion, model, x, sliding_window_shapes=(3, 4, 4),
                          strides=(3, stride, stride), baselines=0.5)
        result = ours(model, x, "occlusion", window=4, stride=stride, baseline_value=0.5)
        assert expected.dtype == torch.float32  # Captum's; compared at FLOAT32_TOL
        assert close(result.maps, expected.double(), FLOAT32_TOL), (
            f"{name} occlusion stride {stride}: max |difference| "
            f"{(result.maps - expected.double()).abs().max().item():.3e}")


# --------------------------------------------------------------------------------------
# Captum's blind spot: functional F.relu is not hooked
# --------------------------------------------------------------------------------------

def side_by_side(**maps: torch.Tensor) -> str:
    """The first sample's first channel of each map, rounded, one line each."""
    torch.set_printoptions(precision=4, linewidth=200)
    try:
        return "\n".join(f"{label}:\n{value[0, 0]}" for label, value in maps.items())
    finally:
        torch.set_printoptions(profile="default")


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("method,reference", [("guided", "GuidedBackprop"),
                                              ("deconvnet", "Deconvolution")])
def test_functional_relu_netanatomy_right_captum_plain_gradient(
        name: str, method: str, reference: str) -> None:
    module_model, x = build(name, "module")
    functional_model, _ = build(name, "functional")
    gradient = captum(captum_attr.Saliency, module_model, x, abs=False)
    twin = captum(getattr(captum_attr, reference), module_model, x)
    blind = captum(getattr(captum_attr, reference), functional_model, x)
    ours_functional = ours(functional_model, x, method).maps

    # netanatomy: the functional model gets the maps of its nn.ReLU twin.
    assert_close(ours_functional, twin,
                 f"{name} netanatomy {method} on F.relu vs Captum on nn.ReLU")
    # Captum: on the functional model the rule is silently dropped — its map differs from its
    # own nn.ReLU twin's and is exactly the plain gradient.
    shown = side_by_side(**{f"captum {reference} on nn.ReLU": twin,
                            f"captum {reference} on F.relu": blind,
                            "plain gradient": gradient,
                            f"netanatomy {method} on F.relu": ours_functional})
    assert not torch.allclose(blind, twin, rtol=1e-3, atol=1e-6), (
        f"Captum's {reference} now handles F.relu (update this test):\n{shown}")
    assert close(blind, gradient, TOL), (
        f"Captum's {reference} on F.relu is no longer the plain gradient:\n{shown}")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_reused_inplace_relu_module(name: str) -> None:
    """One nn.ReLU(inplace=True) reused for every ReLU: both tools give the twin's maps
    (Captum 0.9 hooks the module once per call and gets this right, so this is no blind
    spot — only a check that netanatomy's in-place path is right)."""
    module_model, x = build(name, "module")
    inplace_model, _ = build(name, "inplace")
    for method, reference in (("guided", captum_attr.GuidedBackprop),
                              ("deconvnet", captum_attr.Deconvolution)):
        twin = captum(reference, module_model, x)
        assert_close(ours(inplace_model, x, method).maps, twin,
                     f"{name} netanatomy {method} on reused nn.ReLU(inplace=True)")
        assert_close(captum(reference, inplace_model, x), twin,
                     f"{name} Captum {method} on reused nn.ReLU(inplace=True)")
