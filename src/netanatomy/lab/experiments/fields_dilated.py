"""Stacked dilated convolutions: the receptive field is 1 + Σ (k_i − 1)·d_i (stride 1), and a
stack that samples with a common dilation leaves gridding holes (positions inside the field
that no path reaches), while the course's stack (kernels w−1, w, w+1 with dilations d−1, d,
d+1) covers its field."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import sympy
import torch
from torch import nn

import netanatomy
import netanatomy.spec
from netanatomy.diagnostics.measured_rf import measure_receptive_field
from netanatomy.errors import CaptureError, UsageError
from netanatomy.lab.base import Check, Outcome, at_least, equal, experiment
from netanatomy.lab.figures import new_figure
from netanatomy.report import Report

F64 = torch.float64


def field_formula(kernels: Sequence[int], dilations: Sequence[int]) -> int:
    """1 + Σ (k − 1)·d: the field of stride-1 convs (each adds its dilated extent − 1)."""
    return 1 + sum((k - 1) * d for k, d in zip(kernels, dilations))


def reachable_offsets(kernels: Sequence[int], dilations: Sequence[int]) -> set[int]:
    """Offsets along one axis (from the field's first pixel) some chain of taps reaches:
    tap t ∈ {0 … k − 1} of a layer moves by t·d (set arithmetic, no gradients)."""
    return {sum(t * d for t, d in zip(taps, dilations))
            for taps in itertools.product(*(range(k) for k in kernels))}


def predicted_holes(kernels: Sequence[int], dilations: Sequence[int]) -> int:
    """Positions of the (field × field) square no tap chain reaches: the 2-D reach is the
    product of the per-axis reaches (square kernels)."""
    side = field_formula(kernels, dilations)
    return side * side - len(reachable_offsets(kernels, dilations)) ** 2


def positive(model: nn.Module, seed: int) -> nn.Module:
    """Float64, weights uniform in [0.5, 1.5), biases 0: with positive inputs every ReLU is
    the identity and nothing cancels, so the gradient's support is the dependency set."""
    model = model.double()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.zero_()
            else:
                parameter.copy_(0.5 + torch.rand(parameter.shape, generator=generator,
                                                 dtype=F64))
    return model


def gradient_map(model: nn.Module, size: int) -> np.ndarray:
    """|d(centre output)/d input| over the input (float64)."""
    x = (0.5 + torch.rand(1, 1, size, size, generator=torch.Generator().manual_seed(1),
                          dtype=F64)).requires_grad_(True)
    out = model(x)
    centre = out.shape[-1] // 2
    (gradient,) = torch.autograd.grad(out[0, :, centre, centre].sum(), x)
    return np.asarray(gradient[0, 0].abs().numpy(), dtype=np.float64)


def support_box(gradient: np.ndarray) -> tuple[int, int, int, int]:
    """(first row, last row, first column, last column) of the non-zero gradient."""
    rows, cols = np.nonzero(gradient)
    return int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max())


def whole_field(report: Report) -> tuple[Any, ...]:
    """The receptive-field size of the whole network in a netanatomy report."""
    field = report.layers[0].rf
    if field is None:
        raise CaptureError("netanatomy's analysis found no receptive field for the stack")
    return tuple(field.size)


