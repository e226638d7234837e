"""Every aten op a backward pass and an optimizer step run is counted, and counted right.

``record_training_step`` runs forward, ``loss.backward()`` and ``optimizer.step()`` under
the capture's ``OpRecorder``; no node may be of kind ``unknown``. The counts are checked
against torch's ``FlopCounterMode`` on the same forward + backward (it counts only
matmul-like ops, 2 FLOPs per MAC: compare with netanatomy's 2·MACs; every difference is
explained where it is asserted) and against hand formulas.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from netanatomy.analysis.cost import node_cost
from netanatomy.frontends.torch.capture import OpRecorder
from netanatomy.frontends.torch.tracking import ModuleTracker
from netanatomy.ir.graph import Node

Build = Callable[[], nn.Module]


def scalar_loss(out: Any) -> torch.Tensor:
    """The sum of the model's (first) output: logits, last hidden state or a tuple's head."""
    out = getattr(out, "logits", getattr(out, "last_hidden_state", out))
    if isinstance(out, tuple):
        out = out[0]
    return out.float().sum()


def record_training_step(model: nn.Module, inputs: torch.Tensor,
                         optimizer: torch.optim.Optimizer | None) -> list[Node]:
    """The nodes of forward + backward (+ the optimizer's step), under one recorder."""
    recorder = OpRecorder(ModuleTracker(), {})
    with recorder:
        loss = scalar_loss(model(inputs))
        loss.backward()
        if optimizer is not None:
            optimizer.step()
    return recorder.nodes


def record_phases(model: nn.Module, inputs: torch.Tensor,
                  optimizer: torch.optim.Optimizer | None = None
                  ) -> tuple[list[Node], list[Node], list[Node]]:
    """The nodes of the forward, the backward and the optimizer step, recorded apart."""
    recorders = [OpRecorder(ModuleTracker(), {}) for _ in range(3)]
    with recorders[0]:
        loss = scalar_loss(model(inputs))
    with recorders[1]:
        loss.backward()
    if optimizer is not None:
        with recorders[2]:
            optimizer.step()
    return recorders[0].nodes, recorders[1].nodes, recorders[2].nodes


def macs(nodes: list[Node]) -> int:
    return sum(node_cost(node).macs or 0 for node in nodes)


def elementwise(nodes: list[Node]) -> int:
    return sum(node_cost(node).elementwise_flops or 0 for node in nodes)


def unknown_ops(nodes: list[Node]) -> set[str]:
    return {node.op for node in nodes if node.kind == "unknown"}


def flop_counter_total(model: nn.Module, inputs: torch.Tensor) -> int:
    """FlopCounterMode's FLOPs of the same forward + backward."""
    with FlopCounterMode(display=False) as counter:
        scalar_loss(model(inputs)).backward()
    for param in model.parameters():
        param.grad = None
    return int(counter.get_total_flops())


def tensor(device: str, *shape: int, grad: bool = True) -> torch.Tensor:
    if device == "meta":
        value = torch.empty(*shape, device="meta")
    else:
        value = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    return value.requires_grad_(grad)


def token_ids(device: str, *shape: int, high: int = 50) -> torch.Tensor:
    if device == "meta":
        return torch.empty(*shape, dtype=torch.long, device="meta")
    return torch.randint(0, high, shape, generator=torch.Generator().manual_seed(0))


class Call(nn.Module):
    """``function(x, *modules)``: functional ops with the modules that own the weights."""

    def __init__(self, function: Callable[..., torch.Tensor], *modules: nn.Module) -> None:
        super().__init__()
        self.function = function
        self.parts = nn.ModuleList(modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.function(x, *self.parts)


def qkv(x: torch.Tensor, projection: nn.Module) -> list[torch.Tensor]:
    """(2, 5, 8) → q, k, v of 2 heads of 4."""
    return list(projection(x).view(2, 5, 3, 2, 4).permute(2, 0, 3, 1, 4))


def targets(device: str) -> torch.Tensor:
    return token_ids(device, 3, high=5)


def zeros(device: str) -> torch.Tensor:
    return torch.zeros(3, 5, device=device)


def transformer(name: str) -> Build:
    import transformers

    small = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, vocab_size=50,
                 max_position_embeddings=64)
    configs: dict[str, Callable[[], nn.Module]] = {
        "llama": lambda: transformers.LlamaForCausalLM(transformers.LlamaConfig(**small)),
        "mistral": lambda: transformers.MistralForCausalLM(
            transformers.MistralConfig(**small, sliding_window=4)),
        "mixtral": lambda: transformers.MixtralForCausalLM(transformers.MixtralConfig(
            **small, num_local_experts=4, num_experts_per_tok=2)),
        "gpt2": lambda: transformers.GPT2LMHeadModel(transformers.GPT2Config(
            n_embd=16, n_layer=2, n_head=4, vocab_size=50, n_positions=64)),
        "bert": lambda: transformers.BertModel(transformers.BertConfig(
            hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=32, vocab_size=50, max_position_embeddings=64)),
    }
    return configs[name]


def cases(device: str) -> dict[str, tuple[Build, Callable[[], torch.Tensor]]]:
    """Model families of the brief: builder and input."""
    t = lambda *shape: lambda: tensor(device, *shape)  # noqa: E731
    d = device
    found: dict[str, tuple[Build, Callable[[], torch.Tensor]]] = {
        "mlp": (lambda: nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)),
                lambda: tensor(d, 3, 8, grad=False)),
        "conv": (lambda: nn.Conv2d(4, 8, 3, stride=2, padding=1), t(2, 4, 9, 9)),
        "conv_groups_dilation": (lambda: nn.Conv2d(4, 8, 3, groups=2, dilation=2),
                                 t(2, 4, 9, 9)),
        "conv1d": (lambda: nn.Conv1d(4, 8, 3), t(2, 4, 9)),
        "conv3d": (lambda: nn.Conv3d(2, 3, 3), t(1, 2, 5, 5, 5)),
        "conv_transpose": (lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1,
                                                      output_padding=1, groups=2),
                           t(1, 4, 5, 5)),
        "batch_norm": (lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)),
                       t(2, 3, 8, 8)),
        "layer_norm": (lambda: nn.LayerNorm(8), t(2, 3, 8)),
        "group_norm": (lambda: nn.GroupNorm(2, 4), t(2, 4, 5, 5)),
        "rms_norm": (lambda: nn.RMSNorm(8), t(2, 3, 8)),
        "max_pool": (lambda: nn.Sequential(nn.Conv2d(3, 3, 1), nn.MaxPool2d(3, 2, padding=1)),
                     t(2, 3, 8, 8)),
        "max_pool3d": (lambda: nn.Sequential(nn.Conv3d(2, 2, 1), nn.MaxPool3d(2)),
                       t(1, 2, 4, 4, 4)),
        "avg_pool": (lambda: nn.Sequential(nn.Conv2d(3, 3, 1), nn.AvgPool2d(3, 2, padding=1)),
                     t(2, 3, 8, 8)),
        "avg_pool3d": (lambda: nn.Sequential(nn.Conv3d(2, 2, 1), nn.AvgPool3d(2)),
                       t(1, 2, 4, 4, 4)),
        "adaptive_avg": (lambda: nn.Sequential(nn.Conv2d(3, 3, 1), nn.AdaptiveAvgPool2d((3, 2))),
                         t(2, 3, 8, 8)),
        "adaptive_max": (lambda: nn.Sequential(nn.Conv2d(3, 3, 1), nn.AdaptiveMaxPool2d((3, 2))),
                         t(2, 3, 8, 8)),
        "embedding": (lambda: nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 2)),
                      lambda: token_ids(d, 2, 5, high=10)),
        "embedding_bag": (lambda: nn.EmbeddingBag(10, 4, mode="mean"),
                          lambda: token_ids(d, 2, 5, high=10)),
        "dropout": (lambda: nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5)), t(2, 4)),
        "cross_entropy": (lambda: Call(lambda x, lin: F.cross_entropy(lin(x), targets(d)),
                                       nn.Linear(4, 5)), t(3, 4)),
        "nll": (lambda: Call(lambda x, lin: F.nll_loss(F.log_softmax(lin(x), -1), targets(d)),
                             nn.Linear(4, 5)), t(3, 4)),
        "mse": (lambda: Call(lambda x, lin: F.mse_loss(lin(x), zeros(d)), nn.Linear(4, 5)),
                t(3, 4)),
        "bce_logits": (lambda: Call(lambda x, lin: F.binary_cross_entropy_with_logits(
            lin(x), zeros(d)), nn.Linear(4, 5)), t(3, 4)),
        "lstm": (lambda: nn.LSTM(4, 6, num_layers=2, bidirectional=True), t(5, 2, 4)),
        "gru": (lambda: nn.GRU(4, 6, num_layers=2), t(5, 2, 4)),
        "multihead_attention": (lambda: Call(lambda x, m: m(x, x, x)[0],
                                             nn.MultiheadAttention(8, 2, batch_first=True)),
                                t(2, 5, 8)),
        "multihead_attention_fast": (lambda: Call(
            lambda x, m: m(x, x, x, need_weights=False)[0],
            nn.MultiheadAttention(8, 2, batch_first=True)), t(2, 5, 8)),
        "sdpa": (lambda: Call(lambda x, p: F.scaled_dot_product_attention(*qkv(x, p)),
                              nn.Linear(8, 24)), t(2, 5, 8)),
        "sdpa_causal": (lambda: Call(lambda x, p: F.scaled_dot_product_attention(
            *qkv(x, p), is_causal=True), nn.Linear(8, 24)), t(2, 5, 8)),
        "sdpa_mask": (lambda: Call(lambda x, p: F.scaled_dot_product_attention(
            *qkv(x, p), attn_mask=torch.zeros(5, 5, device=d)), nn.Linear(8, 24)),
            t(2, 5, 8)),
    }
    for act in ("relu", "gelu", "silu", "tanh", "sigmoid", "hardswish", "leaky_relu"):
        function = getattr(F, act)
        found[f"activation_{act}"] = (
            lambda f=function: Call(lambda x, lin: f(lin(x)), nn.Linear(4, 6)), t(2, 4))
    for act in ("softmax", "log_softmax"):
        function = getattr(F, act)
        found[f"activation_{act}"] = (
            lambda f=function: Call(lambda x, lin: f(lin(x), -1), nn.Linear(4, 6)), t(2, 4))
    for mode in ("nearest", "nearest-exact", "bilinear", "bicubic"):
        found[f"interpolate_{mode}"] = (lambda m=mode: Call(
            lambda x, c: F.interpolate(c(x), scale_factor=2, mode=m), nn.Conv2d(3, 3, 1)),
            t(1, 3, 4, 4))
    found["interpolate_trilinear"] = (lambda: Call(
        lambda x, c: F.interpolate(c(x), scale_factor=2, mode="trilinear"),
        nn.Conv3d(2, 2, 1)), t(1, 2, 3, 3, 3))
    for name in ("llama", "mistral", "mixtral", "gpt2", "bert"):
        found[name] = (transformer(name), lambda: token_ids(d, 2, 7))
    return found


