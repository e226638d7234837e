"""im2col / col2im (``F.unfold`` / ``F.fold``) and pixel (un)shuffle → window kinds."""

from __future__ import annotations

from typing import Any

from netanatomy.frontends.torch.aten.registry import AtenCall, Emit, aten, per_axis


def window_attrs(call: AtenCall, first: int) -> dict[str, Any]:
    """kernel_size, dilation, padding, stride from argument ``first`` on (2-D windows);
    padding as (before, after) pairs, as conv attrs."""
    kernel = per_axis(call.arg(first, "kernel_size"), 2, 1)
    dilation = per_axis(call.arg(first + 1, "dilation"), 2, 1)
    padding = per_axis(call.arg(first + 2, "padding"), 2, 0)
    stride = per_axis(call.arg(first + 3, "stride"), 2, 1)
    return {"kernel": kernel, "dilation": dilation, "stride": stride,
            "padding": tuple((p, p) for p in padding)}


@aten("im2col")
def adapt_im2col(call: AtenCall) -> Emit:
    """im2col(x, kernel_size, dilation, padding, stride) → unfold."""
    return Emit("unfold", (call.info(call.args[0]),), window_attrs(call, 1))


@aten("col2im")
def adapt_col2im(call: AtenCall) -> Emit:
    """col2im(x, output_size, kernel_size, dilation, padding, stride) → fold."""
    output_size = tuple(int(s) for s in per_axis(call.arg(1, "output_size"), 2, 1))
    return Emit("fold", (call.info(call.args[0]),),
                {**window_attrs(call, 2), "output_size": output_size})


@aten("pixel_shuffle")
def adapt_pixel_shuffle(call: AtenCall) -> Emit:
    factor = int(call.arg(1, "upscale_factor"))
    return Emit("pixel_shuffle", (call.info(call.args[0]),), {"factor": factor,
                                                              "mode": "shuffle"})


@aten("pixel_unshuffle")
def adapt_pixel_unshuffle(call: AtenCall) -> Emit:
    factor = int(call.arg(1, "downscale_factor"))
    return Emit("pixel_shuffle", (call.info(call.args[0]),), {"factor": factor,
                                                              "mode": "unshuffle"})
