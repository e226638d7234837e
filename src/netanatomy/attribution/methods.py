"""The attribution methods, one function each, registered by :func:`method`.

Every method is ``(model, x, target, **options) -> Attribution``: ``x`` a batch
``(N, ...)``, the model returning scores ``(N, classes)``; ``target`` None (the argmax class
of each sample), an int, or one int per sample. The explained score is the target's logit
(before any softmax). Samples are explained together by differentiating the sum of their
scores, which is exact when samples do not interact (eval mode: :func:`~netanatomy.attribute`
runs the model in eval mode). The methods run the model as given; the public entry point
:func:`netanatomy.attribute` wraps them in the state guard.

Deconvnet max-pool backward through the switches of the forward pass is autograd's own
max-pool backward: it routes the gradient to the argmax recorded in the forward pass.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from netanatomy.attribution.relu_rules import RULE_NOTES, SMOOTH_NOTE, relu_backward_rule
from netanatomy.attribution.result import Attribution
from netanatomy.errors import RuleError, UsageError

MethodFunction = Callable[..., Attribution]

IG_TOLERANCE = (0.02, 1e-3)
"""Integrated gradients' completeness check: ``|delta| ≤ 0.02 · |f(x) − f(baseline)| +
1e-3`` for every sample, else a note advises more steps."""


@dataclass(frozen=True)
class Method:
    """One registered method: its name, a one-line description, the options it takes
    and whether it needs ``layer``."""

    name: str
    description: str
    function: MethodFunction
    options: tuple[str, ...] = ()
    needs_layer: bool = False


METHODS: dict[str, Method] = {}


def method(name: str, description: str, options: Sequence[str] = (),
           needs_layer: bool = False) -> Callable[[MethodFunction], MethodFunction]:
    """Register a method under ``name`` (twice is an error)."""
    def register(function: MethodFunction) -> MethodFunction:
        if name in METHODS:
            raise RuleError(f"attribution method {name!r} is registered twice")
        METHODS[name] = Method(name, description, function, tuple(options), needs_layer)
        return function
    return register


# ---- shared pieces -------------------------------------------------------------------

def logits_of(output: Any) -> torch.Tensor:
    """The model's output as ``(N, classes)`` scores, else a UsageError."""
    if not isinstance(output, torch.Tensor) or output.dim() != 2:
        found = (f"a tensor of shape {tuple(output.shape)}" if isinstance(output, torch.Tensor)
                 else type(output).__name__)
        raise UsageError(f"attribution needs a model returning (N, classes) scores, got "
                         f"{found}. Hint: wrap the model so forward returns the logits")
    return output


def resolve_target(target: int | Sequence[int] | None, logits: torch.Tensor
                   ) -> tuple[int, ...]:
    """One class per sample: the argmax for None, ``target`` repeated for an int."""
    count, classes = logits.shape
    if target is None:
        return tuple(int(k) for k in logits.detach().argmax(dim=1))
    if isinstance(target, torch.Tensor):
        target = target.tolist()
    chosen = [target] * count if isinstance(target, int) else list(target)
    if len(chosen) != count or not all(isinstance(k, int) for k in chosen):
        raise UsageError(f"target {target!r}: expected an int or {count} ints (one per "
                         "sample)")
    bad = [k for k in chosen if not 0 <= k < classes]
    if bad:
        raise UsageError(f"target {bad[0]} is out of range: the model has {classes} "
                         f"classes (0..{classes - 1})")
    return tuple(chosen)


def pick(logits: torch.Tensor, target: tuple[int, ...]) -> torch.Tensor:
    """The target score of each sample, ``(N,)``."""
    rows = torch.arange(logits.shape[0], device=logits.device)
    return logits[rows, torch.tensor(target, device=logits.device)]


def leaf(x: torch.Tensor) -> torch.Tensor:
    """A fresh leaf copy of ``x`` that requires grad (the caller's tensor is untouched)."""
    return x.detach().clone().requires_grad_(True)


def floats(values: torch.Tensor) -> tuple[float, ...]:
    return tuple(float(v) for v in values.detach().cpu())


def get_layer(model: nn.Module, path: str | None) -> nn.Module:
    """The submodule at ``path``, else a UsageError listing the closest paths."""
    if not path:
        raise UsageError("this method needs layer=PATH (a module path such as "
                         "'features.8'; see `netanatomy summary` for the paths)")
    names = [name for name, _ in model.named_modules() if name]
    if path not in names:
        close = difflib.get_close_matches(path, names, n=5, cutoff=0.5)
        hint = (f"close matches: {', '.join(close)}" if close
                else f"layers: {', '.join(names[:10])}{' ...' if len(names) > 10 else ''}")
        raise UsageError(f"layer {path!r} does not exist in {type(model).__name__}; {hint}")
    return model.get_submodule(path)


