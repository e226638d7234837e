"""Model FLOPs conventions (netanatomy.analysis.model_flops) against published figures and
the papers' and trainers' own closed forms, written here as arithmetic from the configs."""

from __future__ import annotations

from fractions import Fraction

import pytest

import netanatomy
from netanatomy.analysis.cost import graph_costs
from netanatomy.analysis.model_flops import (
    PRESETS,
    Convention,
    attention_flops,
    mfu,
    model_flops,
    preset,
)
from netanatomy.errors import UsageError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


def capture(model_class, config, input_size, device="meta"):
    """A transformers model built on meta from ``config``, analysed on ``device``."""
    config._attn_implementation = "sdpa"
    if device == "meta":
        with torch.device("meta"):
            model = model_class(config)
    else:
        torch.manual_seed(0)
        model = model_class(config)
    return netanatomy.analyze(model, input_size=input_size, device=device)


@pytest.fixture(scope="module")
def gpt3():
    """GPT-3 175B (Brown et al. 2020, Table 2.1: 96 layers, d_model 12288, 96 heads,
    context 2048; GPT-2 vocabulary of 50257), one 2048-token sequence."""
    config = transformers.GPT2Config(n_layer=96, n_embd=12288, n_head=96, n_positions=2048,
                                     vocab_size=50257)
    return capture(transformers.GPT2LMHeadModel, config, "1x2048:int64")


def gpt2_params(layers: int, h: int, vocab: int, positions: int) -> int:
    """GPT-2 parameters: per layer QKV 3h²+3h, proj h²+h, MLP 8h²+5h, 2 LayerNorms 4h;
    token and position tables; final LayerNorm 2h (the LM head is tied to the tokens)."""
    return layers * (12 * h * h + 13 * h) + vocab * h + positions * h + 2 * h


