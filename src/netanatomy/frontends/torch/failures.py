"""Why a forward pass failed, said for a person: what the failing layer expects (read from
its attributes: ``in_features``, ``in_channels``, ``num_features``, ``normalized_shape``,
``embed_dim``, ...), the dtype it computes in, the inputs its ``forward`` takes, or that
meta tensors hold no values. Used by :func:`~netanatomy.frontends.torch.capture.
describe_failure`; torch's own message is quoted, never parsed for the expectation."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from netanatomy.frontends.torch.tracking import ModuleCall

Shape = tuple[int, ...]

SHAPE_WORDS = ("shape", "size", "dimension", "dim ", "channels", "expected input")
META_WORDS = ("meta", "data-dependent", "data dependent")


def failure_hint(call: ModuleCall | None, error: BaseException) -> str:
    """One sentence on the likely cause of ``error`` in ``call`` (``None``: outside every
    module), or ``""`` when nothing more can be said than torch's message."""
    if call is not None:
        for hint in (signature_hint(call, error), shape_hint(call), dtype_hint(call)):
            if hint:
                return hint
    if is_meta_limitation(error):
        return ("Meta tensors hold no values, and this model needs them (.item(), "
                "data-dependent control flow or indexing): run it on real tensors with "
                "--device cpu (Python: device='cpu').")
    if call is not None and dtype_words(error):
        return model_dtype_hint(call)
    text = str(error).lower()
    if any(word in text for word in SHAPE_WORDS):
        return "Check the input shape (--input / input_size) against what this layer expects."
    return ""


def is_meta_limitation(error: BaseException) -> bool:
    """True when the failure comes from meta tensors having no data."""
    text = f"{type(error).__name__}: {error}".lower()
    return isinstance(error, NotImplementedError) or any(word in text for word in META_WORDS)


def shape_text(shape: Sequence[int]) -> str:
    return "x".join(map(str, shape)) or "scalar"


# --- the inputs forward takes -------------------------------------------------------------

def signature_hint(call: ModuleCall, error: BaseException) -> str:
    """For a TypeError raised by calling ``forward`` itself (its own code never ran): the
    inputs it takes, and for the model, how to give keyword ones."""
    forward = getattr(call.module, "forward", None)
    if not isinstance(error, TypeError) or forward is None or ran_code_of(forward, error):
        return ""
    try:
        parameters = list(inspect.signature(forward).parameters.values())
    except (TypeError, ValueError):
        return ""
    taken = describe_parameters(parameters)
    if call.path:
        return f"This layer's forward takes {taken}; it was called with " \
               f"{len(call.input_shapes)} tensor(s)."
    example = next(iter(missing_inputs(parameters, len(call.input_shapes))), "NAME")
    return (f"The model's forward takes {taken}. Give positional inputs as --input SHAPE "
            f"and keyword inputs as --input NAME=SHAPE[:dtype], e.g. --input "
            f"{example}=SHAPE (Python: example_inputs={{'{example}': tensor}}).")


