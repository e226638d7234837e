"""Extending netanatomy: a rule for an op of your own, in one file of yours.

Three steps, each a registration that refuses duplicates (see ``docs/adding-an-op.md``):

1. a new op kind, when no existing kind fits: :func:`register_kind`;
2. its rule: one formula per metric (:func:`formula`) and a convention line
   (:func:`convention`); optional :func:`dim_names` for ``--explain``;
3. for PyTorch, the adapter from your op to IR nodes: :func:`op_adapter` (a custom op
   ``mylib::my_op`` is named ``"mylib.my_op"``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from netanatomy.ir.kinds import GROUPS, OpKind, register_kind
from netanatomy.rules import (
    GLOBAL,
    NO_FIELD,
    POINTWISE,
    UNKNOWN,
    AxisWindow,
    Mixes,
    Relayout,
    convention,
    formula,
)
from netanatomy.rules.common import no_params, operand_elements, traffic_bytes
from netanatomy.rules.registry import dim_names

A = TypeVar("A", bound=Callable[..., Any])


def op_adapter(*names: str) -> Callable[[A], A]:
    """Decorator: the adapter for the torch ops ``names`` (``"mylib.my_op"``, or an aten
    name such as ``"_foo"``); it takes an ``AtenCall`` and returns an ``Emit`` or a list of
    them (see :mod:`netanatomy.frontends.torch.aten.registry`).

    Raises:
        RuleError: an op has an adapter already.
    """
    from netanatomy.frontends.torch.aten.registry import aten

    return aten(*names)


def __getattr__(name: str) -> Any:
    """``Emit`` and ``AtenCall`` load the torch front-end only when asked for."""
    if name in ("Emit", "AtenCall"):
        from netanatomy.frontends.torch.aten import registry

        return getattr(registry, name)
    raise AttributeError(name)


__all__ = ["GLOBAL", "GROUPS", "NO_FIELD", "POINTWISE", "UNKNOWN", "AxisWindow", "Mixes",
           "OpKind", "Relayout", "convention", "dim_names", "formula", "no_params", "op_adapter",
           "operand_elements", "register_kind", "traffic_bytes",
           "AtenCall", "Emit"]  # noqa: F822  (loaded on first use, by __getattr__)
