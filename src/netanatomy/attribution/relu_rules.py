"""How gradients pass back through ReLU-family activations: autograd's own rule, the
deconvnet rule (Zeiler & Fergus 2014) or guided backpropagation (Springenberg et al. 2015).

With ``g`` the gradient arriving from above and ``f'(x)`` the activation's derivative at
its forward input ``x``:

* ``"gradient"``  — ``g · f'(x)``: autograd's own backward (nothing is overridden);
  for ReLU ``f'(x) = [x > 0]``.
* ``"deconvnet"`` — ``g · [g > 0]``: the forward input is ignored (for every member of the
  family, the leaky slope and the ReLU6 cap included).
* ``"guided"``    — ``g · [g > 0] · f'(x)``: the gradient clamped at 0, times the
  derivative (``[x > 0]`` for ReLU, ``1``/``a`` for leaky ReLU with slope ``a``,
  ``[0 < x < 6]`` for ReLU6).

The family: ``torch.relu``/``relu_``, ``F.relu`` (so ``nn.ReLU``, in-place or not),
``Tensor.relu``/``relu_``, ``F.relu6``/``nn.ReLU6``, ``F.hardtanh`` with ``min_val == 0``
(other hardtanh ranges keep autograd's rule), ``F.leaky_relu``/``nn.LeakyReLU`` and
``F.threshold``/``torch.threshold`` (``f'(x) = [x > threshold]``). ``clamp(min=0)`` is not
recognised. Smooth activations (GELU, SiLU, ELU, sigmoid, tanh, softplus, ...) keep
autograd's derivative under every rule: the three rules then agree on a network without
ReLU-family ops.

The override is a :class:`~torch.overrides.TorchFunctionMode` (a dispatch mode cannot change
autograd's backward): each family call is replaced by a custom autograd Function whose
forward runs the very same call (in-place calls stay in place, the Function marks the
tensor dirty) and whose backward applies the rule; ``f'(x)`` is computed from the input
before the op runs. Max-pooling is not touched: its backward is autograd's, which routes
the gradient to the argmax of the forward pass — the deconvnet "switches".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from netanatomy.errors import UsageError

Rule = Literal["gradient", "deconvnet", "guided"]
RULES: tuple[str, ...] = ("gradient", "deconvnet", "guided")
RULE_NOTES = {
    "gradient": "ReLU backward: gradient (grad · [x > 0], autograd's own)",
    "deconvnet": "ReLU backward: deconvnet (grad · [grad > 0], the input ignored)",
    "guided": "ReLU backward: guided (grad · [x > 0] · [grad > 0])",
}
SMOOTH_NOTE = ("smooth activations (GELU, SiLU, ELU, sigmoid, tanh) keep autograd's "
               "derivative under every rule")


@dataclass(frozen=True)
class Family:
    """How one family call names its arguments and what its derivative is."""

    names: tuple[str, ...]               # positional parameter names after the input
    defaults: dict[str, Any]
    derivative: Callable[[torch.Tensor, dict[str, Any]], torch.Tensor | None]
    inplace: bool | None = None          # None: read from the ``inplace`` argument


def relu_derivative(x: torch.Tensor, _: dict[str, Any]) -> torch.Tensor:
    return (x > 0).to(x.dtype)


def leaky_derivative(x: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
    slope = float(params["negative_slope"])
    return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, slope))


def hardtanh_derivative(x: torch.Tensor, params: dict[str, Any]) -> torch.Tensor | None:
    low, high = float(params["min_val"]), float(params["max_val"])
    if low != 0.0:
        return None                      # not ReLU-like: autograd's own rule
    return ((x > low) & (x < high)).to(x.dtype)


def relu6_derivative(x: torch.Tensor, _: dict[str, Any]) -> torch.Tensor:
    return ((x > 0) & (x < 6)).to(x.dtype)


def threshold_derivative(x: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
    return (x > float(params["threshold"])).to(x.dtype)


RELU = Family((), {}, relu_derivative, inplace=False)
RELU_ = Family((), {}, relu_derivative, inplace=True)
HARDTANH = {"min_val": -1.0, "max_val": 1.0}
FAMILY: dict[Any, Family] = {
    F.relu: Family(("inplace",), {"inplace": False}, relu_derivative),
    torch.relu: RELU, torch.Tensor.relu: RELU, torch._C.TensorBase.relu: RELU,
    torch.relu_: RELU_, torch.Tensor.relu_: RELU_, torch._C.TensorBase.relu_: RELU_,
    F.relu6: Family(("inplace",), {"inplace": False}, relu6_derivative),
    torch._C._nn.relu6: Family((), {}, relu6_derivative, inplace=False),
    torch._C._nn.relu6_: Family((), {}, relu6_derivative, inplace=True),
    F.hardtanh: Family(("min_val", "max_val", "inplace"), {**HARDTANH, "inplace": False},
                       hardtanh_derivative),
    torch._C._nn.hardtanh: Family(("min_val", "max_val"), HARDTANH, hardtanh_derivative,
                                  inplace=False),
    torch._C._nn.hardtanh_: Family(("min_val", "max_val"), HARDTANH, hardtanh_derivative,
                                   inplace=True),
    F.leaky_relu: Family(("negative_slope", "inplace"),
                         {"negative_slope": 0.01, "inplace": False}, leaky_derivative),
    torch._C._nn.leaky_relu: Family(("negative_slope",), {"negative_slope": 0.01},
                                    leaky_derivative, inplace=False),
    torch._C._nn.leaky_relu_: Family(("negative_slope",), {"negative_slope": 0.01},
                                     leaky_derivative, inplace=True),
    F.threshold: Family(("threshold", "value", "inplace"), {"inplace": False},
                        threshold_derivative),
    torch.threshold: Family(("threshold", "value"), {}, threshold_derivative,
                            inplace=False),
    torch.threshold_: Family(("threshold", "value"), {}, threshold_derivative,
                             inplace=True),
}
"""Every call the override recognises (the Python function the mode sees first)."""


def apply_rule(rule: str, grad: torch.Tensor, derivative: torch.Tensor) -> torch.Tensor:
    """The gradient passed to the activation's input under ``rule``."""
    if rule == "deconvnet":
        return grad.clamp(min=0)
    if rule == "guided":
        return grad.clamp(min=0) * derivative
    return grad * derivative