def missing_inputs(parameters: Sequence[inspect.Parameter], given: int) -> list[str]:
    """Required inputs past the ``given`` positional ones (the keyword-only ones, then the
    positional ones not reached); every named input when none is required."""
    positional = [p.name for p in parameters if p.default is p.empty
                  and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keyword = [p.name for p in parameters if p.default is p.empty and p.kind is p.KEYWORD_ONLY]
    return keyword + positional[given:] or [
        p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def ran_code_of(function: Any, error: BaseException) -> bool:
    """Whether ``function``'s own code is among the frames ``error`` passed through."""
    code = getattr(getattr(function, "__func__", function), "__code__", None)
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code is code:
            return True
        traceback = traceback.tb_next
    return False


def describe_parameters(parameters: Sequence[inspect.Parameter]) -> str:
    """``positional x, y; keyword-only mask (required)``-style listing of a signature."""
    positional = [p.name + ("" if p.default is p.empty else " (optional)") for p in parameters
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keyword = [p.name + (" (required)" if p.default is p.empty else "") for p in parameters
               if p.kind is p.KEYWORD_ONLY]
    parts = [f"positional {', '.join(positional)}" if positional else "no positional input"]
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        parts.append("more positional (*args)")
    if keyword:
        parts.append(f"keyword-only {', '.join(keyword)}")
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        parts.append("keywords (**kwargs)")
    return "; ".join(parts)


# --- what a layer expects of its input's shape ----------------------------------------------

def shape_hint(call: ModuleCall) -> str:
    """What the layer expects of its inputs' shapes, when an input breaks it."""
    shapes = call.input_shapes
    if not shapes:
        return ""
    for check in EXPECTATIONS:
        expected = check(call.module, shapes)
        if expected:
            given = ", ".join(shape_text(s) for s in shapes)
            return (f"{type(call.module).__name__} expects {expected}, but got input shape "
                    f"{given}; check --input / input_size.")
    return ""


def linear_expects(module: nn.Module, shapes: Sequence[Shape]) -> str:
    features = getattr(module, "in_features", None)
    if isinstance(features, int) and shapes[0][-1:] != (features,):
        return f"in_features={features} on the last axis of its input (…, {features})"
    return ""


def conv_expects(module: nn.Module, shapes: Sequence[Shape]) -> str:
    channels, kernel = getattr(module, "in_channels", None), getattr(module, "kernel_size", None)
    if not isinstance(channels, int) or not isinstance(kernel, tuple):
        return ""
    axes = {1: "L", 2: "H, W", 3: "D, H, W"}.get(len(kernel), "…")
    form = f"(N, in_channels={channels}, {axes})"
    shape = shapes[0]
    if len(shape) not in (len(kernel) + 1, len(kernel) + 2):
        return f"a {len(kernel) + 2}-d input {form} (or {len(kernel) + 1}-d without N)"
    if shape[-len(kernel) - 1] != channels:
        return f"in_channels={channels}: an input {form}"
    return ""


def norm_expects(module: nn.Module, shapes: Sequence[Shape]) -> str:
    features = getattr(module, "num_features", None)
    if not isinstance(features, int):
        features = getattr(module, "num_channels", None)  # GroupNorm
    if not isinstance(features, int):
        return ""
    shape = shapes[0]
    unbatched = getattr(module, "_get_no_batch_dim", lambda: -1)() == len(shape)
    axis = 0 if unbatched else 1
    if len(shape) <= axis or shape[axis] != features:
        name = "num_features" if hasattr(module, "num_features") else "num_channels"
        return f"{name}={features} channels on axis {axis} of its input (N, {features}, …)"
    return ""


def layer_norm_expects(module: nn.Module, shapes: Sequence[Shape]) -> str:
    normalized = getattr(module, "normalized_shape", None)
    if not isinstance(normalized, tuple) or not normalized:
        return ""
    if tuple(shapes[0][-len(normalized):]) != tuple(normalized):
        return (f"normalized_shape={tuple(normalized)} as the last axes of its input "
                f"(…, {', '.join(map(str, normalized))})")
    return ""


def attention_expects(module: nn.Module, shapes: Sequence[Shape]) -> str:
    embed = getattr(module, "embed_dim", None)
    if not isinstance(embed, int):
        return ""
    widths = (embed, getattr(module, "kdim", embed), getattr(module, "vdim", embed))
    names = ("embed_dim", "kdim", "vdim")
    for shape, width, name, role in zip(shapes, widths, names, ("query", "key", "value"),
                                        strict=False):
        if shape[-1:] != (width,):
            return f"{name}={width} on the last axis of the {role} (…, {width})"
    return ""


def recurrent_expects(module: nn.Module, shapes: Sequence[Shape]) -> str:
    size = getattr(module, "input_size", None)
    if not isinstance(module, (nn.RNNBase, nn.RNNCellBase)) or not isinstance(size, int):
        return ""
    if shapes[0][-1:] != (size,):
        return f"input_size={size} on the last axis of its input (…, {size})"
    return ""


EXPECTATIONS: tuple[Callable[[nn.Module, Sequence[Shape]], str], ...] = (
    linear_expects, conv_expects, norm_expects, layer_norm_expects, attention_expects,
    recurrent_expects)
"""Each returns what the module expects when its inputs break it, else ``""``."""


# --- dtypes -------------------------------------------------------------------------------

def dtype_hint(call: ModuleCall) -> str:
    """The dtype a leaf layer computes in, when its input has another one; integer indices
    for an embedding given floats."""
    if not call.input_dtypes:
        return ""
    given = call.input_dtypes[0]
    if is_embedding(call.module):
        if given.is_floating_point or given == torch.bool:
            return (f"{type(call.module).__name__} expects integer indices (token ids), but "
                    f"got {name_of(given)}: give that input as --input SHAPE:int64.")
        return ""
    if any(True for _ in call.module.children()):
        return ""
    own = floating_dtype(call.module.parameters(recurse=False))
    if own is None or given == own:
        return ""
    convert = (f", or convert the model to {name_of(given)} (model.to(torch."
               f"{name_of(given)})) to analyse it so" if given.is_floating_point else "")
    return (f"The input is {name_of(given)} but the layer's parameters are {name_of(own)}: "
            f"give --input SHAPE:{name_of(own)} (the model's dtype){convert}.")


def model_dtype_hint(call: ModuleCall) -> str:
    """For a dtype complaint outside a leaf layer: the dtype of the module's parameters."""
    own = floating_dtype(call.module.parameters())
    given = ", ".join(name_of(d) for d in call.input_dtypes) or "unknown"
    target = f"SHAPE:{name_of(own)} (the model's dtype)" if own is not None else "SHAPE:dtype"
    return (f"The dtypes do not match: the input is {given}; give --input {target}, or "
            "SHAPE:int64 for token ids and indices.")


def dtype_words(error: BaseException) -> bool:
    text = str(error).lower()
    return any(word in text for word in ("dtype", "scalar type", "half", "bfloat16", "float",
                                         "double", "long"))


def is_embedding(module: nn.Module) -> bool:
    return isinstance(module, (nn.Embedding, nn.EmbeddingBag))


def floating_dtype(parameters: Any) -> torch.dtype | None:
    """The dtype of the first floating-point parameter, or None."""
    return next((p.dtype for p in parameters if p.is_floating_point()), None)


def name_of(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
