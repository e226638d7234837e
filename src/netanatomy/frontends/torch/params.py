"""The parameter table of a module: every parameter and buffer once, with its sharers.

A tensor is counted once however it is shared: under several names by one object (tied
weights), or by several ``Parameter`` objects that are the same view of one storage (same
storage, offset, shape, stride and dtype: ``nn.Parameter(a.data)``). Different views of one
storage (``w`` and ``w[:, :4]``) are different tensors and are counted apart; when their
element ranges overlap, :func:`storage_notes` says so.

Quantized modules (``torch.ao.nn.quantized``, dynamic and static) keep their weights packed
for their kernels, outside ``named_parameters()``; they are read back with the module's own
``weight()`` / ``bias()`` (or ``_weight_bias()`` for dynamic RNNs) and listed as frozen
parameters in their stored dtype (``qint8``: 1 byte each), with the weight's scales and zero
points, and the module's output scale and zero point, as buffers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import torch
from torch import nn

from netanatomy.errors import UnsupportedModelError
from netanatomy.ir.graph import ParamInfo

QUANTIZED_PACKAGES = ("torch.ao.nn.quantized", "torch.ao.nn.intrinsic.quantized",
                      "torch.nn.quantized", "torch.nn.intrinsic.quantized")
"""Packages whose modules keep packed weights that :func:`packed_tensors` reads."""

PACKED_TYPE_MARKERS = ("PackedParams", "CellParams")
"""Parts of the TorchScript class names of packed weights (``LinearPackedParamsBase``,
``Conv2dPackedParamsBase``, ``CellParamsBase``, ...)."""

StorageIdentity = tuple[int, int, tuple[int, ...], tuple[int, ...], torch.dtype]


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` → ``"float32"``."""
    return str(dtype).removeprefix("torch.")


def dtype_itemsize(dtype: torch.dtype) -> int:
    """Bytes per element of ``dtype``."""
    return torch.empty((), dtype=dtype, device="meta").element_size()


def owner_of(name: str) -> str:
    """Module path of a parameter name: ``"layer1.0.conv1.weight"`` → ``"layer1.0.conv1"``."""
    return name.rpartition(".")[0]


def storage_identity(tensor: torch.Tensor) -> StorageIdentity | None:
    """(storage, offset, shape, stride, dtype): equal for two objects that are the same
    tensor; None when the tensor has no storage to compare (sparse, some subclasses)."""
    try:
        storage = tensor.untyped_storage()
        return (int(storage._cdata), int(tensor.storage_offset()), tuple(tensor.shape),
                tuple(tensor.stride()), tensor.dtype)
    except (RuntimeError, NotImplementedError, TypeError):
        return None


def registered_tensors(model: nn.Module) -> tuple[dict[int, list[str]],
                                                  dict[int, tuple[torch.Tensor, bool]]]:
    """``id(tensor)`` → every name it is registered under, and → (tensor, is_buffer)."""
    names_by_object: dict[int, list[str]] = {}
    tensors: dict[int, tuple[torch.Tensor, bool]] = {}
    for is_buffer, named in ((False, model.named_parameters(remove_duplicate=False)),
                             (True, model.named_buffers(remove_duplicate=False))):
        for name, tensor in named:
            if tensor is None:
                continue
            names_by_object.setdefault(id(tensor), []).append(name)
            tensors.setdefault(id(tensor), (tensor, is_buffer))
    return names_by_object, tensors


def build_param_table(model: nn.Module) -> tuple[dict[str, ParamInfo], dict[int, list[str]]]:
    """Unique parameters and buffers of ``model``, and all names of each tensor object.

    Returns ``(params, names_by_object)``: ``params`` maps the first name of each tensor to
    its :class:`ParamInfo` (tied tensors and same-storage views once, with ``shared_with``
    the other names; packed weights of quantized modules included); ``names_by_object``
    maps ``id(tensor)`` to every name that object is registered under.

    Raises:
        UnsupportedModelError: a module keeps packed weights that cannot be read back.
    """
    names_by_object, tensors = registered_tensors(model)
    params: dict[str, ParamInfo] = {}
    first_by_storage: dict[tuple[StorageIdentity, bool], str] = {}
    for key, names in names_by_object.items():
        tensor, is_buffer = tensors[key]
        identity = storage_identity(tensor)
        first = None if identity is None else first_by_storage.get((identity, is_buffer))
        if first is not None:          # another object that is the same tensor
            params[first] = replace(params[first],
                                    shared_with=params[first].shared_with + tuple(names))
            continue
        if identity is not None:
            first_by_storage[(identity, is_buffer)] = names[0]
        params[names[0]] = ParamInfo(
            name=names[0], owner=owner_of(names[0]), shape=tuple(tensor.shape),
            dtype=dtype_name(tensor.dtype), itemsize=tensor.element_size(),
            trainable=(not is_buffer) and tensor.requires_grad, is_buffer=is_buffer,
            shared_with=tuple(names[1:]))
    for path, module in packed_modules(model).items():
        for info in packed_param_infos(path, module):
            params.setdefault(info.name, info)
    return params, names_by_object