def optimizers(params: list[nn.Parameter], device: str) -> dict[str, torch.optim.Optimizer]:
    """SGD, SGD with momentum, Adam and AdamW, per-tensor and foreach; fused where torch
    allows it on the device (not on meta: torch refuses ``fused=True`` for meta params)."""
    found: dict[str, torch.optim.Optimizer] = {}
    for foreach in (False, True):
        suffix = "_foreach" if foreach else ""
        found["sgd" + suffix] = torch.optim.SGD(params, lr=0.1, foreach=foreach)
        found["sgd_momentum" + suffix] = torch.optim.SGD(params, lr=0.1, momentum=0.9,
                                                         foreach=foreach)
        found["adam" + suffix] = torch.optim.Adam(params, foreach=foreach)
        found["adamw" + suffix] = torch.optim.AdamW(params, foreach=foreach)
    if device != "meta":
        found["sgd_fused"] = torch.optim.SGD(params, lr=0.1, momentum=0.9, fused=True)
        found["adam_fused"] = torch.optim.Adam(params, fused=True)
        found["adamw_fused"] = torch.optim.AdamW(params, fused=True)
    return found


def build(builder: Build, device: str) -> nn.Module:
    torch.manual_seed(0)
    with torch.device(device), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = builder()
    return model.train()


