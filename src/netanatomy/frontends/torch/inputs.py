"""Parsing of input specifications (``1x3x224x224``, ``1x2048:int64``, and keyword inputs
``mask=1x128:bool``) into tensors."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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

MAX_DIMS = 64
"""Most axes an input may have (a sanity bound: torch itself has none)."""

MAX_BYTES = 2**63 - 1
"""Largest tensor size in bytes: element count times item size must fit a signed 64-bit
integer, or torch cannot describe the tensor even on meta."""

HINT = "expected SHAPE[:dtype] such as 1x3x224x224 or 1x2048:int64"
SIZE = re.compile(r"[0-9]+")


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
        InputSpecError: with the offending text and the accepted form: a size that is not a
            positive integer, more than :data:`MAX_DIMS` axes, a tensor too large to
            describe (:data:`MAX_BYTES`), or an unknown dtype.
    """
    shape_text, _, dtype_text = text.strip().partition(":")
    parts = [part.strip() for part in shape_text.lower().replace(",", "x").split("x")]
    if not all(SIZE.fullmatch(part) for part in parts):
        raise InputSpecError(f"bad input shape {shown(text)}: sizes are positive integers; {HINT}")
    if any(len(part) > 19 for part in parts):  # ≥ 10**19 > MAX_BYTES (and int() stays cheap)
        raise InputSpecError(f"bad input shape {shown(text)}: a size above {MAX_BYTES:.3g} is more "
                             "than a tensor can hold")
    shape = tuple(int(part) for part in parts)
    if any(size <= 0 for size in shape):
        raise InputSpecError(f"bad input shape {shown(text)}: sizes must be positive; {HINT}")
    if len(shape) > MAX_DIMS:
        raise InputSpecError(f"bad input shape {shown(text)}: {len(shape)} axes, at most "
                             f"{MAX_DIMS} are accepted")
    dtype = parse_dtype(dtype_text, text)
    check_size(shape, dtype, text)
    return InputSpec(shape, dtype)


def parse_dtype(dtype_text: str, text: str) -> torch.dtype:
    """The torch dtype named after the ``:`` of an input (float32 when empty)."""
    key = dtype_text.strip().lower() or "float32"
    if key not in DTYPES:
        raise InputSpecError(f"unknown dtype {shown(dtype_text)} in input {shown(text)}; known: "
                             f"{', '.join(sorted(DTYPES))}")
    return DTYPES[key]


def check_size(shape: tuple[int, ...], dtype: torch.dtype, text: str) -> None:
    """Refuse a shape whose byte size does not fit a signed 64-bit integer."""
    itemsize = dtype.itemsize
    count = 1
    for size in shape:
        count *= size
    if count * itemsize > MAX_BYTES:
        raise InputSpecError(
            f"bad input shape {shown(text)}: {count:.3g} elements of {itemsize} bytes are more "
            f"than a tensor can hold (at most {MAX_BYTES:.3g} bytes)")


def parse_input_arg(text: str) -> tuple[str | None, InputSpec]:
    """Parse one ``--input``: ``SHAPE[:dtype]`` (a positional input) or
    ``NAME=SHAPE[:dtype]`` (the keyword argument ``NAME`` of ``forward``).

    Raises:
        InputSpecError: a bad name, shape or dtype.
    """
    name, sep, spec = text.partition("=")
    if not sep:
        return None, parse_input_spec(text)
    name = name.strip()
    if not name.isidentifier():
        raise InputSpecError(f"bad keyword input {shown(text)}: {shown(name)} is not an "
                             "argument name; expected NAME=SHAPE[:dtype] such as "
                             "attention_mask=1x128:bool")
    return name, parse_input_spec(spec)


def parse_input_args(entries: Sequence[Any], dtype: torch.dtype | None = None
                     ) -> tuple[list[InputSpec], dict[str, InputSpec]]:
    """Positional specs in order and keyword specs by name, from ``--input`` texts
    (``"SHAPE[:dtype]"`` or ``"NAME=SHAPE[:dtype]"``) in any mix; from Python also
    InputSpecs and tuples of positive ints (inputs of ``dtype``, default float32).

    Raises:
        InputSpecError: a bad entry, or a keyword given twice.
    """
    positional: list[InputSpec] = []
    keyword: dict[str, InputSpec] = {}
    for entry in entries:
        if isinstance(entry, InputSpec):
            positional.append(entry)
        elif isinstance(entry, str):
            name, spec = parse_input_arg(entry)
            if name is None:
                positional.append(spec)
            elif name in keyword:
                raise InputSpecError(f"keyword input {name!r} is given twice ({shown(entry)})")
            else:
                keyword[name] = spec
        elif isinstance(entry, Sequence) and all(isinstance(s, int) and s > 0 for s in entry):
            positional.append(InputSpec(tuple(entry), dtype or torch.float32))
        else:
            raise InputSpecError(f"bad input_size entry {entry!r}: expected a tuple of "
                                 "positive ints or a 'SHAPE[:dtype]' string")
    return positional, keyword


def shown(text: str, limit: int = 60) -> str:
    """``text`` quoted for a message, cut to about ``limit`` characters."""
    return repr(text if len(text) <= limit else text[:limit - 3] + "...")


def make_input(spec: InputSpec, device: torch.device | str) -> torch.Tensor:
    """A tensor for ``spec`` on ``device``: empty on meta; on real devices random normal
    floats, and zeros for integer and bool dtypes (valid token ids and indices)."""
    if str(device) == "meta":
        return torch.empty(spec.shape, dtype=spec.dtype, device="meta")
    if spec.dtype.is_floating_point:
        generator = torch.Generator().manual_seed(0)
        return torch.randn(spec.shape, generator=generator).to(device=device, dtype=spec.dtype)
    return torch.zeros(spec.shape, dtype=spec.dtype, device=device)
