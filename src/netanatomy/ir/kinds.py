"""The one list of IR op kinds: the normalised vocabulary every front-end emits.

Each kind belongs to one group (what kind of work it does) and has exactly one rule bundle
in :mod:`netanatomy.rules` (output shape, params, MACs, elementwise FLOPs, bytes, receptive
field transfer, convention). A kind that a front-end emits but that is not listed here is a
bug, caught by the registry tests; ``unknown`` is the kind of an op no adapter knows, and
it has no rule on purpose (its costs are unknown, never 0).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OpKind:
    """An op kind: its name, its group and one line saying what it covers."""

    name: str
    group: str
    summary: str


GROUPS = ("linear_algebra", "window", "normalisation", "pointwise", "reduction", "lookup",
          "resampling", "recurrent", "spectral", "selection", "data_movement", "unknown")
"""The groups of kinds, in the order the docs list them."""

_KINDS = (
    OpKind("conv", "linear_algebra", "convolution 1-D/2-D/3-D with stride, padding, "
                                     "dilation, groups"),
    OpKind("conv_transpose", "linear_algebra", "transposed convolution with output padding"),
    OpKind("linear", "linear_algebra", "fully connected layer x·Wᵀ (+ b)"),
    OpKind("matmul", "linear_algebra", "(batched) matrix product, mm/bmm/addmm/mv/dot"),
    OpKind("grouped_matmul", "linear_algebra", "one matrix product per group of rows "
                                               "(mixture-of-experts experts)"),
    OpKind("bilinear", "linear_algebra", "bilinear form x₁ᵀ·A·x₂ (nn.Bilinear)"),
    OpKind("distance", "linear_algebra", "pairwise p-norm distances (torch.cdist)"),
    OpKind("attention", "linear_algebra", "fused scaled-dot-product attention"),
    OpKind("recurrent", "recurrent", "RNN / LSTM / GRU layer in closed form"),
    OpKind("pool", "window", "max / average pooling window"),
    OpKind("adaptive_pool", "window", "adaptive (and global) pooling"),
    OpKind("unfold", "window", "sliding-window extraction (im2col, F.unfold)"),
    OpKind("fold", "window", "sliding-window accumulation (col2im, F.fold)"),
    OpKind("norm", "normalisation", "batch, group, instance, layer and RMS norm"),
    OpKind("activation", "pointwise", "nonlinearity applied per element"),
    OpKind("elementwise", "pointwise", "arithmetic, comparison and logic per element"),
    OpKind("dropout", "pointwise", "dropout mask and scale"),
    OpKind("softmax", "reduction", "softmax / log-softmax along one axis"),
    OpKind("reduction", "reduction", "sum, mean, max, var, norm, ... over axes"),
    OpKind("scan", "reduction", "cumulative sum / product along one axis"),
    OpKind("embedding", "lookup", "table lookup by index"),
    OpKind("embedding_bag", "lookup", "table lookup with a sum / mean / max per bag"),
    OpKind("scatter_add", "lookup", "index_add / scatter_add accumulation"),
    OpKind("upsample", "resampling", "nearest / (bi/tri)linear / bicubic interpolation"),
    OpKind("sample", "resampling", "interpolation at data-dependent positions (grid_sample)"),
    OpKind("fft", "spectral", "fast Fourier transform (real or complex)"),
    OpKind("sort", "selection", "sort, top-k, histogram and min/max selection"),
    OpKind("view", "data_movement", "aliasing view: permute, transpose, slice, expand, ..."),
    OpKind("reshape", "data_movement", "reshape to a given shape"),
    OpKind("concat", "data_movement", "concatenation along an axis"),
    OpKind("copy", "data_movement", "copies, casts, gathers, repeats"),
    OpKind("create", "data_movement", "new tensors: zeros, arange, random, ..."),
    OpKind("pad", "data_movement", "constant / reflection / replication padding"),
    OpKind("pixel_shuffle", "data_movement", "depth-to-space and space-to-depth"),
    OpKind("conv_weight_grad", "linear_algebra", "gradient of a convolution's weight: "
                                                 "correlation of input and output gradient"),
    OpKind("attention_backward", "linear_algebra", "fused attention backward: dS, dQ, dK, "
                                                   "dV (scores recomputed)"),
    OpKind("recurrent_backward", "recurrent", "fused recurrent layer backward: dx, dh, dW, db"),
    OpKind("pool_backward", "window", "gradient of pooling, scattered back to the windows"),
    OpKind("upsample_backward", "resampling", "gradient of interpolation, scattered back"),
    OpKind("optimizer_step", "pointwise", "fused optimizer update of one parameter (Adam, "
                                          "AdamW, SGD)"),
)

KINDS: dict[str, OpKind] = {kind.name: kind for kind in _KINDS}
"""Every op kind with a rule, by name (built-in ones, then any :func:`register_kind` adds)."""

UNKNOWN = "unknown"
"""The kind of an op that no adapter knows: reported as uncounted, by name and count."""

assert len(KINDS) == len(_KINDS), "an op kind is listed twice"
assert all(kind.group in GROUPS for kind in _KINDS)


def kinds_in(group: str) -> tuple[str, ...]:
    """Names of the kinds of ``group``, in list order."""
    return tuple(kind.name for kind in KINDS.values() if kind.group == group)


def register_kind(kind: OpKind) -> OpKind:
    """Add a kind of your own (for a custom op); give it a rule with the decorators of
    :mod:`netanatomy.rules`.

    Raises:
        RuleError: the name is taken (or is ``unknown``), or the group is not one of
            :data:`GROUPS`.
    """
    from netanatomy.errors import RuleError

    if kind.name in KINDS or kind.name == UNKNOWN:
        raise RuleError(f"op kind {kind.name!r} exists already")
    if kind.group not in GROUPS:
        raise RuleError(f"group {kind.group!r} of kind {kind.name!r} is not one of "
                        f"{', '.join(GROUPS)}")
    KINDS[kind.name] = kind
    return kind


def is_kind(name: str) -> bool:
    """True for a listed kind (``unknown`` is not one)."""
    return name in KINDS