def plain_stack(kernel: int, dilations: Sequence[int]) -> nn.Sequential:
    """k × k convs, one channel, valid padding, with these dilations, ReLU between."""
    layers: list[nn.Module] = []
    for dilation in dilations:
        layers += [nn.Conv2d(1, 1, kernel, dilation=dilation), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def measured(model: nn.Module, size: int, kernels: Sequence[int], dilations: Sequence[int],
             label: str) -> tuple[list[Check], np.ndarray, int]:
    """Checks of one stack: netanatomy's rf analysis, netanatomy's gradient measurement and
    our own gradient support against the formula; holes against the set arithmetic."""
    side = field_formula(kernels, dilations)
    analysed = whole_field(netanatomy.analyze(model, (1, 1, size, size), dtype=F64))
    measured_field = measure_receptive_field(model, (1, 1, size, size))
    gradient = gradient_map(model, size)
    top, bottom, left, right = support_box(gradient)
    box = gradient[top:bottom + 1, left:right + 1]
    holes = int((box == 0).sum())
    formula = f"1 + Σ(k−1)d = {side}"
    checks = [
        equal(f"{label}: netanatomy.analyze rf size", analysed, (side, side),
              reason=formula),
        equal(f"{label}: measure_receptive_field size", tuple(measured_field.size),
              (side, side), reason=formula),
        equal(f"{label}: extent of our gradient support", (bottom - top + 1, right - left + 1),
              (side, side), reason=formula),
        equal(f"{label}: holes (zero gradient inside the field)", holes,
              predicted_holes(kernels, dilations),
              reason="field² − (offsets reachable per axis)², by set arithmetic"),
    ]
    return checks, box, holes


@experiment("dilated-gridding", topic="fields",
            title="Dilated stacks: fast-growing fields, gridding holes",
            claim="A stride-1 stack of dilated convs has receptive field 1 + Σ (k_i − 1)·d_i; "
                  "the course's stack (kernels w−1, w, w+1, dilations d−1, d, d+1) covers its "
                  "field, while 3 × 3 convs with a common dilation 2 reach only every other "
                  "row and column of theirs (gridding).",
            setting="w = 3, d = 2: kernels 2, 3, 4 with dilations 1, 2, 3 (spec example "
                    "dilated-stack, valid padding), against 3 × 3 convs with dilations 2, 2, 2; "
                    "41 × 41 input")
def dilated_gridding(w: int = 3, d: int = 2, size: int = 41, gridding_kernel: int = 3,
                     gridding_dilations: tuple[int, ...] = (2, 2, 2), seed: int = 0
                     ) -> Outcome:
    """``gridding_dilations=1,2,4`` (a stack that covers its field) breaks the premise of the
    gridding claim: no holes, so its ``≥ 1 hole`` check fails."""
    kernels, dilations = (w - 1, w, w + 1), (d - 1, d, d + 1)
    if min(kernels) < 1 or min(dilations) < 1:
        raise UsageError(f"lab dilated-gridding: w={w}, d={d} give kernels {kernels} and "
                         f"dilations {dilations}; both need w ≥ 2 and d ≥ 2")
    side = field_formula(kernels, dilations)
    grid_side = field_formula([gridding_kernel] * len(gridding_dilations), gridding_dilations)
    if size < max(side, grid_side) + 2:
        raise UsageError(f"lab dilated-gridding: size={size} must exceed the fields "
                         f"{side} and {grid_side}")
    symbols = {"w": w, "d": d, "C": 1, "H": size, "W": size}
    course = positive(netanatomy.spec.build("example:dilated-stack", symbols), seed)
    symbolic = sympy.sympify(whole_field(netanatomy.spec.analyze("example:dilated-stack"))[0])
    values = {"w": w, "d": d}
    spec_value = int(symbolic.subs({s: values[s.name] for s in symbolic.free_symbols}))
    course_checks, course_box, course_holes = measured(course, size, kernels, dilations,
                                                       "course stack")
    grid_kernels = [gridding_kernel] * len(gridding_dilations)
    gridding = positive(plain_stack(gridding_kernel, gridding_dilations), seed)
    grid_checks, grid_box, grid_holes = measured(gridding, size, grid_kernels,
                                                 gridding_dilations, "gridding stack")
    checks = [
        equal("course stack: spec's symbolic field at w, d", spec_value, side,
              reason=f"formula 1 + Σ(k−1)d with k = {kernels}, d = {dilations}"),
        equal("course stack: closed form (3w − 3)·d + 3", (3 * w - 3) * d + 3, side,
              reason="Σ over k = w−1, w, w+1 and dilations d−1, d, d+1, simplified"),
        *course_checks, *grid_checks,
        at_least("gridding stack: holes", grid_holes, 1,
                 reason="a common dilation > 1 skips every other offset"),
    ]
    terms = " + ".join(f"{k - 1}·{e}" for k, e in zip(kernels, dilations))
    figure = draw([(course_box, f"kernels {kernels}, dilations {dilations}", course_holes),
                   (grid_box, f"{gridding_kernel}×{gridding_kernel}, dilations "
                    f"{tuple(gridding_dilations)}", grid_holes)])
    return Outcome(checks, figure, data={
        "course_kernels": list(kernels), "course_dilations": list(dilations),
        "course_field": side, "course_holes": course_holes, "gridding_field": grid_side,
        "gridding_holes": grid_holes, "spec_symbolic_field": str(symbolic)},
        notes=[f"course stack field: 1 + {terms} = {side} (spec example, symbolic: {symbolic})",
               f"gridding stack: {grid_holes} of {grid_side}² positions in its field are "
               "never reached"])


def draw(panels: list[tuple[np.ndarray, str, int]]) -> object:
    from matplotlib import colormaps

    figure, axes = new_figure(2, 1, width=4.3, height=3.9)
    for axis, (box, title, holes) in zip(axes, panels):
        values = np.ma.masked_equal(box, 0.0)
        share = values / values.sum()
        cmap = colormaps["viridis"].with_extremes(bad="#d1242f")
        image = axis.imshow(np.ma.log10(share), cmap=cmap)
        axis.set_title(f"{title}\n{box.shape[0]}×{box.shape[1]} field, {holes} holes",
                       fontsize=9)
        axis.set_xlabel("input column in the field (pixels)")
        axis.set_ylabel("input row in the field (pixels)")
        figure.colorbar(image, ax=axis, shrink=0.8,
                        label="log10 share of |gradient| (red: 0, a hole)")
    figure.suptitle("Gradient support of the centre output: coverage vs gridding",
                    fontsize=10)
    return figure
