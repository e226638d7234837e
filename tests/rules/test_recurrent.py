"""Recurrent rule against hand formulas from PyTorch's documented equations, the module's
weight matrices, torch's output shapes, and netanatomy's aten capture of the same module
(which decomposes the layer into addmm / mm / activations: a different code path)."""

from __future__ import annotations

from itertools import product

import pytest
import torch
from torch import nn

import netanatomy
from tests.rules.helpers import assert_symbolic_agrees, evaluate, symbols

MODES = {nn.RNN: "rnn_tanh", nn.LSTM: "lstm", nn.GRU: "gru"}
GATES = {nn.RNN: 1, nn.LSTM: 4, nn.GRU: 3}     # weight_ih is (gates·H, in) in torch's docs

# Elementwise FLOPs per hidden unit of one cell step, without bias, read off the equations
# in the nn.LSTM / nn.GRU / nn.RNN documentation:
#   LSTM: 4 gate sums (W_i·x + W_h·h), 4 activations (σ σ tanh σ), c' = f⊙c + i⊙g (2 mul,
#         1 add), h' = o⊙tanh(c') (1 tanh, 1 mul)                        -> 4+4+3+2 = 13
#   GRU:  r, z: sum + σ each (4); n = tanh(W_in x + r⊙(W_hn h)): mul, add, tanh (3);
#         h' = (1 − z)⊙n + z⊙h: 3                                        -> 4+3+3 = 10
#   RNN:  sum, activation                                                -> 2
CELL = {nn.RNN: 2, nn.LSTM: 13, nn.GRU: 10}

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections:UserWarning")


def hand_macs(cls, input_size, hidden, layers, bidirectional, proj, steps, batch):
    """Per step and sample, each direction of each layer multiplies its input by W_ih
    (G·H × in), its state by W_hh (G·H × H_r) and, for a projected LSTM, h by W_hr
    (proj × H)."""
    directions = 2 if bidirectional else 1
    state = proj or hidden
    total = 0
    for layer in range(layers):
        layer_in = input_size if layer == 0 else directions * state
        per_direction = GATES[cls] * hidden * layer_in + GATES[cls] * hidden * state
        per_direction += proj * hidden
        total += directions * per_direction
    return steps * batch * total


def hand_elementwise(cls, hidden, layers, bidirectional, bias, steps, batch):
    """The cell FLOPs above, plus two bias adds (b_ih, b_hh) per gate unit when biased."""
    per_hidden = CELL[cls] + (2 * GATES[cls] if bias else 0)
    return steps * batch * layers * (2 if bidirectional else 1) * hidden * per_hidden


CONFIGS = [
    (cls, layers, bidirectional, bias, batch_first, proj)
    for cls, layers, bidirectional, bias, batch_first, proj in product(
        (nn.RNN, nn.LSTM, nn.GRU), (1, 2), (False, True), (True, False), (False, True), (0, 2))
    if proj == 0 or cls is nn.LSTM
]

T, N, IN, H = 5, 2, 3, 4   # steps, batch, input size, hidden size


def build(cls, layers, bidirectional, bias, batch_first, proj):
    kwargs = dict(num_layers=layers, bidirectional=bidirectional, bias=bias,
                  batch_first=batch_first)
    if proj:
        kwargs["proj_size"] = proj
    torch.manual_seed(0)
    return cls(IN, H, **kwargs)


def attrs_of(cls, layers, bidirectional, bias, batch_first, proj):
    return {"mode": MODES[cls], "input_size": IN, "hidden_size": H, "num_layers": layers,
            "bidirectional": bidirectional, "bias": bias, "proj_size": proj,
            "batch_first": batch_first}


@pytest.mark.parametrize("cls, layers, bidirectional, bias, batch_first, proj", CONFIGS)
def test_recurrent_against_hand_formula_weights_and_capture(cls, layers, bidirectional, bias,
                                                            batch_first, proj) -> None:
    module = build(cls, layers, bidirectional, bias, batch_first, proj)
    x_shape = (N, T, IN) if batch_first else (T, N, IN)
    expected_shape = module(torch.randn(x_shape))[0].shape
    outputs, macs, flops = evaluate("recurrent", (x_shape,),
                                    attrs_of(cls, layers, bidirectional, bias, batch_first,
                                             proj))
    assert outputs == (tuple(expected_shape),)

    assert macs == hand_macs(cls, IN, H, layers, bidirectional, proj, T, N)
    # every weight matrix element is used once per step and sample
    weights = sum(p.numel() for name, p in module.named_parameters()
                  if name.startswith("weight"))
    assert macs == T * N * weights
    assert flops == hand_elementwise(cls, H, layers, bidirectional, bias, T, N)

    captured = netanatomy.analyze(module, input_size=x_shape).totals
    assert macs == captured.macs
    assert flops == captured.elementwise_flops


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_recurrent_unbatched_input(cls) -> None:
    module = build(cls, 1, True, True, False, 0)
    expected_shape = module(torch.randn(T, IN))[0].shape
    outputs, macs, flops = evaluate("recurrent", ((T, IN),),
                                    attrs_of(cls, 1, True, True, False, 0))
    assert outputs == (tuple(expected_shape),)
    assert macs == hand_macs(cls, IN, H, 1, True, 0, T, 1)
    assert flops == hand_elementwise(cls, H, 1, True, True, T, 1)


def test_lstm_published_size() -> None:
    # one LSTM layer, 512 -> 512, 1 sample, 1 step: 4 gates · 512 · (512 + 512)
    attrs = {"mode": "lstm", "input_size": 512, "hidden_size": 512, "num_layers": 1,
             "bidirectional": False, "bias": True, "proj_size": 0, "batch_first": False}
    outputs, macs, flops = evaluate("recurrent", ((1, 1, 512),), attrs)
    assert outputs == ((1, 1, 512),)
    assert macs == 4 * 512 * (512 + 512)
    assert flops == 512 * (13 + 8)


@pytest.mark.parametrize("mode, proj", [("lstm", 0), ("lstm", 3), ("gru", 0), ("rnn_relu", 0)])
@pytest.mark.parametrize("batch_first", [False, True])
def test_recurrent_symbolic_agrees_with_integers(mode, proj, batch_first) -> None:
    t, n, i, h = symbols("T N I H")
    attrs = {"mode": mode, "input_size": i, "hidden_size": h, "num_layers": 2,
             "bidirectional": True, "bias": True, "proj_size": proj,
             "batch_first": batch_first}
    x_shape = (n, t, i) if batch_first else (t, n, i)
    assert_symbolic_agrees("recurrent", (x_shape,), attrs, {t: 7, n: 2, i: 5, h: 6})
