"""The ``params`` metric of each weighted kind equals torch's own parameter count of the
layer it stands for (an independent source: ``sum(p.numel() for p in m.parameters())``)."""

from __future__ import annotations

import pytest
from torch import nn

import netanatomy
from tests.rules.helpers import rule


def torch_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("module, shape, kind", [
    (nn.Conv2d(3, 8, 3), (1, 3, 9, 9), "conv"),
    (nn.Conv2d(4, 8, 3, groups=2, bias=False), (1, 4, 9, 9), "conv"),
    (nn.Conv1d(3, 5, 4), (1, 3, 9), "conv"),
    (nn.ConvTranspose2d(4, 6, 3, groups=2), (1, 4, 5, 5), "conv_transpose"),
    (nn.BatchNorm2d(5), (2, 5, 4, 4), "norm"),
    (nn.GroupNorm(2, 4), (2, 4, 3, 3), "norm"),
    (nn.LayerNorm(7), (2, 7), "norm"),
    (nn.Embedding(11, 4), "2x3:int64", "embedding"),
])
def test_rule_params_equal_torch_parameters(module: nn.Module, shape: object, kind: str) -> None:
    graph = netanatomy.analyze(module, [shape]).graph
    node = next(n for n in graph.nodes if n.kind == kind)
    assert rule(kind, "params")(tuple(t.shape for t in node.inputs), node.attrs) \
        == torch_count(module)


@pytest.mark.parametrize("mode, cls", [("lstm", nn.LSTM), ("gru", nn.GRU),
                                       ("rnn_tanh", nn.RNN)])
@pytest.mark.parametrize("layers, bidirectional, bias", [(1, False, True), (2, True, True),
                                                         (3, True, False)])
def test_recurrent_params_equal_torch_parameters(mode: str, cls: type, layers: int,
                                                 bidirectional: bool, bias: bool) -> None:
    module = cls(10, 6, num_layers=layers, bidirectional=bidirectional, bias=bias)
    attrs = {"mode": mode, "input_size": 10, "hidden_size": 6, "num_layers": layers,
             "bidirectional": bidirectional, "bias": bias, "proj_size": 0}
    assert rule("recurrent", "params")(((5, 2, 10),), attrs) == torch_count(module)


def test_lstm_projection_params_equal_torch_parameters() -> None:
    module = nn.LSTM(10, 6, num_layers=2, proj_size=3, bidirectional=True)
    attrs = {"mode": "lstm", "input_size": 10, "hidden_size": 6, "num_layers": 2,
             "bidirectional": True, "bias": True, "proj_size": 3}
    assert rule("recurrent", "params")(((5, 2, 10),), attrs) == torch_count(module)
