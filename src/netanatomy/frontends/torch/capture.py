"""Capture of a PyTorch model as an IR :class:`~netanatomy.ir.Graph` at the aten level.

The model runs once under a ``TorchDispatchMode`` that records every aten op (so
functional calls such as ``x + y`` or ``torch.matmul`` are seen), while module hooks say
which module path ran it. Parameters and buffers are replaced for the call by stand-ins
on the analysis device (``torch.func.functional_call``): on ``meta`` nothing is allocated.
The user's model is never modified: the run happens inside the guard of
:mod:`~netanatomy.frontends.torch.guard` (module attributes, flags, hooks, grads, buffer
values, parameters an op writes into, the RNGs and global torch settings are restored).
Activations that autograd saves for backward are measured with saved-tensor hooks.
"""

from __future__ import annotations

import gc
import itertools
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from netanatomy.errors import CaptureError
from netanatomy.frontends.torch.aten import AtenCall, Emit, find_adapter
from netanatomy.frontends.torch.aten.fast_meta import plain_layout
from netanatomy.frontends.torch.aten.registry import (
    all_on_meta,
    as_emits,
    meta_check_for,
    meta_override_of,
)
from netanatomy.frontends.torch.guard import (
    ModelGuard,
    Values,
    globals_preserved,
    model_preserved,
    storage_key,
)
from netanatomy.frontends.torch.inputs import InputSpec, make_input
from netanatomy.frontends.torch.params import (
    build_param_table,
    canonical_names,
    dtype_name,
    storage_notes,
)
from netanatomy.frontends.torch.tracking import (
    ModuleTracker,
    flatten_tensors,
    mode_set,
    track_modules,
)
from netanatomy.ir.graph import CaptureInfo, Graph, ModuleInfo, Node, ParamInfo, TensorInfo
from netanatomy.ir.kinds import KINDS, UNKNOWN


class OpFacts(NamedTuple):
    """What capture needs to know of one aten op overload, looked up once per capture."""

    adapter: Any                 # the adapter, or None (uncounted unless decomposed)
    may_allocate: bool           # False: the schema marks every output as an alias
    name: str                    # "aten.mm.default"
    written: tuple[tuple[int, str], ...]  # (position, name) of each argument written into
    check: Any                   # the meta check, or None
    override: Any                # the meta override, or None
    decomposition: Any           # the registered decomposition, or None