def canonical_names(params: dict[str, ParamInfo]) -> dict[str, str]:
    """Every name of every tensor (sharers included) → the name it is counted under."""
    names = {name: name for name in params}
    for name, info in params.items():
        names.update({other: name for other in info.shared_with})
    return names


def storage_notes(model: nn.Module) -> tuple[str, ...]:
    """One note per pair of different parameters or buffers that share elements of one
    storage: they are counted apart, so the shared elements are counted twice."""
    names_by_object, tensors = registered_tensors(model)
    by_storage: dict[int, list[tuple[torch.Tensor, StorageIdentity, str]]] = {}
    for key, names in names_by_object.items():
        tensor = tensors[key][0]
        identity = storage_identity(tensor)
        if identity is not None and tensor.numel() > 0:
            by_storage.setdefault(identity[0], []).append((tensor, identity, names[0]))
    notes = []
    for views in by_storage.values():
        for index, (tensor, identity, name) in enumerate(views):
            for other, other_identity, other_name in views[index + 1:]:
                shared = None if identity == other_identity else views_overlap(tensor, other)
                if shared is not False and identity != other_identity:
                    notes.append(f"parameters '{name}' and '{other_name}' are different views "
                                 f"of one storage that {'may ' if shared is None else ''}"
                                 "share elements: counted apart, so shared elements are "
                                 "counted twice")
    return tuple(notes)


EXACT_OVERLAP_LIMIT = 2**22
"""Most elements two views may have together for an exact overlap test."""


def views_overlap(first: torch.Tensor, second: torch.Tensor) -> bool | None:
    """Whether two views of one storage share an element: exact (from shapes, strides and
    offsets, no data read) for views of one dtype and at most
    :data:`EXACT_OVERLAP_LIMIT` elements together; otherwise False when their byte ranges
    are apart and None (maybe) when they meet."""
    ranges = [byte_range(t) for t in (first, second)]
    if ranges[0][0] >= ranges[1][1] or ranges[1][0] >= ranges[0][1]:
        return False
    if first.dtype != second.dtype or first.numel() + second.numel() > EXACT_OVERLAP_LIMIT:
        return None
    return bool(torch.isin(element_offsets(first), element_offsets(second)).any())


def byte_range(tensor: torch.Tensor) -> tuple[int, int]:
    """[first, last + 1) byte of the storage a non-empty view touches."""
    extent = sum((size - 1) * abs(step) for size, step in zip(tensor.shape, tensor.stride()))
    low = int(tensor.storage_offset()) + sum(
        (size - 1) * step for size, step in zip(tensor.shape, tensor.stride()) if step < 0)
    size = tensor.element_size()
    return low * size, (low + extent + 1) * size


def element_offsets(tensor: torch.Tensor) -> torch.Tensor:
    """Storage offset of every element of a view (int64, computed from its strides)."""
    offsets = torch.tensor(tensor.storage_offset(), dtype=torch.int64)
    for size, step in zip(tensor.shape, tensor.stride()):
        offsets = offsets.unsqueeze(-1) + torch.arange(size, dtype=torch.int64) * step
    return offsets.flatten()


def is_quantized_module(module: nn.Module) -> bool:
    """True for a module class of torch's quantized packages."""
    return type(module).__module__.startswith(QUANTIZED_PACKAGES)


def packed_tensors(module: nn.Module) -> dict[str, torch.Tensor | None] | None:
    """The weights and biases a quantized module keeps packed, by local name
    (``{"weight": ..., "bias": ...}``, or ``weight_ih_l0``, ... for dynamic RNNs); None for
    a module that keeps none. The tensors are unpacked copies."""
    if not is_quantized_module(module):
        return None
    weight_bias = getattr(module, "_weight_bias", None)
    if callable(weight_bias):
        found = weight_bias()
        if isinstance(found, dict):    # dynamic RNNs: {"weight": {...}, "bias": {...}}
            return {name: tensor for group in found.values() for name, tensor in group.items()}
    weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
    if not callable(weight) or isinstance(weight, torch.Tensor):
        return None
    return {"weight": weight(),
            "bias": bias() if callable(bias) and not isinstance(bias, torch.Tensor) else None}


def packed_modules(model: nn.Module) -> dict[str, nn.Module]:
    """Modules of ``model`` that keep packed weights, by path.

    Raises:
        UnsupportedModelError: a module holds packed weights (a TorchScript
            ``*PackedParams*`` object) outside a quantized module that can unpack them, or
            a quantized module fails to unpack its weights.
    """
    found: dict[str, nn.Module] = {}
    for path, module in model.named_modules():
        if found and any(owner in found for owner in enclosing(path)):
            continue                   # inside a quantized module: its packed parts
        try:
            tensors = packed_tensors(module)
        except (RuntimeError, NotImplementedError, TypeError, AttributeError) as error:
            raise unsupported(path, module, f"its packed weights cannot be unpacked ({error})"
                              ) from error
        if tensors is not None:
            found[path] = module
            continue
        packed = next(packed_objects(module), None)
        if packed is not None:
            raise unsupported(path, module, f"it keeps weights packed in a {packed}, which "
                                            "netanatomy cannot read")
    return found


