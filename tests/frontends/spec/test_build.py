"""``spec.build`` makes a real nn.Module; analysing it gives the same numbers as the spec."""

from __future__ import annotations

import pytest
import torch

import netanatomy
from netanatomy import spec
from netanatomy.errors import SpecError

EVERY_LAYER = """
name: every-layer
input: [4, 16, 16]
layers:
  - conv: {out: 8, k: 3, p: same}
  - bn
  - relu
  - conv: {out: 8, k: 4, s: 2, p: same, name: strided}
  - dwconv: {k: 3, p: 1}
  - sepconv: {out: 12, k: 3, p: 1}
  - gn: {groups: 4}
  - leakyrelu: {slope: 0.2}
  - residual: [{conv: {out: 12, k: 3, p: 1}}, elu, {in: {affine: true}}]
  - residual:
      body: [{conv: {out: 16, k: 3, s: 2, p: 1}}]
      shortcut: [{conv: {out: 16, k: 1, s: 2}}]
  - branch:
      - [{conv: {out: 4, k: 1}}]
      - [{maxpool: {k: 3, s: 1, p: 1}}, {conv: {out: 4, k: 1}}]
      - [{avgpool: {k: 3, s: 1, p: 1, ceil: true}}]
  - dense: {n: 2, growth: 4, body: [bn, relu, {conv: {out: growth, k: 3, p: 1}}]}
  - deconv: {out: 8, k: 3, s: 2, p: 1, output_padding: 1}
  - upsample: {scale: 2, mode: bilinear}
  - maskedconv: {type: A, out: 8, k: 5}
  - maskedconv: {type: B, out: 8, k: 3}
  - prelu: {per_channel: true}
  - dropout2d: {p: 0.1}
  - gaussiandropout: {p: 0.2}
  - repeat: {n: 2, body: [{conv: {out: 8, k: 3, p: 1}}, tanh]}
  - maxpool: {k: 2}
  - ln
  - softmax
  - globalavgpool
  - flatten
  - dropout: {p: 0.5}
  - fc: {out: 10}
  - sigmoid
  - pedcc: {classes: 5}
"""

SEQUENCE = """
name: sequence
input: {tokens: 12}
layers:
  - embedding: {vocab: 50, dim: 8}
  - lstm: {hidden: 6, layers: 2, bidirectional: true}
  - gru: {hidden: 5}
  - rnn: {hidden: 4, bias: false}
  - fc: {out: 3}
"""


def compare(text: str) -> None:
    spec_report = spec.analyze(text)
    module = spec.build(text)
    shape = spec.input_shape(text)
    dtype = "int64" if "tokens" in text else "float32"
    torch_report = netanatomy.analyze(module, ["x".join(map(str, shape)) + f":{dtype}"])
    for key in ("params", "trainable_params", "frozen_params", "buffers", "macs", "flops",
                "elementwise_flops"):
        assert getattr(spec_report.totals, key) == getattr(torch_report.totals, key), key
    spec_rows = {row.path: row for row in spec_report.layers}
    torch_rows = {row.path: row for row in torch_report.layers}
    assert list(spec_rows) == list(torch_rows)
    for path, row in spec_rows.items():
        other = torch_rows[path]
        assert (row.type, row.output_shape, row.params, row.macs) == \
            (other.type, other.output_shape, other.params, other.macs), path
        assert row.elementwise_flops == other.elementwise_flops, path
        assert row.rf == other.rf, path


def test_every_layer_type_builds_and_agrees() -> None:
    compare(EVERY_LAYER)


def test_sequence_layers_build_and_agree() -> None:
    compare(SEQUENCE)


def test_built_module_runs_for_real() -> None:
    module = spec.build(EVERY_LAYER)
    output = module(torch.randn(2, 4, 16, 16))
    assert output.shape == (2, 5)


def test_symbols_must_have_values_to_build() -> None:
    with pytest.raises(SpecError, match="symbolic"):
        spec.build("input: [D, 8, 8]\nlayers:\n  - conv: {out: 4, k: 3}\n")
    module = spec.build("input: [D, 8, 8]\nlayers:\n  - conv: {out: 4, k: 3}\n", {"D": 3})
    assert module(torch.zeros(1, 3, 8, 8)).shape == (1, 4, 6, 6)


def test_deformable_conv_costs_match_the_built_module() -> None:
    text = "input: [4, 12, 12]\nlayers:\n  - deformconv: {out: 8, k: 3, s: 2, p: 1}\n"
    spec_report = spec.analyze(text)
    torch_report = netanatomy.analyze(spec.build(text), (1, 4, 12, 12))
    offset_macs = 18 * 6 * 6 * 4 * 3 * 3          # 2·k² offset channels at 6×6 positions
    main_macs = 8 * 6 * 6 * 4 * 3 * 3
    assert spec_report.totals.macs == torch_report.totals.macs == offset_macs + main_macs
    assert spec_report.totals.params == torch_report.totals.params == \
        (18 * 4 * 9 + 18) + (8 * 4 * 9 + 8)
    assert spec_report.receptive_field.output.is_global
    assert torch_report.receptive_field.output.is_global
    # the built module also computes its sampling grid: a few more elementwise FLOPs
    assert torch_report.totals.elementwise_flops >= spec_report.totals.elementwise_flops
