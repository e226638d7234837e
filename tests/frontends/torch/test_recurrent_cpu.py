"""RNN layers on the CPU: the fused oneDNN LSTM kernel counts as the op-by-op meta path.

Expected numbers are the closed forms of PyTorch's cell equations (nn.LSTM / nn.GRU /
nn.RNN docs), written out here: per time step, sample, layer and direction, G gates of
size H cost G·H·(in + H) MACs; the cell costs 13·H (LSTM), 10·H (GRU) or 2·H (RNN)
elementwise FLOPs, plus 2·G·H bias adds.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import netanatomy

GATES = {nn.LSTM: 4, nn.GRU: 3, nn.RNN: 1}
CELL = {nn.LSTM: 13, nn.GRU: 10, nn.RNN: 2}


def hand_counts(cls: type, steps: int, batch: int, inputs: int, hidden: int, layers: int,
                directions: int, bias: bool) -> tuple[int, int]:
    """(MACs, elementwise FLOPs) from the cell equations."""
    gates = GATES[cls]
    macs = sum(directions * gates * hidden * ((inputs if layer == 0 else directions * hidden)
                                              + hidden) for layer in range(layers))
    per_cell = hidden * (CELL[cls] + (2 * gates if bias else 0))
    return steps * batch * macs, steps * batch * layers * directions * per_cell


CASES = [
    dict(num_layers=1),
    dict(num_layers=2),
    dict(num_layers=2, bidirectional=True),
    dict(num_layers=1, bias=False),
    dict(num_layers=2, bidirectional=True, bias=False, batch_first=True),
]


@pytest.mark.parametrize("options", CASES)
@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
def test_cpu_equals_meta_and_the_cell_equations(cls, options) -> None:
    torch.manual_seed(0)
    steps, batch, inputs, hidden = 4, 3, 5, 6
    model = cls(inputs, hidden, **options)
    shape = (batch, steps, inputs) if options.get("batch_first") else (steps, batch, inputs)
    on_meta = netanatomy.analyze(model, shape)
    on_cpu = netanatomy.analyze(model, shape, device="cpu")
    assert on_cpu.totals.status == on_meta.totals.status == "exact"
    expected = hand_counts(cls, steps, batch, inputs, hidden, options["num_layers"],
                           2 if options.get("bidirectional") else 1, options.get("bias", True))
    assert (on_meta.totals.macs, on_meta.totals.elementwise_flops) == expected
    assert (on_cpu.totals.macs, on_cpu.totals.elementwise_flops) == expected
    if cls is nn.LSTM:  # the CPU LSTM really took the fused kernel
        assert any(node.op.startswith("aten.mkldnn_rnn_layer") for node in on_cpu.graph.nodes)


def test_unbatched_lstm_on_cpu() -> None:
    model = nn.LSTM(5, 6)
    on_cpu = netanatomy.analyze(model, (4, 5), device="cpu")
    assert (on_cpu.totals.macs, on_cpu.totals.elementwise_flops) == hand_counts(
        nn.LSTM, 4, 1, 5, 6, 1, 1, True)


def test_lstm_with_projection_is_unchanged_on_cpu() -> None:
    # proj_size: oneDNN declines and the op-by-op path runs; + H·P MACs for the projection
    model = nn.LSTM(5, 6, proj_size=3)
    with warnings.catch_warnings():  # "LSTM with projections is not supported with oneDNN"
        warnings.simplefilter("ignore", UserWarning)
        on_cpu = netanatomy.analyze(model, (4, 2, 5), device="cpu")
    on_meta = netanatomy.analyze(model, (4, 2, 5))
    assert on_cpu.totals.macs == on_meta.totals.macs == 4 * 2 * (4 * 6 * (5 + 3) + 6 * 3)
    assert on_cpu.totals.elementwise_flops == on_meta.totals.elementwise_flops
