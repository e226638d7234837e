"""Capture on meta tensors, falling back to a real CPU run when meta cannot run the model
(data-dependent ops) and its parameters are small enough."""

from __future__ import annotations

from typing import Any

from netanatomy.errors import CaptureError
from netanatomy.frontends.torch.capture import capture
from netanatomy.frontends.torch.params import device_for_packed
from netanatomy.ir.graph import Graph

CPU_FALLBACK_LIMIT_BYTES = 8 * 2**30
"""Largest parameter size for which a model that cannot run on meta is re-run on the CPU."""


def is_meta_limitation(error: CaptureError) -> bool:
    """True when a failure on meta comes from meta tensors having no data."""
    cause = error.__cause__
    text = f"{type(cause).__name__}: {cause}".lower()
    return isinstance(cause, NotImplementedError) or "meta" in text or "data-dependent" in text


def capture_with_fallback(model: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                          device: str, training: bool) -> Graph:
    """Capture on ``device``; on meta, fall back to a real CPU run when meta cannot run it
    (the graph's capture notes say so).

    Raises:
        CaptureError: the model failed, or cannot run on meta and is too large for the CPU.
    """
    device, notes = device_for_packed(model, device)  # quantized: packed weights on cpu
    try:
        return capture(model, args, kwargs, device=device, training=training, notes=notes)
    except CaptureError as error:
        if device != "meta" or not is_meta_limitation(error):
            raise
        param_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
        if param_bytes > CPU_FALLBACK_LIMIT_BYTES:
            raise CaptureError(f"{error} — the model cannot run on meta tensors and is too "
                               f"large ({param_bytes / 2**30:.1f} GiB of parameters) to run "
                               "on the CPU instead") from error
        note = f"ran on cpu: meta tensors could not run the model ({error})"
        return capture(model, args, kwargs, device="cpu", training=training, notes=(note,))
