"""transformers' mixture-of-experts models on meta: grouped experts counted exactly.

Tiny configs built on the meta device; expected numbers are written from the config:
SwiGLU experts do gate, up and down projections, 3 · hidden · intermediate MACs per routed
row, and every token is routed to top_k experts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

import netanatomy
from netanatomy.render.json import report_to_dict

transformers = pytest.importorskip("transformers")

BATCH, SEQ = 2, 8
TOKENS = BATCH * SEQ


def mixtral() -> Any:
    config = transformers.MixtralConfig(
        vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, num_local_experts=4,
        num_experts_per_tok=2, max_position_embeddings=64)
    return transformers.MixtralForCausalLM, config, config.intermediate_size, 4


def qwen2_moe() -> Any:
    config = transformers.Qwen2MoeConfig(
        vocab_size=64, hidden_size=32, intermediate_size=40, moe_intermediate_size=24,
        shared_expert_intermediate_size=40, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, num_experts=6, num_experts_per_tok=2, decoder_sparse_step=1,
        mlp_only_layers=[], max_position_embeddings=64)
    return transformers.Qwen2MoeForCausalLM, config, config.moe_intermediate_size, 6


def olmoe() -> Any:
    config = transformers.OlmoeConfig(
        vocab_size=64, hidden_size=32, intermediate_size=16, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, num_experts=8, num_experts_per_tok=3,
        max_position_embeddings=64)
    return transformers.OlmoeForCausalLM, config, config.intermediate_size, 8


MODELS: dict[str, Callable[[], Any]] = {"mixtral": mixtral, "qwen2_moe": qwen2_moe,
                                        "olmoe": olmoe}


def build(name: str, dtype: torch.dtype) -> tuple[Any, Any, int, int]:
    cls, config, intermediate, experts = MODELS[name]()
    with torch.device("meta"):
        model = cls(config).to(dtype)
    return model, config, intermediate, experts


def analyze(model: Any) -> Any:
    return netanatomy.analyze(model, example_inputs={
        "input_ids": torch.zeros(BATCH, SEQ, dtype=torch.long)})


def expert_macs(report: Any) -> int:
    return sum(netanatomy.analysis.cost.node_cost(node).macs for node in report.graph.nodes
               if node.kind == "grouped_matmul")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_grouped_experts_are_exact_on_meta(name, dtype) -> None:
    model, config, intermediate, _ = build(name, dtype)
    assert config._experts_implementation == "grouped_mm"      # transformers' default
    report = analyze(model)
    assert report.capture.device == "meta"
    assert report.totals.status == "exact", report.uncounted
    layers, top_k, hidden = config.num_hidden_layers, config.num_experts_per_tok, \
        config.hidden_size
    # per layer: TOKENS · top_k routed rows, each through gate, up (hidden → I) and down
    assert expert_macs(report) == layers * TOKENS * top_k * (3 * hidden * intermediate)


@pytest.mark.parametrize("name", ["mixtral", "qwen2_moe"])
def test_grouped_path_equals_the_eager_loop(name) -> None:
    model, _, _, _ = build(name, torch.float32)
    grouped = analyze(model)
    model.set_experts_implementation("eager")  # a loop over experts: runs on the CPU
    eager = analyze(model)
    assert "ran on cpu" in " ".join(eager.capture.notes)
    assert not any(node.kind == "grouped_matmul" for node in eager.graph.nodes)
    assert eager.totals.macs == grouped.totals.macs


@pytest.mark.parametrize("name", sorted(MODELS))
def test_active_params_follow_the_config(name) -> None:
    model, config, intermediate, experts = build(name, torch.bfloat16)
    report = analyze(model)
    total = sum(p.numel() for p in model.parameters())
    # gate_up_proj (E, 2I, H) + down_proj (E, H, I) per MoE layer
    expert = config.num_hidden_layers * experts * 3 * intermediate * config.hidden_size
    active = (total - expert) + expert * config.num_experts_per_tok // experts
    assert report.totals.params == total
    assert report.totals.active_params == active
    assert report_to_dict(report)["totals"]["active_params"] == active


def test_a_dense_model_has_every_parameter_active() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    report = netanatomy.analyze(model, (3, 4))
    assert report.totals.active_params == report.totals.params == 4 * 8 + 8 + 8 * 2 + 2


def test_the_real_cpu_kernel_counts_as_meta() -> None:
    # on the CPU the real kernel runs (the meta override is used only for meta tensors)
    model, _, _, _ = build("mixtral", torch.float32)
    on_meta = analyze(model)
    on_cpu = netanatomy.analyze(model, example_inputs={
        "input_ids": torch.zeros(BATCH, SEQ, dtype=torch.long)}, device="cpu")
    assert any(node.kind == "grouped_matmul" for node in on_cpu.graph.nodes)
    assert on_cpu.totals.macs == on_meta.totals.macs
    assert expert_macs(on_cpu) == expert_macs(on_meta)


def test_a_second_meta_override_for_an_op_is_refused() -> None:
    from netanatomy.errors import RuleError
    from netanatomy.frontends.torch.aten.registry import meta_override

    with pytest.raises(RuleError, match="_grouped_mm"):
        meta_override("_grouped_mm")(lambda *args, **kwargs: None)
