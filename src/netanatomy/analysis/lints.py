"""Static lints: pure folds over an IR graph, from either front-end (no model runs; where
weight values matter, the caller passes the initialisation checks and real modules).

Codes:
    NA001 bias right before batch / instance / group norm (redundant; wasted params)
    NA002 batch norm with a batch too small to estimate its statistics
    NA003 weight initialised for the other nonlinearity (He vs Xavier)
    NA004 dropout before batch norm (variance shift between train and test)
    NA005 receptive field (or effective stride) smaller than the objects of the input
    NA006 masked-convolution blind spot (PixelCNN)
    NA007 dilated convolutions with gridding holes
    NA008 weight scale off by more than 2x from the scheme its nonlinearity wants
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netanatomy.analysis.dataflow import DataFlow, fn_of, keeps_channel_constants
from netanatomy.analysis.findings import InitCheck, Lint, LintReport
from netanatomy.analysis.patterns import gridding_lints, masked_conv_lints
from netanatomy.ir.graph import Graph, Node

__all__ = ["InitCheck", "Lint", "LintOptions", "LintReport", "lint_graph"]

SMALL_BATCH = 8
"""Batch norm's statistics degrade quickly below this many samples per batch (Wu & He,
"Group Normalization", 2018, fig. 1)."""

SCHEME_NAMES = {"he": "He (sqrt(2/fan_in))", "xavier": "Xavier (sqrt(2/(fan_in+fan_out)))",
                "torch-default": "torch's default kaiming_uniform(a=sqrt(5)), "
                                 "1/sqrt(3*fan_in)"}


@dataclass(frozen=True)
class LintOptions:
    """``batch_size``: the training batch (default: the analysed input's); ``object_size``:
    typical object size in input pixels, when known."""

    batch_size: int | None = None
    object_size: int | None = None
    check_batch: bool = True
    """False: skip NA002 (the analysed batch is not the training batch, e.g. batch 1)."""


def norm_kind(flow: DataFlow, node: Node) -> str:
    """``batch``, ``instance``, ``group``, ``layer`` or ``rms``. Instance norm runs as a
    batch norm on the input viewed from (N, C, …) to (1, N·C, …) in aten: its module type,
    or for ``F.instance_norm`` that fold of the batch into the channels, tells them apart."""
    module_type = flow.module_types.get(node.path, "")
    if "InstanceNorm" in module_type or folds_batch_into_channels(flow, node):
        return "instance"
    return str(node.attrs.get("type", ""))


def folds_batch_into_channels(flow: DataFlow, node: Node) -> bool:
    """A batch norm whose input is a view of an (N, C, …) tensor (N > 1) as (1, N·C, …)."""
    producer = flow.producer.get(node.inputs[0].id) if node.inputs else None
    if node.attrs.get("type") != "batch" or producer is None or \
            producer.kind not in ("view", "reshape") or not producer.inputs:
        return False
    before, after = producer.inputs[0].shape, node.inputs[0].shape
    return (len(before) == len(after) > 2 and after[0] == 1 and before[0] != 1
            and after[1] == before[0] * before[1] and tuple(after[2:]) == tuple(before[2:]))


def redundant_bias_lints(flow: DataFlow, modules: Mapping[str, Any]) -> Iterator[Lint]:
    """NA001: every path from a layer's bias add ends in a batch/instance norm (which
    subtracts the per-channel mean, bias included) or a group norm (which removes the
    bias's group means: ``groups`` of its values). A bias used by several calls (a shared
    layer) must end so on every call."""
    uses: dict[str, list[Node]] = {}
    for node in flow.graph.nodes:
        bias = flow.bias_of(node) if node.kind in ("conv", "conv_transpose", "matmul") \
            else None
        if bias is not None and bias in flow.graph.params:
            uses.setdefault(bias, []).append(node)
    for bias, nodes in uses.items():
        per_call = [bias_ends(flow, node) for node in nodes]
        if any(not ends for ends in per_call):      # reaches the output, or nothing at all
            continue
        ends = [end for ends in per_call for end in ends]
        kinds = {norm_kind(flow, n) for n in ends if n.kind == "norm"}
        if not ends or any(n.kind != "norm" for n in ends) or not kinds <= {
                "batch", "instance", "group"}:
            continue
        size = int(flow.graph.params[bias].numel)
        if "group" in kinds:          # a group norm leaves all but the group means alive
            norm_path = next(n.path for n in ends if norm_kind(flow, n) == "group")
            groups = getattr(modules.get(norm_path), "num_groups", None)
            if groups is None:
                continue
            wasted = min(int(groups), size)
            what = (f"the group norm '{norm_path}' removes its mean over each of {groups} "
                    "groups, so its gradient sums to zero within each group")
        else:
            norm_path, wasted = ends[0].path, size
            what = (f"the {'/'.join(sorted(kinds))} norm '{norm_path}' subtracts it again, so "
                    "its gradient is zero there")
        owner = flow.graph.params[bias].owner
        yield Lint("NA001", owner, f"bias '{bias}' ({size} values) is added right before a "
                   f"normalisation: {what}", wasted,
                   "create the layer with bias=False; the norm's shift (beta) plays its role")


def bias_ends(flow: DataFlow, node: Node) -> list[Node]:
    """The first ops after ``node`` that may not keep a per-channel constant; empty when a
    tensor on the way (the bias still in it) is one of the model's outputs."""
    outputs = {tensor.id for tensor in flow.graph.outputs}
    carried = {tensor.id for tensor in node.outputs}
    ends = []
    for later in flow.downstream(node, keeps_channel_constants):
        if keeps_channel_constants(later) or flow.is_bias_add(later):
            carried.update(tensor.id for tensor in later.outputs)
        else:
            ends.append(later)
    return [] if carried & outputs else ends