@contextmanager
def captured(module: nn.Module, path: str) -> Iterator[dict[str, torch.Tensor]]:
    """Record ``module``'s output under ``"output"`` while the block runs. The model
    goes on with a clone, so an in-place op after the layer leaves the recorded
    activation as the layer produced it. The hook is removed on exit."""
    store: dict[str, torch.Tensor] = {}

    def hook(_: nn.Module, __: Any, output: Any) -> Any:
        if not isinstance(output, torch.Tensor):
            raise UsageError(f"layer {path!r} returns {type(output).__name__}, not a tensor")
        store["output"] = output
        return output.clone()

    handle = module.register_forward_hook(hook)
    try:
        yield store
    finally:
        handle.remove()


def feature_map(store: dict[str, torch.Tensor], path: str) -> torch.Tensor:
    """The recorded activation, checked to be ``(N, K, H, W)``."""
    if "output" not in store:
        raise UsageError(f"layer {path!r} did not run in the forward pass")
    activation = store["output"]
    if activation.dim() != 4:
        raise UsageError(f"layer {path!r} gives shape {tuple(activation.shape)}; this "
                         "method needs a (N, channels, H, W) feature map. Hint: pick a "
                         "convolutional layer")
    return activation


def rule_gradient(model: nn.Module, x: torch.Tensor, target: Any, rule: str
                  ) -> tuple[torch.Tensor, tuple[int, ...], torch.Tensor, tuple[str, ...]]:
    """∂(target score)/∂x with ReLU-family ops passing gradients back by ``rule``."""
    x = leaf(x)
    with relu_backward_rule(rule) as mode:
        logits = logits_of(model(x))
    chosen = resolve_target(target, logits)
    scores = pick(logits, chosen)
    (grad,) = torch.autograd.grad(scores.sum(), x)
    notes = [RULE_NOTES[rule], SMOOTH_NOTE]
    if mode is not None and mode.overridden == 0:
        notes.append("no ReLU-family op ran: the map is the plain gradient")
    return grad, chosen, scores, tuple(notes)


def result(name: str, maps: torch.Tensor, target: tuple[int, ...], scores: torch.Tensor,
           notes: Sequence[str], **fields: Any) -> Attribution:
    return Attribution(method=name, maps=maps.detach().cpu(), target=target,
                       scores=floats(scores), notes=tuple(notes), **fields)


# ---- gradient methods ----------------------------------------------------------------

@method("saliency", "|∂score/∂x| (signed=True: ∂score/∂x), Simonyan et al. 2014",
        options=("signed",))
def saliency(model: nn.Module, x: torch.Tensor, target: Any = None, *,
             signed: bool = False) -> Attribution:
    grad, chosen, scores, notes = rule_gradient(model, x, target, "gradient")
    maps = grad if signed else grad.abs()
    return result("saliency", maps, chosen, scores,
                  (*notes, "signed gradient" if signed else "absolute gradient"))


@method("input_x_gradient", "x · ∂score/∂x")
def input_x_gradient(model: nn.Module, x: torch.Tensor, target: Any = None) -> Attribution:
    grad, chosen, scores, notes = rule_gradient(model, x, target, "gradient")
    return result("input_x_gradient", x.detach() * grad, chosen, scores, notes)


@method("deconvnet", "gradient with the deconvnet ReLU rule, Zeiler & Fergus 2014")
def deconvnet(model: nn.Module, x: torch.Tensor, target: Any = None) -> Attribution:
    grad, chosen, scores, notes = rule_gradient(model, x, target, "deconvnet")
    return result("deconvnet", grad, chosen, scores, notes)


@method("guided", "guided backpropagation, Springenberg et al. 2015")
def guided(model: nn.Module, x: torch.Tensor, target: Any = None) -> Attribution:
    grad, chosen, scores, notes = rule_gradient(model, x, target, "guided")
    return result("guided", grad, chosen, scores, notes)


# ---- layer methods -------------------------------------------------------------------

def gradcam_parts(model: nn.Module, x: torch.Tensor, target: Any, layer: str
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, tuple[int, ...],
                             torch.Tensor]:
    """Grad-CAM's (upsampled map, layer map, channel weights, target, scores)."""
    module = get_layer(model, layer)
    with captured(module, layer) as store:
        logits = logits_of(model(leaf(x)))
    activation = feature_map(store, layer)
    chosen = resolve_target(target, logits)
    scores = pick(logits, chosen)
    (grad,) = torch.autograd.grad(scores.sum(), activation)
    weights = grad.mean(dim=(2, 3))                                   # (N, K)
    layer_map = F.relu((weights[:, :, None, None] * activation).sum(1, keepdim=True))
    if x.dim() != 4:
        raise UsageError(f"Grad-CAM upsamples to the input's height and width: it needs "
                         f"(N, C, H, W) inputs, got {tuple(x.shape)}")
    upsampled = F.interpolate(layer_map, size=tuple(x.shape[-2:]), mode="bilinear",
                              align_corners=False)
    return upsampled.detach(), layer_map.detach(), weights.detach(), chosen, scores