def llama_params(layers: int, h: int, ff: int, heads: int, kv_heads: int,
                 vocab: int) -> int:
    """Llama parameters: q, o h² each; k, v h·(kv_heads·head_dim) each; SwiGLU 3·h·ff;
    2 RMSNorms h per layer; token table, final norm h and untied LM head vocab·h."""
    kv = kv_heads * (h // heads)
    return layers * (2 * h * h + 2 * h * kv + 3 * h * ff + 2 * h) + 2 * vocab * h + h


def test_gpt3_175b_parameters_and_6nd_match_the_paper(gpt3) -> None:
    n = gpt2_params(96, 12288, 50257, 2048)
    assert gpt3.totals.params == n
    assert round(n / 1e8) == 1746           # Brown et al. 2020, Table D.1: 174,600M params
    result = model_flops(gpt3, 300 * 10**9, "gpt3")    # Table D.1: 300B tokens
    assert result.params == n
    assert result.per_step == 6 * n * 300 * 10**9
    assert f"{float(result.per_step):.2e}" == "3.14e+23"   # Table D.1: 3.14E+23 FLOPs
    # the paper's N includes the embeddings: without them it would round to 174.0B
    assert round(model_flops(gpt3, convention="kaplan").params / 1e8) == 1740


def test_kaplan_is_non_embedding_n_with_the_tables_attention_term(gpt3) -> None:
    layers, h, n_ctx = 96, 12288, 2048
    result = model_flops(gpt3, convention="kaplan")
    assert result.params == layers * (12 * h * h + 13 * h) + 2 * h    # tables wte, wpe out
    assert result.embedding_params == 50257 * h + 2048 * h
    # Kaplan et al. 2020, Table 1: C_forward = 2N + 2·n_layer·n_ctx·d_attn (d_attn = h)
    assert result.forward == 2 * result.params + 2 * layers * n_ctx * h
    assert result.training == 3 * result.forward


def llama2(layers: int, h: int, ff: int, heads: int, kv_heads: int, seq: int):
    config = transformers.LlamaConfig(num_hidden_layers=layers, hidden_size=h,
                                      intermediate_size=ff, num_attention_heads=heads,
                                      num_key_value_heads=kv_heads, vocab_size=32000)
    return capture(transformers.LlamaForCausalLM, config, f"1x{seq}:int64")


@pytest.mark.parametrize(("shape", "name", "billions"), [
    ((32, 4096, 11008, 32, 32), 7, "6.74"),     # Touvron et al. 2023 (Llama 2), Table 1
    ((80, 8192, 28672, 64, 8), 70, "68.98"),    # 70B: grouped-query, 8 KV heads
])
def test_llama2_parameters_and_6nd_for_2t_tokens(shape, name, billions) -> None:
    report = llama2(*shape, seq=128)
    n = llama_params(*shape, vocab=32000)
    assert report.totals.params == n       # 6,738,415,616 and 68,976,648,192
    assert f"{n / 1e9:.2f}" == billions    # the counts quoted beside the sizes' names
    assert abs(n / 1e9 - name) / name < 0.04    # the names 7B / 70B are rounded
    tokens = 2 * 10**12                   # Table 1: 2.0T tokens
    assert model_flops(report, tokens, "gpt3").per_step == 6 * n * tokens


def test_llama2_7b_6nd_is_about_8e22() -> None:
    n = llama_params(32, 4096, 11008, 32, 32, 32000)
    assert f"{6 * n * 2e12:.2e}" == "8.09e+22"


def test_torchtitan_formula_by_hand() -> None:
    layers, h, ff, heads, seq, vocab = 4, 256, 688, 8, 96, 32000
    report = llama2(layers, h, ff, heads, heads, seq)
    n = llama_params(layers, h, ff, heads, heads, vocab)
    result = model_flops(report, convention="torchtitan")
    # torchtitan get_num_flop_per_token: 6·(N − tok_embeddings) + 12·L·H·Q·T
    expected = 6 * (n - vocab * h) + 12 * layers * heads * (h // heads) * seq
    assert result.training == expected
    assert result.per_step == expected * seq


def test_megatron_formula_against_its_closed_form() -> None:
    b, s, layers, h, heads, vocab = 2, 128, 4, 256, 4, 1000
    config = transformers.GPT2Config(n_layer=layers, n_embd=h, n_head=heads, n_positions=s,
                                     vocab_size=vocab)
    report = capture(transformers.GPT2LMHeadModel, config, f"{b}x{s}:int64")
    result = model_flops(report, convention="megatron")
    # Narayanan et al. 2021, eq. 3, per iteration of B sequences
    closed = 96 * b * s * layers * h * h * (1 + Fraction(s, 6 * h)
                                            + Fraction(vocab, 16 * layers * h))
    # eq. 3 counts the matmul weights only: the graph's N also holds the biases and
    # LayerNorms (13h per layer + 2h final), recomputed like the layers (8 FLOPs/param)
    assert result.per_step - closed == 8 * b * s * (13 * layers * h + 2 * h)
    assert result.head_params == vocab * h       # the tied logit layer, not recomputed


def test_recompute_and_causal_options() -> None:
    report = llama2(2, 128, 256, 4, 2, 64)
    plain = model_flops(report, convention=Convention(attention="full"))
    checkpointed = model_flops(report, convention=Convention(recompute="full"))
    assert checkpointed.training == 8 * checkpointed.params      # 8·N per token
    causal = model_flops(report, convention=Convention(attention="causal"))
    assert causal.attention_forward * 2 == plain.attention_forward
    blocks = model_flops(report, convention=Convention(recompute="layers"))
    assert blocks.head_params == 32000 * 128                    # the untied lm_head
    assert blocks.training == 8 * blocks.params - 2 * 32000 * 128
    half = model_flops(report, convention=Convention(backward_factor=Fraction(3, 2)))
    assert half.training == Fraction(5, 2) * half.forward


def test_mixtral_total_and_active_parameters() -> None:
    config = transformers.MixtralConfig(vocab_size=32000, hidden_size=4096,
                                        intermediate_size=14336, num_hidden_layers=32,
                                        num_attention_heads=32, num_key_value_heads=8,
                                        num_local_experts=8, num_experts_per_tok=2)
    report = capture(transformers.MixtralForCausalLM, config, "1x64:int64")
    h, ff, layers, experts, vocab = 4096, 14336, 32, 8, 32000
    attention = 2 * h * h + 2 * h * 1024 + 2 * h    # q, o; k, v (8 heads × 128); 2 norms
    expert = 3 * h * ff
    shared = layers * (attention + h * experts) + 2 * vocab * h + h   # router, tables, norm
    total, active = shared + layers * experts * expert, shared + layers * 2 * expert
    # Jiang et al. 2024 (Mixtral of Experts): 47B total, 13B active; Mistral AI's
    # announcement: 46.7B total, 12.9B per token
    assert (report.totals.params, report.totals.active_params) == (total, active)
    assert (round(total / 1e8), round(active / 1e8)) == (467, 129)
    assert model_flops(report, convention="gpt3").params == active
    assert model_flops(report, convention=preset("gpt3", params="total")).params == total


def tiny_llama(device: str):
    config = transformers.LlamaConfig(num_hidden_layers=2, hidden_size=64,
                                      intermediate_size=128, num_attention_heads=4,
                                      num_key_value_heads=2, vocab_size=100)
    return capture(transformers.LlamaForCausalLM, config, "2x16:int64", device)


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_counted_forward_flops_differ_from_2n_by_the_attention_products(device) -> None:
    """netanatomy's 2·MACs vs the dense term 2·N per token: embedding lookups and norms
    have no MACs, the attention products have no parameters. On meta the attention runs
    as two bmm (eager math), on the CPU as one fused ``attention`` node."""
    report = tiny_llama(device)
    b, s, layers, heads, head_dim, h = 2, 16, 2, 4, 16, 64
    result = model_flops(report, convention=Convention(embeddings="out", attention="full"))
    norms = (2 * layers + 1) * h
    difference = report.totals.flops - (result.dense_forward - 2 * norms) * b * s
    costs = graph_costs(report.graph)
    kinds = {"meta": "matmul", "cpu": "attention"}
    counted = sum(2 * costs[node.index].macs for node in report.graph.nodes
                  if node.kind == kinds[device] and node.path.endswith("self_attn"))
    assert difference == counted == 2 * 2 * b * heads * s * s * head_dim * layers
    assert result.attention_forward * b * s == counted
    products = {"meta": 2 * layers, "cpu": layers}[device]    # two bmm, or one node
    assert attention_flops(report.graph) == (counted, products)


def test_palm_mfu_from_its_published_figures() -> None:
    # Chowdhery et al. 2022: 540.35B params, L 118, H 48, Q 256, T 2048; 238.3K tokens/s
    # on 6144 TPU v4 chips (275 TFLOP/s bf16 each): 46.2 % MFU (Table 3)
    per_token = 6 * 540.35e9 + 12 * 118 * 48 * 256 * 2048
    assert round(mfu(238.3e3 * per_token, 6144 * 275e12), 3) == 0.462
    assert PRESETS["palm"].embeddings == "in"    # without the 4.7B embedding: 45.8 %
    without = 6 * (540.35e9 - 256_000 * 18432) + 12 * 118 * 48 * 256 * 2048
    assert round(mfu(238.3e3 * without, 6144 * 275e12), 3) == 0.458


def test_every_preset_states_its_source(gpt3) -> None:
    for name, convention in PRESETS.items():
        assert convention.name == name and convention.citation
        assert name in model_flops(gpt3, convention=name).text


@pytest.mark.parametrize(("call", "message"), [
    (lambda: Convention(attention="half"), "attention='half'"),
    (lambda: Convention(backward_factor=-1), "backward_factor"),
    (lambda: preset("gpt4"), "no model-FLOPs convention 'gpt4'"),
    (lambda: model_flops(object()), "needs a Report or Graph"),
    (lambda: mfu(1e12, 0), "peak"),
])
def test_bad_input_is_a_usage_error(call, message) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        call()


def test_a_graph_without_tokens_asks_for_them() -> None:
    report = netanatomy.analyze(torch.nn.Linear(8, 4), input_size=(3, 8))
    with pytest.raises(UsageError, match="graph_tokens="):
        model_flops(report)
    result = model_flops(report, 30, "gpt3", graph_tokens=3)
    assert result.per_step == 6 * (8 * 4 + 4) * 30
    with pytest.raises(UsageError, match="tokens=0"):
        model_flops(report, 0, graph_tokens=3)
