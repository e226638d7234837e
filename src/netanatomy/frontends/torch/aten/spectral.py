"""The aten FFT primitives torch.fft.* lowers to → fft."""

from __future__ import annotations

from typing import Any

from netanatomy.frontends.torch.aten.registry import AtenCall, Emit, aten, plain

plain("view", ["_conj"])
"""ifft / hfft / ihfft lower to a transform and ``_conj``: a view that only sets the
conjugate bit (resolved, if ever, by a later copy)."""


def fft_attrs(call: AtenCall, transform: str) -> dict[str, Any]:
    """op(x, dim, normalization, ...): transformed axes made non-negative."""
    rank = max(call.args[0].dim(), 1)
    dims = tuple(int(d) % rank for d in call.arg(1, "dim"))
    return {"transform": transform, "dims": dims,
            "normalization": int(call.arg(2, "normalization", 0))}


@aten("_fft_r2c")
def adapt_fft_r2c(call: AtenCall) -> Emit:
    """_fft_r2c(x, dim, normalization, onesided)."""
    return Emit("fft", (call.info(call.args[0]),),
                {**fft_attrs(call, "r2c"), "onesided": bool(call.arg(3, "onesided", True))})


@aten("_fft_c2c")
def adapt_fft_c2c(call: AtenCall) -> Emit:
    """_fft_c2c(x, dim, normalization, forward)."""
    return Emit("fft", (call.info(call.args[0]),),
                {**fft_attrs(call, "c2c"), "forward": bool(call.arg(3, "forward", True))})


@aten("_fft_c2r")
def adapt_fft_c2r(call: AtenCall) -> Emit:
    """_fft_c2r(x, dim, normalization, last_dim_size)."""
    return Emit("fft", (call.info(call.args[0]),),
                {**fft_attrs(call, "c2r"), "last_dim_size": int(call.arg(3, "last_dim_size"))})