GRADCAM_NOTES = ("channel weights: spatial mean of ∂score/∂A", "map: ReLU(Σ_k w_k A_k), "
                 "upsampled bilinearly (align_corners=False) to the input")


@method("gradcam", "Grad-CAM on a layer's feature map, Selvaraju et al. 2017",
        options=("layer",), needs_layer=True)
def gradcam(model: nn.Module, x: torch.Tensor, target: Any = None, *,
            layer: str | None = None) -> Attribution:
    path = str(layer or "")
    upsampled, layer_map, weights, chosen, scores = gradcam_parts(model, x, target, path)
    return result("gradcam", upsampled, chosen, scores, GRADCAM_NOTES, layer=path,
                  extra={"layer_map": layer_map.cpu(), "weights": weights.cpu()})


@method("guided_gradcam", "guided backpropagation × upsampled Grad-CAM",
        options=("layer",), needs_layer=True)
def guided_gradcam(model: nn.Module, x: torch.Tensor, target: Any = None, *,
                   layer: str | None = None) -> Attribution:
    path = str(layer or "")
    upsampled, layer_map, _, chosen, scores = gradcam_parts(model, x, target, path)
    grad, _, _, notes = rule_gradient(model, x, chosen, "guided")
    return result("guided_gradcam", grad * upsampled, chosen, scores,
                  (*notes, *GRADCAM_NOTES), layer=path,
                  extra={"layer_map": layer_map.cpu(), "gradcam": upsampled.cpu()})


@method("deconvnet_projection",
        "a channel's strongest activation projected to pixels by deconvnet, Zeiler & "
        "Fergus 2014", options=("layer", "channel"), needs_layer=True)
