"""Quantized modules (dynamic and static int8): packed weights counted as parameters in
their stored dtype, MACs of the float layer, a CPU run when meta is asked, clear errors for
what cannot be counted.

Expected values are the float models' own numbers: parameter counts from torch
(``sum(p.numel())``), MACs from FlopCounterMode (FLOPs / 2) or hand formulas.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import netanatomy
from netanatomy.errors import UnsupportedModelError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning",
                                        "ignore::UserWarning")

quantization = torch.ao.quantization
nnq = torch.ao.nn.quantized


def float_macs(model: nn.Module, shape: tuple[int, ...]) -> int:
    """MACs of the float model by FlopCounterMode (it counts 2 FLOPs per MAC)."""
    with FlopCounterMode(display=False) as counter:
        model(torch.randn(shape))
    return counter.get_total_flops() // 2


def torch_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def dynamic(model: nn.Module) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantization.quantize_dynamic(model, {nn.Linear, nn.LSTM, nn.GRU},
                                             dtype=torch.qint8)


class ConvNet(nn.Module):
    """Conv → ReLU → Linear between quant/dequant stubs, for eager static quantization."""

    def __init__(self) -> None:
        super().__init__()
        self.quant = quantization.QuantStub()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(8 * 8 * 8, 10)
        self.dequant = quantization.DeQuantStub()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.conv(self.quant(x)))
        return self.dequant(self.fc(x.flatten(1)))


def static(model: nn.Module, shape: tuple[int, ...]) -> nn.Module:
    """Eager static quantization with the CPU's default engine, calibrated once."""
    torch.manual_seed(0)
    model = model.eval()
    model.qconfig = quantization.get_default_qconfig(torch.backends.quantized.engine)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = quantization.prepare(model)
        prepared(torch.randn(shape))
        return quantization.convert(prepared)


def test_dynamic_linear_counts_int8_weights_and_float_macs() -> None:
    float_model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8))
    expected_macs = float_macs(float_model, (2, 16))
    assert expected_macs == 2 * 16 * 32 + 2 * 32 * 8            # rows · in · out per layer
    report = netanatomy.analyze(dynamic(float_model), (2, 16), device="cpu")
    assert report.totals.status == "exact" and not report.uncounted
    assert report.totals.macs == expected_macs
    assert report.totals.params == torch_params(float_model)     # 16·32 + 32 + 32·8 + 8
    assert report.totals.trainable_params == 0
    weight = report.graph.params["0.weight"]
    assert (weight.dtype, weight.itemsize, weight.owner, weight.shape) == ("qint8", 1, "0",
                                                                          (32, 16))
    # int8 weights, float32 biases (as stored)
    assert report.totals.param_bytes == (16 * 32 + 32 * 8) * 1 + (32 + 8) * 4
    assert report.layer("0").params == 16 * 32 + 32
    linear = next(n for n in report.graph.nodes if n.kind == "linear")
    assert linear.inputs[1].dtype == "qint8" and linear.inputs[1].itemsize == 1


def test_quantized_model_on_meta_runs_on_cpu_with_a_note() -> None:
    model = dynamic(nn.Sequential(nn.Linear(16, 32)))
    on_meta = netanatomy.analyze(model, (2, 16))
    on_cpu = netanatomy.analyze(model, (2, 16), device="cpu")
    assert on_meta.capture.device == "cpu"
    assert any("ran on cpu" in note and "packed weights" in note and "0 (" in note
               for note in on_meta.capture.notes)
    assert on_meta.totals.macs == on_cpu.totals.macs == 2 * 16 * 32
    assert on_meta.totals.params == on_cpu.totals.params == 16 * 32 + 32


def test_static_conv_and_linear_count_as_the_float_model() -> None:
    float_model = ConvNet()
    expected_macs = float_macs(float_model, (2, 3, 8, 8))
    # conv: N·C_out·H·W·C_in·k² ; fc: N·in·out
    assert expected_macs == 2 * 8 * 8 * 8 * 3 * 3 * 3 + 2 * 512 * 10
    expected_params = torch_params(float_model)
    report = netanatomy.analyze(static(float_model, (4, 3, 8, 8)), (2, 3, 8, 8), device="cpu")
    assert report.totals.status == "exact" and not report.uncounted
    assert report.totals.macs == expected_macs
    assert report.totals.params == expected_params
    assert report.graph.params["conv.weight"].dtype == "qint8"
    assert report.graph.params["fc.weight"].shape == (10, 512)
    assert report.totals.param_bytes == (8 * 3 * 3 * 3 + 512 * 10) * 1 + (8 + 10) * 4
    kinds = [n.kind for n in report.graph.nodes]
    assert kinds.count("conv") == 1 and kinds.count("linear") == 1


def test_stored_quantization_parameters_are_buffers() -> None:
    qconv = nnq.Conv2d(3, 8, 3)             # per-tensor weight qparams, output qparams
    x = torch.quantize_per_tensor(torch.randn(1, 3, 6, 6), 0.1, 0, torch.quint8)
    report = netanatomy.analyze(qconv, example_inputs=x, device="cpu")
    state = qconv.state_dict()               # what torch stores besides weight and bias
    assert {"scale", "zero_point"} <= set(state) and {"scale", "zero_point"} <= set(
        report.graph.params)
    buffers = {name for name, info in report.graph.params.items() if info.is_buffer}
    assert buffers == {"weight_scale", "weight_zero_point", "scale", "zero_point"}
    assert report.totals.macs == 1 * 8 * 4 * 4 * 3 * 3 * 3      # N·C_out·H'·W'·C_in·k²


