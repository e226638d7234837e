"""Convolutions (all ranks, transposed too) → ``conv`` / ``conv_transpose``."""

from __future__ import annotations

from typing import Any

from netanatomy.frontends.torch.aten.registry import AtenCall, Emit, aten, per_axis


@aten("convolution", "_convolution")
def adapt_convolution(call: AtenCall) -> Emit:
    x, weight, bias = call.args[0], call.args[1], call.args[2]
    rank = weight.dim() - 2
    transposed = bool(call.arg(6, "transposed", False))
    padding = per_axis(call.arg(4, "padding"), rank, 0)
    attrs: dict[str, Any] = {
        "stride": per_axis(call.arg(3, "stride"), rank, 1),
        "padding": tuple((p, p) for p in padding),
        "dilation": per_axis(call.arg(5, "dilation"), rank, 1),
        "groups": int(call.arg(8, "groups", 1)),
    }
    if transposed:
        attrs["output_padding"] = per_axis(call.arg(7, "output_padding"), rank, 0)
    operands = [call.info(x), call.info(weight)] + ([call.info(bias)] if bias is not None
                                                    else [])
    return Emit("conv_transpose" if transposed else "conv", tuple(operands), attrs)
