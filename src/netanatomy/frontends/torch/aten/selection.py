"""Sort, argsort, top-k, k-th value, median, mode and aminmax → sort."""

from __future__ import annotations

from netanatomy.frontends.torch.aten.registry import AtenCall, Emit, aten


def fn_name(call: AtenCall) -> str:
    return str(call.func.overloadpacket).removeprefix("aten.")


@aten("sort", "argsort")
def adapt_sort(call: AtenCall) -> Emit:
    """sort(x, dim=-1, descending) and sort.stable(x, *, stable, dim=-1, descending)."""
    dim = call.kwargs.get("dim", call.args[1] if len(call.args) > 1 else -1)
    return Emit("sort", (call.info(call.args[0]),), {"fn": fn_name(call), "dim": int(dim)})


@aten("topk")
def adapt_topk(call: AtenCall) -> Emit:
    """topk(x, k, dim=-1, largest, sorted)."""
    return Emit("sort", (call.info(call.args[0]),), {
        "fn": "topk", "k": int(call.arg(1, "k")), "dim": int(call.arg(2, "dim", -1))})


@aten("kthvalue")
def adapt_kthvalue(call: AtenCall) -> Emit:
    """kthvalue(x, k, dim=-1, keepdim)."""
    return Emit("sort", (call.info(call.args[0]),), {
        "fn": "kthvalue", "k": int(call.arg(1, "k")), "dim": int(call.arg(2, "dim", -1)),
        "keepdim": bool(call.arg(3, "keepdim", False))})


@aten("median", "nanmedian", "mode")
def adapt_median(call: AtenCall) -> Emit:
    """median(x) (all elements), median.dim(x, dim, keepdim), mode(x, dim=-1, keepdim)."""
    default = -1 if fn_name(call) == "mode" else None
    dim = call.arg(1, "dim", default)
    return Emit("sort", (call.info(call.args[0]),), {
        "fn": fn_name(call), "dim": None if dim is None else int(dim),
        "keepdim": bool(call.arg(2, "keepdim", False))})


@aten("aminmax")
def adapt_aminmax(call: AtenCall) -> Emit:
    """aminmax(x, *, dim=None, keepdim)."""
    dim = call.kwargs.get("dim")
    return Emit("sort", (call.info(call.args[0]),), {
        "fn": "aminmax", "dim": None if dim is None else int(dim),
        "keepdim": bool(call.kwargs.get("keepdim", False))})
