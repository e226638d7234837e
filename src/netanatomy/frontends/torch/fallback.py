"""Capture on meta tensors, falling back to a real CPU run when meta cannot run the model
(data-dependent ops) and its parameters are small enough."""

from __future__ import annotations

from typing import Any

from netanatomy.errors import CaptureError
from netanatomy.frontends.torch.capture import capture
from netanatomy.frontends.torch.params import device_for_packed
from netanatomy.frontends.torch.tracking import flatten_tensors
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
        input_bytes = sum(t.numel() * t.element_size()
                          for t in flatten_tensors((args, kwargs)))
        if param_bytes + input_bytes > CPU_FALLBACK_LIMIT_BYTES:
            raise CaptureError(f"{error} — the model cannot run on meta tensors and is too "
                               f"large to run on the CPU instead ({param_bytes / 2**30:.1f} "
                               f"GiB of parameters, {input_bytes / 2**30:.1f} GiB of inputs; "
                               f"the limit is {CPU_FALLBACK_LIMIT_BYTES / 2**30:.0f} GiB): "
                               "give a smaller --input, or --device cpu to run it anyway"
                               ) from error
        note = f"ran on cpu: meta tensors could not run the model ({error})"
        params, buffers = meta_tensor_names(model)
        if params or buffers:
            note += (f"; the model was built on the meta device, so its {len(params)} "
                     f"parameter(s) and {len(buffers)} buffer(s) had no values and ran as "
                     "zeros: branches taken on their values may differ from the real model's")
        try:
            return capture(model, args, kwargs, device="cpu", training=training,
                           notes=(note,))
        except CaptureError as cpu_error:
            if not buffers:
                raise
            raise CaptureError(zero_filled_failure(cpu_error, error, buffers)) from cpu_error


def meta_tensor_names(model: Any) -> tuple[list[str], list[str]]:
    """Names of the parameters and of the buffers that are on the meta device (no values:
    a CPU run fills them with zeros)."""
    return ([name for name, p in model.named_parameters() if p.is_meta],
            [name for name, b in model.named_buffers() if b.is_meta])


def zero_filled_failure(cpu_error: CaptureError, meta_error: CaptureError,
                        buffers: list[str]) -> str:
    """The message of a CPU re-run that failed on a model built on meta: its buffers held
    zeros, which the failure may well come from (strides or sizes kept in buffers)."""
    shown = ", ".join(buffers[:5]) + (f" and {len(buffers) - 5} more" if len(buffers) > 5
                                      else "")
    cause = meta_error.__cause__ or meta_error
    why = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    return (f"{cpu_error} — this may not be about the input: meta tensors could not run "
            f"the model ({why}), so it was re-run on the CPU, and since it was built on the "
            f"meta device its buffers ({shown}) were filled with zeros for that run. A model "
            "that keeps settings (strides, sizes, masks) in buffers needs their real values: "
            "build it on the CPU (or load its state dict) and analyse it again.")