def small_batch_lints(flow: DataFlow, options: LintOptions) -> Iterator[Lint]:
    """NA002: training-mode batch norm whose statistics see fewer than SMALL_BATCH samples
    (or a single value per channel)."""
    graph = flow.graph
    if not options.check_batch:
        return
    batch = options.batch_size or (int(graph.inputs[0].shape[0]) if graph.inputs and
                                   graph.inputs[0].shape else None)
    if batch is None:
        return
    for node in graph.nodes:
        if node.kind != "norm" or norm_kind(flow, node) != "batch":
            continue
        shape = node.inputs[0].shape
        positions = math.prod(int(s) for s in shape[2:]) if len(shape) > 2 else 1
        values = batch * positions
        if values <= 1:
            severity, detail = "error", "a single value per channel: training fails"
        elif batch < SMALL_BATCH:
            samples = f"{batch} sample" + ("s" if batch > 1 else "")
            severity, detail = "warning", (f"statistics from {samples} ({values} values per "
                                           "channel) are noisy")
        else:
            continue
        yield Lint("NA002", node.path, f"batch norm with a batch of {batch}: {detail}", 0,
                   "use GroupNorm (e.g. 32 groups) or InstanceNorm, which do not depend on "
                   "the batch, or a larger batch / SyncBatchNorm", severity)


def dropout_nodes(flow: DataFlow) -> Iterator[Node]:
    """Dropout as captured: a fused ``native_dropout``, or (as CPU and meta decompose it)
    the product of the input with a mask written by ``bernoulli``."""
    masks = {t.id for n in flow.graph.nodes if is_bernoulli(n) for t in n.outputs}
    for node in flow.graph.nodes:
        if node.kind == "dropout" or (node.kind == "elementwise" and fn_of(node) == "mul"
                                      and any(t.id in masks for t in node.inputs)):
            yield node


def is_dropout(node: Node) -> bool:
    """A dropout: ``native_dropout`` (kind ``dropout``, the fused CUDA kernel), or the
    ``bernoulli_`` mask that dropout, its 1-d/2-d/alpha variants and drop-path draw on the
    CPU and meta devices (where aten decomposes dropout into bernoulli_, div_ and mul)."""
    return node.kind == "dropout" or is_bernoulli(node)


def is_bernoulli(node: Node) -> bool:
    """The random mask of a decomposed dropout (``bernoulli_``)."""
    return node.kind == "elementwise" and fn_of(node) == "bernoulli"


