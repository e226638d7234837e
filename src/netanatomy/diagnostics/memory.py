"""Refusing a real run that would not fit in memory, before anything large is allocated.

The peak is estimated from a capture on meta tensors (nothing allocated): the private copy's
parameters and buffers, the gradients of its trainable parameters, the activations autograd
saves for backward, and the batch three times over (the batch, the live copy that requires
a gradient, and that gradient). It leaves out transient workspaces (a convolution's im2col
buffer, the hooks' float64 copy of one output at a time, the Krylov basis of the spectral
check, at most 256 MiB), so it is a floor on the real peak, not a ceiling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from netanatomy.errors import UsageError

MEMINFO = Path("/proc/meminfo")


@dataclass(frozen=True, slots=True)
class MemoryEstimate:
    """Estimated bytes of a real run, by part (see the module docstring)."""

    params: int
    gradients: int
    saved_activations: int
    inputs: int

    @property
    def total(self) -> int:
        return self.params + self.gradients + self.saved_activations + self.inputs


def gib(value: int) -> str:
    """Bytes in GiB, or MiB below 1 GiB."""
    return f"{value / 2**30:.2f} GiB" if value >= 2**30 else f"{value / 2**20:.1f} MiB"


def meta_inputs(inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """Shape- and dtype-alike tensors on meta (nothing allocated)."""
    return tuple(torch.empty(t.shape, dtype=t.dtype, device="meta") for t in inputs)


def estimate_run(model: nn.Module, inputs: Sequence[torch.Tensor],
                 training: bool) -> MemoryEstimate:
    """The parts of a forward + backward pass of a private copy of ``model`` on ``inputs``
    (their shapes and dtypes only), from a capture on meta.

    Raises:
        CaptureError: the model cannot run on meta tensors.
    """
    from netanatomy.frontends.torch.capture import capture

    graph = capture(model, meta_inputs(inputs), {}, device="meta", training=training)
    params = sum(int(p.nbytes) for p in graph.params.values())
    gradients = sum(int(p.nbytes) for p in graph.params.values()
                    if p.trainable and not p.is_buffer)
    saved = int(graph.saved_bytes or 0)
    batch = sum(t.numel() * t.element_size() for t in inputs)
    return MemoryEstimate(params, gradients, saved, 3 * batch)


def read_mem_available(meminfo: str) -> int | None:
    """``MemAvailable`` of a /proc/meminfo text, in bytes (None when absent)."""
    for line in meminfo.splitlines():
        name, _, rest = line.partition(":")
        if name.strip() == "MemAvailable":
            value, _, unit = rest.strip().partition(" ")
            return int(value) * (1024 if unit.strip().lower() == "kb" else 1)
    return None


def available_bytes(device: str) -> tuple[int | None, str]:
    """(bytes free for a run on ``device``, how it was found); None when it cannot be
    known here (the text then says why)."""
    target = torch.device(device)
    if target.type == "cuda":
        try:
            free, _ = torch.cuda.mem_get_info(target)
        except (RuntimeError, AssertionError, ValueError) as error:
            return None, f"memory not checked: cannot query {device} ({error})"
        return int(free), f"free on {device} (torch.cuda.mem_get_info)"
    if target.type == "cpu":
        try:
            found = read_mem_available(MEMINFO.read_text())
        except OSError:
            found = None
        if found is None:
            return None, "memory not checked: no MemAvailable in /proc/meminfo (not Linux)"
        return found, "MemAvailable in /proc/meminfo"
    return None, f"memory not checked on device {device!r}"


def check_fits(estimate: int, device: str, what: str, hint: str, parts: str = "") -> str:
    """Raise when ``estimate`` bytes exceed what ``device`` has free; else return a note
    ("" when checked, the reason when it could not be).

    Raises:
        UsageError: the estimate does not fit (the message names both figures and ``hint``).
    """
    available, source = available_bytes(device)
    if available is None:
        return source
    if estimate > available:
        detail = f": {parts}" if parts else ""
        raise UsageError(f"{what} needs about {gib(estimate)} ({estimate} bytes, estimated "
                         f"on meta tensors{detail}) but only {gib(available)} is available "
                         f"({source}). Hint: {hint}")
    return ""


def describe(estimate: MemoryEstimate, factor: int = 1) -> str:
    """The parts, for a refusal message."""
    parts = (("parameters and buffers", estimate.params), ("gradients", estimate.gradients),
             ("saved activations", estimate.saved_activations), ("batch", estimate.inputs))
    scale = f" (x{factor} in float64)" if factor != 1 else ""
    return ", ".join(f"{name} {gib(value * factor)}" for name, value in parts) + scale


def guard(model: nn.Module, inputs: Sequence[torch.Tensor], *, training: bool, device: str,
          what: str, hint: str, factor: int = 1) -> str:
    """Estimate on meta and refuse when it does not fit; returns a note ("" when checked).
    An estimate that cannot be made (the model cannot run on meta) is a note, not an error.

    Raises:
        UsageError: the estimate does not fit.
    """
    from netanatomy.errors import CaptureError

    try:
        estimate = estimate_run(model, inputs, training)
    except CaptureError as error:
        return f"memory not checked: the meta estimate failed ({error})"
    return check_fits(estimate.total * factor, device, what, hint, describe(estimate, factor))


def meta_from_shapes(shapes: Sequence[Any]) -> tuple[torch.Tensor, ...]:
    """Meta tensors for ``SHAPE[:dtype]`` strings, InputSpecs or int tuples (float32)."""
    from netanatomy.frontends.torch.inputs import InputSpec, parse_input_spec

    specs = [shape if isinstance(shape, InputSpec) else parse_input_spec(shape)
             if isinstance(shape, str) else InputSpec(tuple(shape), torch.float32)
             for shape in shapes]
    return tuple(torch.empty(s.shape, dtype=s.dtype, device="meta") for s in specs)
