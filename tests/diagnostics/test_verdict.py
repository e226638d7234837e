"""The gradient verdict: thresholds, the layers held responsible, and the plain-stack bound
Π σ_max, which for a chain of scaled orthogonal Linear layers (W = σ·Q) is also exactly the
measured gain: ‖(σQ)ᵀ…(σQ)ᵀ g‖ = σ^L ‖g‖."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import netanatomy
from netanatomy.diagnostics.recorder import ModuleRecord, Recording
from netanatomy.diagnostics.verdict import (
    EXPLODING_ABOVE,
    VANISHING_BELOW,
    chain_bound,
    classify,
    judge,
    layer_bound,
)


def test_classify_thresholds() -> None:
    assert classify(1.0, {}) == ("healthy", ())
    assert classify(VANISHING_BELOW, {}) == ("healthy", ())           # strict inequalities
    assert classify(EXPLODING_ABOVE, {}) == ("healthy", ())
    assert classify(VANISHING_BELOW / 2, {})[0] == "vanishing"
    assert classify(EXPLODING_ABOVE * 2, {})[0] == "exploding"
    assert classify(math.inf, {})[0] == "exploding"
    assert classify(math.nan, {})[0] == "exploding"
    assert (VANISHING_BELOW, EXPLODING_ABOVE) == (1e-3, 1e3)


def test_responsible_layers_are_the_worst_offenders() -> None:
    gains = {"a": 0.1, "b": 0.9, "c": 0.01, "d": 0.4}
    assert classify(1e-6, gains) == ("vanishing", ("c", "a", "d"))      # gains < 0.5, worst first
    gains = {"a": 3.0, "b": 1.0, "c": 30.0}
    assert classify(1e6, gains) == ("exploding", ("c", "a"))            # gains > 2


def test_layer_bounds() -> None:
    assert layer_bound(nn.Linear(2, 2), 0.7) == 0.7
    assert layer_bound(nn.ReLU(), None) == 1.0
    assert layer_bound(nn.Sigmoid(), None) == 0.25                      # max σ' = σ'(0)
    assert layer_bound(nn.LeakyReLU(3.0), None) == 3.0
    assert layer_bound(nn.Dropout(0.75).train(), None) == 4.0           # 1/(1 − p)
    assert layer_bound(nn.Dropout(0.75).eval(), None) == 1.0
    assert layer_bound(nn.BatchNorm1d(3), None) is None


def hand_recording(paths: list[str], chained: bool, norms: list[float]) -> Recording:
    """Leaves in order; leaf i reads leaf i−1's output when ``chained``; gradient norms at
    the inputs (``norms[i]``) and outputs (``norms[i + 1]``)."""
    recording = Recording()
    for index, path in enumerate(paths):
        recording.records[path] = ModuleRecord(
            calls=1, input_id=index if chained else 100 + index, output_id=index + 1,
            grad_input_norm=norms[index], grad_output_norm=norms[index + 1],
            follows_previous=chained and index > 0)
        recording.order.append(path)
    return recording


def test_judge_on_a_hand_made_chain() -> None:
    modules = {"fc1": nn.Linear(2, 2), "act": nn.Sigmoid(), "fc2": nn.Linear(2, 2)}
    sigmas = {"fc1": 2.0, "act": None, "fc2": 3.0}
    recording = hand_recording(list(modules), chained=True, norms=[0.5, 1.0, 2.0, 4.0])
    verdict = judge(recording, modules, sigmas, finite=True)
    assert verdict.status == "healthy" and verdict.bound_applies
    assert verdict.gain == pytest.approx(0.5 / 4.0)                    # first input / last output
    assert verdict.bound == pytest.approx(2.0 * 0.25 * 3.0)
    assert (verdict.from_path, verdict.to_path) == ("fc1", "fc2")


def test_judge_without_a_chain_has_no_bound() -> None:
    modules = {"fc1": nn.Linear(2, 2), "fc2": nn.Linear(2, 2)}
    recording = hand_recording(list(modules), chained=False, norms=[1.0, 1.0, 1.0])
    assert chain_bound(recording, modules, {"fc1": 1.0, "fc2": 1.0}, list(modules)) is None
    verdict = judge(recording, modules, {"fc1": 1.0, "fc2": 1.0}, finite=True)
    assert verdict.bound is None and not verdict.bound_applies


def test_judge_non_finite_and_unreached() -> None:
    modules = {"fc": nn.Linear(2, 2)}
    recording = hand_recording(["fc"], chained=True, norms=[1.0, 1.0])
    assert judge(recording, modules, {}, finite=False).status == "exploding"
    recording.records["fc"].grad_output_norm = None
    assert judge(recording, modules, {}, finite=True).status == "unknown"


def orthogonal_chain(sigma: float, layers: int, width: int = 8) -> nn.Sequential:
    torch.manual_seed(0)
    chain = nn.Sequential(*[nn.Linear(width, width, bias=False) for _ in range(layers)])
    with torch.no_grad():
        for layer in chain:
            nn.init.orthogonal_(layer.weight)
            layer.weight.mul_(sigma)
    return chain


def diagnose_chain(model: nn.Module) -> netanatomy.diagnostics.result.Verdict:
    report = netanatomy.diagnose(model, input_size="4x8", loss_fn="sum",
                                 effective_field=False)
    return report.verdict


@pytest.mark.parametrize(("sigma", "status"), [(0.5, "healthy"), (0.1, "vanishing"),
                                               (10.0, "exploding")])
def test_measured_gain_of_a_scaled_orthogonal_chain(sigma: float, status: str) -> None:
    verdict = diagnose_chain(orthogonal_chain(sigma, 4))
    assert verdict.gain == pytest.approx(sigma ** 4, rel=1e-4)
    assert verdict.status == status
    if status != "healthy":
        assert set(verdict.responsible) == {"0", "1", "2", "3"}        # every layer σ


def test_bound_of_a_chain_of_identical_linear_layers() -> None:
    verdict = diagnose_chain(orthogonal_chain(0.5, 4))
    assert verdict.bound_applies
    assert verdict.bound == pytest.approx(0.5 ** 4, rel=1e-6)          # σ^L
    assert verdict.gain == pytest.approx(verdict.bound, rel=1e-4)      # tight for W = σQ


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 8)
        self.fc2 = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(x + torch.relu(self.fc1(x)))


def test_residual_model_has_no_bound() -> None:
    torch.manual_seed(0)
    verdict = diagnose_chain(Residual())
    assert not verdict.bound_applies and verdict.bound is None
    assert verdict.gain is not None and verdict.status == "healthy"


class SkipAtRoot(nn.Module):
    """A plain chain of leaves, but the root adds its input (or scales) outside them: the
    leaves' product does not bound the gain measured at the model's input and output."""

    def __init__(self, scale: float | None) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc1 = nn.Linear(8, 8, bias=False)
        self.fc2 = nn.Linear(8, 8, bias=False)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc2(self.fc1(x))
        return y + x if self.scale is None else y * self.scale


@pytest.mark.parametrize("scale", [None, 100.0])
def test_skip_or_scale_in_the_root_forward_has_no_bound(scale: float | None) -> None:
    model = SkipAtRoot(scale)
    verdict = diagnose_chain(model)
    assert not verdict.bound_applies and verdict.bound is None
    if scale is not None:                     # the leaves' product would be violated
        leaves = np.prod([np.linalg.svd(layer.weight.detach().numpy(), compute_uv=False)[0]
                          for layer in (model.fc1, model.fc2)])
        assert verdict.gain is not None and verdict.gain > leaves


def test_spatial_dropout_bound_in_training() -> None:
    assert layer_bound(nn.Dropout2d(0.5).train(), None) == 2.0               # 1/(1 − p)


def test_a_freed_outputs_address_is_not_the_next_layers_input() -> None:
    # The allocator may give a later tensor the address of an output already freed (a skip
    # connection computed after fc1's output died): equal (address, shape, strides, dtype)
    # is the same tensor only while the earlier output still lives.
    import weakref

    from netanatomy.diagnostics.recorder import identity, reads_previous_output

    output = torch.zeros(4, 8)
    recording = Recording()
    recording.records["fc1"] = ModuleRecord(calls=1, output_id=identity(output),
                                            output_storage=weakref.ref(
                                                output.untyped_storage()))
    recording.order.append("fc1")
    assert reads_previous_output(recording, identity(output))
    assert not reads_previous_output(recording, identity(torch.zeros(4, 8)))
    same_address = identity(output)
    del output
    assert recording.records["fc1"].output_storage() is None
    assert not reads_previous_output(recording, same_address)
    assert not reads_previous_output(Recording(), same_address)      # no leaf before it
