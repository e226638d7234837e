"""MFU-style "model FLOPs": the 6·N·D-type numbers papers and trainers quote, derived from
a captured forward graph under a stated, selectable :class:`Convention`.

These are *conventions*, not counts: netanatomy's own counts (``totals.flops``, the
captured backward) say what the ops do; model FLOPs say what a paper or a trainer would
report for the same model, so MFU and training budgets can be compared with theirs.
Every number here comes from the graph, not from a config:

- N: the graph's parameters (buffers excluded), ``totals.active_params`` for a mixture of
  experts (:mod:`netanatomy.analysis.active_params`) unless ``params="total"``;
- embedding tables: the weights of ``embedding`` nodes; a table that is also the weight of
  a ``matmul``/``linear`` (a tied LM head, :attr:`ParamInfo.shared_with`) is the *head*;
- the attention term: the two products Q·Kᵀ and P·V of every ``attention`` node
  (2·B·H·L·S·(E + E_v) FLOPs) and of every eager/decomposed attention, i.e. every
  ``matmul`` node none of whose two operands is (a view or copy of) a parameter or buffer;
- tokens of the captured forward: the index elements of the first embedding lookup
  (``graph_tokens=`` overrides it).

Per token: forward = 2·N + attention; training step = forward × (1 + backward_factor)
+ the recomputed forward (checkpointing). Per step = training step per token × D.
Left out in every convention: norms, softmax, elementwise ops, the optimizer step,
padding and the exact causal count L·(L+1)/2 (the causal convention takes half of L·S).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from netanatomy.analysis.active_params import active_params, parameter_of
from netanatomy.errors import UsageError
from netanatomy.ir.graph import Graph, Node
from netanatomy.symbolic import Dim, prod, to_fraction
from netanatomy.symbolic import total as total_of

__all__ = ["PRESETS", "Convention", "ModelFlops", "attention_flops", "captured_tokens",
           "mfu", "model_flops", "preset"]

EMBEDDINGS = ("in", "out", "head")
ATTENTION = ("none", "full", "causal")
RECOMPUTE = ("none", "full", "layers")
PARAMS = ("active", "total")
FOLLOWED = ("view", "reshape", "copy")
ATTENTION_SHARE = {"none": (0, 1), "full": (1, 1), "causal": (1, 2)}
"""The share of the dense attention products each attention convention counts."""


@dataclass(frozen=True)
class Convention:
    """How model FLOPs are counted. Each option names what it adds or leaves out.

    Attributes:
        embeddings: ``"in"``: every parameter counts in N (GPT-3's 174.6B, Chinchilla,
            PaLM); ``"out"``: the embedding tables (weights of embedding lookups) leave N,
            also when tied to the LM head (Kaplan's non-embedding N; torchtitan's
            ``exclude_embedding``); ``"head"``: the lookups leave N but a table that is
            also the output projection stays (Megatron's logit term, 2·V·h per token). An
            untied LM head is a linear layer and counts in every convention.
        attention: ``"none"``: no attention term (the bare 6·N·D); ``"full"``: both
            products over every (query, key) pair, 4·L·s·d_attn per token forward (PaLM's
            12·L·H·Q·T for forward + backward; Megatron; torchtitan); ``"causal"``: half of
            it, as FlashAttention's benchmark counts causal attention (equal to Kaplan's
            2·n_layer·n_ctx·d_attn).
        recompute: activation checkpointing, one more forward: ``"none"`` (model FLOPs:
            what MFU counts), ``"full"`` (every forward product again: 8·N·D, hardware
            FLOPs), ``"layers"`` (all but the output projection, Megatron's eq. 3).
        backward_factor: backward FLOPs = backward_factor × forward FLOPs (2: the input
            gradient and the weight gradient each cost a forward).
        params: ``"active"`` (N = parameters a token uses; all for a dense model) or
            ``"total"`` (every parameter, also the unrouted experts).
        name, citation: where the convention comes from (printed with every result).
    """

    embeddings: str = "in"
    attention: str = "none"
    recompute: str = "none"
    backward_factor: int | Fraction = 2
    params: str = "active"
    name: str = "custom"
    citation: str = ""

    def __post_init__(self) -> None:
        for option, allowed in (("embeddings", EMBEDDINGS), ("attention", ATTENTION),
                                ("recompute", RECOMPUTE), ("params", PARAMS)):
            value = getattr(self, option)
            if value not in allowed:
                raise UsageError(f"Convention({option}={value!r}): use one of "
                                 f"{', '.join(map(repr, allowed))}")
        factor = self.backward_factor
        if isinstance(factor, bool) or not isinstance(factor, (int, Fraction)) or factor < 0:
            raise UsageError(f"Convention(backward_factor={factor!r}): give an int or "
                             "Fraction ≥ 0 (2: backward = 2 × forward)")

    def describe(self) -> str:
        """The convention as one line of text, for outputs."""
        text = (f"{self.name}: N = {self.params} params, embeddings {self.embeddings}; "
                f"attention {self.attention}; backward = {self.backward_factor} × forward; "
                f"recompute {self.recompute}")
        return f"{text} ({self.citation})" if self.citation else text


PRESETS: Mapping[str, Convention] = {
    "kaplan": Convention(
        embeddings="out", attention="causal", name="kaplan",
        citation="Kaplan et al. 2020, Scaling Laws for Neural Language Models, Table 1: "
                 "C_forward = 2N + 2·n_layer·n_ctx·d_attn, N non-embedding; C ≈ 6N per "
                 "token"),
    "gpt3": Convention(
        embeddings="in", attention="none", name="gpt3",
        citation="Brown et al. 2020, Language Models are Few-Shot Learners, Table D.1: "
                 "6·N·D with N = 174.6B (embeddings included), attention left out"),
    "chinchilla": Convention(
        embeddings="in", attention="full", name="chinchilla",
        citation="Hoffmann et al. 2022, Training Compute-Optimal LLMs, Appendix F: "
                 "embeddings, logits and both attention products counted, backward = 2 × "
                 "forward (its softmax and other small terms left out here)"),
    "palm": Convention(
        embeddings="in", attention="full", name="palm",
        citation="Chowdhery et al. 2022, PaLM, Appendix B: 6N + 12·L·H·Q·T model FLOPs "
                 "per token, N = all parameters"),
    "megatron": Convention(
        embeddings="head", attention="full", recompute="layers", name="megatron",
        citation="Narayanan et al. 2021, Efficient Large-Scale LM Training on GPU "
                 "Clusters, eq. 3: 96·B·s·l·h²·(1 + s/6h + V/16lh) with activation "
                 "recomputation (Korthikanti et al. 2022: hardware vs model FLOPs)"),
    "torchtitan": Convention(
        embeddings="out", attention="full", name="torchtitan",
        citation="torchtitan get_num_flop_per_token: 6·N + 12·L·H·Q·T, N without "
                 "tok_embeddings, 'we do not account for sparsity in causal attention', "
                 "recompute not counted"),
}
"""The conventions of the papers and trainers, by name."""


def preset(name: str, **changes: Any) -> Convention:
    """The preset ``name`` (see :data:`PRESETS`), with ``changes`` to its options.

    Raises:
        UsageError: an unknown name, naming the presets.
    """
    if name not in PRESETS:
        raise UsageError(f"no model-FLOPs convention {name!r}: use one of "
                         f"{', '.join(PRESETS)} or build a Convention(...)")
    return replace(PRESETS[name], **changes) if changes else PRESETS[name]


@dataclass(frozen=True)
class ModelFlops:
    """Model FLOPs of a graph under a convention (FLOPs, 1 multiply-add = 2).

    Attributes:
        convention: the convention; ``text`` states it.
        params: N, the parameters in the dense term.
        embedding_params: the embedding-table parameters left out of N.
        head_params: parameters of the output projection (not recomputed under
            ``recompute="layers"``).
        graph_tokens: tokens of the captured forward; ``tokens``: D, tokens per step.
        dense_forward: 2·N, per token.
        attention_forward: the attention term per token (0 under ``attention="none"``).
        attention_products: how many attention products (nodes) the term comes from.
        forward: dense_forward + attention_forward, per token.
        recompute_forward: the recomputed forward per token (0 without checkpointing).
        training: forward × (1 + backward_factor) + recompute_forward, per token.
        per_step: training × tokens.
    """

    convention: Convention
    params: Dim
    embedding_params: Dim
    head_params: Dim
    graph_tokens: Dim
    tokens: Dim
    dense_forward: Any
    attention_forward: Any
    attention_products: int
    forward: Any
    recompute_forward: Any
    training: Any
    per_step: Any

    @property
    def text(self) -> str:
        """The convention stated for outputs."""
        return self.convention.describe()

    @property
    def per_step_forward(self) -> Any:
        """Forward model FLOPs of the D tokens of a step."""
        return self.forward * self.tokens


def graph_of(source: Any) -> Graph:
    """The graph of a Report (or Summary), or the graph itself."""
    graph = source if isinstance(source, Graph) else getattr(source, "graph", None)
    if not isinstance(graph, Graph):
        raise UsageError(f"model_flops() needs a Report or Graph, got {type(source).__name__}")
    return graph


def producers_of(graph: Graph) -> dict[int, Node]:
    """The node that created each tensor (the first one; in-place ops come later)."""
    producers: dict[int, Node] = {}
    for node in graph.nodes:
        for tensor in node.outputs:
            producers.setdefault(tensor.id, node)
    return producers


def embedding_tables(graph: Graph, producers: dict[int, Node]) -> set[str]:
    """Parameters that are the table (first operand) of an embedding lookup."""
    names = {parameter_of(node.inputs[0], producers) for node in graph.nodes
             if node.kind == "embedding" and node.inputs}
    return {name for name in names if name is not None and name in graph.params}


def matmul_weights(graph: Graph, producers: dict[int, Node]) -> set[str]:
    """Parameters that are (views or copies of) an operand of a linear or matmul."""
    names = {parameter_of(tensor, producers) for node in graph.nodes
             if node.kind in ("linear", "matmul") for tensor in node.inputs[:2]}
    return {name for name in names if name is not None and name in graph.params}


def output_head(graph: Graph, producers: dict[int, Node]) -> set[str]:
    """Parameters of the product that makes a graph output (through views and copies):
    the LM head of a language model; empty when no output comes from a product."""
    names: set[str] = set()
    for tensor in graph.outputs:
        node = producers.get(tensor.id)
        while node is not None and node.kind in FOLLOWED and node.inputs:
            node = producers.get(node.inputs[0].id)
        if node is not None and node.kind in ("linear", "matmul"):
            found = (parameter_of(t, producers) for t in node.inputs)
            names |= {name for name in found if name is not None and name in graph.params}
    return names


def is_attention_product(node: Node, producers: dict[int, Node]) -> bool:
    """An attention node, or a matmul of two activations (eager Q·Kᵀ or P·V)."""
    if node.kind == "attention":
        return True
    return (node.kind == "matmul" and len(node.inputs) == 2
            and all(parameter_of(t, producers) is None for t in node.inputs))


def product_flops(node: Node) -> Dim:
    """FLOPs (2 per multiply-add) of an attention node's two products, or of a matmul."""
    if node.kind == "attention":
        query, key, value = node.inputs[0].shape, node.inputs[1].shape, node.inputs[2].shape
        return 2 * prod(query[:-1]) * key[-2] * (query[-1] + value[-1])
    return 2 * prod(node.outputs[0].shape) * node.inputs[0].shape[-1]


def attention_flops(graph: Graph) -> tuple[Dim, int]:
    """Dense FLOPs of every attention product of the captured forward, and their count."""
    producers = producers_of(graph)
    nodes = [node for node in graph.nodes if is_attention_product(node, producers)]
    return total_of(product_flops(node) for node in nodes), len(nodes)


def captured_tokens(graph: Graph) -> Dim:
    """Tokens of the captured forward: index elements of the first embedding lookup.

    Raises:
        UsageError: the graph has no embedding lookup (give ``graph_tokens=``).
    """
    for node in graph.nodes:
        if node.kind == "embedding" and len(node.inputs) > 1:
            return prod(node.inputs[1].shape)
    raise UsageError("model_flops(): the graph has no embedding lookup to take its tokens "
                     "from; give graph_tokens= (tokens of the captured forward)")


def params_of(source: Any, graph: Graph, which: str) -> Dim:
    """N before the embedding convention: active (a Report's, or computed) or total."""
    if which == "total":
        return total_of(p.numel for p in graph.params.values() if not p.is_buffer)
    totals = getattr(source, "totals", None)
    active = getattr(totals, "active_params", None)
    return active if active is not None else active_params(graph)


def numel_of(graph: Graph, names: Iterable[str]) -> Dim:
    return total_of(graph.params[name].numel for name in sorted(set(names))
                    if not graph.params[name].is_buffer)


def model_flops(source: Any, tokens: Dim | None = None,
                convention: Convention | str = "palm", *,
                graph_tokens: Dim | None = None) -> ModelFlops:
    """Model FLOPs of a captured forward under ``convention`` (a preset name or a
    :class:`Convention`); see the module docstring for what is counted.

    Args:
        source: a :class:`~netanatomy.Report` or its :class:`~netanatomy.ir.graph.Graph`.
        tokens: D, tokens per step (default: the tokens of the captured forward).
        convention: how to count.
        graph_tokens: tokens of the captured forward (default: from its embedding lookup).

    Raises:
        UsageError: bad source, convention or token count.
    """
    graph = graph_of(source)
    rule = preset(convention) if isinstance(convention, str) else convention
    if not isinstance(rule, Convention):
        raise UsageError(f"convention= needs a preset name or a Convention, got "
                         f"{type(convention).__name__}")
    seen = captured_tokens(graph) if graph_tokens is None else graph_tokens
    step = seen if tokens is None else tokens
    for option, value in (("graph_tokens", seen), ("tokens", step)):
        if isinstance(value, bool) or (isinstance(value, int) and value <= 0):
            raise UsageError(f"model_flops({option}={value!r}): give a positive token count")
    return count(source, graph, rule, seen, step)


def count(source: Any, graph: Graph, rule: Convention, seen: Dim, step: Dim) -> ModelFlops:
    """:func:`model_flops` on checked arguments."""
    producers = producers_of(graph)
    tables = embedding_tables(graph, producers)
    heads = output_head(graph, producers) | (tables & matmul_weights(graph, producers))
    left_out = {"in": set(), "out": tables, "head": tables - heads}[rule.embeddings]
    embedding = numel_of(graph, left_out)
    n = params_of(source, graph, rule.params) - embedding
    head = numel_of(graph, heads - left_out)
    attention, products = attention_flops(graph)
    counted, per = ATTENTION_SHARE[rule.attention]
    attention_forward = to_fraction(attention * counted, seen * per)
    dense = 2 * n
    forward = dense + attention_forward
    recompute = {"none": 0, "full": forward, "layers": forward - 2 * head}[rule.recompute]
    training = forward * (1 + rule.backward_factor) + recompute
    return ModelFlops(rule, n, embedding, head, seen, step, dense, attention_forward,
                      products, forward, recompute, training, training * step)


def mfu(model_flops_per_s: float, peak: float) -> float:
    """Model FLOPs utilisation: achieved model FLOP/s ÷ the device's peak FLOP/s (both
    for the same devices: per device, or summed over all of them).

    Raises:
        UsageError: a peak that is not positive or a negative rate.
    """
    if not peak or peak <= 0:
        raise UsageError(f"mfu(peak={peak!r}): give the device's peak FLOP/s (> 0), e.g. "
                         "netanatomy.hardware.device('h100-sxm').peak_flops('bf16')")
    if model_flops_per_s < 0:
        raise UsageError(f"mfu(model_flops_per_s={model_flops_per_s!r}): must be ≥ 0")
    return float(model_flops_per_s) / float(peak)
