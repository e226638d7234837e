"""Human formatting of counts, bytes and shapes (numbers or symbolic expressions)."""

from __future__ import annotations

from typing import Any

from netanatomy.symbolic import is_concrete

COUNT_UNITS = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k"))
BYTE_UNITS = ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"))


def format_count(value: Any) -> str:
    """``25557032`` → ``"25.56 M"``; small ints as they are; None → ``"?"``."""
    if value is None:
        return "?"
    if not is_concrete(value):
        return str(value)
    for scale, unit in COUNT_UNITS:
        if abs(value) >= scale:
            return f"{value / scale:.2f} {unit}"
    return str(value)


def format_exact(value: Any) -> str:
    """``25557032`` → ``"25,557,032"``; an expression as sympy prints it; None → ``"?"``."""
    if value is None:
        return "?"
    return f"{value:,}" if is_concrete(value) else str(value)


def format_bytes(value: Any) -> str:
    """``107_179_264`` → ``"102.22 MiB"``; None → ``"?"``."""
    if value is None:
        return "?"
    if not is_concrete(value):
        return f"{value} B"
    for scale, unit in BYTE_UNITS:
        if abs(value) >= scale:
            return f"{value / scale:.2f} {unit}"
    return f"{value} B"


def format_shape(shape: Any) -> str:
    """``(1, 3, 224, 224)`` → ``"1×3×224×224"``; a scalar → ``"scalar"``; None → ``""``."""
    if shape is None:
        return ""
    if len(shape) == 0:
        return "scalar"
    return "×".join(str(size) for size in shape)


def json_number(value: Any) -> Any:
    """An int stays an int; a sympy expression becomes its string; None stays None."""
    if value is None or is_concrete(value) or isinstance(value, (float, bool, str)):
        return value
    return str(value)


def format_field(field: Any) -> str:
    """A receptive field as ``"427×427 /32"`` (size, then effective stride), ``"global"``,
    or ``""`` when the tensor has no spatial field."""
    if field is None:
        return ""
    if field.is_global:
        return "global"
    size = "×".join(str(v) for v in field.size)
    strides = {str(v) for v in field.stride}
    stride = next(iter(strides)) if len(strides) == 1 else "×".join(str(v) for v in field.stride)
    return f"{size} /{stride}"


def format_seconds(seconds: float) -> str:
    """``0.000012`` → ``12.0 µs``; ``1.5`` → ``1.50 s``."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:,.2f} {unit}"
    return f"{seconds / 1e-9:,.1f} ns"
