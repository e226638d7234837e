"""The model-level gradient verdict: vanishing, exploding or healthy, with the layers
responsible and, for plain stacks, the product bound beside the measured gain."""

from __future__ import annotations

import math
from collections.abc import Mapping

from torch import nn

from netanatomy.diagnostics.nonfinite import NonFinite
from netanatomy.diagnostics.recorder import Recording
from netanatomy.diagnostics.result import Verdict
from netanatomy.diagnostics.spectral import ACTIVATION_SLOPE_BOUNDS

VANISHING_BELOW = 1e-3
EXPLODING_ABOVE = 1e3
RESPONSIBLE_SHOWN = 5


def layer_bound(module: nn.Module, sigma: float | None) -> float | None:
    """Largest backward gain of one leaf of a plain stack, or None when unknown."""
    if sigma is not None:
        return sigma
    if isinstance(module, (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d)):
        return 1 / (1 - module.p) if module.training and module.p < 1 else 1.0
    if isinstance(module, nn.LeakyReLU):
        return max(1.0, abs(module.negative_slope))
    for kind, bound in ACTIVATION_SLOPE_BOUNDS.items():
        if type(module) is kind:
            return bound
    return None


def chain_bound(recording: Recording, modules: Mapping[str, nn.Module],
                sigmas: Mapping[str, float | None], leaves: list[str]) -> float | None:
    """Π of the leaves' gain bounds when the model is a plain stack, else None."""
    if not recording.is_chain():
        return None
    product = 1.0
    for path in leaves:
        bound = layer_bound(modules[path], sigmas.get(path))
        if bound is None:
            return None
        product *= bound
    return product


def leaves_span_the_model(recording: Recording, reached: list[str]) -> bool:
    """True when the first leaf reads the model's own input and the last leaf's output is
    the model's output, so that the leaves' bound covers the gain measured at the root (a
    skip or a scale in the root's own ``forward`` would not be in the product)."""
    root = recording.records.get("")
    if root is None:
        return False
    first, last = recording.records[reached[0]], recording.records[reached[-1]]
    return root.input_id is not None and root.input_id == first.input_id \
        and root.output_id is not None and root.output_id == last.output_id


def judge(recording: Recording, modules: Mapping[str, nn.Module],
          sigmas: Mapping[str, float | None], finite: bool) -> Verdict:
    """Verdict from the end-to-end gain between the first and last leaf that the gradient
    reached (see ``CONVENTIONS["verdict"]``)."""
    reached = [p for p in recording.order if recording.records[p].grad_output_norm is not None]
    if not finite:
        return Verdict("exploding", None, None, False, None, None, (),
                       "a gradient is not finite (inf or nan)")
    if not reached:
        return Verdict("unknown", None, None, False, None, None, (),
                       "no module received a gradient")
    first, last = recording.records[reached[0]], recording.records[reached[-1]]
    root = recording.records.get("")
    from_input = first.grad_input_norm is not None
    numerator = first.grad_input_norm if from_input else first.grad_output_norm
    denominator = last.grad_output_norm
    whole_model = root is not None and root.grad_input_norm is not None \
        and bool(root.grad_output_norm)
    if whole_model and root is not None:  # the model's own input and output: skips included
        numerator, denominator = root.grad_input_norm, root.grad_output_norm
    if not denominator or numerator is None:
        return Verdict("unknown", None, None, False, reached[0], reached[-1], (),
                       "the last layer's output gradient is zero")
    gain = numerator / denominator
    bound = chain_bound(recording, modules, sigmas, reached if from_input else reached[1:])
    if whole_model and not leaves_span_the_model(recording, reached):
        bound = None
    gains = {}
    for path in reached:
        grad_in = recording.records[path].grad_input_norm
        grad_out = recording.records[path].grad_output_norm
        if grad_in is not None and grad_out:
            gains[path] = grad_in / grad_out
    status, responsible = classify(gain, gains)
    where = "from the model's output back to its input" if whole_model else \
        f"from '{reached[-1]}' back to '{reached[0]}'" + (" input" if from_input else "")
    bound_text = f" (plain-stack bound {bound:.3g})" if bound is not None else ""
    message = f"gradient gain {gain:.3g} {where}{bound_text}: {status}"
    return Verdict(status, gain, bound, bound is not None, reached[0], reached[-1],
                   responsible, message)


def classify(gain: float, gains: Mapping[str, float]) -> tuple[str, tuple[str, ...]]:
    if not math.isfinite(gain) or gain > EXPLODING_ABOVE:
        worst = sorted((g, p) for p, g in gains.items() if g > 2)[::-1]
        return "exploding", tuple(p for _, p in worst[:RESPONSIBLE_SHOWN])
    if gain < VANISHING_BELOW:
        worst = sorted((g, p) for p, g in gains.items() if g < 0.5)
        return "vanishing", tuple(p for _, p in worst[:RESPONSIBLE_SHOWN])
    return "healthy", ()


def non_finite_verdict(found: NonFinite, steps: int) -> Verdict:
    """The *exploding / non-finite* verdict naming the layer and the step."""
    where = found.where if found.kind != "loss" else "the loss"
    message = (f"non-finite {found.kind} first in {where} ({found.detail}) at step "
               f"{found.step} of {steps} (counted from 0): exploding")
    return Verdict("exploding", None, None, False, None, None,
                   (found.path,) if found.kind != "loss" else (), message)
