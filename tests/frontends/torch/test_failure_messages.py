"""A failed capture says what is wrong: what the failing layer expects (from its attributes)
and the shape it got, the dtype to give, that meta tensors hold no values, how to give a
keyword input; a TorchScript module is refused up front."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import netanatomy
from netanatomy.errors import CaptureError, UsageError
from netanatomy.frontends.torch.capture import capture
from netanatomy.frontends.torch.failures import is_meta_limitation


def failure(model: nn.Module, *inputs: str, device: str = "meta") -> str:
    with pytest.raises(CaptureError) as caught:
        netanatomy.analyze(model, list(inputs), device=device)
    return str(caught.value)


@pytest.mark.parametrize(("model", "given", "expected"), [
    (nn.Sequential(nn.Linear(10, 3)), "2x7", "in_features=10"),
    (nn.Sequential(nn.Conv2d(3, 8, 3)), "1x5x16x16", "in_channels=3"),
    (nn.Sequential(nn.Conv1d(3, 8, 3)), "1x3x4x16x16", "in_channels=3"),      # 5-d into 1-d
    (nn.Sequential(nn.BatchNorm2d(6)), "2x4x8x8", "num_features=6"),
    (nn.Sequential(nn.GroupNorm(2, 6)), "2x4x8x8", "num_channels=6"),
    (nn.Sequential(nn.LayerNorm(16)), "2x5x12", "normalized_shape=(16,)"),
    (nn.Sequential(nn.LSTM(12, 4, batch_first=True)), "2x5x7", "input_size=12"),
])
def test_a_shape_error_names_the_layers_attribute_and_the_shape(
        model: nn.Module, given: str, expected: str) -> None:
    message = failure(model, given)
    assert "layer '0'" in message
    assert expected in message and f"got input shape {given}" in message
    assert "Check the input shape" not in message                 # the specific hint instead


def test_attention_names_embed_dim() -> None:
    message = failure(nn.MultiheadAttention(8, 2, batch_first=True), "1x5x6", "1x5x6", "1x5x6")
    assert "embed_dim=8" in message and "1x5x6" in message


def test_an_fp16_input_into_an_fp32_model_gives_the_dtype() -> None:
    message = failure(nn.Sequential(nn.Linear(4, 2)), "1x4:float16", device="cpu")
    assert ":float32 (the model's dtype)" in message and "float16" in message
    assert "expects" not in message                                # not a shape problem


def test_an_fp32_input_into_a_half_model_suggests_float16() -> None:
    message = failure(nn.Sequential(nn.Linear(4, 2)).half(), "1x4", device="cpu")
    assert "--input SHAPE:float16" in message


def test_float_indices_into_an_embedding_suggest_int64() -> None:
    message = failure(nn.Sequential(nn.Embedding(10, 4)), "1x4")
    assert "integer indices" in message and ":int64" in message


class ItemModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) * int(x.sum().item() > 0)


def test_item_on_meta_says_the_model_needs_device_cpu() -> None:
    model = ItemModel()
    with pytest.raises(CaptureError) as caught:      # capture itself: no CPU fallback
        capture(model, (torch.empty(1, 4, device="meta"),), {}, device="meta")
    assert "--device cpu" in str(caught.value) and "Check the input shape" not in str(
        caught.value)
    assert is_meta_limitation(caught.value.__cause__)  # what the fallback looks for
    report = netanatomy.analyze(model, (1, 4))         # the fallback runs it on the CPU
    assert report.capture.device == "cpu"
    assert any("ran on cpu" in note and ".item()" in note for note in report.capture.notes)


class KeywordOnly(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, *, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


class NeedsMask(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.fc(x * mask)


def test_a_keyword_only_forward_suggests_keyword_inputs() -> None:
    message = failure(KeywordOnly(), "2x4")
    assert "--input x=SHAPE" in message and "keyword-only x (required)" in message
    report = netanatomy.analyze(KeywordOnly(), ["x=2x4"])            # and that works
    assert report.totals.macs == 2 * 4 * 2


def test_a_missing_positional_input_lists_the_inputs() -> None:
    message = failure(NeedsMask(), "2x4")
    assert "positional x, mask" in message and "--input mask=SHAPE" in message
    assert netanatomy.analyze(NeedsMask(), ["2x4", "mask=2x4"]).totals.macs == 2 * 4 * 2


def test_a_type_error_inside_forward_is_not_taken_for_a_signature_problem() -> None:
    class Broken(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat(x, 1)                  # type: ignore[call-overload]

    message = failure(Broken(), "2x4")
    assert "forward takes" not in message


@pytest.mark.parametrize("make", [
    lambda m: torch.jit.script(m), lambda m: torch.jit.trace(m, torch.zeros(1, 4))])
def test_torchscript_modules_ask_for_the_eager_module(make: object) -> None:
    scripted = make(nn.Linear(4, 2))  # type: ignore[operator]
    for call in (lambda: netanatomy.analyze(scripted, (1, 4)),
                 lambda: netanatomy.lint(scripted, (2, 4)),
                 lambda: netanatomy.diagnose(scripted, input_size=(2, 4))):
        with pytest.raises(UsageError, match=r"pass the eager module \(before "
                                             r"torch.jit.script/trace\)"):
            call()


def test_mixed_dtypes_are_refused_on_meta_as_the_cpu_refuses_them() -> None:
    # meta kernels of matrix products skip the dtype check the CPU kernel makes
    layer = nn.Linear(4, 3)
    with pytest.raises(RuntimeError, match="same dtype"):
        layer(torch.zeros(2, 4, dtype=torch.float16))
    with pytest.raises(netanatomy.CaptureError, match=":float32"):
        netanatomy.analyze(layer, ["2x4:float16"])
    assert netanatomy.analyze(layer.half(), ["2x4:float16"]).totals.macs == 2 * 4 * 3
