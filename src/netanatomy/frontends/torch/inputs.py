"""Parsing of input specifications (``1x3x224x224``, ``1x2048:int64``) into tensors."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from netanatomy.errors import InputSpecError

DTYPES = {
    "float32": torch.float32, "float": torch.float32, "fp32": torch.float32,
    "float16": torch.float16, "half": torch.float16, "fp16": torch.float16,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float64": torch.float64,
    "double": torch.float64, "int64": torch.int64, "long": torch.int64,
    "int32": torch.int32, "int": torch.int32, "int16": torch.int16, "int8": torch.int8,
    "uint8": torch.uint8, "bool": torch.bool,
}


@dataclass(frozen=True)
class InputSpec:
    """Shape and dtype of one model input."""

    shape: tuple[int, ...]
    dtype: torch.dtype = torch.float32

    def __str__(self) -> str:
        return "x".join(map(str, self.shape)) + f":{str(self.dtype).removeprefix('torch.')}"


def parse_input_spec(text: str) -> InputSpec:
    """Parse ``SHAPE[:dtype]``, e.g. ``1x3x224x224`` or ``1x2048:int64``.

    Raises:
        InputSpecError: with the offending text and the accepted form.
    """
    shape_text, _, dtype_text = text.strip().partition(":")
    hint = "expected SHAPE[:dtype] such as 1x3x224x224 or 1x2048:int64"
    try:
        shape = tuple(int(part) for part in shape_text.lower().replace(",", "x").split("x"))
    except ValueError:
        raise InputSpecError(f"bad input shape {text!r}: {hint}") from None
    if not shape or any(size <= 0 for size in shape):
        raise InputSpecError(f"bad input shape {text!r}: sizes must be positive; {hint}")
    dtype_key = dtype_text.strip().lower() or "float32"
    if dtype_key not in DTYPES:
        raise InputSpecError(
            f"unknown dtype {dtype_text!r} in input {text!r}; known: {', '.join(sorted(DTYPES))}")
    return InputSpec(shape, DTYPES[dtype_key])


def make_input(spec: InputSpec, device: torch.device | str) -> torch.Tensor:
    """A tensor for ``spec`` on ``device``: empty on meta; on real devices random normal
    floats, and zeros for integer and bool dtypes (valid token ids and indices)."""
    if str(device) == "meta":
        return torch.empty(spec.shape, dtype=spec.dtype, device="meta")
    if spec.dtype.is_floating_point:
        generator = torch.Generator().manual_seed(0)
        return torch.randn(spec.shape, generator=generator).to(device=device, dtype=spec.dtype)
    return torch.zeros(spec.shape, dtype=spec.dtype, device=device)