META_CASES = cases("meta")


@pytest.mark.parametrize("name", sorted(META_CASES))
def test_no_backward_or_optimizer_op_is_uncounted_on_meta(name: str) -> None:
    builder, inputs = META_CASES[name]
    model = build(builder, "meta")
    params = list(model.parameters())
    nodes = record_training_step(model, inputs(), None)
    for optimizer in optimizers(params, "meta").values() if params else ():
        nodes += record_training_step(model, inputs(), optimizer)
    assert unknown_ops(nodes) == set()


CPU_CASES = ("conv", "conv_transpose", "max_pool", "avg_pool3d", "adaptive_avg",
             "adaptive_max", "embedding_bag", "lstm", "multihead_attention_fast", "sdpa",
             "sdpa_causal", "sdpa_mask", "interpolate_bicubic", "llama", "mixtral")


@pytest.mark.parametrize("name", CPU_CASES)
def test_no_op_is_uncounted_on_cpu(name: str) -> None:
    """Real CPU tensors run other kernels: mkldnn_rnn_layer_backward, the CPU flash
    attention backward, the fused optimizers."""
    builder, inputs = cases("cpu")[name]
    model = build(builder, "cpu")
    nodes = []
    for optimizer in optimizers(list(model.parameters()), "cpu").values():
        nodes += record_training_step(model, inputs(), optimizer)
    assert unknown_ops(nodes) == set()


