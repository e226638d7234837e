"""Megatron tensor parallelism found from the captured step: the plan on Llama and GPT-2
configs, per-device parameter bytes against a hand count of the shards, saved activations
against Korthikanti et al.'s per-layer formula, divisibility errors, tp=1 unchanged, and
the composition with ZeRO (devices = dp × tp)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import netanatomy
from netanatomy.errors import UsageError


def llama(heads: int = 4, kv_heads: int = 2, layers: int = 2) -> nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=kv_heads,
                         vocab_size=96)
    with torch.device("meta"):
        return LlamaForCausalLM(config)


IDS = torch.zeros(2, 8, dtype=torch.int64, device="meta")


def roles(report: object) -> dict[str, tuple[str, int | None]]:
    return {e.param: (e.role, e.axis) for e in report.tensor_parallel.plan}  # type: ignore[attr-defined]


def test_the_llama_plan_splits_attention_and_mlp_and_the_vocabulary() -> None:
    report = netanatomy.training(llama(), example_inputs=IDS, tp=2)
    plan = roles(report)
    layer = "model.layers.0."
    for name in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                 "mlp.gate_proj", "mlp.up_proj"):
        assert plan[layer + name + ".weight"] == ("column", 0)   # nn.Linear: (out, in)
    for name in ("self_attn.o_proj", "mlp.down_proj"):
        assert plan[layer + name + ".weight"] == ("row", 1)
    assert plan["model.embed_tokens.weight"] == ("vocab", 0)
    assert plan["lm_head.weight"] == ("vocab", 0)
    for name in (layer + "input_layernorm.weight", "model.norm.weight"):
        assert plan[name] == ("replicated", None)
    regions = report.tensor_parallel.regions
    assert len(regions) == 4                                     # 2 per layer
    assert (regions[0].heads, regions[0].kv_heads) == (4, 2)
    assert regions[1].rows == ("model.layers.0.mlp.down_proj",)


def test_gpt2_conv1d_weights_are_split_on_their_own_axes() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(n_embd=64, n_layer=1, n_head=4, vocab_size=96, n_positions=16)
    with torch.device("meta"):
        model = GPT2LMHeadModel(config)
    plan = roles(netanatomy.training(model, example_inputs=IDS, tp=4))
    block = "transformer.h.0."
    # Conv1D keeps its weight as (in, out): column = axis 1, row = axis 0
    assert plan[block + "attn.c_attn.weight"] == ("column", 1)   # fused qkv, per head
    assert plan[block + "attn.c_attn.bias"] == ("column", 0)
    assert plan[block + "attn.c_proj.weight"] == ("row", 0)
    assert plan[block + "attn.c_proj.bias"] == ("replicated", None)
    assert plan[block + "mlp.c_fc.weight"] == ("column", 1)
    assert plan[block + "mlp.c_proj.weight"] == ("row", 0)
    assert plan["transformer.wte.weight"] == ("vocab", 0)         # tied with the head
    assert plan["transformer.wpe.weight"] == ("replicated", None)  # positions: not ids


def test_parameter_bytes_per_device_are_the_shards_counted_by_hand() -> None:
    t = 2
    report = netanatomy.training(llama(), example_inputs=IDS, tp=t, optimizer="sgd")
    h, inter, vocab, kv = 64, 128, 96, 2 * 16        # kv: 2 KV heads × head_dim 16
    split = (h * h + 2 * h * kv + h * h              # q, k, v, o
             + 3 * h * inter)                        # gate, up, down
    whole_per_layer = 2 * h                          # two RMSNorm weights
    per_device = 2 * (split // t + whole_per_layer) + 2 * vocab * h // t + h  # + final norm
    assert report.tensor_parallel.by_category["parameters"] == 4 * per_device   # float32


def test_kv_heads_fewer_than_t_are_replicated_one_per_device() -> None:
    report = netanatomy.training(llama(heads=4, kv_heads=2, layers=1), example_inputs=IDS,
                                 tp=4)
    k_proj = next(e for e in report.tensor_parallel.plan
                  if e.param == "model.layers.0.self_attn.k_proj.weight")
    assert k_proj.share == pytest.approx(1 / 2) and "one" in k_proj.note


@pytest.mark.parametrize(("heads", "kv", "tp", "message"), [
    (4, 4, 3, "does not divide the 4 heads of model.layers.0.self_attn.q_proj"),
    (4, 2, 8, "does not divide the 4 heads"),
    (6, 6, 4, "does not divide the 6 heads"),
])
def test_degrees_that_do_not_divide_are_refused_naming_the_module(
        heads: int, kv: int, tp: int, message: str) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(hidden_size=heads * 16, intermediate_size=128, num_hidden_layers=1,
                         num_attention_heads=heads, num_key_value_heads=kv, vocab_size=96,
                         head_dim=16)
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    with pytest.raises(UsageError, match=message):
        netanatomy.training(model, example_inputs=IDS, tp=tp)


def test_vocabulary_and_mlp_sizes_must_divide_too() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(hidden_size=64, intermediate_size=120, num_hidden_layers=1,
                         num_attention_heads=4, num_key_value_heads=4, vocab_size=90)
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    with pytest.raises(UsageError, match="4 does not divide the 90 vocabulary rows of "
                                         "model.embed_tokens"):
        netanatomy.training(model, example_inputs=IDS, tp=4)
    config = LlamaConfig(hidden_size=64, intermediate_size=126, num_hidden_layers=1,
                         num_attention_heads=4, num_key_value_heads=4, vocab_size=96)
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    with pytest.raises(UsageError, match="4 does not divide the 126 output features of "
                                         "model.layers.0.mlp.gate_proj"):
        netanatomy.training(model, example_inputs=IDS, tp=4)


def test_nothing_to_split_and_bad_degrees_are_refused() -> None:
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8), nn.Linear(8, 2))
    with pytest.raises(UsageError, match="nothing to split"):
        netanatomy.training(model, (4, 8), tp=2)
    with pytest.raises(UsageError, match="--tp must be"):
        netanatomy.training(model, (4, 8), tp=0)
    with pytest.raises(UsageError, match="--sequence-parallel"):
        netanatomy.training(model, (4, 8), sequence_parallel=True)


def test_tp_1_leaves_every_number_of_the_report_unchanged() -> None:
    from netanatomy.render.training import training_document

    model = llama()
    plain = training_document(netanatomy.training(model, example_inputs=IDS, shard="zero2",
                                                  dp=4))
    same = training_document(netanatomy.training(model, example_inputs=IDS, shard="zero2",
                                                 dp=4, tp=1))
    assert same["tensor_parallel"] is None
    assert plain == same


def test_zero_composes_over_dp_after_tp_a_hand_example() -> None:
    dp, t = 4, 2
    model = llama()
    both = netanatomy.training(model, example_inputs=IDS, tp=t, dp=dp, shard="zero1")
    tp = both.tensor_parallel.by_category
    # ZeRO-1 over dp divides the optimizer state each TP rank holds (Rajbhandari et al.
    # 2020, Figure 1, with the per-device state after tensor parallelism)
    assert both.sharding.by_category["optimizer_state"] == pytest.approx(
        tp["optimizer_state"] / dp)
    assert both.sharding.by_category["parameters"] == tp["parameters"]
    assert both.sharding.total == pytest.approx(
        sum(tp.values()) - tp["optimizer_state"] + tp["optimizer_state"] / dp)


def test_flops_per_device_divide_the_split_matmuls() -> None:
    t = 2
    report = netanatomy.training(llama(), example_inputs=IDS, tp=t)
    tokens, h, inter, kv, vocab, layers = 16, 64, 128, 32, 96, 2
    # forward MACs of the split linears: q, k, v, o, gate, up, down and the LM head
    split = tokens * (layers * (2 * h * h + 2 * h * kv + 3 * h * inter) + h * vocab)
    whole = report.phases["forward"].flops
    per_device = report.tensor_parallel.flops["forward"]
    # what one device saves at least: half of the split matmuls' FLOPs (2 per MAC)
    assert whole - per_device >= 2 * split * (1 - 1 / t)
    assert per_device < whole / 2 + (whole - 2 * split)


class GPTBlock(nn.Module):
    """Korthikanti et al. 2022's transformer layer: LayerNorm, fused QKV, attention with
    softmax and dropout on the scores (no flash attention), output projection, dropout,
    residual; LayerNorm, 4h GeLU MLP, dropout, residual. Dropout as the GPU runs it
    (``native_dropout``: a one-byte mask)."""

    def __init__(self, h: int, a: int, p: float = 0.1) -> None:
        super().__init__()
        self.a, self.p = a, p
        self.ln1, self.ln2 = nn.LayerNorm(h), nn.LayerNorm(h)
        self.qkv, self.proj = nn.Linear(h, 3 * h), nn.Linear(h, h)
        self.fc1, self.fc2 = nn.Linear(h, 4 * h), nn.Linear(4 * h, h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, h = x.shape
        heads = self.qkv(self.ln1(x)).view(b, s, 3, self.a, h // self.a)
        q, k, v = (heads[:, :, i].transpose(1, 2) for i in range(3))
        scores = (q @ k.transpose(-1, -2)) * (1 / math.sqrt(h // self.a))
        probs, _ = torch.native_dropout(scores.softmax(-1), self.p, True)
        context = (probs @ v).transpose(1, 2).reshape(b, s, h)
        x = x + torch.native_dropout(self.proj(context), self.p, True)[0]
        mlp = self.fc2(nn.functional.gelu(self.fc1(self.ln2(x))))
        return x + torch.native_dropout(mlp, self.p, True)[0]


class GPT(nn.Module):
    def __init__(self, h: int, a: int, layers: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*[GPTBlock(h, a) for _ in range(layers)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x.clone())         # the first LayerNorm saves an activation


@pytest.mark.parametrize(("t", "sp"), [(1, False), (2, False), (4, False), (4, True)])
def test_saved_activations_match_korthikanti_table_2(t: int, sp: bool) -> None:
    b, s, h, a, layers = 2, 16, 64, 4, 2
    with torch.device("meta"):
        model = GPT(h, a, layers)
    x = torch.empty(b, s, h, device="meta")
    if t == 1:
        report = netanatomy.training(model, example_inputs=x, precision="fp16",
                                     optimizer="none")
        saved = sum(al.bytes for al in _allocations(model, x)
                    if al.category == "activations_saved")
    else:
        report = netanatomy.training(model, example_inputs=x, precision="fp16",
                                     optimizer="none", tp=t, sequence_parallel=sp)
        saved = report.tensor_parallel.saved_activations
    # Korthikanti et al. 2022, Table 2 (bytes per layer, fp16, 1-byte dropout masks):
    # no SP: sbh(10 + 24/t + 5as/(ht)); SP: sbh(34/t + 5as/(ht))
    replicated = s * b * h * 10 / (t if sp else 1)
    per_layer = replicated + s * b * h * (24 / t + 5 * a * s / (h * t))
    # beyond the table: each LayerNorm also keeps its mean and 1/σ (b·s each, in the dtype
    # torch's own layer norm returns them in), outside the TP regions
    mean = torch.native_layer_norm(torch.empty(b, s, h, dtype=torch.float16, device="meta"),
                                   [h], None, None, 1e-5)[1]
    stats = 2 * 2 * b * s * mean.element_size() / (t if sp else 1)
    assert saved == pytest.approx(layers * (per_layer + stats))
    assert report.phases["forward"].status in ("exact", "partial")


def _allocations(model: nn.Module, x: torch.Tensor) -> tuple[object, ...]:
    from netanatomy.frontends.torch.training import capture_training

    return capture_training(model, (x,), {}, optimizer="none", precision="fp16").allocations