def test_fused_linear_relu_and_conv_relu_emit_both_nodes() -> None:
    class Fusable(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.quant = quantization.QuantStub()
            self.conv, self.act = nn.Conv2d(3, 4, 3), nn.ReLU()
            self.fc, self.act2 = nn.Linear(4 * 4 * 4, 5), nn.ReLU()
            self.dequant = quantization.DeQuantStub()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.act(self.conv(self.quant(x)))
            return self.dequant(self.act2(self.fc(x.flatten(1))))

    model = Fusable().eval()
    expected_macs = float_macs(model, (1, 3, 6, 6))
    fused = quantization.fuse_modules(model, [["conv", "act"], ["fc", "act2"]])
    report = netanatomy.analyze(static(fused, (2, 3, 6, 6)), (1, 3, 6, 6), device="cpu")
    assert report.totals.status == "exact"
    assert report.totals.macs == expected_macs
    relus = [n for n in report.graph.nodes if n.kind == "activation"]
    assert [n.path for n in relus] == ["conv", "fc"]
    # conv: bias + ReLU per output element (4·4·4); fc: bias + ReLU per output (5);
    # quantize and dequantize: one per element of the input (3·6·6) and the output (5)
    assert report.totals.elementwise_flops == 2 * 64 + 2 * 5 + 3 * 6 * 6 + 5


@pytest.mark.parametrize("module, shape, float_module", [
    (nnq.Conv1d(4, 6, 3, stride=2), (2, 4, 11), nn.Conv1d(4, 6, 3, stride=2)),
    (nnq.Conv3d(2, 4, 3, padding=1), (1, 2, 4, 4, 4), nn.Conv3d(2, 4, 3, padding=1)),
    (nnq.ConvTranspose2d(4, 6, 3, stride=2, groups=2), (1, 4, 5, 5),
     nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2)),
])
def test_quantized_convs_of_every_rank_match_flop_counter(
        module: nn.Module, shape: tuple[int, ...], float_module: nn.Module) -> None:
    x = torch.quantize_per_tensor(torch.randn(shape), 0.1, 0, torch.quint8)
    report = netanatomy.analyze(module, example_inputs=x, device="cpu")
    assert report.totals.status == "exact"
    assert report.totals.macs == float_macs(float_module, shape)
    assert report.totals.params == torch_params(float_module)
    assert report.graph.params["weight"].shape == tuple(float_module.weight.shape)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_dynamic_lstm_counts_as_the_float_lstm(bidirectional: bool) -> None:
    float_model = nn.Sequential(nn.LSTM(16, 32, num_layers=2, bidirectional=bidirectional))
    report = netanatomy.analyze(dynamic(float_model), (5, 2, 16), device="cpu")
    assert report.totals.status == "exact" and not report.uncounted
    assert report.totals.params == torch_params(float_model)
    directions = 2 if bidirectional else 1
    # T·N·Σ_layers,directions 4H·(in + H): gates x·W_ihᵀ and h·W_hhᵀ
    per_step = directions * (4 * 32 * (16 + 32) + 4 * 32 * (directions * 32 + 32))
    assert report.totals.macs == 5 * 2 * per_step
    weights = [p for p in report.graph.params.values()
               if p.name.split(".")[-1].startswith("weight_") and not p.is_buffer]
    assert len(weights) == 2 * 2 * directions                   # ih and hh per layer, dir
    assert weights and all(p.dtype == "qint8" and p.itemsize == 1 for p in weights)


def test_dynamic_gru_counts_as_the_float_gru() -> None:
    float_model = nn.Sequential(nn.GRU(8, 12))
    report = netanatomy.analyze(dynamic(float_model), (4, 3, 8), device="cpu")
    assert report.totals.status == "exact"
    assert report.totals.params == torch_params(float_model)
    assert report.totals.macs == 4 * 3 * 3 * 12 * (8 + 12)        # T·N·3H·(in + H)


def test_quantized_embedding_counts_its_uint8_table() -> None:
    table = nnq.Embedding(10, 4)
    report = netanatomy.analyze(table, example_inputs=torch.zeros(2, 3, dtype=torch.long),
                                device="cpu")
    assert report.totals.status == "exact"
    weight = report.graph.params["weight"]
    assert (weight.numel, weight.dtype, weight.itemsize) == (10 * 4, "quint8", 1)


class RawPacked(nn.Module):
    """Packed weights held directly, outside any torch.ao quantized module."""

    def __init__(self) -> None:
        super().__init__()
        weight = torch.quantize_per_tensor(torch.randn(4, 3), 0.1, 0, torch.qint8)
        self.packed = torch.ops.quantized.linear_prepack(weight, None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic(x, self.packed)


def test_packed_weights_it_cannot_read_are_a_clear_error() -> None:
    model = nn.Sequential(nn.Linear(3, 3), RawPacked())
    with pytest.raises(UnsupportedModelError) as caught:
        netanatomy.analyze(model, (2, 3), device="cpu")
    message = str(caught.value)
    assert "'1'" in message and "RawPacked" in message and "LinearPackedParamsBase" in message
    assert "float model" in message                                   # the fix


def test_quantized_model_on_another_device_is_a_clear_error() -> None:
    model = dynamic(nn.Sequential(nn.Linear(16, 32)))
    with pytest.raises(UnsupportedModelError, match=r"0 \(DynamicQuantizedLinear\).*cpu"):
        netanatomy.analyze(model, (2, 16), device="cuda")
