"""Recurrent layers: RNN (tanh/relu), LSTM (with optional projection) and GRU.

Operand: ``(x,)`` of shape ``(T, N, I)``, ``(N, T, I)`` when ``batch_first``, or ``(T, I)``.
Attrs: ``mode`` ("rnn_tanh", "rnn_relu", "lstm", "gru"), ``input_size``, ``hidden_size``,
``num_layers``, ``bidirectional``, ``bias``, ``proj_size`` (LSTM only, 0 for none),
``batch_first``.

Conventions, per time step, sample, layer and direction, with G gates (4 LSTM, 3 GRU,
1 RNN) of size H: MACs = G·H·(in + H_r) for the input and hidden products (in = I for the
first layer, directions·H_r above it; H_r = proj_size or H), plus H·proj_size for an LSTM
projection. Elementwise FLOPs follow PyTorch's cell implementations: 2·G·H bias adds when
``bias``, plus 13·H (LSTM: gate sum 4H, gate activations 4H, c' = f·c + i·g 3H,
h' = o·tanh(c') 2H), 10·H (GRU: r and z sums and sigmoids 4H, n = tanh(x_n + r·h_n) 3H,
h' = (h − n)·z + n 3H) or 2·H (RNN: sum and activation).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netanatomy.ir.graph import Shape
from netanatomy.rules.common import traffic_bytes
from netanatomy.rules.registry import convention, formula
from netanatomy.rules.transfer import Mixes
from netanatomy.symbolic import Dim

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}
CELL_FLOPS_PER_HIDDEN = {"rnn_tanh": 2, "rnn_relu": 2, "lstm": 13, "gru": 10}


def recurrent_steps_and_batch(x_shape: Shape, batch_first: bool) -> tuple[Dim, Dim]:
    """(time steps, batch size) of the input; an unbatched input has batch 1."""
    if len(x_shape) == 2:
        return x_shape[0], 1
    if batch_first:
        return x_shape[1], x_shape[0]
    return x_shape[0], x_shape[1]


def recurrent_hidden_out(attrs: Mapping[str, Any]) -> Dim:
    """Size of the state fed back and emitted: proj_size when set, else hidden_size."""
    return attrs.get("proj_size") or attrs["hidden_size"]


@formula("recurrent", "output_shapes")
def recurrent_output_shapes(inputs: tuple[Shape, ...],
                            attrs: Mapping[str, Any]) -> tuple[Shape]:
    x_shape = inputs[0]
    directions = 2 if attrs["bidirectional"] else 1
    return ((*x_shape[:-1], directions * recurrent_hidden_out(attrs)),)


def recurrent_weights(attrs: Mapping[str, Any]) -> Dim:
    """Weights of all layers and directions, biases excluded: Σ G·H·(in + H_r) + H·proj_size
    (in = I for the first layer, directions·H_r above it). Each is used once per step."""
    gates, hidden = GATES[attrs["mode"]], attrs["hidden_size"]
    hidden_out = recurrent_hidden_out(attrs)
    directions = 2 if attrs["bidirectional"] else 1
    projection = hidden * (attrs.get("proj_size") or 0)
    total: Dim = 0
    for layer in range(attrs["num_layers"]):
        layer_in = attrs["input_size"] if layer == 0 else directions * hidden_out
        total = total + directions * (gates * hidden * (layer_in + hidden_out) + projection)
    return total


@formula("recurrent", "macs")
def recurrent_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                   attrs: Mapping[str, Any]) -> Dim:
    """T·N · Σ over layers and directions of (G·H·(in + H_r) + H·proj_size): every weight
    once per step and sample."""
    steps, batch = recurrent_steps_and_batch(inputs[0], attrs.get("batch_first", False))
    return steps * batch * recurrent_weights(attrs)


@formula("recurrent", "elementwise_flops")
def recurrent_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                                attrs: Mapping[str, Any]) -> Dim:
    """T·N·layers·directions·H·(cell FLOPs per hidden unit + 2·G when biased)."""
    steps, batch = recurrent_steps_and_batch(inputs[0], attrs.get("batch_first", False))
    mode = attrs["mode"]
    directions = 2 if attrs["bidirectional"] else 1
    per_hidden = CELL_FLOPS_PER_HIDDEN[mode] + (2 * GATES[mode] if attrs["bias"] else 0)
    cells = steps * batch * attrs["num_layers"] * directions
    return cells * attrs["hidden_size"] * per_hidden


@formula("recurrent", "params")
def recurrent_params(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Dim:
    """The weights of :func:`recurrent_weights` plus 2·G·H biases per layer and direction
    when ``bias`` (PyTorch keeps b_ih and b_hh apart)."""
    directions = 2 if attrs["bidirectional"] else 1
    biases = 2 * GATES[attrs["mode"]] * attrs["hidden_size"] if attrs["bias"] else 0
    return recurrent_weights(attrs) + attrs["num_layers"] * directions * biases


formula("recurrent", "bytes")(traffic_bytes)


@formula("recurrent", "rf")
def recurrent_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                 attrs: Mapping[str, Any]) -> Mixes:
    """The state carries every earlier step: all positions mix."""
    return Mixes(((0, None),))


convention("recurrent", "MACs = T·N·Σ_layers,directions G·H·(in + H_r) (+ H·proj_size); "
                        "cell elementwise FLOPs per PyTorch's cell equations")
