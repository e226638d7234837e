"""Capture of one training step — forward, loss, backward and optimizer step — as IR nodes,
with every storage's allocation and release on the way.

The step runs once under the aten recorder of :mod:`~netanatomy.frontends.torch.capture`
(on ``meta`` nothing is allocated), on stand-ins of the parameters, inside the same guards:
the user's model, its gradients, the RNGs and torch's flags are as before afterwards.

- **Phases**: each node is ``forward``, ``loss`` (the reduction of the output to a scalar:
  the sum of the first floating output, stated in every output), ``backward`` or
  ``optimizer``.
- **Backward ops are attributed to modules** through autograd itself: every forward op's
  autograd node has a sequence number, remembered with the module that ran it; the node
  the engine runs during backward (``torch._C._current_autograd_node()``) names it again.
  Gradient accumulation into a parameter is attributed to the parameter's module.
- **Memory**: every new storage an op returns is an allocation (its bytes, the node, the
  phase, the module); a weak reference on the storage reports its release, at the node
  running when the last tensor using it goes. Parameters, buffers and inputs are live
  before the step. At the end each allocation gets its category: gradients (a parameter's
  ``.grad``), optimizer state (in the optimizer's ``state``), activations saved for
  backward (packed by autograd's saved-tensor hooks during the forward), temporaries.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from netanatomy.errors import CaptureError, UsageError
from netanatomy.frontends.torch.capture import (
    OpFacts,
    OpRecorder,
    collector_paused,
    describe_failure,
    in_dtype,
    module_infos,
    stand_ins_for,
    to_device,
)
from netanatomy.frontends.torch.guard import (
    Values,
    globals_preserved,
    model_preserved,
    storage_key,
)
from netanatomy.frontends.torch.params import storage_notes
from netanatomy.frontends.torch.tracking import (
    ModuleTracker,
    flatten_tensors,
    mode_set,
    track_modules,
)
from netanatomy.ir.graph import CaptureInfo, Graph

PHASES = ("forward", "loss", "backward", "optimizer")
CATEGORIES = ("parameters", "master_weights", "buffers", "inputs", "gradients",
              "optimizer_state", "activations_saved", "temporaries")
"""Memory categories, in the order outputs list them."""

NO_SEQUENCE = 2 ** 64 - 1
"""The sequence number of autograd nodes made outside a forward (gradient accumulation)."""

LOSS_CONVENTION = ("loss = sum of the first floating output (cast to float32); its "
                   "backward seeds a gradient of ones")


@dataclass(frozen=True, slots=True)
class Allocation:
    """One storage a step allocated: ``bytes``; the node that allocated it (``-1``: live
    before the step) and the node running when it was released (``None``: still live at
    the end); its phase, module path and category."""

    id: int
    bytes: int
    allocated_at: int
    freed_at: int | None
    phase: str
    path: str
    category: str


@dataclass(frozen=True)
class TrainingCapture:
    """One captured training step: ``graph`` holds every node (forward, loss, backward,
    optimizer, in run order; ``phases[i]`` is node i's), ``grad_roles[i]`` says what a
    backward node computes when known (``"weight"``: its output is a parameter's gradient,
    ``"input"``: another gradient; ``None``: not a backward node or no gradient), and
    ``allocations`` every storage with its lifetime."""

    graph: Graph
    phases: tuple[str, ...]
    grad_roles: tuple[str | None, ...]
    allocations: tuple[Allocation, ...]
    optimizer: str
    tokens: int
    notes: tuple[str, ...] = field(default=())
    precision: str = "fp32"


OPTIMIZERS: dict[str, tuple[str, dict[str, Any]]] = {
    "sgd": ("SGD", {"lr": 0.1}),
    "sgd-momentum": ("SGD", {"lr": 0.1, "momentum": 0.9}),
    "adam": ("Adam", {"lr": 1e-3}),
    "adamw": ("AdamW", {"lr": 1e-3}),
    "adagrad": ("Adagrad", {"lr": 1e-2}),
    "rmsprop": ("RMSprop", {"lr": 1e-2}),
    "adamax": ("Adamax", {"lr": 1e-3}),
    "nadam": ("NAdam", {"lr": 1e-3}),
    "radam": ("RAdam", {"lr": 1e-3}),
    "adadelta": ("Adadelta", {"lr": 1.0}),
    "none": ("", {}),
}
"""Optimizer names → torch.optim class and its arguments, run as the ``foreach``
implementation (torch's default on GPUs: one op over the list of parameters, with
list-sized temporaries); state sizes are what it allocates."""


PRECISIONS: dict[str, tuple[torch.dtype | None, bool]] = {
    "fp32": (None, False),
    "bf16": (torch.bfloat16, False),
    "fp16": (torch.float16, False),
    "bf16-mixed": (torch.bfloat16, True),
    "fp16-mixed": (torch.float16, True),
}
"""Precision policy → (the dtype the model computes and keeps its weights in, None: as it
is; whether fp32 master weights are kept). ``bf16``/``fp16``: the whole model, its
gradients and its optimizer state in that dtype. ``*-mixed``: the model in that dtype, plus
fp32 master weights that the optimizer updates (with fp32 gradients copied from the
half-precision ones, which are then released, and fp32 state), copied back into the model
after the step — the copies mixed-precision trainers keep (Micikevicius et al. 2018;
DeepSpeed's bf16 optimizer)."""

PRECISION_CONVENTION = {
    "fp32": "precision fp32: weights, gradients and optimizer state as the model holds them",
    "bf16": "precision bf16: weights, activations, gradients and optimizer state in bfloat16",
    "fp16": "precision fp16: weights, activations, gradients and optimizer state in float16",
    "bf16-mixed": "precision bf16-mixed: bfloat16 weights and activations; fp32 master "
                  "weights, fp32 gradients (copied from the bf16 ones, which are released) "
                  "and fp32 optimizer state; the master weights copied back after the step",
    "fp16-mixed": "precision fp16-mixed: float16 weights and activations; fp32 master "
                  "weights, fp32 gradients (copied from the fp16 ones, which are released) "
                  "and fp32 optimizer state; the master weights copied back after the step "
                  "(loss scaling not modelled)",
}


def check_precision(precision: str) -> tuple[torch.dtype | None, bool]:
    """Raises: UsageError for an unknown policy (naming the known ones)."""
    if precision not in PRECISIONS:
        raise UsageError(f"--precision {precision!r} is not known; give one of "
                         f"{', '.join(PRECISIONS)}")
    return PRECISIONS[precision]


def make_optimizer(name: str, params: Sequence[torch.Tensor]) -> Any:
    """The torch optimizer ``name`` over ``params`` (None for ``"none"``).

    Raises:
        UsageError: an unknown name (the message lists the known ones).
    """
    if name not in OPTIMIZERS:
        raise UsageError(f"--optimizer {name!r} is not known; give one of "
                         f"{', '.join(OPTIMIZERS)}")
    class_name, options = OPTIMIZERS[name]
    if not class_name or not params:
        return None
    optimizer_class = getattr(torch.optim, class_name)
    return optimizer_class(list(params), foreach=True, **options)


class TrainingRecorder(OpRecorder):
    """The aten recorder, plus phases, backward attribution and storage lifetimes."""

    def __init__(self, tracker: ModuleTracker, param_names: Mapping[int, str],
                 owners: Mapping[int, str]) -> None:
        super().__init__(tracker, param_names)
        self._phase = "forward"
        self._phase_starts: list[tuple[int, str]] = [(0, "forward")]  # (first node, phase)
        self.autograd_keys: list[int | None] = []      # per node: the backward node it ran in
        self._running: int | None = None
        self._updated = ""                              # the module an update is for
        self.sequence_paths: dict[int, str] = {}
        self.owners = dict(owners)                      # id(parameter, its grad) → module
        self._aligned: dict[int, list[str | None]] = {}  # list length → owners by position
        self.allocations: list[list[Any]] = []          # [id, bytes, at, freed, phase, path]
        self.live: dict[int, int] = {}                  # storage key → allocation id
        self.references: dict[int, Any] = {}            # allocation id → weak reference
        self.saved: set[int] = set()                    # allocation ids packed for backward
        self.weight_grads: set[int] = set()             # info ids of gradients bound for
        self._leads: dict[int, bool] = {}               # parameters; per node: towards them
        self._hooks: list[Any] = []
        self._graph: list[tuple[Any, list[Any]]] = []   # the nodes watched (ids stay theirs)

    @property
    def phase(self) -> str:
        """The phase the next recorded node belongs to."""
        return self._phase

    @phase.setter
    def phase(self, phase: str) -> None:
        if phase != self._phase:
            self._phase_starts.append((len(self.nodes), phase))
            self._phase = phase

    @property
    def phases(self) -> list[str]:
        """Per node: its phase (the phases change at known nodes, so they are kept as
        where each starts rather than one entry per node)."""
        found: list[str] = []
        size = len(self.nodes)
        for number, (start, phase) in enumerate(self._phase_starts):
            stop = (self._phase_starts[number + 1][0] if number + 1 < len(self._phase_starts)
                    else size)
            found.extend([phase] * (min(stop, size) - min(start, size)))
        return found

    def watch_backward(self, loss: torch.Tensor) -> None:
        """Before backward: a post-hook on each autograd node of ``loss``'s graph that
        hands a gradient on towards parameters notes which of the gradients it produces
        are (directly, or through nodes all of whose inputs are parameters, like the ``t``
        of a ``Linear``'s weight); nodes that hand none on get no hook."""
        root = loss.grad_fn
        if root is None:
            return
        # every node of the graph with the nodes it hands gradients to, kept referenced
        # (an id stays its node's) until the end
        graph, stack, seen = self._graph, [root], {id(root)}
        while stack:
            node = stack.pop()
            following = [n for n, _ in node.next_functions]
            graph.append((node, following))
            for after in following:
                if after is not None and id(after) not in seen:
                    seen.add(id(after))
                    stack.append(after)
        leads = self.note_leads(graph)
        for node, following in graph:
            slots = tuple(index for index, after in enumerate(following)
                          if after is not None and leads[id(after)])
            if slots:
                self._hooks.append(node.register_hook(self.noted(slots)))

    def note_leads(self, graph: Sequence[tuple[Any, list[Any]]]) -> dict[int, bool]:
        """Per node of ``graph`` (``(node, the nodes it hands gradients to)``), by id:
        whether it leads to weights — it is a parameter's ``AccumulateGrad``, or every
        input of its forward op is itself bound only for parameters (the ``t`` of a
        weight, a reparametrisation, LoRA's B·A); one input that took no gradient (a
        layer's input x) makes it a layer, not a weight path. Leaves first, without
        recursion along the graph's depth."""
        leads = self._leads
        following_of = {id(node): following for node, following in graph}
        for root, _ in graph:
            if id(root) in leads:
                continue
            stack: list[tuple[Any, bool]] = [(root, False)]
            while stack:
                node, expanded = stack.pop()
                key = id(node)
                if key in leads:
                    continue
                following = following_of[key]
                if getattr(node, "variable", None) is not None:    # AccumulateGrad
                    leads[key] = True
                elif expanded:                                     # its inputs are known
                    leads[key] = bool(following) and all(
                        n is not None and leads[id(n)] for n in following)
                else:
                    stack.append((node, True))
                    stack.extend((n, False) for n in following
                                 if n is not None and id(n) not in leads)
        return leads

    def noted(self, slots: tuple[int, ...]) -> Callable[..., None]:
        """The post-hook of a node whose inputs at ``slots`` are bound for parameters."""
        weight_grads, info_of = self.weight_grads, self.info_of

        def note(grad_inputs: Sequence[Any], grad_outputs: Sequence[Any]) -> None:
            for index in slots:
                gradient = grad_inputs[index]
                if gradient is not None:
                    weight_grads.add(info_of(gradient).id)

        return note

    def node_path(self) -> str:
        phase = self._phase
        if phase == "backward":
            node = torch._C._current_autograd_node()
            self._running = None if node is None else id(node)
            if node is None:
                return ""
            sequence = node._sequence_nr()
            if sequence != NO_SEQUENCE:
                return self.sequence_paths.get(sequence, "")
            variable = getattr(node, "variable", None)        # AccumulateGrad
            return self.owners.get(id(variable), "") if variable is not None else ""
        if phase == "optimizer":
            return self._updated
        path = self.tracker.current_path
        if phase == "forward":   # this op's autograd node, if it made one, is the last
            self.sequence_paths.setdefault(torch._C._autograd._get_sequence_nr() - 1, path)
        return path

    def record(self, func: Any, facts: OpFacts, args: tuple[Any, ...],
               kwargs: dict[str, Any], result: Any) -> tuple[list[torch.Tensor], str]:
        phase = self._phase
        if phase == "optimizer":              # an update belongs to its parameter's module
            self._updated = next((self.owners[id(t)] for t in flatten_tensors((args, kwargs))
                                  if id(t) in self.owners), self._updated)
        first = len(self.nodes)
        results, path = super().record(func, facts, args, kwargs, result)
        at = len(self.nodes) - 1
        added = at + 1 - first
        if phase == "optimizer" and added > 1:
            self.own_updates(args, first, added)
        if added == 1:
            self.autograd_keys.append(self._running if phase == "backward" else None)
        else:
            self.autograd_keys.extend([self._running if phase == "backward" else None]
                                      * added)
        for tensor in results:
            self.track(tensor, at, path)
        return results, path

    def own_updates(self, args: tuple[Any, ...], first: int, added: int) -> None:
        """A foreach op over tensor lists became one node per element: each belongs to its
        own element's module, not to the first element's (the op's path). An element is
        known by its parameter (or master weight); the lists of states and temporaries
        that torch's foreach optimizers pass are aligned with the parameter list of their
        group, so an element no owner is known for takes the module at its position in the
        last list of that length whose owners were all known."""
        lists = [a for a in args if isinstance(a, (list, tuple)) and len(a) == added
                 and all(isinstance(t, torch.Tensor) for t in a)]
        if not lists:
            return
        owners = None
        for elements in lists:
            found = [self.owners.get(id(t)) for t in elements]
            if all(owner is not None for owner in found):
                owners = self._aligned[added] = found
                break
        if owners is None:
            owners = self._aligned.get(added)
        if owners is None:
            return
        for offset, owner in enumerate(owners):
            node = self.nodes[first + offset]
            if owner is not None and owner != node.path:
                self.nodes[first + offset] = dataclasses.replace(node, path=owner)

    def track(self, tensor: torch.Tensor, at: int, path: str, phase: str | None = None
              ) -> None:
        """Note ``tensor``'s storage as allocated at node ``at`` unless it is known."""
        try:
            storage = tensor.untyped_storage()
        except (RuntimeError, NotImplementedError):  # no storage (sparse, some subclasses)
            return
        key = storage._cdata
        if key in self.live:
            return
        number = len(self.allocations)
        self.allocations.append([number, storage.nbytes(), at, None, phase or self.phase,
                                 path])
        self.live[key] = number
        self.references[number] = weakref.ref(storage, self.released(key, number))

    def released(self, key: int, number: int) -> Callable[[Any], None]:
        def release(_: Any) -> None:
            if self.live.get(key) == number:
                del self.live[key]
            self.allocations[number][3] = max(len(self.nodes) - 1, 0)

        return release

    def pack(self, tensor: torch.Tensor) -> torch.Tensor:
        """Saved-tensor hook: the allocation ``tensor`` lives in is kept for backward."""
        try:
            number = self.live.get(tensor.untyped_storage()._cdata)
        except (RuntimeError, NotImplementedError):
            number = None
        if number is not None and self.phase == "forward":
            self.saved.add(number)
        return tensor

    def allocation_of(self, tensor: torch.Tensor) -> int | None:
        try:
            return self.live.get(storage_key(tensor))
        except (RuntimeError, NotImplementedError):
            return None


def loss_of(result: Any) -> torch.Tensor:
    """The step's loss: the sum of the first floating output, as float32.

    Raises:
        CaptureError: the model returned no floating tensor that takes a gradient.
    """
    for tensor in flatten_tensors(result):
        if tensor.is_floating_point() and tensor.requires_grad:
            return tensor.float().sum()
    raise CaptureError("the model's output has no floating tensor that requires a gradient, "
                       "so there is nothing to train (are all parameters frozen?)")


@collector_paused()
def capture_training(model: nn.Module, args: Sequence[Any], kwargs: Mapping[str, Any], *,
                     optimizer: str = "adamw", device: str = "meta",
                     precision: str = "fp32", notes: Sequence[str] = ()) -> TrainingCapture:
    """Run one training step of ``model`` on ``device`` and return what it ran.

    Raises:
        CaptureError: the forward or backward failed (the message names the layer).
        UsageError: an unknown optimizer or precision.
    """
    if optimizer not in OPTIMIZERS:
        make_optimizer(optimizer, [])
    compute_dtype, mixed = check_precision(precision)
    target = torch.device(device)
    buffer_ids = {id(b) for b in model.buffers()} - {id(p) for p in model.parameters()}
    standing = stand_ins_for(model, target, buffer_ids, keep_meta_params=False,
                             dtype=compute_dtype)
    params, names_by_object = standing.params, standing.names_by_object
    stand_ins, by_name, param_names = standing.tensors, standing.by_name, standing.param_names
    owners = {id(stand_ins[key]): params[param_names[id(stand_ins[key])]].owner
              for key in names_by_object if param_names[id(stand_ins[key])] in params}
    trainable = [t for key, t in stand_ins.items()
                 if key not in buffer_ids and t.requires_grad]
    call_args = tuple(in_dtype(a, compute_dtype) if isinstance(a, torch.Tensor) else a
                      for a in to_device(tuple(args), target))
    call_kwargs = {k: in_dtype(v, compute_dtype) if isinstance(v, torch.Tensor) else v
                   for k, v in to_device(dict(kwargs), target).items()}
    masters = [t.detach().float().requires_grad_(True) for t in trainable] if mixed else []
    for master, tensor in zip(masters, trainable):
        owners[id(master)] = owners.get(id(tensor), "")
    values: Values = "none" if target.type == "meta" else "buffers"
    with globals_preserved(), model_preserved(model, values) as guard, \
            mode_set(model, True), track_modules(model) as tracker:
        recorder = TrainingRecorder(tracker, param_names, owners)
        recorder.guard = None if values == "none" else guard   # parameters: copy on write
        tracker.identify = lambda tensor: recorder.info_of(tensor).id
        for key, tensor in stand_ins.items():
            recorder.track(tensor, -1, params[param_names[id(tensor)]].owner
                           if param_names[id(tensor)] in params else "",
                           "buffers" if key in buffer_ids else "parameters")
        for tensor in flatten_tensors((call_args, call_kwargs)):
            recorder.track(tensor, -1, "", "inputs")
        for master in masters:
            recorder.track(master, -1, owners[id(master)], "master_weights")
        updated = masters if mixed else trainable
        chosen = make_optimizer(optimizer, updated)
        try:
            with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(
                    recorder.pack, lambda t: t), recorder:
                result = torch.func.functional_call(model, by_name, tuple(call_args),
                                                    call_kwargs, strict=False)
                recorder.phase = "loss"
                loss = loss_of(result)
                recorder.watch_backward(loss)
                recorder.phase = "backward"
                loss.backward()
                for handle in recorder._hooks:
                    handle.remove()
                recorder._graph.clear()
                recorder.phase = "optimizer"
                recorder.owners.update({id(t.grad): recorder.owners.get(id(t), "")
                                        for t in trainable if t.grad is not None})
                with torch.no_grad():
                    for master, tensor in zip(masters, trainable):   # mixed precision
                        if tensor.grad is not None:
                            master.grad = tensor.grad.float()
                            # the half-precision gradient goes: its id may be reused
                            recorder.owners.pop(id(tensor.grad), None)
                            tensor.grad = None
                    if chosen is not None:
                        chosen.step()
                    for master, tensor in zip(masters, trainable):
                        tensor.copy_(master)
        except CaptureError:
            raise
        except Exception as error:  # the user's forward (or its backward) can raise anything
            raise CaptureError(describe_failure(tracker, error)) from error
        tracker.identify = None
        recorder.guard = None
        gradients = {recorder.allocation_of(t.grad) for t in (*trainable, *masters)
                     if t.grad is not None}
        state = {recorder.allocation_of(value) for entry in
                 (chosen.state.values() if chosen is not None else ())
                 for value in entry.values() if isinstance(value, torch.Tensor)}
        del result, loss
        inputs = tuple(recorder.info_of(t) for t in flatten_tensors((call_args, call_kwargs)))
    allocations = tuple(categorised(recorder, gradients, state))
    producers = {node.index for node in recorder.nodes
                 if any(t.id in recorder.weight_grads for t in node.outputs)}
    roles = gradient_roles(recorder.nodes, recorder.phases, recorder.autograd_keys, producers)
    graph = Graph(nodes=tuple(recorder.nodes), modules=module_infos(model, tracker),
                  params=params, inputs=inputs, outputs=(),
                  capture=CaptureInfo(frontend="torch", device=str(target), training=True,
                                      grad=True,
                                      notes=tuple(notes) + storage_notes(model) + tuple(
                                          f"{op} ran as its decomposition ({count}x): its "
                                          "parts are counted" for op, count in
                                          sorted(recorder.decomposed.items()))))
    tokens = token_count(call_args, call_kwargs)
    return TrainingCapture(graph, tuple(recorder.phases), roles, allocations, optimizer,
                           tokens, (LOSS_CONVENTION, PRECISION_CONVENTION[precision]),
                           precision)


def categorised(recorder: TrainingRecorder, gradients: set[int | None],
                state: set[int | None]) -> list[Allocation]:
    """Every allocation with its category (module doc)."""
    found = []
    for number, nbytes, at, freed, phase, path in recorder.allocations:
        if phase in ("parameters", "master_weights", "buffers", "inputs"):
            category = phase
        elif number in gradients:
            category = "gradients"
        elif number in state:
            category = "optimizer_state"
        elif number in recorder.saved:
            category = "activations_saved"
        else:
            category = "temporaries"
        found.append(Allocation(number, int(nbytes), at, freed,
                                phase if phase in PHASES else "before", path, category))
    return found


GRAD_ATTRS = {"weight": "weight", "bias": "weight", "input": "input", "state": "input"}
"""A backward adapter's ``grad`` attribute → the role it counts in."""


def gradient_roles(nodes: Sequence[Any], phases: Sequence[str],
                   autograd_keys: Sequence[int | None], producers: set[int]
                   ) -> tuple[str | None, ...]:
    """Per node: ``"weight"`` for a backward node that computes a parameter's gradient —
    it produced one (``producers``: the nodes whose output an autograd node handed on
    towards a parameter), or everything
    that reads its outputs within the same autograd node (the same layer's backward) does
    —, ``"input"`` for the other backward nodes (gradients of activations and inputs, even
    when only a weight gradient further back needs them), None outside the backward. A
    fused kernel's nodes say their role in ``attrs["grad"]``."""
    roles: list[str | None] = [None] * len(nodes)
    if "backward" not in phases:
        return tuple(roles)
    first = list(phases).index("backward")        # (the phases follow each other)
    readers: dict[int, list[int]] = {}            # only later nodes count as readers
    for node in nodes[first + 1:]:
        for tensor in node.inputs:
            readers.setdefault(tensor.id, []).append(node.index)
    for node in reversed(nodes[first:]):
        if phases[node.index] != "backward":
            continue
        told = GRAD_ATTRS.get(node.attrs.get("grad", ""))
        if told is not None:
            roles[node.index] = told
            continue
        key = autograd_keys[node.index]
        later = [reader for tensor in node.outputs for reader in readers.get(tensor.id, ())
                 if reader > node.index and autograd_keys[reader] == key]
        towards_weights = bool(later) and all(roles[reader] == "weight" for reader in later)
        roles[node.index] = ("weight" if node.index in producers or towards_weights
                             else "input")
    return tuple(roles)


def token_count(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    """Tokens (or samples) one step processes: the elements of the first integer input
    (token ids), else the batch size of the first input."""
    tensors = flatten_tensors((args, kwargs))
    for tensor in tensors:
        if not tensor.is_floating_point() and not tensor.is_complex() and tensor.dim() >= 1:
            return int(tensor.numel())
    return int(tensors[0].shape[0]) if tensors and tensors[0].dim() else 1
