"""Serving costs (netanatomy.analysis.inference, netanatomy.inference_api) against
independent sources: vLLM's KV-cache formula, Kaplan et al.'s decode FLOPs, hand liveness
and fit arithmetic, and a third capture for the decode line."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import netanatomy
from netanatomy.analysis import inference as fold
from netanatomy.errors import UsageError
from netanatomy.inference_api import decode_phases, forward_parameters, inference

transformers = pytest.importorskip("transformers")
warnings.filterwarnings("ignore", category=FutureWarning)


def causal_lm(config_class: type, model_class: type, **fields: object) -> nn.Module:
    with torch.device("meta"):
        return model_class(config_class(**fields)).half()


def llama(**fields: object) -> nn.Module:
    return causal_lm(transformers.LlamaConfig, transformers.LlamaForCausalLM, **fields)


def vllm_page_bytes(block_size: int, num_kv_heads: int, head_size: int, dtype_size: int) -> int:
    # vLLM vllm/v1/kv_cache_interface.py, AttentionSpec.real_page_size_bytes:
    #   2 * block_size * num_kv_heads * head_size * get_dtype_size(dtype)   (2: K and V)
    return 2 * block_size * num_kv_heads * head_size * dtype_size


def test_llama2_7b_kv_bytes_per_token_is_vllms() -> None:
    # Llama-2-7B: 32 layers, 32 heads (no GQA), head_dim 4096/32 = 128, fp16
    model = llama(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                  num_attention_heads=32, num_key_value_heads=32, vocab_size=32000)
    report = inference(model, prompt=8, generate=2, batch=1)
    assert report.kv_bytes_per_token == 32 * vllm_page_bytes(1, 32, 128, 2) == 524_288
    assert report.config_check == ()
    assert report.kv_bytes == 524_288 * (8 + 2)


def test_gqa_cache_holds_the_unexpanded_heads() -> None:
    # Llama-3-8B: 32 layers, 32 query heads, 8 kv heads, head_dim 128; 4 layers captured
    model = llama(hidden_size=4096, intermediate_size=14336, num_hidden_layers=4,
                  num_attention_heads=32, num_key_value_heads=8, vocab_size=128256)
    report = inference(model, prompt=8, generate=2, batch=2, kv_dtype="bf16")
    assert {layer.heads_kv for layer in report.layers} == {8}
    per_layer = vllm_page_bytes(1, 8, 128, 2)                  # 4,096 bytes per token
    assert report.kv_bytes_per_token == 4 * per_layer
    assert 32 * per_layer == 131_072                           # the whole 32-layer model
    fp8 = inference(model, prompt=8, generate=2, batch=2, kv_dtype="fp8")
    assert fp8.kv_bytes == 2 * 10 * 4 * vllm_page_bytes(1, 8, 128, 1)


def test_mistral_sliding_window_caps_the_cache() -> None:
    # Mistral-7B v0.1: 32 layers, 8 kv heads, head_dim 128, sliding_window 4096 (config);
    # 2 layers captured, the formula is per layer
    with torch.device("meta"):
        model = transformers.MistralForCausalLM(transformers.MistralConfig(
            hidden_size=4096, intermediate_size=14336, num_hidden_layers=2,
            num_attention_heads=32, num_key_value_heads=8, vocab_size=32000,
            sliding_window=4096)).half()
    report = inference(model, prompt=8, generate=2, batch=1)
    assert {layer.window for layer in report.layers} == {4096}
    assert 32 * vllm_page_bytes(1, 8, 128, 2) == 131_072       # bytes per token, 32 layers
    per_layer = vllm_page_bytes(1, 8, 128, 2)
    assert fold.kv_bytes(report.layers, 1, 8192) == 2 * per_layer * 4096   # capped
    assert fold.kv_bytes(report.layers, 3, 1000) == 2 * per_layer * 1000 * 3
    assert any("sliding window 4096" in note for note in report.notes)


def test_decode_flops_per_token_against_kaplan() -> None:
    # Kaplan et al. 2020, "Scaling Laws for Neural Language Models", Table 1: forward FLOPs
    # per token = 2N (N = non-embedding weights) + 2·n_layer·n_ctx·d_attn for the
    # attention "mask" (Q·Kᵀ). Kaplan counts only Q·Kᵀ; P·V costs as much again, so the
    # matmul FLOPs are 2N + 2·2·n_layer·n_ctx·d_attn. The de-embedding (lm_head, 2·d·V) is
    # a weight matmul here (in N); norms, rotary, SiLU, softmax are elementwise, apart.
    d, ff, layers, heads, kv_heads, vocab = 64, 160, 3, 4, 2, 96
    model = llama(hidden_size=d, intermediate_size=ff, num_hidden_layers=layers,
                  num_attention_heads=heads, num_key_value_heads=kv_heads, vocab_size=vocab)
    head_dim = d // heads
    n_linear = layers * (d * d + 2 * d * kv_heads * head_dim + d * d + 3 * d * ff) + d * vocab
    prompt, generate, batch = 12, 6, 2
    report = inference(model, prompt=prompt, generate=generate, batch=batch)
    first, last = report.decode_first, report.decode_last
    assert first is not None and last is not None
    for step in (first, last):
        n_ctx = step.context                       # past + the new token
        assert step.macs.value is not None
        assert 2 * step.macs.value / batch == 2 * n_linear + 2 * 2 * layers * n_ctx * d


def test_decode_line_matches_a_third_capture() -> None:
    model = llama(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=1, vocab_size=50)
    batch, prompt, generate = 2, 10, 9
    sites = fold.attention_sites(netanatomy.analyze(model, example_inputs={
        "input_ids": torch.zeros(batch, prompt, dtype=torch.long, device="meta"),
        "cache": transformers.DynamicCache(), "use_cache": True}).graph, batch)
    layers, _ = fold.kv_layers(sites, prompt)
    from netanatomy.api import analyze_inputs
    first, last, note = decode_phases(model, forward_parameters(model), layers, batch,
                                      prompt, generate, analyze_inputs)
    assert note is None
    a, z = fold.phase_cost(first, batch, prompt + 1), fold.phase_cost(last, batch,
                                                                       prompt + generate)
    middle_graph, _, _ = decode_phases(model, forward_parameters(model), layers, batch,
                                       prompt + 4, generate, analyze_inputs)
    middle = fold.phase_cost(middle_graph, batch, prompt + 5)
    line = fold.interpolate(a, z, prompt + 5)
    assert (line.flops.value, line.macs.value, line.bytes.value) == (
        middle.flops.value, middle.macs.value, middle.bytes.value)
    # sum of the steps: the arithmetic series of the line
    total = fold.decode_steps_flops(a, z, generate - 1)
    assert total.value == sum(fold.interpolate(a, z, prompt + 1 + t).flops.value
                              for t in range(generate - 1))


def test_activation_peak_by_hand() -> None:
    # Linear(8→16) → ReLU → Linear(16→4), batch 2, fp32: at the ReLU both its input and
    # its output are live: 2·(2·16·4) = 256 bytes; later 128 + 2·4·4 = 160
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    graph = netanatomy.analyze(model, (2, 8)).graph
    assert fold.activation_peak(graph) == 2 * (2 * 16 * 4)


class CrossDecoder(nn.Module):
    """One self-attention over the tokens and one cross-attention over a fixed memory."""

    def __init__(self, source: int = 9, dim: int = 16, heads: int = 2) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, dim)
        self.memory = nn.Parameter(torch.zeros(1, source, dim))
        self.q, self.k, self.v = (nn.Linear(dim, dim) for _ in range(3))
        self.heads = heads

    def split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        return x.view(b, n, self.heads, d // self.heads).transpose(1, 2)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(input_ids)
        x = F.scaled_dot_product_attention(self.split(self.q(x)), self.split(self.k(x)),
                                           self.split(self.v(x)), is_causal=True)
        x = x.transpose(1, 2).flatten(2)
        memory = self.memory.expand(x.shape[0], -1, -1)
        y = F.scaled_dot_product_attention(self.split(self.q(x)), self.split(self.k(memory)),
                                           self.split(self.v(memory)))
        return y.transpose(1, 2).flatten(2)


def test_cross_attention_cache_has_the_source_length() -> None:
    report = inference(CrossDecoder(), prompt=5, generate=3, batch=2)
    kinds = [(layer.kind, layer.heads_kv, layer.source_length) for layer in report.layers]
    assert kinds == [("self", 2, None), ("cross", 2, 9)]
    # fp32, 2 heads × 8 dims, K and V: self 2·16·4 bytes × 8 tokens, cross × 9 fixed
    assert report.kv_bytes == 2 * (2 * 16 * 4) * (5 + 3) + 2 * (2 * 16 * 4) * 9
    assert report.decode_first is None
    assert any("prefill only" in note for note in report.notes)


def test_fit_by_hand() -> None:
    layer = fold.KVLayer(0, "a", "self", 8, 128, 128, 1024, 1024, 2, "float16")
    windowed = fold.KVLayer(1, "b", "self", 8, 128, 128, 1024, 1024, 2, "float16",
                            window=100)
    gib = 2**30
    result = fold.fit([layer, windowed], 2, weights=10 * gib, activations=2 * gib,
                      capacity=16 * gib, batch=4, context=1000, usable_fraction=0.75)
    budget = 12 * gib - 10 * gib - 2 * gib                     # 0.75·16 − 10 − 2 = 0
    assert result.kv_budget == budget == 0 and result.max_batch == 0 and not result.fits
    result = fold.fit([layer, windowed], 2, weights=10 * gib, activations=gib,
                      capacity=16 * gib, batch=4, context=1000, usable_fraction=0.75)
    per_sequence = 2048 * 2 * 1000 + 2048 * 2 * 100            # bytes, window caps layer b
    assert result.max_batch == gib // per_sequence
    # largest context c at batch 4: 4·(4096·c + 4096·100) ≤ 2^30
    assert result.max_context == (gib // 4 - 4096 * 100) // 4096
    assert fold.fit([windowed], 2, 0, 0, gib, 1, 10).max_context is None   # unbounded


def test_bad_arguments_are_usage_errors() -> None:
    model = llama(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                  num_attention_heads=2, num_key_value_heads=2, vocab_size=50)
    with pytest.raises(UsageError, match="kv-dtype"):
        inference(model, prompt=4, generate=2, kv_dtype="fp5")
    with pytest.raises(UsageError, match="prompt"):
        inference(model, prompt=0)
    with pytest.raises(UsageError, match="window"):
        inference(model, prompt=4, generate=2, window=[4, 4])
    with pytest.raises(UsageError, match="no attention"):
        inference(nn.Embedding(10, 4), prompt=4, generate=2)
