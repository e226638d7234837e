"""Per-element ops, activations, softmax, dropout and reductions → their IR kinds."""

from __future__ import annotations

from netanatomy.frontends.torch.aten.registry import AtenCall, Emit, aten, plain

ACTIVATIONS = (
    "relu relu6 gelu silu sigmoid tanh hardtanh hardswish hardsigmoid elu selu celu "
    "leaky_relu softplus mish _prelu_kernel prelu log_sigmoid_forward threshold "
    "rrelu_with_noise glu softshrink hardshrink logit"
).split()

ELEMENTWISE = (
    "add sub rsub mul div neg abs exp exp2 expm1 log log2 log10 log1p sqrt rsqrt pow "
    "reciprocal sin cos tan asin acos atan atan2 sinh cosh erf erfc erfinv sign sgn floor "
    "ceil round trunc frac clamp clamp_min clamp_max clip minimum maximum fmax fmin where "
    "eq ne lt le gt ge logical_and logical_or logical_not logical_xor bitwise_and "
    "bitwise_or bitwise_not bitwise_xor masked_fill lerp addcmul addcdiv fmod remainder "
    "floor_divide square isnan isinf isfinite nan_to_num hypot xlogy bernoulli"
).split()

REDUCTIONS = (
    "sum mean amax amin var std var_mean std_mean prod argmax argmin logsumexp norm "
    "linalg_vector_norm any all count_nonzero nonzero max min"
).split()

plain("activation", ACTIVATIONS)
plain("elementwise", ELEMENTWISE + ["max.other", "min.other"])
plain("dropout", ["native_dropout"])


@aten(*REDUCTIONS)
def adapt_reduction(call: AtenCall) -> Emit:
    """Reductions: attrs ``dims`` (None for all axes) and ``keepdim``."""
    fn = str(call.func.overloadpacket).removeprefix("aten.")
    first = 2 if fn in ("norm", "linalg_vector_norm") else 1     # (x, p/ord, dim, keepdim)
    dims = call.arg(first, "dim")
    if isinstance(dims, int):
        dims = (dims,)
    elif not isinstance(dims, (list, tuple)) or len(dims) == 0:
        dims = None
    keepdim = call.arg(first + 1, "keepdim", False)
    return Emit("reduction", (call.info(call.args[0]),), {
        "dims": None if dims is None else tuple(dims),
        "keepdim": keepdim if isinstance(keepdim, bool) else False,
        "fn": fn})


@aten("_softmax", "_log_softmax", "_safe_softmax", "softmax", "log_softmax")
def adapt_softmax(call: AtenCall) -> Emit:
    return Emit("softmax", (call.info(call.args[0]),), {"dim": int(call.arg(1, "dim", -1))})
