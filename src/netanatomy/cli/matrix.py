"""The ``matrix`` command's glue: the operator kind and its sizes parsed from text
(``3x3``, ``5``), the course's settings as defaults per kind, options that do not apply
refused, and the ``.npy`` file. Torch is reached only through :mod:`netanatomy.lab`."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netanatomy.errors import UsageError

DEFAULTS: dict[str, dict[str, str]] = {
    "conv1d": {"size": "5", "kernel": "3"},            # N inputs, K taps
    "conv2d": {"size": "3x3", "kernel": "2x2"},        # a 2×2 kernel over a 3×3 input
    "conv-transpose1d": {"size": "3", "kernel": "3"},  # = Aᵀ of conv1d 5 → 3
    "conv-transpose2d": {"size": "2x2", "kernel": "2x2"},  # = Aᵀ of conv2d 3×3 → 2×2
    "avg-pool1d": {"size": "4", "kernel": "2"},
    "avg-pool2d": {"size": "4x4", "kernel": "2x2"},    # 2×2 average pooling
    "max-pool1d": {"size": "4", "kernel": "2"},
    "max-pool2d": {"size": "4x4", "kernel": "2x2"},
    "dilated": {"kernel": "3x3", "dilation": "2"},
}
"""Kind → its default ``--input`` / ``--kernel`` (the course's worked settings)."""

APPLIES: dict[str, frozenset[str]] = {
    "conv": frozenset({"stride", "padding", "dilation", "in_channels", "out_channels",
                       "weights", "symbolic"}),
    "conv-transpose": frozenset({"stride", "padding", "dilation", "output_padding",
                                 "in_channels", "out_channels", "weights", "symbolic"}),
    "avg-pool": frozenset({"stride", "padding", "in_channels"}),
    "max-pool": frozenset({"stride", "padding", "dilation", "in_channels", "values"}),
    "dilated": frozenset({"size", "dilation", "weights", "symbolic", "kronecker"}),
}
"""Family → the options beyond --kernel (and --input) that it takes."""

FLAGS = {"size": "--input", "stride": "--stride", "padding": "--padding",
         "dilation": "--dilation", "output_padding": "--output-padding",
         "in_channels": "--in-channels", "out_channels": "--out-channels",
         "weights": "--weights", "symbolic": "--symbolic/--numbers", "values": "--values",
         "kronecker": "--kronecker"}


@dataclass(frozen=True)
class MatrixOptions:
    kind: str
    size: str | None = None
    kernel: str | None = None
    stride: str | None = None
    padding: str | None = None
    dilation: str | None = None
    output_padding: str | None = None
    in_channels: int | None = None
    out_channels: int | None = None
    symbolic: bool | None = None
    weights: str | None = None
    values: str | None = None
    kronecker: bool = False
    seed: int = 0


def family(kind: str) -> str:
    return kind if kind == "dilated" else kind[:-2]


def check_kind(kind: str) -> None:
    if kind not in DEFAULTS:
        close = difflib.get_close_matches(kind, list(DEFAULTS), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise UsageError(f"no operator {kind!r}: {hint}give one of {', '.join(DEFAULTS)}")


def sizes(flag: str, text: str) -> int | tuple[int, ...]:
    """``"3x3"`` → ``(3, 3)``, ``"5"`` → ``5``.

    Raises:
        UsageError: not ints joined by ``x``.
    """
    parts = text.lower().replace("×", "x").split("x")
    try:
        values = tuple(int(part) for part in parts)
    except ValueError:
        raise UsageError(f"{flag} {text!r}: give a size such as 3x3 (2-D) or 5 (1-D)"
                         ) from None
    return values[0] if len(values) == 1 else values


def numbers(flag: str, text: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise UsageError(f"{flag} {text!r}: give numbers separated by commas, e.g. 1,2,3,4")
    return items


def check_applies(options: MatrixOptions) -> None:
    """Refuse options the kind does not take (e.g. --output-padding for conv2d)."""
    allowed = APPLIES[family(options.kind)] | {"size"}
    given = {key for key in FLAGS if getattr(options, key) not in (None, False)}
    extra = sorted(given - allowed)
    if extra:
        raise UsageError(f"{FLAGS[extra[0]]} does not apply to {options.kind} (it takes "
                         + ", ".join(sorted(FLAGS[k] for k in allowed)) + ")")


def builder_options(options: MatrixOptions) -> dict[str, Any]:
    """The keyword options of :func:`netanatomy.lab.matrices.build` for ``options``."""
    check_kind(options.kind)
    check_applies(options)
    defaults = DEFAULTS[options.kind]
    kernel = options.kernel or defaults["kernel"]
    built: dict[str, Any] = {"kernel": sizes("--kernel", kernel), "seed": options.seed}
    size = options.size or defaults.get("size")
    if size is not None:
        built["size"] = sizes("--input", size)
    for key in ("stride", "padding", "dilation", "output_padding"):
        text = getattr(options, key) or (defaults.get(key) if key == "dilation" else None)
        if text is not None:
            built[key] = sizes(FLAGS[key], text)
    for key in ("in_channels", "out_channels"):
        if getattr(options, key) is not None:
            built[key] = getattr(options, key)
    if options.weights is not None:
        built["weights"] = numbers("--weights", options.weights)
    if options.values is not None:
        built["values"] = numbers("--values", options.values)
    if "symbolic" in APPLIES[family(options.kind)]:
        built["symbolic"] = (options.weights is None if options.symbolic is None
                             else options.symbolic)
    if options.kind == "dilated":
        built["kronecker"] = options.kronecker
        if not isinstance(built.get("dilation"), int):
            raise UsageError("--dilation for the dilated kernel is one int, e.g. 2")
    return built


def build_matrix(options: MatrixOptions) -> Any:
    """The checked :class:`~netanatomy.lab.matrices.OperatorMatrix` of ``options``."""
    from netanatomy.lab.matrices import build

    return build(options.kind, **builder_options(options))


def write_npy(result: Any, path: Path) -> None:
    """The numeric matrix as a float64 ``.npy`` file.

    Raises:
        UsageError: the matrix is symbolic.
    """
    import numpy as np

    if result.matrix.free_symbols:
        raise UsageError(f"-o {str(path)!r}: a .npy file holds numbers, and this {result.kind} "
                         "matrix is symbolic (w_11, …): add --numbers or --weights 1,2,…")
    try:
        np.save(path, result.numeric())
    except OSError as error:
        raise UsageError(f"-o/--output {str(path)!r} cannot be written: {error}") from None