# --- against FlopCounterMode --------------------------------------------------------------

EXACT_FAMILIES = ("mlp", "conv", "conv1d", "conv3d", "batch_norm", "sdpa", "sdpa_causal",
                  "gru", "llama", "gpt2", "bert", "multihead_attention")


@pytest.mark.parametrize("name", EXACT_FAMILIES)
def test_backward_macs_equal_flop_counter_on_meta(name: str) -> None:
    """On meta, SDPA runs its math path (bmm, softmax, bmm; backward bmm's and
    _softmax_backward_data, no recompute), recurrent layers run op by op (addmm / mm):
    FlopCounterMode counts the same products, so 2·MACs of forward + backward are its
    total exactly."""
    builder, inputs = META_CASES[name]
    model = build(builder, "meta")
    x = inputs()
    forward, backward, _ = record_phases(model, x)
    for param in model.parameters():
        param.grad = None
    assert 2 * (macs(forward) + macs(backward)) == flop_counter_total(model, x)


@pytest.mark.parametrize("name, groups", [("conv_groups_dilation", 2), ("conv_transpose", 2)])
def test_grouped_conv_backward_against_flop_counter(name: str, groups: int) -> None:
    """FlopCounterMode's convolution_backward counts the weight gradient as a conv of the
    transposed input with the transposed output gradient, ignoring groups: it counts it
    ``groups`` times. Its total exceeds netanatomy's by (groups − 1) · 2 · forward MACs."""
    builder, inputs = META_CASES[name]
    model = build(builder, "meta")
    x = inputs()
    forward, backward, _ = record_phases(model, x)
    for param in model.parameters():
        param.grad = None
    total = 2 * (macs(forward) + macs(backward))
    assert total + (groups - 1) * 2 * macs(forward) == flop_counter_total(model, x)


