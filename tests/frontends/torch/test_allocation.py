"""Activation bytes count real allocations only: every view-like op and every in-place op
allocates nothing, whatever its schema says (``_unsafe_view`` after the ``mm`` of a
bias-free ``Linear`` on a 3-d input was counted as a second copy of the output), and
bytes follow the dtype's size. Expected values are hand counts of the allocations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import netanatomy
from netanatomy.frontends.torch.aten import shape
from netanatomy.frontends.torch.aten.registry import adapters

aten = torch.ops.aten
SHAPE = (2, 3, 4)
H_BYTES = 2 * 3 * 4 * 4  # h = x * 2: the one allocation, 24 float32 elements

VIEW_CASES: dict[str, Callable[[torch.Tensor], Any]] = {
    "view": lambda h: h.view(6, 4),
    "_unsafe_view": lambda h: aten._unsafe_view(h, [6, 4]),
    "reshape": lambda h: h.reshape(6, 4),                 # contiguous: a view
    "_reshape_alias": lambda h: aten._reshape_alias(h, [6, 4], [4, 1]),
    "expand": lambda h: h.unsqueeze(0).expand(5, 2, 3, 4),
    "squeeze": lambda h: h.unsqueeze(1).squeeze(1),
    "unsqueeze": lambda h: h.unsqueeze(0),
    "select": lambda h: h.select(0, 1),
    "narrow": lambda h: h.narrow(1, 0, 2),
    "alias": lambda h: aten.alias(h),
    "detach": lambda h: h.detach(),
    "as_strided": lambda h: h.as_strided((6, 4), (4, 1)),
    "unfold": lambda h: h.unfold(2, 2, 1),
    "split": lambda h: h.split(2, dim=2),
    "split_with_sizes": lambda h: h.split([1, 3], dim=2),
    "unsafe_split": lambda h: aten.unsafe_split(h, 2, 2),
    "chunk": lambda h: h.chunk(2, dim=2),
    "unbind": lambda h: h.unbind(0),
    "diagonal": lambda h: h.diagonal(0, 1, 2),
    "view_as_complex": lambda h: torch.view_as_complex(h.view(2, 3, 2, 2)),
    "view_as_real": lambda h: torch.view_as_real(h),      # h complex (see COMPLEX_INPUT)
    "lift_fresh": lambda h: aten.lift_fresh(h),
    "movedim": lambda h: h.movedim(0, 2),
    "permute": lambda h: h.permute(2, 0, 1),
    "transpose": lambda h: h.transpose(0, 1),
    "t": lambda h: h[0].t(),
    "swapaxes": lambda h: h.swapaxes(0, 2),
    "numpy_T": lambda h: aten.numpy_T(h[0]),
    "slice": lambda h: h[:, 1:],
}
COMPLEX_INPUT = {"view_as_real"}

IN_PLACE_CASES: dict[str, Callable[[torch.Tensor], Any]] = {
    "relu_": lambda h: h.relu_(),
    "add_": lambda h: h.add_(1.0),
    "mul_": lambda h: h.mul_(3.0),
    "sub_": lambda h: h.sub_(1.0),
    "div_": lambda h: h.div_(2.0),
    "sigmoid_": lambda h: h.sigmoid_(),
    "tanh_": lambda h: h.tanh_(),
    "exp_": lambda h: h.exp_(),
    "clamp_": lambda h: h.clamp_(0.0, 1.0),
    "fill_": lambda h: h.fill_(1.0),
    "zero_": lambda h: h.zero_(),
    "add_ tensor": lambda h: h.add_(h),
    "relu inplace module": lambda h: nn.ReLU(inplace=True)(h),
    "leaky_relu inplace": lambda h: F.leaky_relu(h, inplace=True),
    "hardtanh inplace": lambda h: F.hardtanh(h, inplace=True),
    "chain of in-place ops": lambda h: h.mul_(2.0).add_(1.0).relu_(),
}


class OneOp(nn.Module):
    """``h = x * 2`` (allocates), then ``op(h)``."""

    def __init__(self, op: Callable[[torch.Tensor], Any]) -> None:
        super().__init__()
        self.op = op

    def forward(self, x: torch.Tensor) -> Any:
        return self.op(x * 2)


def view_registered_names() -> set[str]:
    """Every aten name registered as kind ``view``: the VIEWS table, the permute family
    and slice."""
    special = {shape.adapt_permute, shape.adapt_slice}
    return set(shape.VIEWS) | {name.removeprefix("aten.") for name, adapter
                               in adapters().items() if adapter in special}


def activation_bytes(op: Callable[[torch.Tensor], Any], dtype: torch.dtype) -> Any:
    x = torch.empty(SHAPE, dtype=dtype, device="meta")
    return netanatomy.analyze(OneOp(op), example_inputs=x).totals.activation_bytes


def test_every_view_registered_op_has_a_case() -> None:
    assert view_registered_names() <= set(VIEW_CASES)


@pytest.mark.parametrize("name", sorted(VIEW_CASES))
def test_view_ops_allocate_nothing(name: str) -> None:
    dtype = torch.complex64 if name in COMPLEX_INPUT else torch.float32
    itemsize = 8 if name in COMPLEX_INPUT else 4
    assert activation_bytes(VIEW_CASES[name], dtype) == 2 * 3 * 4 * itemsize


def test_the_view_ops_are_really_run() -> None:
    """The cases call the op itself where it is not a composite of other views."""
    x = torch.empty(SHAPE, device="meta")
    composite = {"reshape", "chunk", "movedim", "swapaxes", "numpy_T", "split", "narrow"}
    missing = {}
    for name in sorted(set(VIEW_CASES) - composite):
        model = OneOp(VIEW_CASES[name])
        inputs = x.to(torch.complex64) if name in COMPLEX_INPUT else x
        ops = {node.op.split(".")[1] for node in
               netanatomy.analyze(model, example_inputs=inputs).graph.nodes}
        if name not in ops:
            missing[name] = ops
    assert not missing


@pytest.mark.parametrize("name", sorted(IN_PLACE_CASES))
def test_in_place_ops_allocate_nothing(name: str) -> None:
    assert activation_bytes(IN_PLACE_CASES[name], torch.float32) == H_BYTES


def test_reshape_of_a_non_contiguous_tensor_allocates_its_copy_once() -> None:
    # transpose (view) → reshape = clone (24 elements) + _unsafe_view of the clone
    op: Callable[[torch.Tensor], Any] = lambda h: h.transpose(1, 2).reshape(2, 12)  # noqa: E731
    assert activation_bytes(op, torch.float32) == H_BYTES + 2 * 3 * 4 * 4


def test_bias_free_linear_on_a_3d_input_counts_its_output_once() -> None:
    model = nn.Linear(16, 32, bias=False)
    report = netanatomy.analyze(model, (2, 5, 16))
    assert report.totals.activation_bytes == 2 * 5 * 32 * 4  # B·T·out float32


def test_llama_lm_head_counts_tokens_times_vocab() -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=1, num_attention_heads=4,
                                      num_key_value_heads=2, vocab_size=128)
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(config).eval()
    report = netanatomy.analyze(model, ["1x8:int64"])
    assert report.layer("lm_head").activation_bytes == 1 * 8 * 128 * 4  # tokens × vocab × 4


def test_param_bytes_do_not_include_buffers() -> None:
    channels = 6
    model = nn.Sequential(nn.Conv2d(3, channels, 1, bias=False), nn.BatchNorm2d(channels))
    totals = netanatomy.analyze(model, (2, 3, 4, 4)).totals
    conv_weight = channels * 3 * 4
    assert totals.param_bytes == conv_weight + 4 * 2 * channels           # + BN weight, bias
    assert totals.buffer_bytes == 4 * 2 * channels + 8  # running mean, var + int64 counter


def test_activation_bytes_follow_the_dtype_size() -> None:
    def model() -> nn.Module:
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(),
                             nn.Linear(8 * 6 * 6, 10))

    single = netanatomy.analyze(model(), (2, 3, 6, 6)).totals.activation_bytes
    half = netanatomy.analyze(model().half(), (2, 3, 6, 6),
                              dtype=torch.float16).totals.activation_bytes
    # conv output, ReLU output, Linear output (Flatten is a view): elements × itemsize
    elements = 2 * 8 * 6 * 6 + 2 * 8 * 6 * 6 + 2 * 10
    assert single == 4 * elements
    assert half == 2 * elements