class RuleActivation(torch.autograd.Function):
    """Forward: the original call, unchanged. Backward: :func:`apply_rule`."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, run: Callable[[], torch.Tensor],
                derivative: torch.Tensor, rule: str, inplace: bool) -> torch.Tensor:
        out = run()
        if inplace:
            ctx.mark_dirty(x)
        ctx.save_for_backward(derivative)
        ctx.rule = rule
        return out

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[Any, ...]:
        (derivative,) = ctx.saved_tensors
        return apply_rule(ctx.rule, grads[0], derivative), None, None, None, None


def bind(family: Family, args: tuple[Any, ...], kwargs: dict[str, Any]
         ) -> tuple[torch.Tensor, dict[str, Any]]:
    """The input tensor and the named parameters of one family call."""
    params = dict(family.defaults)
    params.update(zip(family.names, args[1:]))
    params.update({k: v for k, v in kwargs.items() if k != "input"})
    x = args[0] if args else kwargs["input"]
    return x, params


class ReluRuleMode(TorchFunctionMode):
    """Replaces every ReLU-family call by :class:`RuleActivation` under ``rule``;
    ``overridden`` counts the calls it replaced."""

    def __init__(self, rule: str) -> None:
        super().__init__()
        self.rule = rule
        self.overridden = 0

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        family = FAMILY.get(func)
        if family is None or "out" in kwargs or not torch.is_grad_enabled():
            return func(*args, **kwargs)
        x, params = bind(family, args, kwargs)
        if not isinstance(x, torch.Tensor) or not x.requires_grad:
            return func(*args, **kwargs)
        derivative = family.derivative(x.detach(), params)
        if derivative is None:
            return func(*args, **kwargs)
        inplace = family.inplace if family.inplace is not None else bool(params["inplace"])
        rest = args[1:]

        def run() -> torch.Tensor:
            return func(x, *rest, **kwargs) if args else func(**kwargs)

        self.overridden += 1
        return RuleActivation.apply(x, run, derivative, self.rule, inplace)


def check_rule(rule: str) -> str:
    """``rule`` if it is one of :data:`RULES`, else a UsageError naming them."""
    if rule not in RULES:
        raise UsageError(f"unknown ReLU backward rule {rule!r}; expected one of "
                         f"{', '.join(RULES)}")
    return rule


@contextmanager
def relu_backward_rule(rule: str) -> Iterator[ReluRuleMode | None]:
    """Within the block, ReLU-family calls pass gradients back by ``rule`` (see the module
    docstring); yields the mode (its ``overridden`` count), or None for ``"gradient"``,
    which overrides nothing."""
    check_rule(rule)
    if rule == "gradient":
        yield None
        return
    with ReluRuleMode(rule) as mode:
        yield mode