def enclosing(path: str) -> list[str]:
    """Paths of the modules around ``path``: ``"a.b.c"`` → ``["", "a", "a.b"]``."""
    if path == "":
        return []
    parts = path.split(".")
    return [".".join(parts[:i]) for i in range(len(parts))]


def packed_objects(module: nn.Module) -> Iterator[str]:
    """Type names of the packed-weight TorchScript objects among a module's attributes."""
    for value in vars(module).values():
        if isinstance(value, torch.ScriptObject):
            name = value._type().qualified_name()
            if any(marker in name for marker in PACKED_TYPE_MARKERS):
                yield name.rpartition(".")[2]


def unsupported(path: str, module: nn.Module, why: str) -> UnsupportedModelError:
    """The error for a module whose packed weights cannot be counted."""
    return UnsupportedModelError(
        f"module '{path or '<root>'}' ({module._get_name()}): {why}, so its parameters "
        "cannot be counted. Fix: analyze the float model before quantization (its params "
        "and MACs are the quantized model's), or quantize with torch.ao.nn.quantized "
        "modules, whose packed weights netanatomy reads")


def packed_param_infos(path: str, module: nn.Module) -> list[ParamInfo]:
    """ParamInfos of a quantized module's packed weights and biases (frozen params), the
    weights' scales and zero points and the module's output scale and zero point
    (buffers, in the dtypes torch reports them)."""
    infos: list[ParamInfo] = []
    stored = getattr(getattr(module, "_packed_params", None), "dtype", None)
    for local, tensor in (packed_tensors(module) or {}).items():
        if tensor is None:
            continue
        name = f"{path}.{local}" if path else local
        dtype = stored if stored == torch.float16 and local == "weight" else tensor.dtype
        infos.append(ParamInfo(name=name, owner=path, shape=tuple(tensor.shape),
                               dtype=dtype_name(dtype), itemsize=dtype_itemsize(dtype),
                               trainable=False, is_buffer=False))
        infos.extend(qparam_infos(name, path, tensor))
    for attribute, dtype in (("scale", torch.float32), ("zero_point", torch.int64)):
        value = vars(module).get(attribute)    # static modules: output qparams as numbers
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            name = f"{path}.{attribute}" if path else attribute
            infos.append(buffer_info(name, path, (), dtype))
    return infos


def qparam_infos(name: str, owner: str, tensor: torch.Tensor) -> list[ParamInfo]:
    """Scale and zero point buffers of a quantized tensor: one each per tensor (float64,
    int64) or per channel (the dtypes of ``q_per_channel_scales`` / ``_zero_points``)."""
    if not tensor.is_quantized:
        return []
    if tensor.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        shapes: list[tuple[tuple[int, ...], torch.dtype]] = [((), torch.float64),
                                                              ((), torch.int64)]
    else:
        scales, zeros = tensor.q_per_channel_scales(), tensor.q_per_channel_zero_points()
        shapes = [(tuple(scales.shape), scales.dtype), (tuple(zeros.shape), zeros.dtype)]
    return [buffer_info(f"{name}_{suffix}", owner, shape, dtype)
            for suffix, (shape, dtype) in zip(("scale", "zero_point"), shapes)]


def buffer_info(name: str, owner: str, shape: tuple[int, ...], dtype: torch.dtype) -> ParamInfo:
    return ParamInfo(name=name, owner=owner, shape=shape, dtype=dtype_name(dtype),
                     itemsize=dtype_itemsize(dtype), trainable=False, is_buffer=True)


def describe_packed(model: nn.Module) -> str:
    """``"fc (DynamicQuantizedLinear), conv (QuantizedConv2d)"`` for the packed modules
    of ``model`` (at most 3 named), or ``""`` when it has none."""
    found = packed_modules(model)
    listed = ", ".join(f"{path or '<root>'} ({module._get_name()})"
                       for path, module in list(found.items())[:3])
    return listed + (f" and {len(found) - 3} more" if len(found) > 3 else "")


def device_for_packed(model: nn.Module, device: str) -> tuple[str, tuple[str, ...]]:
    """The device to capture ``model`` on, and a note when it is not ``device``: a model
    with packed quantized weights runs on the CPU (meta tensors cannot hold them).

    Raises:
        UnsupportedModelError: a model with packed weights is asked to run on another
            real device (torch's quantized kernels for packed weights are CPU kernels).
    """
    listed = describe_packed(model)
    if not listed or device == "cpu":
        return device, ()
    if device == "meta":
        return "cpu", (f"ran on cpu: quantized modules keep packed weights that meta tensors "
                       f"cannot hold ({listed})",)
    raise UnsupportedModelError(
        f"quantized modules {listed} keep packed weights for CPU kernels and cannot run on "
        f"device '{device}'. Fix: analyze on device='cpu' (or 'meta', which runs them on "
        "the CPU)")
