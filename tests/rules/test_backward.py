"""Rules of the backward kinds: hand formulas, torch's own counts, ints and symbols agree."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import sdpa_backward_flop_count

from netanatomy.analysis.cost import node_cost
from netanatomy.frontends.torch.capture import OpRecorder
from netanatomy.frontends.torch.tracking import ModuleTracker
from netanatomy.rules.backward import LSTM_CELL_BACKWARD_FLOPS_PER_HIDDEN
from tests.rules.helpers import assert_symbolic_agrees, evaluate, rule, symbols

N, C, K, H, W, G = symbols("N C K H W G")
CONV_ATTRS = {"stride": (2, 2), "padding": ((1, 1), (1, 1)), "dilation": (1, 1), "groups": 2,
              "transposed": False, "kernel": (3, 3)}


def test_conv_weight_grad_costs_the_forward_conv() -> None:
    # Conv2d(4 → 8, 3×3, stride 2, pad 1, groups 2) on 2×4×9×9: 5×5 outputs
    outputs, macs, flops = evaluate("conv_weight_grad", ((2, 4, 9, 9), (2, 8, 5, 5)),
                                    CONV_ATTRS)
    assert outputs == ((8, 2, 3, 3),)
    assert macs == 2 * 8 * 5 * 5 * (4 // 2) * 3 * 3  # N·C_out·positions·(C_in/g)·k²
    assert macs == rule("conv", "macs")(((2, 4, 9, 9), (8, 2, 3, 3)), ((2, 8, 5, 5),),
                                        CONV_ATTRS)
    assert flops == 0


def test_transposed_conv_weight_grad_costs_the_forward() -> None:
    # ConvTranspose2d(4 → 6, 3×3, groups 2) on 1×4×5×5: N·C_in·inputs·(C_out/g)·k²
    attrs = {**CONV_ATTRS, "transposed": True}
    outputs, macs, _ = evaluate("conv_weight_grad", ((1, 4, 5, 5), (1, 6, 10, 10)), attrs)
    assert outputs == ((4, 3, 3, 3),)
    assert macs == 1 * 4 * 5 * 5 * 3 * 3 * 3


def test_conv_weight_grad_symbolic() -> None:
    assert_symbolic_agrees("conv_weight_grad", ((N, C, H, W), (N, K, H, W)),
                           {**CONV_ATTRS, "groups": G}, {N: 2, C: 4, K: 8, H: 5, W: 7, G: 2})


@pytest.mark.parametrize("mode, expected", [
    ("max", 2 * 3 * 4 * 4),            # one add per output-gradient element
    ("avg", 2 * 3 * 4 * 4 * 3 * 3),    # the forward's: one per window element
])
def test_pool_backward(mode: str, expected: int) -> None:
    attrs = {"mode": mode, "kernel": (3, 3), "stride": (2, 2), "padding": ((1, 1), (1, 1)),
             "dilation": (1, 1), "ceil_mode": False}
    outputs, macs, flops = evaluate("pool_backward", ((2, 3, 4, 4), (2, 3, 8, 8)), attrs)
    assert outputs == ((2, 3, 8, 8),) and macs == 0 and flops == expected


def test_adaptive_avg_pool_backward_is_its_forward() -> None:
    # 8 → 3 windows [0,3), [2,6), [5,8): 3 + 4 + 3 = 10 per row; 8 → 2: 4 + 4 = 8 per column
    attrs = {"mode": "avg", "adaptive": True, "output_size": (3, 2)}
    _, _, flops = evaluate("pool_backward", ((2, 3, 3, 2), (2, 3, 8, 8)), attrs)
    assert flops == 2 * 3 * 10 * 8


@pytest.mark.parametrize("mode, expected", [
    ("nearest", 1 * 3 * 8 * 8),                 # one add per output-gradient element
    ("bilinear", 1 * 3 * 8 * 8 * 2 * 2 ** 2),   # 2 FLOPs × 4 neighbours per output element
])
def test_upsample_backward(mode: str, expected: int) -> None:
    attrs = {"mode": mode, "output_size": (8, 8), "input_size": (1, 3, 4, 4)}
    outputs, _, flops = evaluate("upsample_backward", ((1, 3, 8, 8),), attrs)
    assert outputs == ((1, 3, 4, 4),) and flops == expected


def attention_parts(inputs: tuple[Any, ...], recompute: bool = True) -> dict[str, Any]:
    found = {}
    for part in ("scores", "query", "key", "value"):
        attrs = {"part": part, "recompute": recompute, "is_causal": False}
        found[part] = evaluate("attention_backward", inputs, attrs)
    return found


def test_attention_backward_equals_flop_counter_formula() -> None:
    q, k, v = (2, 4, 7, 8), (2, 4, 9, 8), (2, 4, 9, 6)
    grad = (2, 4, 7, 6)
    parts = attention_parts((q, k, v, grad))
    total = sum(macs for _, macs, _ in parts.values())
    assert 2 * total == sdpa_backward_flop_count(grad, q, k, v)
    scores = 2 * 4 * 7 * 9
    assert total == scores * (3 * 8 + 2 * 6)           # by hand: 3·E + 2·E_v per score
    assert parts["query"][0] == (q,) and parts["key"][0] == (k,) and parts["value"][0] == (v,)
    assert parts["scores"][0] == ((2, 4, 7, 9),)
    # dS: 3 per score, D = rowsum(dO∘O) 2 per dO element, recomputed scale + softmax 2
    assert parts["scores"][2] == scores * (3 + 2) + 2 * (2 * 4 * 7 * 6)
    without = attention_parts((q, k, v, grad), recompute=False)
    assert sum(m for _, m, _ in without.values()) == scores * (2 * 8 + 2 * 6)


def test_attention_backward_symbolic() -> None:
    B, L, S, E = symbols("B L S E")
    for part in ("scores", "query", "key", "value"):
        assert_symbolic_agrees("attention_backward",
                               ((B, G, L, E), (B, G, S, E), (B, G, S, E), (B, G, L, E)),
                               {"part": part, "recompute": True},
                               {B: 2, G: 3, L: 5, S: 7, E: 4})


LSTM_ATTRS = {"mode": "lstm", "input_size": 4, "hidden_size": 6, "num_layers": 1,
              "bidirectional": False, "bias": True, "proj_size": 0, "batch_first": False}


def test_recurrent_backward_products_are_twice_the_forward() -> None:
    x = (5, 2, 4)
    total = sum(evaluate("recurrent_backward", (x,), {**LSTM_ATTRS, "part": part})[1]
                for part in ("input", "state", "weight_ih", "weight_hh", "bias"))
    assert total == 2 * 5 * 2 * 4 * 6 * (4 + 6)  # 2 · T·N·G·H·(I + H)
    assert total == 2 * rule("recurrent", "macs")((x,), ((5, 2, 6),), LSTM_ATTRS)


def meta_lstm_backward_elementwise(steps: int) -> int:
    """Elementwise FLOPs of an LSTM(4, 6) backward on meta, where it runs op by op."""
    with torch.device("meta"):
        model = nn.LSTM(4, 6)
    x = torch.empty(steps, 2, 4, device="meta", requires_grad=True)
    loss = model(x)[0].sum()
    recorder = OpRecorder(ModuleTracker(), {})
    with recorder:
        loss.backward()
    return sum(node_cost(n).elementwise_flops or 0 for n in recorder.nodes)


def test_lstm_cell_backward_constant_is_the_op_by_op_path() -> None:
    """One more step of the op-by-op backward adds the cell's backward for N·H units, the
    bias gradients (a sum over the batch of 4H gate gradients, for b_ih and b_hh) and the
    accumulation of every weight gradient across steps (4H·(I + H) + 2·4H adds)."""
    growth = meta_lstm_backward_elementwise(3) - meta_lstm_backward_elementwise(2)
    bias_sums = 2 * 2 * 24
    accumulation = 24 * (4 + 6) + 2 * 24
    assert growth - bias_sums - accumulation == 2 * 6 * LSTM_CELL_BACKWARD_FLOPS_PER_HIDDEN


@pytest.mark.parametrize("attrs, per_element", [
    ({"fn": "adam"}, 7), ({"fn": "adam", "weight_decay": True}, 8),
    ({"fn": "adam", "amsgrad": True}, 8), ({"fn": "adamw", "weight_decay": True}, 8),
    ({"fn": "sgd"}, 1), ({"fn": "sgd", "momentum": True, "first_step": True}, 1),
    ({"fn": "sgd", "momentum": True}, 3), ({"fn": "sgd", "momentum": True, "nesterov": True}, 4),
])
def test_optimizer_step(attrs: dict[str, Any], per_element: int) -> None:
    outputs, macs, flops = evaluate("optimizer_step", ((16, 8), (16, 8)), attrs)
    assert outputs == ((16, 8),) and macs == 0 and flops == 16 * 8 * per_element
    # parameter, gradient, two Adam moments read; parameter and moments written
    written = rule("optimizer_step", "bytes")(((16, 8),) * 4, outputs, attrs,
                                             ((4, 4, 4, 4), (4,)))
    assert written == 16 * 8 * 4 * (4 + 3)


def test_optimizer_step_symbolic() -> None:
    assert_symbolic_agrees("optimizer_step", ((C, K), (C, K)), {"fn": "adamw"}, {C: 3, K: 5})
