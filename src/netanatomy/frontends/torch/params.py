"""The parameter table of a module: every parameter and buffer once, with its sharers."""

from __future__ import annotations

import torch
from torch import nn

from netanatomy.ir.graph import ParamInfo


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` → ``"float32"``."""
    return str(dtype).removeprefix("torch.")


def dtype_itemsize(dtype: torch.dtype) -> int:
    """Bytes per element of ``dtype``."""
    return torch.empty((), dtype=dtype, device="meta").element_size()


def owner_of(name: str) -> str:
    """Module path of a parameter name: ``"layer1.0.conv1.weight"`` → ``"layer1.0.conv1"``."""
    return name.rpartition(".")[0]


def build_param_table(model: nn.Module) -> tuple[dict[str, ParamInfo], dict[int, list[str]]]:
    """Unique parameters and buffers of ``model``, and all names of each tensor object.

    Returns ``(params, names_by_object)``: ``params`` maps the first name of each tensor to
    its :class:`ParamInfo` (tied tensors once, with ``shared_with`` the other names);
    ``names_by_object`` maps ``id(tensor)`` to every name it is registered under.
    """
    names_by_object: dict[int, list[str]] = {}
    tensors: dict[int, tuple[torch.Tensor, bool]] = {}
    for is_buffer, named in ((False, model.named_parameters(remove_duplicate=False)),
                             (True, model.named_buffers(remove_duplicate=False))):
        for name, tensor in named:
            if tensor is None:
                continue
            names_by_object.setdefault(id(tensor), []).append(name)
            tensors.setdefault(id(tensor), (tensor, is_buffer))
    params: dict[str, ParamInfo] = {}
    for key, names in names_by_object.items():
        tensor, is_buffer = tensors[key]
        params[names[0]] = ParamInfo(
            name=names[0], owner=owner_of(names[0]), shape=tuple(tensor.shape),
            dtype=dtype_name(tensor.dtype), itemsize=tensor.element_size(),
            trainable=(not is_buffer) and tensor.requires_grad, is_buffer=is_buffer,
            shared_with=tuple(names[1:]))
    return params, names_by_object
