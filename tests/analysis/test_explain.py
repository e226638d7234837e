"""``--explain`` is generated from the rules: for every kind, the printed numbers put into the
printed formula give the printed result, and that result is the number the report uses."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sympy
import torch
import torch.nn.functional as F
from torch import nn

import netanatomy
from netanatomy import spec
from netanatomy.analysis.cost import node_cost
from netanatomy.analysis.explain import Step, explain, explain_node
from netanatomy.frontends.spec import spec_graph
from netanatomy.ir.graph import CaptureInfo, Graph, Node, TensorInfo
from netanatomy.ir.kinds import KINDS
from netanatomy.render.explain import explanation_text
from netanatomy.rules import get_formula


class Call(nn.Module):
    """A module running one function of its inputs (for functional ops)."""

    def __init__(self, function: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.function = function

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.function(*inputs)


def torch_graph(module: nn.Module, *shapes: object) -> Graph:
    return netanatomy.analyze(module, list(shapes)).graph


def one_node(kind: str, shapes: tuple[tuple[int, ...], ...], attrs: dict) -> Graph:
    """A graph of one node of ``kind`` (for kinds a CPU capture does not emit: the fused
    CUDA dropout, the fused attention kernels); its output shape comes from the rule."""
    inputs = tuple(TensorInfo(id=i, shape=shape, dtype="float32", itemsize=4)
                   for i, shape in enumerate(shapes))
    out_shape = get_formula(kind, "output_shapes")(shapes, attrs)[0]
    output = TensorInfo(id=len(shapes), shape=out_shape, dtype="float32", itemsize=4)
    node = Node(index=0, kind=kind, op=f"test.{kind}", path="", inputs=inputs,
                outputs=(output,), attrs=attrs)
    return Graph(nodes=(node,), modules=(), params={}, inputs=inputs, outputs=(output,),
                 capture=CaptureInfo("test", "meta", False, False))


CORPUS: dict[str, Callable[[], Graph]] = {
    "conv": lambda: torch_graph(nn.Conv2d(3, 8, 3, stride=2, padding=(1, 2), dilation=2,
                                          groups=1), (2, 3, 17, 15)),
    "conv_transpose": lambda: torch_graph(nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1,
                                                             output_padding=1, groups=2),
                                          (1, 4, 5, 7)),
    "linear": lambda: spec_graph(spec.load("example:alexnet"), {}),
    "matmul": lambda: torch_graph(nn.Linear(12, 5), (3, 7, 12)),
    "attention": lambda: one_node("attention", ((2, 3, 5, 8), (2, 3, 6, 8), (2, 3, 6, 4),
                                                (5, 6)), {"is_causal": False}),
    "grouped_matmul": lambda: one_node("grouped_matmul", ((12, 8), (4, 8, 6), (4,)), {}),
    "recurrent": lambda: one_node("recurrent", ((7, 2, 10),), {
        "mode": "lstm", "input_size": 10, "hidden_size": 6, "num_layers": 2,
        "bidirectional": True, "bias": True, "proj_size": 0, "batch_first": False}),
    "pool": lambda: torch_graph(nn.MaxPool2d(3, 2, padding=1, ceil_mode=True), (1, 2, 10, 9)),
    "adaptive_pool": lambda: torch_graph(nn.AdaptiveAvgPool2d((3, 2)), (1, 2, 7, 5)),
    "norm": lambda: torch_graph(nn.GroupNorm(2, 4), (2, 4, 5, 5)),
    "activation": lambda: torch_graph(nn.GELU(), (2, 5)),
    "elementwise": lambda: torch_graph(Call(lambda a, b: a * b + 1), (2, 3, 4), (3, 4)),
    "dropout": lambda: one_node("dropout", ((4, 6),), {}),
    "softmax": lambda: torch_graph(nn.Softmax(dim=1), (2, 7, 3)),
    "reduction": lambda: torch_graph(Call(lambda x: x.sum(dim=(1, 2))), (2, 3, 4, 5)),
    "embedding": lambda: torch_graph(nn.Embedding(11, 4), "2x5:int64"),
    "upsample": lambda: torch_graph(nn.Upsample(scale_factor=2, mode="bilinear"),
                                    (1, 2, 3, 5)),
    "sample": lambda: torch_graph(Call(lambda x, g: F.grid_sample(x, g, align_corners=False)),
                                  (1, 2, 6, 6), (1, 4, 3, 2)),
    "view": lambda: torch_graph(Call(lambda x: x.permute(0, 2, 1)), (2, 3, 4)),
    "reshape": lambda: spec_graph(spec.load("example:alexnet"), {}),
    "concat": lambda: torch_graph(Call(lambda a, b: torch.cat([a, b], dim=1)),
                                  (1, 2, 3), (1, 4, 3)),
    "copy": lambda: torch_graph(Call(lambda x: x.flip(1)), (2, 3)),
    "create": lambda: torch_graph(Call(lambda x: x + torch.zeros(3)), (2, 3)),
    "pad": lambda: torch_graph(Call(lambda x: F.pad(x, (1, 2, 0, 3))), (1, 2, 4, 4)),
    "bilinear": lambda: torch_graph(nn.Bilinear(3, 4, 5), (2, 3), (2, 4)),
    "distance": lambda: torch_graph(Call(torch.cdist), (2, 30, 3), (2, 27, 3)),
    "embedding_bag": lambda: torch_graph(nn.EmbeddingBag(11, 4, mode="mean"), "2x5:int64"),
    "scatter_add": lambda: torch_graph(Call(lambda x, i, s: x.index_add(0, i, s)),
                                       (5, 3), "4:int64", (4, 3)),
    "unfold": lambda: torch_graph(nn.Unfold(3, padding=1, stride=2), (1, 2, 7, 6)),
    "fold": lambda: torch_graph(nn.Fold((6, 6), 2, stride=2), (1, 8, 9)),
    "pixel_shuffle": lambda: torch_graph(nn.PixelShuffle(2), (1, 8, 3, 5)),
    "scan": lambda: torch_graph(Call(lambda x: torch.cumsum(x, 1)), (2, 3, 4)),
    "fft": lambda: torch_graph(Call(torch.fft.rfft2), (2, 6, 8)),
    "sort": lambda: torch_graph(Call(lambda x: torch.topk(x, 2, dim=1)[0]), (2, 5, 3)),
    "conv_weight_grad": lambda: one_node("conv_weight_grad", ((2, 4, 9, 9), (2, 8, 5, 5)), {
        "stride": (2, 2), "padding": ((1, 1), (1, 1)), "dilation": (1, 1), "groups": 2,
        "transposed": False, "kernel": (3, 3)}),
    "pool_backward": lambda: one_node("pool_backward", ((2, 3, 4, 4), (2, 3, 8, 8)), {
        "mode": "avg", "kernel": (3, 3), "stride": (2, 2), "padding": ((1, 1), (1, 1)),
        "dilation": (1, 1), "ceil_mode": False}),
    "upsample_backward": lambda: one_node("upsample_backward", ((1, 3, 8, 8),), {
        "mode": "bilinear", "output_size": (8, 8), "input_size": (1, 3, 4, 4)}),
    "attention_backward": lambda: one_node("attention_backward", (
        (2, 3, 5, 8), (2, 3, 6, 8), (2, 3, 6, 4), (2, 3, 5, 4)), {
        "part": "scores", "recompute": True, "is_causal": False}),
    "recurrent_backward": lambda: one_node("recurrent_backward", ((7, 2, 10),), {
        "mode": "lstm", "input_size": 10, "hidden_size": 6, "num_layers": 1,
        "bidirectional": False, "bias": True, "proj_size": 0, "batch_first": False,
        "part": "state"}),
    "optimizer_step": lambda: one_node("optimizer_step", ((16, 8), (16, 8), (16, 8), (16, 8)),
                                       {"fn": "adamw", "weight_decay": True}),
}


def check_step(step: Step) -> None:
    """The printed substitution evaluates to the printed result."""
    if not step.formula:
        return
    value = sympy.sympify(step.substituted)
    if isinstance(step.result, int):
        assert value == step.result, (step.quantity, step.substituted, step.result)
    else:
        assert sympy.simplify(value - sympy.sympify(step.result)) == 0, step


@pytest.mark.parametrize("kind", sorted(CORPUS))
def test_substituted_numbers_give_the_printed_result(kind: str) -> None:
    graph = CORPUS[kind]()
    nodes = [node for node in graph.nodes if node.kind == kind]
    assert nodes, f"the corpus entry for {kind!r} has no {kind!r} node"
    for node in nodes:
        explanation = explain_node(node)
        assert explanation.convention, f"{kind} has no convention line"
        for step in explanation.steps:
            check_step(step)
        cost = node_cost(node)
        shown = {step.quantity: step.result for step in explanation.steps}
        if cost.macs:
            assert shown["MACs"] == cost.macs
        if cost.elementwise_flops:
            assert shown["elementwise FLOPs"] == cost.elementwise_flops


def test_every_kind_is_in_the_corpus() -> None:
    missing = sorted(set(KINDS) - set(CORPUS))
    assert not missing, f"add a corpus entry for {missing}"


def test_conv_derivation_names_its_sizes() -> None:
    node = next(n for n in CORPUS["conv"]().nodes if n.kind == "conv")
    steps = {step.quantity: step for step in explain_node(node).steps}
    # H' = ⌊(17 + 1 + 1 − 2·(3 − 1) − 1) / 2⌋ + 1 = 7, by hand (padding 1 on H, 2 on W)
    assert steps["H'"].result == (17 + 1 + 1 - 2 * (3 - 1) - 1) // 2 + 1
    assert steps["W'"].result == (15 + 2 + 2 - 2 * (3 - 1) - 1) // 2 + 1
    assert "k_h" in steps["MACs"].formula and "s_h" in steps["H'"].formula
    assert steps["params"].result == 8 * 3 * 3 * 3 + 8                 # weight + bias


def test_ceil_mode_pool_prints_a_formula_that_gives_its_size() -> None:
    # the old hand-written line printed ⌈(5 + 1 + 1 − 2) / 2⌉ + 1 = 3, which is 4
    graph = torch_graph(nn.MaxPool1d(2, 2, padding=1, ceil_mode=True), (1, 1, 5))
    node = next(n for n in graph.nodes if n.kind == "pool")
    step = next(s for s in explain_node(node).steps if s.quantity == "W'")  # pooled as 1×5
    assert step.result == 3 == torch.nn.MaxPool1d(2, 2, 1, ceil_mode=True)(
        torch.zeros(1, 1, 5)).shape[-1]
    assert sympy.sympify(step.substituted) == 3


def test_symbolic_spec_explains_with_its_own_symbols() -> None:
    graph = spec_graph(spec.load("docs/examples/conv.yaml"), {})
    conv = next(n for n in graph.nodes if n.kind == "conv")
    steps = {step.quantity: step for step in explain_node(conv).steps}
    F_, D, K = sympy.symbols("F D K", integer=True, positive=True)
    assert sympy.simplify(sympy.sympify(steps["params"].result) - (F_ * D * K**2 + F_)) == 0


def test_unknown_ops_say_so() -> None:
    graph = torch_graph(nn.Bilinear(2, 3, 4), (1, 2), (1, 3))
    unknown = [n for n in graph.nodes if n.kind == "unknown"]
    for node in unknown:
        assert explain_node(node).steps[0].quantity == "uncounted"


def test_text_shows_formula_numbers_and_result() -> None:
    text = explanation_text(explain(CORPUS["matmul"]()))
    assert f"MACs = K·M·N = 12·21·5 = {12 * 21 * 5:,}" in text      # 3·7 rows of 12 → 5
