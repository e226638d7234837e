"""Views, reshapes, copies, padding, concatenation and tensor creation → data movement."""

from __future__ import annotations

from netanatomy.frontends.torch.aten.registry import AtenCall, Emit, aten, plain

VIEWS = (
    "view _unsafe_view reshape _reshape_alias expand squeeze unsqueeze select narrow alias "
    "detach as_strided unfold split split_with_sizes unsafe_split chunk unbind diagonal "
    "view_as_real view_as_complex lift_fresh movedim"
).split()

COPIES = (
    "clone contiguous _to_copy to copy copy_ pad repeat repeat_interleave roll flip tril "
    "triu index_select gather index index_put scatter masked_scatter "
    "channel_shuffle native_channel_shuffle lift_fresh_copy "
    "_unsafe_index fill zero slice_scatter select_scatter diag_embed take "
    "_local_scalar_dense max_unpool2d max_unpool3d stack"
).split()

CREATIONS = (
    "zeros zeros_like ones ones_like empty empty_like empty_strided full full_like arange "
    "linspace new_zeros new_ones new_empty new_full new_empty_strided scalar_tensor rand "
    "rand_like randn randn_like randint randint_like randperm eye normal uniform "
    "exponential random resize"
).split()

plain("view", VIEWS)
plain("copy", COPIES)
plain("create", CREATIONS)


@aten("permute", "transpose", "t", "swapaxes", "numpy_T")
def adapt_permute(call: AtenCall) -> Emit:
    """permute / transpose / t: attrs ``permutation`` (output axis i is input axis p[i])."""
    x = call.args[0]
    rank = x.dim()
    if len(call.args) > 1 and isinstance(call.args[1], (list, tuple)):
        permutation = [int(d) % rank for d in call.args[1]]
    else:
        permutation = list(range(rank))
        if rank >= 2:
            first = int(call.arg(1, "dim0", 0)) % rank
            second = int(call.arg(2, "dim1", 1)) % rank
            permutation[first], permutation[second] = permutation[second], permutation[first]
    return Emit("view", (call.info(x),), {"permutation": tuple(permutation)})


@aten("constant_pad_nd", "reflection_pad1d", "reflection_pad2d", "reflection_pad3d",
      "replication_pad1d", "replication_pad2d", "replication_pad3d")
def adapt_pad(call: AtenCall) -> Emit:
    """constant/reflection/replication padding; torch lists pads last axis first."""
    pads = [int(p) for p in call.arg(1, "padding", [])]
    pairs = [(pads[i], pads[i + 1]) for i in range(0, len(pads), 2)][::-1]
    return Emit("pad", (call.info(call.args[0]),), {"padding": tuple(pairs)})


@aten("slice")
def adapt_slice(call: AtenCall) -> Emit:
    """slice(x, dim, start, end, step): a view; attrs ``slice = (dim, start, step)``."""
    x = call.args[0]
    dim = int(call.arg(1, "dim", 0)) % max(x.dim(), 1)
    start = call.arg(2, "start", 0)
    start = 0 if start is None else int(start)
    if start < 0:
        start += x.shape[dim]
    step = int(call.arg(4, "step", 1) or 1)
    return Emit("view", (call.info(x),), {"slice": (dim, max(start, 0), step)})


@aten("cat")
def adapt_concat(call: AtenCall) -> Emit:
    return Emit("concat", call.tensors(call.args[0]), {"dim": int(call.arg(1, "dim", 0))})