def test_cpu_flash_attention_backward_is_flop_counter_formula() -> None:
    """On the CPU, SDPA runs _scaled_dot_product_flash_attention_for_cpu and its backward,
    which FlopCounterMode has no entry for (it counts them 0): its total is only the
    Linear's. netanatomy's attention nodes equal FlopCounterMode's own sdpa formulas
    (recompute of Q·Kᵀ, dV, dP, dK, dQ: 3·E + 2·E_v per score)."""
    builder, inputs = cases("cpu")["sdpa"]
    model = build(builder, "cpu")
    x = inputs()
    forward, backward, _ = record_phases(model, x)
    ops = {node.op for node in backward}
    assert "aten._scaled_dot_product_flash_attention_for_cpu_backward.default" in ops
    attention = [n for n in forward + backward if n.kind in ("attention", "attention_backward")]
    q = k = v = (2, 2, 5, 4)
    assert 2 * macs(attention) == sdpa_flop_count(q, k, v) + sdpa_backward_flop_count(q, q, k, v)
    # by hand: B·H·L·S = 2·2·5·5 scores; forward E + E_v = 8, backward 3·4 + 2·4 = 20 per score
    assert macs([n for n in backward if n.kind == "attention_backward"]) == 2 * 2 * 5 * 5 * 20
    linear = [n for n in forward + backward if n.kind not in ("attention", "attention_backward")]
    for param in model.parameters():
        param.grad = None
    assert 2 * macs(linear) == flop_counter_total(model, x)


def test_llama_on_cpu_differs_from_flop_counter_by_its_attention() -> None:
    """Llama on the CPU: everything FlopCounterMode counts matches; it misses the CPU flash
    attention forward and backward, which netanatomy counts by FlopCounterMode's own
    formula: 2 layers × (forward + backward) of 2·4 heads × 7 × 7 scores, head dim 4."""
    builder, inputs = cases("cpu")["llama"]
    model = build(builder, "cpu")
    x = inputs()
    forward, backward, _ = record_phases(model, x)
    for param in model.parameters():
        param.grad = None
    q = (2, 4, 7, 4)
    attention = 2 * (sdpa_flop_count(q, q, q) + sdpa_backward_flop_count(q, q, q, q))
    assert 2 * (macs(forward) + macs(backward)) == flop_counter_total(model, x) + attention


def test_cpu_lstm_backward_is_twice_the_forward() -> None:
    """mkldnn_rnn_layer(_backward) have no FlopCounterMode formula (it counts 0). The fused
    backward computes dx, dh, dW_ih, dW_hh for every step, the four products of the
    forward's two, twice the forward: T·N·4H·(I + H) = 5·2·24·(4 + 6) MACs forward."""
    model = build(lambda: nn.LSTM(4, 6), "cpu")
    forward, backward, _ = record_phases(model, tensor("cpu", 5, 2, 4))
    assert macs(forward) == 5 * 2 * 24 * (4 + 6)
    assert macs(backward) == 2 * 5 * 2 * 24 * (4 + 6)
    assert {n.attrs["grad"] for n in backward if n.kind == "recurrent_backward"} == {
        "input", "state", "weight", "bias"}


# --- hand formulas ------------------------------------------------------------------------


def grad_nodes(nodes: list[Node], grad: str) -> list[Node]:
    return [node for node in nodes if node.attrs.get("grad") == grad]


