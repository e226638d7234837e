"""Every public entry point leaves the user's model and the process as it found them.

One model carries every kind of state a run can change: batch-norm running statistics and
its ``num_batches_tracked`` counter, dropout (the global RNG), a frozen weight, a forward
hook and a forward-pre hook, existing ``.grad`` values, a counter buffer,
``Embedding(max_norm=1)`` (renormalised in place), and Python attributes and the Python,
NumPy and torch RNGs touched inside ``forward``. The state is compared bitwise before and
after each entry point, on success and on failure.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import netanatomy
from netanatomy.diagnostics.measured_rf import measure_receptive_field
from netanatomy.errors import CaptureError, NetanatomyError
from netanatomy.frontends.torch.guard import globals_preserved, model_preserved

IMAGE = (2, 3, 8, 8)


class Stateful(nn.Module):
    """conv → BN → dropout, plus an embedding row as a per-channel bias → frozen 1x1
    conv. ``branchy``: a data-dependent branch (meta cannot run it); ``fail``: raises after
    every mutation."""

    def __init__(self, branchy: bool = False, fail: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.drop = nn.Dropout(0.5)
        self.embed = nn.Embedding(4, 8, max_norm=1.0)
        self.head = nn.Conv2d(8, 4, 1)
        self.head.weight.requires_grad_(False)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.register_buffer("ids", torch.tensor([1]))
        self.calls = 0
        self.branchy, self.fail = branchy, fail

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.last_shape = tuple(x.shape)           # a new attribute
        self.steps += 1
        random.random()
        np.random.random()
        torch.rand(1)                              # the global torch generator
        h = self.drop(self.bn(self.conv(x)))
        h = h + self.embed(self.ids).view(1, 8, 1, 1)
        if self.branchy and h.sum() > 0:
            h = h * 2
        if self.fail:
            raise RuntimeError("this forward always fails")
        return self.head(h)


def noop_hook(*args: Any) -> None:
    return None


def user_model(**options: Any) -> Stateful:
    torch.manual_seed(0)
    model = Stateful(**options)
    model.conv.register_forward_hook(noop_hook)
    model.bn.register_forward_pre_hook(noop_hook)
    for parameter in model.parameters():
        if parameter.requires_grad:
            parameter.grad = torch.randn_like(parameter)
    assert float(model.embed.weight[1].detach().norm()) > 1  # forward renormalises it
    return model


def bits(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.detach().reshape(-1).clone().view(torch.uint8)


def state_of(model: nn.Module) -> dict[str, Any]:
    """Everything a run could change, in a form that compares with ``==``."""
    return {
        "state": {name: (tuple(t.shape), t.dtype, bits(t).tolist())
                  for name, t in model.state_dict().items()},
        "objects": {name: id(t) for name, t in model.state_dict(keep_vars=True).items()},
        "requires_grad": {name: p.requires_grad for name, p in model.named_parameters()},
        "training": {path: m.training for path, m in model.named_modules()},
        "hooks": {path: (id(m._forward_hooks), list(m._forward_hooks.items()),
                         id(m._forward_pre_hooks), list(m._forward_pre_hooks.items()))
                  for path, m in model.named_modules()},
        "grads": {name: None if p.grad is None else bits(p.grad).tolist()
                  for name, p in model.named_parameters()},
        "attributes": {path: sorted(vars(m)) for path, m in model.named_modules()},
        "calls": getattr(model, "calls", None),
        "torch_rng": torch.get_rng_state().tolist(),
        "python_rng": random.getstate(),
        "numpy_rng": [np.asarray(part).tolist() for part in np.random.get_state()],
        "threads": torch.get_num_threads(),
        "grad_mode": torch.is_grad_enabled(),
        "default_dtype": torch.get_default_dtype(),
    }


def assert_unchanged(model: nn.Module, run: Callable[[nn.Module], Any],
                     raises: type[BaseException] | None = None) -> Any:
    before = state_of(model)
    if raises is None:
        result = run(model)
    else:
        with pytest.raises(raises):
            run(model)
        result = None
    after = state_of(model)
    changed = sorted(key for key in before if before[key] != after[key])
    assert not changed, f"changed: {changed}"
    return result


def image() -> torch.Tensor:
    return torch.randn(IMAGE, generator=torch.Generator().manual_seed(1))


ENTRY_POINTS: dict[str, Callable[[nn.Module], Any]] = {
    "analyze meta": lambda m: netanatomy.analyze(m, IMAGE, training=True),
    "analyze meta, eval": lambda m: netanatomy.analyze(m, IMAGE),
    "analyze cpu": lambda m: netanatomy.analyze(m, example_inputs=image(), device="cpu",
                                                training=True),
    "lint": lambda m: netanatomy.lint(m, IMAGE),
    "diagnose": lambda m: netanatomy.diagnose(m, image(), steps=3),
    "measure_receptive_field": lambda m: measure_receptive_field(m, (1, 3, 8, 8)),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_entry_points_leave_the_model_and_process_unchanged(entry: str) -> None:
    assert_unchanged(user_model(), ENTRY_POINTS[entry])


def test_the_meta_to_cpu_fallback_leaves_everything_unchanged() -> None:
    report = assert_unchanged(user_model(branchy=True),
                              lambda m: netanatomy.analyze(m, IMAGE, training=True))
    assert any(note.startswith("ran on cpu") for note in report.capture.notes)


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_failing_forwards_leave_everything_unchanged(entry: str) -> None:
    assert_unchanged(user_model(fail=True), ENTRY_POINTS[entry], raises=NetanatomyError)


def test_the_cpu_run_restores_what_forward_wrote_into_parameters() -> None:
    """The check above would pass if the run never wrote: make sure it did, on the run's
    own tensors (the embedding row and the BN statistics)."""
    model = user_model()
    report = netanatomy.analyze(model, example_inputs=image(), device="cpu", training=True)
    assert {"aten.embedding_renorm_.default", "aten.add_.Tensor"} <= {
        node.op for node in report.graph.nodes}
    assert float(model.embed.weight[1].detach().norm()) > 1
    assert model.calls == 0 and int(model.steps) == 0


# --- the guard itself ----------------------------------------------------------------------

def test_globals_are_restored() -> None:
    threads, dtype = torch.get_num_threads(), torch.get_default_dtype()
    with globals_preserved():
        torch.set_num_threads(max(1, threads - 1) if threads > 1 else 2)
        torch.set_default_dtype(torch.float64)
        torch.set_grad_enabled(False)
        torch.use_deterministic_algorithms(True)
        torch.manual_seed(123)
    assert torch.get_num_threads() == threads and torch.get_default_dtype() == dtype
    assert torch.is_grad_enabled() and not torch.are_deterministic_algorithms_enabled()


def test_hooks_added_inside_are_removed_and_old_handles_still_work() -> None:
    model = nn.Sequential(nn.Linear(2, 2))
    handle = model[0].register_forward_hook(noop_hook)
    with model_preserved(model):
        model[0].register_forward_hook(noop_hook)
        model[0]._forward_hooks.clear()
        model.extra = 1
    assert list(model[0]._forward_hooks) == [handle.id] and not hasattr(model, "extra")
    handle.remove()
    assert not model[0]._forward_hooks


# --- a model built on meta is never given made-up values silently -----------------------

class StridedByBuffer(nn.Module):
    """Keeps its convolution stride in a buffer (meta cannot read it)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.register_buffer("stride", torch.tensor([2, 2]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.conv2d(x, self.conv.weight, stride=self.stride.tolist())


def test_a_meta_built_model_whose_buffers_matter_fails_saying_they_were_zero_filled() -> None:
    with torch.device("meta"):
        model = StridedByBuffer()
    with pytest.raises(CaptureError) as raised:
        netanatomy.analyze(model, (1, 3, 16, 16))
    message = str(raised.value)
    assert "built on the meta device" in message and "stride" in message
    assert "filled with zeros" in message


def test_a_meta_built_model_run_on_the_cpu_says_its_values_were_zeros() -> None:
    with torch.device("meta"):
        model = Stateful(branchy=True)
    notes = netanatomy.analyze(model, IMAGE).capture.notes
    assert any("built on the meta device" in note and "zeros" in note for note in notes)