def deconvnet_projection(model: nn.Module, x: torch.Tensor, target: Any = None, *,
                         layer: str | None = None, channel: int = 0) -> Attribution:
    path = str(layer or "")
    module = get_layer(model, path)
    inputs = leaf(x)
    with relu_backward_rule("deconvnet"), captured(module, path) as store:
        model(inputs)
    activation = feature_map(store, path)
    channels = activation.shape[1]
    if not isinstance(channel, int) or not 0 <= channel < channels:
        raise UsageError(f"channel {channel!r} is out of range: layer {path!r} has "
                         f"{channels} channels (0..{channels - 1})")
    values, where = activation[:, channel].flatten(1).max(dim=1)
    seed = torch.zeros_like(activation)
    seed[:, channel].view(activation.shape[0], -1).scatter_(1, where[:, None],
                                                            values[:, None].detach())
    (grad,) = torch.autograd.grad(activation, inputs, grad_outputs=seed)
    width = activation.shape[3]
    positions = tuple((int(i) // width, int(i) % width) for i in where)
    notes = (RULE_NOTES["deconvnet"], "seed: the strongest activation of the channel "
             "(its value), every other activation 0")
    return result("deconvnet_projection", grad, (channel,) * activation.shape[0], values,
                  notes, layer=path, extra={"positions": positions})


# ---- path and perturbation methods ---------------------------------------------------

def check_positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{name}={value!r}: expected a positive integer")
    return value


def trapezoid(steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes ``i/steps`` (i = 0..steps) and weights of the trapezoid rule on [0, 1]."""
    alphas = torch.linspace(0.0, 1.0, steps + 1, dtype=torch.float64)
    weights = torch.full((steps + 1,), 1.0 / steps, dtype=torch.float64)
    weights[0] = weights[-1] = 0.5 / steps
    return alphas, weights


@method("integrated_gradients",
        "integrated gradients from a baseline (trapezoid rule), Sundararajan et al. 2017",
        options=("baseline", "steps", "batch_size"))
def integrated_gradients(model: nn.Module, x: torch.Tensor, target: Any = None, *,
                         baseline: Any = None, steps: int = 50,
                         batch_size: int = 64) -> Attribution:
    check_positive("steps", steps)
    check_positive("batch_size", batch_size)
    x = x.detach()
    base = (torch.zeros_like(x) if baseline is None
            else torch.as_tensor(baseline, dtype=x.dtype, device=x.device).expand_as(x))
    with torch.no_grad():
        logits = logits_of(model(x))
        chosen = resolve_target(target, logits)
        gap = pick(logits, chosen) - pick(logits_of(model(base)), chosen)
    alphas, weights = trapezoid(steps)
    total = torch.zeros_like(x)
    chunk = max(1, batch_size // x.shape[0])
    for start in range(0, steps + 1, chunk):
        a = alphas[start:start + chunk].to(x.dtype).to(x.device)
        view = (-1, *([1] * x.dim()))
        points = leaf((base + a.view(view) * (x - base)).reshape(-1, *x.shape[1:]))
        scores = pick(logits_of(model(points)), chosen * len(a))
        (grad,) = torch.autograd.grad(scores.sum(), points)
        w = weights[start:start + chunk].to(x.dtype).to(x.device).view(view)
        total += (w * grad.view(len(a), *x.shape)).sum(0)
    maps = (x - base) * total
    deltas = maps.flatten(1).sum(1) - gap
    relative, absolute = IG_TOLERANCE
    within = bool((deltas.abs() <= relative * gap.abs() + absolute).all())
    worst = float(deltas[deltas.abs().argmax()])
    notes = [f"trapezoid rule, {steps} steps ({steps + 1} gradient evaluations)",
             "baseline: zeros" if baseline is None else "baseline: given",
             f"completeness delta {worst:.3g} "
             + ("within" if within else "EXCEEDS")
             + f" the tolerance {relative:g}·|f(x) − f(baseline)| + {absolute:g}"]
    if not within:
        notes.append("raise steps to shrink the completeness delta")
    return result("integrated_gradients", maps, chosen, pick(logits, chosen), notes,
                  delta=worst, extra={"deltas": floats(deltas), "within_tolerance": within})


def window_pair(name: str, value: Any, default: tuple[int, int]) -> tuple[int, int]:
    if value is None:
        return default
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2:
        raise UsageError(f"{name}={value!r}: expected an int or (height, width)")
    return check_positive(name, pair[0]), check_positive(name, pair[1])


def starts(size: int, window: int, stride: int) -> list[int]:
    """Window offsets along one axis; the last window always reaches the edge."""
    found = list(range(0, max(size - window, 0) + 1, stride))
    if found[-1] + window < size:
        found.append(size - window)
    return found


@method("occlusion", "drop of the target score when a window is set to a baseline value, "
        "Zeiler & Fergus 2014", options=("window", "stride", "baseline_value", "batch_size"))
def occlusion(model: nn.Module, x: torch.Tensor, target: Any = None, *, window: Any = None,
              stride: Any = None, baseline_value: float = 0.0,
              batch_size: int = 64) -> Attribution:
    if x.dim() != 4:
        raise UsageError(f"occlusion slides a window over (N, C, H, W) inputs, got "
                         f"{tuple(x.shape)}")
    x = x.detach()
    height, width = x.shape[-2:]
    side = max(1, min(height, width) // 8)
    wh, ww = window_pair("window", window, (side, side))
    wh, ww = min(wh, height), min(ww, width)
    sh, sw = window_pair("stride", stride, (max(1, wh // 2), max(1, ww // 2)))
    check_positive("batch_size", batch_size)
    boxes = [(t, left) for t in starts(height, wh, sh) for left in starts(width, ww, sw)]
    total = torch.zeros(x.shape[0], 1, height, width, dtype=x.dtype, device=x.device)
    count = torch.zeros_like(total)
    with torch.no_grad():
        logits = logits_of(model(x))
        chosen = resolve_target(target, logits)
        clean = pick(logits, chosen)
        chunk = max(1, batch_size // x.shape[0])
        for first in range(0, len(boxes), chunk):
            part = boxes[first:first + chunk]
            batch = x.repeat(len(part), 1, 1, 1)
            for i, (t, left) in enumerate(part):
                rows = slice(i * x.shape[0], (i + 1) * x.shape[0])
                batch[rows, :, t:t + wh, left:left + ww] = baseline_value
            drops = clean.repeat(len(part)) - pick(logits_of(model(batch)),
                                                   chosen * len(part))
            for i, (t, left) in enumerate(part):
                drop = drops[i * x.shape[0]:(i + 1) * x.shape[0]].view(-1, 1, 1, 1)
                total[:, :, t:t + wh, left:left + ww] += drop
                count[:, :, t:t + wh, left:left + ww] += 1
    maps = (total / count).expand_as(x)
    notes = (f"window {wh}x{ww}, stride {sh}x{sw}, baseline value {baseline_value:g}",
             "map: the mean score drop over the windows covering each pixel (all channels "
             "occluded together)")
    return result("occlusion", maps.contiguous(), chosen, clean, notes)