class OpRecorder(TorchDispatchMode):
    """Records each aten op as an IR node attributed to the running module."""

    def __init__(self, tracker: ModuleTracker, param_names: Mapping[int, str]) -> None:
        super().__init__()
        self.tracker = tracker
        self.nodes: list[Node] = []
        self._param_names = param_names
        # id(tensor) -> (weak reference, info): a plain dict probed by id is much cheaper
        # than a WeakIdKeyDictionary; the reference tells a live tensor from a dead one
        # whose id was reused, which then gets a new info as before.
        self._infos: dict[int, tuple[weakref.ref[torch.Tensor], TensorInfo]] = {}
        self._dtype_names: dict[torch.dtype, str] = {}
        self._facts: dict[int, OpFacts] = {}  # by id(func): OpOverload hashes in Python
        self.guard: ModelGuard | None = None  # told before an op writes into a tensor
        self._decomposing: set[Any] = set()
        self.decomposed: dict[str, int] = {}
        self._ids = itertools.count()

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        """No ``torch._disable_dynamo`` wrapper around every op's ``__torch_dispatch__``
        (TorchDispatchMode adds one per subclass): a capture runs eagerly, and that
        wrapper alone cost a tenth of a Llama-70B capture."""
        return False

    def info_of(self, tensor: torch.Tensor) -> TensorInfo:
        """The TensorInfo of ``tensor``, created on first sight."""
        key = id(tensor)
        entry = self._infos.get(key)
        if entry is not None and entry[0]() is tensor:
            return entry[1]
        dtype = tensor.dtype
        name = self._dtype_names.get(dtype)
        if name is None:
            name = self._dtype_names[dtype] = dtype_name(dtype)
        info = TensorInfo(next(self._ids), tuple(tensor.shape), name,  # id, shape, dtype,
                          tensor.element_size(), self._param_names.get(key))  # itemsize, param
        self._infos[key] = (weakref.ref(tensor), info)
        return info

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        facts = self._facts.get(id(func))
        if facts is None:
            facts = self.lookup(func)
        if facts.written and self.guard is not None:
            self.before_write(facts.written, args, kwargs)
        if facts.decomposition is not None and func not in self._decomposing:
            return self.decompose(func, facts.decomposition, args, kwargs)
        if facts.check is not None and args and getattr(args[0], "is_meta", False):
            facts.check(args)                # what the real kernel checks, meta skips
        run = func
        if facts.override is not None and all_on_meta(args, kwargs):
            run = facts.override             # a meta kernel too strict for valid inputs
        result = run(*args, **kwargs)
        self.record(func, facts, args, kwargs, result)
        return result

    def node_path(self) -> str:
        """The module path an op recorded now belongs to (the running module)."""
        return self.tracker.current_path

    def lookup(self, func: Any) -> OpFacts:
        """The :class:`OpFacts` of ``func``, cached. An op whose schema marks every output
        as an alias of an input (views, in-place ops) allocates nothing; the others are
        checked call by call (:func:`allocates_storage`). Only ops without an adapter are
        decomposed."""
        schema = func._schema
        may_allocate = not any(r.alias_info is not None for r in schema.returns)
        written = tuple((position, argument.name)
                        for position, argument in enumerate(schema.arguments)
                        if argument.alias_info is not None and argument.alias_info.is_write)
        adapter = find_adapter(func)
        facts = OpFacts(adapter, may_allocate, str(func), written, meta_check_for(func),
                        meta_override_of(func),
                        decomposition_of(func) if adapter is None else None)
        self._facts[id(func)] = facts
        return facts

    def before_write(self, written: tuple[tuple[int, str], ...], args: tuple[Any, ...],
                     kwargs: dict[str, Any]) -> None:
        """Let the guard copy a model tensor's values before the op writes into it."""
        assert self.guard is not None
        for position, name in written:
            value = args[position] if position < len(args) else kwargs.get(name)
            for tensor in flatten_tensors(value):
                self.guard.before_write(tensor)

    def decompose(self, func: Any, decomposition: Any, args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> Any:
        """Run an op no adapter knows through its registered decomposition, recording the
        ops it is made of; the op is named in ``decomposed``."""
        recorded = len(self.nodes)
        self._decomposing.add(func)
        try:
            with self:
                result = decomposition(*args, **kwargs)
        except Exception:  # a decomposition that cannot run here: the op stays uncounted
            del self.nodes[recorded:]
            result = func(*args, **kwargs)
            self.record(func, self._facts[id(func)], args, kwargs, result)
            return result
        finally:
            self._decomposing.discard(func)
        self.decomposed[str(func)] = self.decomposed.get(str(func), 0) + 1
        return result

    def record(self, func: Any, facts: OpFacts, args: tuple[Any, ...],
               kwargs: dict[str, Any], result: Any) -> tuple[list[torch.Tensor], str]:
        """Append the op's nodes; returns its output tensors and the path they got."""
        info_of = self.info_of
        if isinstance(result, torch.Tensor):  # the common case, without flattening
            results = [result]
            outputs: tuple[TensorInfo, ...] = (info_of(result),)
        else:
            results = flatten_tensors(result)
            outputs = tuple(info_of(t) for t in results)
        allocates = facts.may_allocate and allocates_storage(results, args, kwargs)
        adapter = facts.adapter
        if adapter is None:
            emits: tuple[Emit, ...] = (Emit(UNKNOWN, tuple(
                info_of(t) for t in flatten_tensors((args, kwargs)))),)
        else:
            emitted = adapter(AtenCall(func, args, kwargs, info_of, outputs))
            emits = (emitted,) if isinstance(emitted, Emit) else as_emits(emitted)
        op = facts.name
        path = self.node_path()
        nodes = self.nodes
        for emit in emits:  # Node(index, kind, op, path, inputs, outputs, attrs, allocates)
            nodes.append(Node(len(nodes), emit.kind, op, path, emit.inputs,
                              outputs if emit.outputs is None else emit.outputs,
                              complex_marked(emit), allocates))
        return results, path


def allocates_storage(results: Sequence[torch.Tensor], args: tuple[Any, ...],
                      kwargs: Mapping[str, Any]) -> bool:
    """True when some output lives in a storage none of the op's tensor inputs lives in.

    Schemas do not mark every alias: ``_unsafe_view`` (after the ``mm`` of a ``Linear``
    on a 3-d input) and ``unsafe_split`` return views without an annotation. Storage
    identities compare on meta tensors too. Fast path: a lone output whose storage has no
    other user (its use count is 2: the tensor and the storage object asked) is new."""
    if not results:
        return False
    try:
        if len(results) == 1 and STORAGE_USE_COUNT(results[0].untyped_storage()._cdata) <= 2:
            return True
    except (RuntimeError, NotImplementedError):  # a tensor without storage
        return True
    keys = {storage_key(t) for t in results}
    for tensor in flatten_tensors((args, kwargs)):
        keys.discard(storage_key(tensor))
    return bool(keys)


def use_count_unknown(cdata: int) -> int:
    """Stand-in for ``torch._C._storage_Use_Count`` (private) should it go: always check."""
    return 3


STORAGE_USE_COUNT = getattr(torch._C, "_storage_Use_Count", use_count_unknown)


def complex_marked(emit: Emit) -> Mapping[str, Any]:
    """The node's attrs, with ``complex=True`` for a linear-algebra node over complex
    operands: its rule counts 4 real MACs per complex multiply-accumulate."""
    kind = KINDS.get(emit.kind)
    if kind is None or kind.group != "linear_algebra" or not any(
            t.dtype.startswith("complex") for t in emit.inputs):
        return emit.attrs
    return {**emit.attrs, "complex": True}


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (a context manager or decorator): every
    node and tensor info a capture records stays alive, so the collector would re-scan them
    (and the model) again and again while finding almost nothing to free — a sixth of a
    Llama-70B capture. Memory is still freed by reference counting; it resumes on exit."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def decomposition_of(func: Any) -> Any:
    """The op's registered Python decomposition (``torch._decomp``), or None."""
    from torch._decomp import decomposition_table

    return decomposition_table.get(func)


class SavedTensorMeter:
    """Bytes of distinct storages autograd saves for backward, parameters excluded."""

    def __init__(self, excluded_storages: set[int]) -> None:
        self.excluded = excluded_storages
        self.bytes_by_storage: dict[int, int] = {}

    def pack(self, tensor: torch.Tensor) -> torch.Tensor:
        try:
            storage = tensor.untyped_storage()
            key, size = storage._cdata, storage.nbytes()
        except (RuntimeError, NotImplementedError):
            key, size = id(tensor), tensor.numel() * tensor.element_size()
        if key not in self.excluded:
            self.bytes_by_storage[key] = size
        return tensor

    @property
    def total(self) -> int:
        return sum(self.bytes_by_storage.values())


def make_stand_in(tensor: torch.Tensor, device: torch.device, is_param: bool) -> torch.Tensor:
    """A tensor like ``tensor`` on ``device``: empty on meta, zeros when materialising a meta
    tensor on a real device, the tensor itself (or a copy) otherwise."""
    requires_grad = is_param and tensor.requires_grad
    if device.type == "meta" and type(tensor) in PLAIN_TYPES and (
            tensor.layout == torch.strided and not tensor.is_quantized
            and plain_layout(tensor)):    # what empty_like gives, without its Python
        stand_in = torch.empty(tensor.shape, dtype=tensor.dtype, device="meta")
    elif device.type == "meta":  # (without device=, empty_like of a meta tensor is faster)
        stand_in = torch.empty_like(tensor) if tensor.is_meta else torch.empty_like(
            tensor, device="meta")
    elif tensor.device.type == "meta":
        stand_in = torch.zeros(tensor.shape, dtype=tensor.dtype, device=device)
    else:
        stand_in = tensor.detach().to(device)
    return stand_in.requires_grad_(requires_grad) if stand_in.is_floating_point() else stand_in


PLAIN_TYPES = (torch.Tensor, nn.Parameter)
"""Tensor types whose meta stand-in can be made with ``torch.empty`` (no subclass)."""


@dataclass(frozen=True)
class StandIns:
    """What a capture runs with in place of a model's tensors: the parameter table,
    ``tensors`` (id of the model's tensor → its stand-in), ``by_name`` (the names
    ``functional_call`` swaps in) and ``param_names`` (id of a stand-in → the name it is
    counted under; same-storage sharers share one)."""

    params: dict[str, ParamInfo]
    names_by_object: dict[int, list[str]]
    tensors: dict[int, torch.Tensor]
    by_name: dict[str, torch.Tensor]
    param_names: dict[int, str]


def stand_ins_for(model: nn.Module, target: torch.device, buffer_ids: set[int], *,
                  keep_meta_params: bool, dtype: torch.dtype | None = None) -> StandIns:
    """Stand-ins of ``model``'s parameters and buffers (``buffer_ids``) on ``target``
    (:func:`make_stand_in`), floating ones in ``dtype`` when given; with
    ``keep_meta_params``, a meta parameter captured on meta is used as it is (not swapped
    in)."""
    params, names_by_object = build_param_table(model)
    originals = {id(t): t for t in list(model.parameters()) + list(model.buffers())}
    kept = {key for key, t in originals.items()
            if keep_meta_params and target.type == "meta" and t.is_meta
            and key not in buffer_ids}
    tensors = {key: t if key in kept else
               in_dtype(make_stand_in(t, target, key not in buffer_ids), dtype)
               for key, t in originals.items()}
    by_name = {name: tensors[key] for key, names in names_by_object.items()
               if key not in kept for name in names}
    counted_as = canonical_names(params)          # same-storage sharers → counted name
    param_names = {id(tensors[key]): counted_as.get(names[0], names[0])
                   for key, names in names_by_object.items()}
    return StandIns(params, names_by_object, tensors, by_name, param_names)


def in_dtype(tensor: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    """``tensor`` in ``dtype`` when it is floating (a new leaf, its grad flag kept)."""
    if dtype is None or not tensor.is_floating_point() or tensor.dtype == dtype:
        return tensor
    return tensor.detach().to(dtype).requires_grad_(tensor.requires_grad)


def to_device(value: Any, device: torch.device) -> Any:
    """Move every tensor inside nested containers to ``device``: empty on meta; a meta
    tensor sent to a real device is materialised as seeded random normal floats, or zeros
    for integer and bool dtypes (valid token ids and indices)."""
    if isinstance(value, torch.Tensor):
        if device.type == "meta":
            return torch.empty_like(value, device="meta")
        if value.device.type == "meta":
            spec = InputSpec(tuple(value.shape), value.dtype)
            return make_input(spec, device)
        return value.to(device)
    if isinstance(value, dict):
        return {key: to_device(item, device) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_device(item, device) for item in value)
    return value


def describe_failure(tracker: ModuleTracker, error: BaseException) -> str:
    """Say which layer failed, with what input shapes, what it expects, and why (the hint
    of :func:`~netanatomy.frontends.torch.failures.failure_hint`)."""
    from netanatomy.frontends.torch.failures import failure_hint

    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    call = tracker.stack[-1] if tracker.stack else None
    hint = failure_hint(call, error)
    ending = f"{message.rstrip('.')}. {hint}" if hint else message
    if call is None:
        return f"the model's forward failed: {ending}"
    shapes = ", ".join("x".join(map(str, s)) or "scalar" for s in call.input_shapes) or "none"
    layer = call.path or "<root>"
    return (f"layer '{layer}' ({type(call.module).__name__}({call.module.extra_repr()})) "
            f"failed on input shape(s) [{shapes}]: {ending}")


@collector_paused()
def capture(model: nn.Module, args: Sequence[Any], kwargs: Mapping[str, Any], *,
            device: str = "meta", training: bool = False, notes: Sequence[str] = ()) -> Graph:
    """Run ``model(*args, **kwargs)`` once on ``device`` and return its IR graph.

    Raises:
        CaptureError: the forward pass failed; the message names the failing layer.
    """
    target = torch.device(device)
    # A meta parameter captured on meta is its own stand-in: there are no values to
    # protect, and swapping hundreds of them in and out is a tenth of a large capture.
    # Buffers (which a forward may write into) always get one.
    standing = stand_ins_for(model, target, {id(b) for b in model.buffers()},
                             keep_meta_params=True)
    params, stand_ins = standing.params, standing.tensors
    by_name, param_names = standing.by_name, standing.param_names
    call_args, call_kwargs = to_device(tuple(args), target), to_device(dict(kwargs), target)
    meter = SavedTensorMeter({storage_key(t) for t in stand_ins.values()})
    values: Values = "none" if target.type == "meta" else "buffers"  # meta: no values
    with globals_preserved(), model_preserved(model, values) as guard, \
            mode_set(model, training), track_modules(model) as tracker:
        recorder = OpRecorder(tracker, param_names)
        recorder.guard = None if values == "none" else guard  # parameters: copy on write
        tracker.identify = lambda tensor: recorder.info_of(tensor).id
        try:
            with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(
                    meter.pack, lambda t: t), recorder:
                result = torch.func.functional_call(model, by_name, tuple(call_args),
                                                    call_kwargs, strict=False)
        except Exception as error:  # the user's forward can raise anything
            raise CaptureError(describe_failure(tracker, error)) from error
        tracker.identify = None  # no tracker <-> recorder cycle: freed without the collector
        recorder.guard = None
    inputs = tuple(recorder.info_of(t) for t in flatten_tensors((call_args, call_kwargs)))
    notes = tuple(notes) + storage_notes(model) + tuple(
        f"{op} ran as its decomposition ({count}x): its parts are counted"
        for op, count in sorted(recorder.decomposed.items()))
    outputs = tuple(recorder.info_of(t) for t in flatten_tensors(result))
    return Graph(
        nodes=tuple(recorder.nodes), modules=module_infos(model, tracker), params=params,
        inputs=inputs, outputs=outputs,
        capture=CaptureInfo(frontend="torch", device=str(target), training=training,
                            grad=True, notes=tuple(notes)),
        saved_bytes=meter.total)


def module_infos(model: nn.Module, tracker: ModuleTracker) -> tuple[ModuleInfo, ...]:
    """One ModuleInfo per module, in definition order, root first."""
    infos = []
    for path, module in model.named_modules():
        shapes, dtype, nbytes = tracker.outputs.get(path, ((), None, 0))
        infos.append(ModuleInfo(path=path, type=type(module).__name__,
                                calls=tracker.calls.get(path, 0), output_shapes=shapes,
                                output_dtype=dtype, output_bytes=nbytes,
                                output_ids=tracker.output_ids.get(path, ()),
                                call_shapes=tuple(tracker.call_shapes.get(path, ()))))
    return tuple(infos)

