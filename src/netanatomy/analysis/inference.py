"""Serving a model: weights, the KV cache as an engine allocates it, activations, prefill and
decode costs per token, and what fits a device. A pure fold over captured IR graphs (no
torch): :mod:`netanatomy.inference_api` captures the graphs, this module reads them.

Where the cache comes from (the rule, applied to every attention of a graph):

- **Attention sites.** A fused ``attention`` node (operands q, k, v [, mask]), or the
  math path that ``F.scaled_dot_product_attention`` takes on meta tensors and that eager
  attention writes out: a ``matmul`` (Q·Kᵀ) whose output reaches a ``softmax`` through
  views, scaling and mask adds, whose output reaches a second ``matmul`` (P·V) as its first
  operand. K is the score product's second operand, V the value product's.
- **Heads the cache holds.** GQA/MQA models expand K and V to the query heads before the
  product (transformers' ``repeat_kv``: unsqueeze → expand → clone → reshape). The cache
  holds them *unexpanded*: the cached tensor is the smallest one on the chain of views,
  copies and one-operand elementwise ops (scaling) that leads back from the K (V) operand;
  it stops at the cache's concatenation, the rotary embedding's add, or the projection.
  Its elements per token and sequence are ``heads_kv × head_dim``
  (= numel / (batch × key length)).
- **Self or cross.** In the prefill graph (query length = the prompt), an attention whose
  key length is the prompt is self-attention (its cache grows with the context); one whose
  key length differs reads another sequence (cross-attention: its cache has that length,
  computed once); one whose query length is not the prompt runs over another sequence (an
  encoder) and keeps no cache.
- **KV bytes** = Σ_layers batch × tokens × heads_kv × (head_dim_k + head_dim_v) × bytes,
  the factor 2 (K and V) of vLLM's ``AttentionSpec.real_page_size_bytes``
  (``2 × block_size × num_kv_heads × head_size × dtype size``,
  vllm/v1/kv_cache_interface.py) when head_dim_k = head_dim_v. tokens = the context,
  capped at the layer's sliding window (a config fact the caller gives), or the fixed
  source length for cross-attention.

Conventions: FLOPs = 2 × MACs + elementwise FLOPs (:mod:`netanatomy.analysis.cost`), bytes
= the rules' traffic (each operand read once, each output written once). Activations = the
peak of live activation bytes over the prefill graph in execution order (a tensor lives
from the op that allocates it to its last reader; views alias their base; parameters and
the token ids are not activations, nor the KV cache a model's own cache writes in the
prefill, which is counted as KV cache): no allocator fragmentation, no workspace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction

from netanatomy.analysis.cost import graph_costs
from netanatomy.analysis.roofline import Total, fold, worst
from netanatomy.analysis.roofline_modules import ModuleRooflines
from netanatomy.errors import UsageError
from netanatomy.ir.graph import Graph, Node, TensorInfo
from netanatomy.symbolic import prod

__all__ = ["KV_DTYPE_BYTES", "AttentionSite", "DeviceTime", "Fit", "InferenceReport",
           "KVLayer", "PhaseCost", "activation_peak", "attention_sites", "decode_steps_flops",
           "fit", "interpolate", "kv_bytes", "kv_bytes_per_token", "kv_itemsize", "kv_layers",
           "phase_cost", "weight_bytes"]

KV_DTYPE_BYTES = {"fp8": 1, "int8": 1, "fp16": 2, "bf16": 2, "fp32": 4}
"""Bytes per cached element for a ``kv_dtype`` override (fp8: e4m3/e5m2, no scales)."""

PASS_KINDS = frozenset({"view", "reshape", "copy", "dropout"})
"""Kinds that move or copy data without computing: walked through when tracing K and V."""


@dataclass(frozen=True, slots=True)
class AttentionSite:
    """One attention of a graph, as its kernel sees it.

    Attributes:
        path: the module that ran it.
        nodes: indices of its nodes (Q·Kᵀ … P·V, or the one fused node).
        query_length, key_length: L and S.
        heads: query heads; head_dim, value_dim: E and E_v.
        k_elements, v_elements: cached elements per token and sequence (None: the traced
            tensor does not divide into batch × S, see the module doc).
        itemsize, dtype: of the cached K tensor.
        expanded: the K operand has more elements than the cached tensor (GQA/MQA).
        cached_ids: the traced K/V tensors a cache concatenation wrote (the model's own
            cache: counted as KV cache, not as activations).
    """

    path: str
    nodes: tuple[int, ...]
    query_length: int
    key_length: int
    heads: int
    head_dim: int
    value_dim: int
    k_elements: int | None
    v_elements: int | None
    itemsize: int
    dtype: str
    expanded: bool
    cached_ids: tuple[int, ...] = ()

    @property
    def heads_kv(self) -> int | None:
        """Key/value heads the cache holds: k_elements / head_dim."""
        if self.k_elements is None or self.k_elements % self.head_dim:
            return None
        return self.k_elements // self.head_dim


@dataclass(frozen=True, slots=True)
class KVLayer:
    """The cache of one attention layer.

    Attributes:
        index: position among the cached layers (0 first).
        kind: ``"self"`` (grows with the context) or ``"cross"`` (fixed source length).
        window: sliding window in tokens (None: full attention).
        source_length: the key length of a cross-attention (None for self).
    """

    index: int
    path: str
    kind: str
    heads_kv: int | None
    head_dim: int
    value_dim: int
    k_elements: int
    v_elements: int
    itemsize: int
    dtype: str
    window: int | None = None
    source_length: int | None = None

    @property
    def elements_per_token(self) -> int:
        """K and V elements of one token of one sequence."""
        return self.k_elements + self.v_elements

    def tokens(self, context: int) -> int:
        """Tokens this layer keeps for a sequence of ``context`` tokens."""
        if self.source_length is not None:
            return self.source_length
        return context if self.window is None else min(context, self.window)

    def bytes(self, batch: int, context: int, itemsize: int | None = None) -> int:
        return (batch * self.tokens(context) * self.elements_per_token
                * (self.itemsize if itemsize is None else itemsize))


def consumers_of(graph: Graph) -> dict[int, list[Node]]:
    readers: dict[int, list[Node]] = {}
    for node in graph.nodes:
        for tensor in node.inputs:
            readers.setdefault(tensor.id, []).append(node)
    return readers


def producers_of(graph: Graph) -> dict[int, Node]:
    return {tensor.id: node for node in graph.nodes for tensor in node.outputs}


def numel(tensor: TensorInfo) -> int:
    return int(prod(tensor.shape))


def stored_tensor(tensor: TensorInfo, producers: Mapping[int, Node]) -> TensorInfo:
    """The smallest tensor on the chain of views, copies and one-operand elementwise ops
    leading back from ``tensor`` (module doc: the heads the cache holds)."""
    best, current = tensor, tensor
    while True:
        node = producers.get(current.id)
        if node is None or not node.inputs or not (
                node.kind in PASS_KINDS or node.kind == "elementwise" and len(node.inputs) == 1):
            return best
        current = node.inputs[0]
        if numel(current) <= numel(best):      # ties: the tensor further back (before a
            best = current                     # dtype copy), which the cache holds


def scores_product(softmax: Node, producers: Mapping[int, Node]) -> tuple[Node, list[int]] | None:
    """The Q·Kᵀ matmul feeding ``softmax`` through views, scaling and mask adds."""
    walked: list[int] = []
    current = softmax.inputs[0]
    while True:
        node = producers.get(current.id)
        if node is None or not node.inputs:
            return None
        if node.kind == "matmul":
            return node, walked
        if node.kind not in PASS_KINDS and node.kind != "elementwise":
            return None
        walked.append(node.index)
        current = max(node.inputs, key=numel)


def value_product(softmax: Node,
                  readers: Mapping[int, list[Node]]) -> tuple[Node, list[int]] | None:
    """The P·V matmul reading ``softmax``'s output as its first operand, through views,
    copies and dropout (the first such path; a dtype copy nobody reads is passed by)."""
    stack: list[tuple[TensorInfo, list[int]]] = [(softmax.outputs[0], [])]
    while stack:
        current, walked = stack.pop()
        for node in reversed(readers.get(current.id, [])):
            if node.kind == "matmul" and node.inputs[0].id == current.id:
                return node, walked
            if node.kind in PASS_KINDS and node.outputs and len(walked) < 16:
                stack.append((node.outputs[0], [*walked, node.index]))
    return None


def per_token(tensor: TensorInfo, batch: int, length: int) -> int | None:
    share = Fraction(numel(tensor), batch * length)
    return int(share) if share.denominator == 1 else None


def site(path: str, nodes: Iterable[int], q_shape: Sequence[int], scores: Sequence[int],
         k: TensorInfo, v: TensorInfo, value_dim: int, batch: int,
         producers: Mapping[int, Node]) -> AttentionSite:
    """An :class:`AttentionSite` from its operands and score shape (..., L, S)."""
    length, key_length = int(scores[-2]), int(scores[-1])
    lead = [int(d) for d in scores[:-2]]
    heads = lead[1] if len(lead) == 2 else int(prod(lead)) // batch
    k_stored, v_stored = stored_tensor(k, producers), stored_tensor(v, producers)
    cached = tuple(t.id for t in (k_stored, v_stored)
                   if t.id in producers and producers[t.id].kind == "concat")
    return AttentionSite(path, tuple(sorted(nodes)), length, key_length, heads, int(q_shape[-1]),
                         value_dim, per_token(k_stored, batch, key_length),
                         per_token(v_stored, batch, key_length), k_stored.itemsize,
                         k_stored.dtype, numel(k_stored) < numel(k), cached)


def attention_sites(graph: Graph, batch: int) -> tuple[AttentionSite, ...]:
    """Every attention of ``graph`` in execution order (module doc); ``batch`` is the
    number of sequences the graph ran."""
    producers, readers = producers_of(graph), consumers_of(graph)
    found: list[AttentionSite] = []
    for node in graph.nodes:
        if node.kind == "attention":
            q, k, v = node.inputs[:3]
            scores = (*q.shape[:-1], k.shape[-2])
            found.append(site(node.path, (node.index,), q.shape, scores, k, v,
                              int(v.shape[-1]), batch, producers))
        elif node.kind == "softmax":
            first, second = scores_product(node, producers), value_product(node, readers)
            if first is None or second is None:
                continue
            (qk, before), (pv, after) = first, second
            nodes = (qk.index, *before, node.index, *after, pv.index)
            found.append(site(node.path, nodes, qk.inputs[0].shape, node.outputs[0].shape,
                              qk.inputs[1], pv.inputs[1], int(pv.outputs[0].shape[-1]),
                              batch, producers))
    return tuple(found)


def kv_layers(sites: Sequence[AttentionSite], query_length: int,
              window: int | Sequence[int | None] | None = None,
              ) -> tuple[tuple[KVLayer, ...], tuple[str, ...]]:
    """The cached layers of the prefill graph's ``sites`` (module doc: self or cross) and
    notes on the sites that keep no cache.

    Args:
        query_length: the prompt length the prefill ran.
        window: a sliding window for every self-attention layer, or one entry (None: full)
            per cached layer, in order.

    Raises:
        UsageError: a window list of the wrong length or a window < 1.
    """
    layers: list[KVLayer] = []
    notes: list[str] = []
    for found in sites:
        if found.query_length != query_length:
            notes.append(f"{found.path or '<root>'}: attention over {found.query_length} "
                         "positions, not the prompt (an encoder): no cache")
            continue
        if found.k_elements is None or found.v_elements is None:
            notes.append(f"{found.path or '<root>'}: its K/V do not divide into batch × "
                         f"{found.key_length} tokens; cached as the expanded operands")
        k = found.k_elements or found.heads * found.head_dim
        v = found.v_elements or found.heads * found.value_dim
        cross = found.key_length != query_length
        layers.append(KVLayer(len(layers), found.path, "cross" if cross else "self",
                              found.heads_kv, found.head_dim, found.value_dim, k, v,
                              found.itemsize, found.dtype,
                              source_length=found.key_length if cross else None))
    return with_windows(tuple(layers), window), tuple(notes)


def with_windows(layers: tuple[KVLayer, ...],
                 window: int | Sequence[int | None] | None) -> tuple[KVLayer, ...]:
    if window is None:
        return layers
    windows = [window] * len(layers) if isinstance(window, int) else list(window)
    if len(windows) != len(layers):
        raise UsageError(f"window: {len(windows)} entries for {len(layers)} cached attention "
                         "layers; give one per layer (None for full attention) or one int")
    for value in windows:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise UsageError(f"window must be a positive number of tokens, got {value!r}")
    return tuple(replace(layer, window=w) if layer.kind == "self" else layer
                 for layer, w in zip(layers, windows))


def kv_itemsize(kv_dtype: str | None, layers: Sequence[KVLayer]) -> int:
    """Bytes per cached element: the override's, or the model's K dtype.

    Raises:
        UsageError: an unknown ``kv_dtype``.
    """
    if kv_dtype is not None:
        key = str(kv_dtype).lower().removeprefix("torch.")
        key = {"float16": "fp16", "half": "fp16", "bfloat16": "bf16", "float32": "fp32",
               "float8_e4m3fn": "fp8", "float8_e5m2": "fp8"}.get(key, key)
        if key not in KV_DTYPE_BYTES:
            raise UsageError(f"--kv-dtype {kv_dtype!r}: give one of "
                             f"{', '.join(KV_DTYPE_BYTES)}")
        return KV_DTYPE_BYTES[key]
    sizes = {layer.itemsize for layer in layers}
    return max(sizes) if sizes else 0


def kv_bytes(layers: Sequence[KVLayer], batch: int, context: int,
             itemsize: int | None = None) -> int:
    """Bytes of the cache of ``batch`` sequences of ``context`` tokens (module doc)."""
    return sum(layer.bytes(batch, context, itemsize) for layer in layers)


def kv_bytes_per_token(layers: Sequence[KVLayer], itemsize: int | None = None) -> int:
    """Bytes one more token of one sequence adds while no window is full (self layers)."""
    return sum(layer.elements_per_token * (layer.itemsize if itemsize is None else itemsize)
               for layer in layers if layer.kind == "self")


def weight_bytes(graph: Graph) -> int:
    """Bytes of every parameter and buffer, each counted once, in its dtype."""
    return sum(int(info.nbytes) for info in graph.params.values())


def activation_peak(graph: Graph, exclude: Iterable[int] = ()) -> int:
    """Peak live activation bytes over ``graph`` in execution order (module doc);
    ``exclude``: ids of tensors that are not activations (the KV cache's own)."""
    skipped = frozenset(exclude)
    root: dict[int, int] = {}
    size: dict[int, int] = {}
    born: dict[int, int] = {}
    last: dict[int, int] = {}
    for node in graph.nodes:
        for tensor in node.inputs:
            if tensor.id in root:
                last[root[tensor.id]] = node.index
        for tensor in node.outputs:
            if tensor.param is not None or tensor.id in skipped:
                continue
            if node.allocates:
                root[tensor.id] = tensor.id
                size[tensor.id], born[tensor.id] = int(tensor.nbytes), node.index
                last[tensor.id] = node.index
            else:
                base = next((root[t.id] for t in node.inputs if t.id in root), None)
                if base is not None:
                    root[tensor.id] = base
    end = len(graph.nodes)
    for tensor in graph.outputs:
        if tensor.id in root:
            last[root[tensor.id]] = end
    delta = [0] * (end + 2)
    for tensor_id, nbytes in size.items():
        delta[born[tensor_id]] += nbytes
        delta[last[tensor_id] + 1] -= nbytes
    peak = live = 0
    for change in delta:
        live += change
        peak = max(peak, live)
    return peak


@dataclass(frozen=True)
class PhaseCost:
    """The cost of one captured forward (prefill, or one decode step).

    Attributes:
        tokens: new tokens it processes (batch × prompt, or batch).
        context: the tokens each sequence attends to (prompt; decode: past + 1).
        macs, flops, bytes: totals with status (flops = 2 × MACs + elementwise).
    """

    tokens: int
    context: int
    macs: Total
    flops: Total
    bytes: Total
    time_s: Total | None = None

    def per_token(self, total: Total) -> float | None:
        return None if total.value is None else total.value / self.tokens

    @property
    def tokens_per_second(self) -> float | None:
        if self.time_s is None or not self.time_s.value:
            return None
        return self.tokens / self.time_s.value


def phase_cost(graph: Graph, tokens: int, context: int, time_s: Total | None = None) -> PhaseCost:
    """FLOPs, MACs and bytes of ``graph`` (module doc)."""
    costs = graph_costs(graph)
    macs = fold(None if c.macs is None else int(c.macs) for c in costs)
    flops = fold(None if c.macs is None or c.elementwise_flops is None
                 else int(2 * c.macs + c.elementwise_flops) for c in costs)
    moved = fold(None if c.bytes_accessed is None else int(c.bytes_accessed) for c in costs)
    return PhaseCost(tokens, context, macs, flops, moved, time_s)


def interpolate(first: PhaseCost, last: PhaseCost, context: int) -> PhaseCost:
    """The decode step at ``context``, linear between two captured steps: every decode
    cost that depends on the context (Q·Kᵀ, softmax, P·V, mask, K/V reads) is linear in it,
    and the rest is constant, so this is exact for FLOPs, MACs and bytes; for the roofline
    time it is exact while no node changes bound between the two points."""

    def line(a: Total | None, b: Total | None) -> Total | None:
        if a is None or b is None or a.value is None or b.value is None:
            return None if a is None else Total(None, "unknown")
        share = Fraction(context - first.context, last.context - first.context)
        value = Fraction(a.value) + (Fraction(b.value) - Fraction(a.value)) * share
        number: float = int(value) if value.denominator == 1 else float(value)
        return Total(number, worst(a.status, b.status))

    macs, flops, moved = (line(getattr(first, n), getattr(last, n))
                          for n in ("macs", "flops", "bytes"))
    assert macs is not None and flops is not None and moved is not None
    return PhaseCost(first.tokens, context, macs, flops, moved, line(first.time_s, last.time_s))


@dataclass(frozen=True)
class Fit:
    """What fits a device (vLLM's budget: usable memory − weights − the activation peak
    of a forward is the KV cache's; the largest batch and context follow from it).

    Attributes:
        capacity: the device's bytes; usable: × the usable fraction.
        kv_budget: usable − weights − activations (≤ 0: the model does not fit).
        max_batch: sequences of ``context`` tokens whose cache fits (0: none).
        max_context: tokens per sequence for ``batch`` sequences (None: unbounded, every
            layer capped by a window or fixed).
    """

    device: str
    capacity: int
    usable_fraction: float
    usable: int
    weights: int
    activations: int
    kv_budget: int
    batch: int
    context: int
    max_batch: int
    max_context: int | None
    fits: bool
    notes: tuple[str, ...] = field(default=())


def fit(layers: Sequence[KVLayer], itemsize: int, weights: int, activations: int,
        capacity: int, batch: int, context: int, usable_fraction: float = 0.9,
        device: str = "") -> Fit:
    """The largest batch at ``context`` and the largest context at ``batch`` whose
    weights + KV cache + activations fit ``usable_fraction`` of ``capacity`` bytes.

    Raises:
        UsageError: a usable fraction outside (0, 1].
    """
    if not 0 < usable_fraction <= 1:
        raise UsageError(f"usable fraction must be in (0, 1], got {usable_fraction!r}")
    usable = int(Fraction(str(usable_fraction)) * capacity)
    budget = usable - weights - activations
    per_sequence = kv_bytes(layers, 1, context, itemsize)
    max_batch = 0 if budget <= 0 else (budget // per_sequence if per_sequence else 0)
    max_context = largest_context(layers, itemsize, batch, budget)
    need = weights + activations + kv_bytes(layers, batch, context, itemsize)
    return Fit(device, capacity, usable_fraction, usable, weights, activations, budget, batch,
               context, int(max_batch), max_context, need <= usable)


def largest_context(layers: Sequence[KVLayer], itemsize: int, batch: int,
                    budget: int) -> int | None:
    """The largest context whose cache for ``batch`` sequences fits ``budget`` (the cache
    is nondecreasing in the context, so a bisection finds it)."""
    if budget < kv_bytes(layers, batch, 0, itemsize):
        return 0
    if not any(layer.kind == "self" and layer.window is None for layer in layers):
        return None
    low, high = 0, 1
    while kv_bytes(layers, batch, high, itemsize) <= budget:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if kv_bytes(layers, batch, middle, itemsize) <= budget:
            low = middle
        else:
            high = middle
    return low


@dataclass(frozen=True)
class DeviceTime:
    """The roofline on one device (:mod:`netanatomy.analysis.roofline`): predicted seconds
    of the prefill and of the first and last decode step, and the memory floor of a decode
    step (weights + KV cache read once per step, at the device's bandwidth)."""

    device: str
    name: str
    dtype: str
    peak_flops: int
    bandwidth: int
    prefill_s: Total
    decode_first_s: Total | None
    decode_last_s: Total | None
    decode_floor_first_s: float | None
    decode_floor_last_s: float | None
    generate_s: Total | None


@dataclass(frozen=True)
class InferenceReport:
    """What serving a model costs (:func:`netanatomy.inference` returns it with its output
    methods, :class:`netanatomy.inference_api.Inference`).

    Attributes:
        context: prompt + generate, the tokens each sequence's cache is sized for.
        kv_itemsize: bytes per cached element (``kv_dtype``'s, or the model's).
        kv_bytes: the cache of ``batch`` sequences of ``context`` tokens.
        kv_bytes_per_token: one token of one sequence, every self layer (before windows).
        activation_bytes: the prefill's live-activation peak (module doc).
        decode_first, decode_last: one decode step with a past of prompt and of
            prompt + generate − 2 tokens (None: no decode capture, see ``notes``).
        decode_flops: FLOPs of all generate − 1 decode steps (exact sum of the line).
        roofline: with a device, the prefill's and the first decode step's rows per
            module (:mod:`netanatomy.analysis.roofline_modules`).
    """

    model: str
    dtype: str
    batch: int
    prompt: int
    generate: int
    kv_dtype: str
    kv_itemsize: int
    layers: tuple[KVLayer, ...]
    weight_bytes: int
    activation_bytes: int
    prefill: PhaseCost
    decode_first: PhaseCost | None
    decode_last: PhaseCost | None
    decode_flops: Total | None
    device: DeviceTime | None
    fit: Fit | None
    notes: tuple[str, ...]
    config_check: tuple[str, ...] = ()
    roofline: ModuleRooflines | None = None    # with a device: per module, prefill and decode

    @property
    def context(self) -> int:
        return self.prompt + self.generate

    @property
    def kv_bytes(self) -> int:
        return kv_bytes(self.layers, self.batch, self.context, self.kv_itemsize)

    @property
    def kv_bytes_per_token(self) -> int:
        return kv_bytes_per_token(self.layers, self.kv_itemsize)

    @property
    def total_bytes(self) -> int:
        """Weights + KV cache + activations."""
        return self.weight_bytes + self.kv_bytes + self.activation_bytes


def decode_steps_flops(first: PhaseCost, last: PhaseCost, steps: int) -> Total:
    """Σ FLOPs of ``steps`` decode steps from ``first``'s context on (a line, so the sum
    is steps × the mean of the first and last step's)."""
    end = interpolate(first, last, first.context + steps - 1) if steps else first
    if first.flops.value is None or end.flops.value is None:
        return Total(None, "unknown")
    total = Fraction(steps) * (Fraction(first.flops.value) + Fraction(end.flops.value)) / 2
    return Total(int(total) if total.denominator == 1 else float(total),
                 worst(first.flops.status, end.flops.status))