def dropout_before_bn_lints(flow: DataFlow) -> Iterator[Lint]:
    """NA004: a dropout whose output reaches a batch norm (Li et al., "Understanding the
    Disharmony between Dropout and Batch Normalization", 2019); one per dropout layer."""
    seen: set[str] = set()
    for node in flow.graph.nodes:
        if not is_dropout(node) or node.path in seen:
            continue
        for later in flow.downstream(node, lambda n: True):
            if later.kind == "norm" and norm_kind(flow, later) == "batch":
                seen.add(node.path)
                yield Lint("NA004", node.path, f"dropout feeds the batch norm '{later.path}': "
                           "its running variance is estimated with dropout on, but used "
                           "with dropout off (variance shift)", 0,
                           "move dropout after the last batch norm, or use Gaussian dropout")
                break


def init_lints(checks: Sequence[InitCheck], owners: Mapping[str, str]) -> Iterator[Lint]:
    """NA003 (the std fits the other scheme) and NA008 (the std is off by > 2x)."""
    for check in checks:
        if not check.flagged:
            continue
        feeds = f"a {check.activation}" if check.activation else "no nonlinearity"
        detail = (f"weight std {check.std:.3g} is {check.ratio:.2f}x the "
                  f"{SCHEME_NAMES[check.expected]} value {expected_std(check):.3g} for a "
                  f"layer that feeds {feeds}")
        if check.closest not in (check.expected, "torch-default"):
            yield Lint("NA003", owners.get(check.param, ""), f"'{check.param}': {detail}; it "
                       f"matches {SCHEME_NAMES[check.closest]} instead", 0,
                       f"initialise with {init_call(check.expected)}")
        else:
            origin = f"; it is {SCHEME_NAMES['torch-default']}" \
                if check.closest == "torch-default" else ""
            yield Lint("NA008", owners.get(check.param, ""), f"'{check.param}': {detail}"
                       f"{origin}", 0, f"initialise with {init_call(check.expected)}")


def expected_std(check: InitCheck) -> float:
    return check.he_std if check.expected == "he" else check.xavier_std


def init_call(scheme: str) -> str:
    return ("nn.init.kaiming_normal_(w, nonlinearity='relu')" if scheme == "he"
            else "nn.init.xavier_normal_(w)")


def receptive_field_lints(report: Any, options: LintOptions) -> Iterator[Lint]:
    """NA005: the largest non-global field (or the effective stride) against the objects."""
    if options.object_size is None:
        return
    fields = [(row.path, row.rf) for row in report.layers
              if row.rf is not None and not row.rf.is_global and row.rf.size]
    concrete = [(path, rf) for path, rf in fields
                if all(isinstance(s, (int, float)) for s in (*rf.size, *rf.stride))]
    if not concrete:
        return
    path, largest = max(concrete, key=lambda item: min(item[1].size))
    size, stride = min(largest.size), max(largest.stride)
    if size < options.object_size:
        yield Lint("NA005", path, f"the largest receptive field before the network goes "
                   f"global is {size} px (at '{path}'), smaller than objects of "
                   f"{options.object_size} px: no unit sees a whole object", 0,
                   "add layers or dilation, use larger kernels, or downsample the input")
    if stride > options.object_size:
        yield Lint("NA005", path, f"the effective stride {stride} px exceeds the object size "
                   f"{options.object_size} px: pooling and strides compound so that objects "
                   "can fall between output positions", 0,
                   "reduce pooling/stride, or use a feature pyramid")


def lint_graph(graph: Graph, report: Any, options: LintOptions,
               modules: Mapping[str, Any] | None = None,
               init_checks: Sequence[InitCheck] = ()) -> tuple[Lint, ...]:
    """All lints of a graph (captured in training mode, so dropout and batch statistics
    show). ``modules`` maps paths to real modules (for group counts and masks)."""
    flow = DataFlow(graph)
    modules = modules or {}
    owners = {name: info.owner for name, info in graph.params.items()}
    found = [*redundant_bias_lints(flow, modules), *small_batch_lints(flow, options),
             *init_lints(init_checks, owners), *dropout_before_bn_lints(flow),
             *receptive_field_lints(report, options), *masked_conv_lints(flow, modules),
             *gridding_lints(flow)]
    return tuple(sorted(found, key=lambda lint: (lint.code, lint.path)))
