"""Cumulative sums, products, extremes and log-sum-exp → scan."""

from __future__ import annotations

from netanatomy.frontends.torch.aten.registry import AtenCall, Emit, aten


@aten("cumsum", "cumprod", "cummax", "cummin", "logcumsumexp")
def adapt_scan(call: AtenCall) -> Emit:
    """op(x, dim): attrs ``dim`` and ``fn``."""
    return Emit("scan", (call.info(call.args[0]),), {
        "dim": int(call.arg(1, "dim")),
        "fn": str(call.func.overloadpacket).removeprefix("aten.")})