@pytest.mark.parametrize("name, forward_macs", [
    ("conv", 2 * 8 * 5 * 5 * 4 * 3 * 3),                  # N·C_out·5·5 outputs·C_in·k²
    ("conv_groups_dilation", 2 * 8 * 5 * 5 * 2 * 3 * 3),  # 9 − 2·2 = 5 per axis, C_in/g = 2
    ("conv1d", 2 * 8 * 7 * 4 * 3),
    ("conv3d", 1 * 3 * 3 * 3 * 3 * 2 * 3 * 3 * 3),
    ("conv_transpose", 1 * 4 * 5 * 5 * 3 * 3 * 3),        # N·C_in·inputs·(C_out/g)·k²
])
def test_conv_gradients_each_cost_the_forward(name: str, forward_macs: int) -> None:
    """grad_input MACs = grad_weight MACs = forward MACs; the bias gradient sums the output
    gradient (1 FLOP per element)."""
    builder, inputs = META_CASES[name]
    forward, backward, _ = record_phases(build(builder, "meta"), inputs())
    assert macs(forward) == forward_macs
    assert macs(grad_nodes(backward, "input")) == forward_macs
    assert macs(grad_nodes(backward, "weight")) == forward_macs
    conv = next(n for n in forward if n.kind in ("conv", "conv_transpose"))
    bias = grad_nodes(backward, "bias")
    assert [n.kind for n in bias] == ["reduction"]
    assert elementwise(bias) == node_cost(conv).elementwise_flops  # = output elements


def test_first_layer_gets_no_input_gradient() -> None:
    """output_mask: an input that needs no gradient costs nothing."""
    model = build(lambda: nn.Conv2d(4, 8, 3, stride=2, padding=1), "meta")
    _, backward, _ = record_phases(model, tensor("meta", 2, 4, 9, 9, grad=False))
    assert grad_nodes(backward, "input") == []
    assert macs(backward) == 2 * 8 * 5 * 5 * 4 * 3 * 3


def test_linear_backward_is_twice_the_forward() -> None:
    """x·Wᵀ: dX = dY·W and dW = dYᵀ·X, each rows·in·out MACs."""
    model = build(lambda: nn.Linear(8, 16), "meta")
    forward, backward, _ = record_phases(model, tensor("meta", 2, 3, 8))
    assert macs(forward) == 2 * 3 * 8 * 16
    assert macs(backward) == 2 * (2 * 3 * 8 * 16)


def test_math_attention_backward_on_meta() -> None:
    """On meta, SDPA's math path saves the probabilities: the backward has dV, dP, dQ, dK
    products (2·E + 2·E_v per score), no recompute: 2 × the forward's two products."""
    model = build(lambda: Call(lambda x, p: F.scaled_dot_product_attention(*qkv(x, p)),
                               nn.Identity()), "meta")
    x = tensor("meta", 2, 5, 24)
    forward, backward, _ = record_phases(model, x)
    scores = 2 * 2 * 5 * 5
    assert macs(forward) == scores * (4 + 4)
    assert macs(backward) == scores * 2 * (4 + 4)


def test_foreach_and_fused_optimizers_count_as_the_per_tensor_loop() -> None:
    """One step of Adam / AdamW / SGD(momentum) costs the same elementwise FLOPs whether it
    runs per tensor, foreach or fused: Adam 7, AdamW 8 per parameter element (+ the scalar
    step counters), SGD 1, SGD momentum 1 on the first step (the buffer copies the gradient)
    and 3 afterwards."""
    per_element = {"adam": 7, "adamw": 8, "sgd": 1, "sgd_momentum": 3}
    for name, expected in per_element.items():
        counts = []
        for mode in ({"foreach": False}, {"foreach": True}, {"fused": True}):
            model = build(lambda: nn.Sequential(nn.Linear(8, 16), nn.Linear(16, 4)), "cpu")
            cls, options = {"adam": (torch.optim.Adam, {}), "adamw": (torch.optim.AdamW, {}),
                            "sgd": (torch.optim.SGD, {"lr": 0.1}),
                            "sgd_momentum": (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9})
                            }[name]
            optimizer = cls(model.parameters(), **options, **mode)
            for _ in range(2):  # the second step is the steady one
                _, _, step = record_phases(model, tensor("cpu", 3, 8), optimizer)
            counts.append(elementwise([n for n in step if n.inputs[0].shape != ()]))
        params = 8 * 16 + 16 + 16 * 4 + 4
        assert counts == [expected * params] * 3, name
