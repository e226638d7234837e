"""The batch and the loss of a diagnostic run: a synthetic batch from shapes, a saved
``(x, y)`` file, and the loss functions by name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from netanatomy.errors import UsageError

LossFn = Callable[[Any, Any], torch.Tensor]

LOSSES = ("ce", "mse", "sum")


def synthetic_batch(model: nn.Module, shapes: Sequence[Any], seed: int,
                    device: str) -> tuple[torch.Tensor, ...]:
    """Standard normal floats; integer inputs uniform over the smallest embedding table
    of the model (2 values when it has none)."""
    from netanatomy.frontends.torch.inputs import InputSpec, parse_input_spec

    generator = torch.Generator().manual_seed(seed)
    vocab = min((m.num_embeddings for m in model.modules() if isinstance(m, nn.Embedding)),
                default=2)
    tensors = []
    for shape in shapes:
        spec = shape if isinstance(shape, InputSpec) else parse_input_spec(shape) \
            if isinstance(shape, str) else InputSpec(tuple(shape), torch.float32)
        if spec.dtype.is_floating_point:
            tensor = torch.randn(spec.shape, generator=generator).to(spec.dtype)
        elif spec.dtype == torch.bool:
            tensor = torch.randint(0, 2, spec.shape, generator=generator).bool()
        else:
            tensor = torch.randint(0, vocab, spec.shape, generator=generator).to(spec.dtype)
        tensors.append(tensor.to(device))
    return tuple(tensors)


def load_batch(path: Path, device: str) -> tuple[tuple[torch.Tensor, ...], Any]:
    """``torch.save``d ``(x, y)``, ``{"x": …, "y": …}`` or a lone tensor x (no target).
    Loaded with ``weights_only=True``: a data file never runs code."""
    if not path.is_file():
        raise UsageError(f"--data {path}: no such file")
    try:
        data = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:
        raise UsageError(f"--data {path}: cannot be read as a torch.save'd batch ({error})") \
            from None
    if isinstance(data, torch.Tensor):
        return (data,), None
    if isinstance(data, dict) and "x" in data:
        x = data["x"]
        inputs = tuple(x) if isinstance(x, (tuple, list)) else (x,)
        if inputs and all(isinstance(t, torch.Tensor) for t in inputs):
            return inputs, data.get("y")
    if isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        return (data[0],), data[1]
    raise UsageError(f"--data {path}: expected a tensor x, a tuple (x, y) or a dict with "
                     f"'x' (a tensor or a tuple of them) and 'y', found {describe(data)}")


def describe(data: Any) -> str:
    """``tuple of 3``, ``dict with keys ['a', 'b']``, ``str``: what a data file held."""
    if isinstance(data, dict):
        return f"dict with keys {sorted(map(str, data))}"
    if isinstance(data, (tuple, list)):
        return f"{type(data).__name__} of {len(data)}"
    return type(data).__name__


def output_tensor(output: Any) -> torch.Tensor:
    from netanatomy.diagnostics.recorder import first_tensor

    tensor = first_tensor(output)
    if tensor is None or not tensor.is_floating_point():
        raise UsageError("the model's output has no floating tensor to put a loss on")
    return tensor


def default_loss_name(output: torch.Tensor, target: Any) -> str:
    """Cross entropy for (N, C) logits with C > 1, else mean squared error."""
    if isinstance(target, torch.Tensor) and not target.is_floating_point():
        return "ce"
    if target is None and output.dim() == 2 and output.shape[1] > 1:
        return "ce"
    return "mse"


def synthetic_target(name: str, output: torch.Tensor, seed: int) -> torch.Tensor | None:
    generator = torch.Generator().manual_seed(seed + 1)
    if name == "ce":
        if output.dim() < 2:
            raise UsageError(f"ce needs (N, C, …) logits, but the output has shape "
                             f"{tuple(output.shape)}; use --loss mse or sum")
        classes = output.shape[1]
        shape = (output.shape[0], *output.shape[2:])
        return torch.randint(0, classes, shape, generator=generator).to(output.device)
    if name == "mse":
        return torch.randn(output.shape, generator=generator).to(output.device, output.dtype)
    return None


def loss_value(name: str, output: torch.Tensor, target: Any) -> torch.Tensor:
    if name == "ce":
        return F.cross_entropy(output, target)
    if name == "mse":
        if not isinstance(target, torch.Tensor) or target.shape != output.shape:
            shape = None if target is None else tuple(getattr(target, "shape", ()))
            raise UsageError(f"mse needs a target of the output's shape {tuple(output.shape)}"
                             f", got {shape}")
        return F.mse_loss(output, target.to(output.dtype))
    return output.sum()


def check_loss_name(name: str) -> str:
    if name not in LOSSES:
        raise UsageError(f"unknown loss {name!r}; expected one of {', '.join(LOSSES)}, or "
                         "pass a callable loss_fn(output, target) from Python")
    return name
