"""One training step captured on meta: FLOPs by phase against FlopCounterMode and hand
formulas, the input/weight-gradient split, memory categories against what the optimizer
really keeps, and the user's model left as it was."""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from typer.testing import CliRunner

import netanatomy
from netanatomy.cli.main import app
from netanatomy.errors import UsageError


def flop_counter(model: nn.Module, x: torch.Tensor) -> int:
    """FlopCounterMode's count of forward + backward (matmul-like ops, 2 FLOPs per MAC)."""
    with FlopCounterMode(display=False) as counter:
        out = model(x)
        logits = out if isinstance(out, torch.Tensor) else (
            out[0] if isinstance(out, tuple) else out.logits)
        logits.float().sum().backward()
    return counter.get_total_flops()


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def test_an_mlp_step_matches_hand_formulas_and_flop_counter_mode() -> None:
    with torch.device("meta"):
        model = mlp()
    report = netanatomy.training(model, (32, 64))
    forward = 32 * (64 * 128 + 128 * 10)               # batch × Σ in·out
    assert report.phases["forward"].macs == forward
    # weight gradients: one matmul per layer of the forward's size; input gradients: only
    # the second layer (nothing needs the gradient of the model's input)
    assert report.backward_weight.macs == forward
    assert report.backward_input.macs == 32 * 128 * 10
    assert report.phases["backward"].status == "exact"
    with torch.device("meta"):
        twin = mlp()
    counted = 2 * (report.phases["forward"].macs + report.phases["backward"].macs)
    assert counted == flop_counter(twin, torch.empty(32, 64, device="meta"))


def test_a_recurrent_and_a_transformer_step_match_flop_counter_mode() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, vocab_size=1000)
    cases = [(lambda: nn.LSTM(16, 32, batch_first=True), torch.empty(4, 10, 16)),
             (lambda: LlamaForCausalLM(config), torch.zeros(2, 32, dtype=torch.int64))]
    for make, x in cases:
        with torch.device("meta"):
            model, twin = make(), make()
        report = netanatomy.training(model, example_inputs=x.to("meta"))
        matmuls = 2 * sum(report.phases[p].macs or 0 for p in ("forward", "loss", "backward"))
        assert matmuls == flop_counter(twin, x.to("meta"))


def test_lstm_weight_gradients_equal_the_forward_and_input_gradients_skip_the_input() -> None:
    with torch.device("meta"):
        model = nn.LSTM(16, 32, batch_first=True)
    report = netanatomy.training(model, (4, 10, 16))
    forward = 10 * 4 * 4 * 32 * (16 + 32)            # steps·batch·gates·hidden·(in + hidden)
    assert report.phases["forward"].macs == forward
    assert report.backward_weight.macs == forward
    # gradients of h through the recurrence, for steps 2..10 (h0 and x need none)
    assert report.backward_input.macs == 9 * 4 * 4 * 32 * 32


def test_frozen_parameters_get_no_weight_gradient_and_no_optimizer_state() -> None:
    with torch.device("meta"):
        model = mlp()
    model[0].requires_grad_(False)
    report = netanatomy.training(model, (32, 64))
    assert report.backward_weight.macs == 32 * 128 * 10           # the second layer only
    assert report.trainable_params == 128 * 10 + 10
    assert report.end.by_category["gradients"] == 4 * (128 * 10 + 10)
    assert model[0].weight.requires_grad is False                  # restored as it was


@pytest.mark.parametrize(("optimizer", "state_per_param", "step_tensor"), [
    ("sgd", 0, False), ("sgd-momentum", 4, False),        # momentum_buffer
    ("adam", 8, True), ("adamw", 8, True),                # exp_avg, exp_avg_sq, step
    ("rmsprop", 4, True)])                                # square_avg, step
def test_optimizer_state_is_what_torch_allocates(optimizer: str, state_per_param: int,
                                                 step_tensor: bool) -> None:
    with torch.device("meta"):
        model = mlp()
    report = netanatomy.training(model, (32, 64), optimizer=optimizer)
    count = 64 * 128 + 128 + 128 * 10 + 10
    steps = 4 * 4 if step_tensor else 0             # a float32 step per parameter tensor
    assert report.end.by_category["optimizer_state"] == state_per_param * count + steps
    assert report.end.by_category["parameters"] == 4 * count
    assert report.end.by_category["gradients"] == 4 * count


def test_peak_memory_on_a_real_cpu_step_matches_mem_tracker() -> None:
    # torch's own tracker of the same step on real CPU tensors (categories summed)
    from torch.distributed._tools.mem_tracker import MemTracker

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))
    x = torch.randn(64, 256)
    twin = type(model)(*[type(m)(m.in_features, m.out_features) if isinstance(m, nn.Linear)
                         else nn.ReLU() for m in model])
    twin.load_state_dict(model.state_dict())
    optimizer = torch.optim.AdamW(twin.parameters(), foreach=True)   # as netanatomy runs it
    tracker = MemTracker()
    tracker.track_external(twin, optimizer, x)
    with tracker:
        twin(x).float().sum().backward()
        optimizer.step()
    theirs = tracker.get_tracker_snapshot("peak")[torch.device("cpu")]["Total"]
    with torch.device("meta"):
        meta_model = type(model)(*[type(m)(m.in_features, m.out_features)
                                   if isinstance(m, nn.Linear) else nn.ReLU() for m in model])
    ours = netanatomy.training(meta_model, (64, 256)).peak.point.total
    assert abs(ours - theirs) <= 0.05 * theirs, (ours, theirs)


def test_the_user_model_is_unchanged_by_a_real_cpu_step() -> None:
    torch.manual_seed(0)
    model = mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.random.get_rng_state()
    report = netanatomy.training(model, (8, 64), device="cpu")
    assert report.phases["optimizer"].flops
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(torch.random.get_rng_state(), rng)


def test_bad_arguments_are_refused() -> None:
    with torch.device("meta"):
        model = mlp()
    with pytest.raises(UsageError, match="--optimizer 'lion' is not known"):
        netanatomy.training(model, (2, 64), optimizer="lion")


def test_cli_writes_table_json_and_csv(tmp_path: pytest.TempPathFactory) -> None:
    runner = CliRunner()
    args = ["training", "docs/examples/models.py:TinyUNet", "--input", "2x1x32x32"]
    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "backward: weight grads" in table.output and "Memory peak" in table.output
    document = json.loads(runner.invoke(app, [*args, "-f", "json"]).stdout)
    assert document["schema"] == "netanatomy.training/1"
    assert document["memory"]["peak"]["bytes"] == max(
        p["bytes"] for p in document["memory"]["timeline"])
    rows = runner.invoke(app, [*args, "-f", "csv"]).stdout.splitlines()
    assert rows[0].startswith("path,type,depth,forward_macs")


def test_device_time_is_the_roofline_of_every_node_and_mfu_uses_palm_model_flops() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    from netanatomy.analysis.roofline import roofline

    config = LlamaConfig(hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, vocab_size=1000,
                         tie_word_embeddings=False)
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    batch, length = 2, 32
    report = netanatomy.training(model, example_inputs=torch.zeros(
        batch, length, dtype=torch.int64, device="meta"), device_type="h100-sxm",
        peak_dtype="bf16")
    line = roofline(report.graph, "h100-sxm", "bf16")
    assert report.time is not None and report.time.seconds == line.time_s.value
    # PaLM, appendix B: 6·N + 12·L·H·Q·T per token (N with embeddings), T = sequence length
    n = report.params
    per_token = 6 * n + 12 * 2 * 4 * (128 // 4) * length
    assert report.model_flops.training == per_token
    tokens = batch * length
    assert report.time.mfu == pytest.approx(per_token * tokens /
                                            (line.time_s.value * line.peak_flops), rel=1e-12)
    assert report.time.tokens_per_second == pytest.approx(tokens / line.time_s.value)
    with pytest.raises(UsageError):
        netanatomy.training(model, (2, 32), device_type="h100")          # ambiguous alias


def test_the_peak_follows_the_precisions_compute_dtype() -> None:
    # A bf16/bf16-mixed step runs its matmuls in bf16: the H100 SXM datasheet's dense BF16
    # Tensor Core peak, 989.4 TFLOPS (the fp32 figure, 67 TFLOPS, is ~15x lower); fp16 the
    # FP16 Tensor Core peak (also 989.4); fp32 the parameters' own dtype. An explicit
    # peak_dtype still wins.
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64))
    expected = {"fp32": ("fp32", 67e12), "bf16": ("bf16", 989.4e12),
                "bf16-mixed": ("bf16", 989.4e12), "fp16-mixed": ("fp16", 989.4e12)}
    for precision, (dtype, peak) in expected.items():
        report = netanatomy.training(model, (8, 64), precision=precision,
                                     device_type="h100-sxm")
        assert report.time is not None
        assert (report.time.dtype, report.time.peak_flops) == (dtype, pytest.approx(peak))
    chosen = netanatomy.training(model, (8, 64), precision="bf16-mixed",
                                 device_type="h100-sxm", peak_dtype="tf32")
    assert chosen.time is not None and chosen.time.peak_flops == pytest.approx(494.7e12)


def test_zero3_gathers_one_decoder_layer_and_divides_the_steady_state() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(hidden_size=256, intermediate_size=512, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=2, vocab_size=1000)
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    ids = torch.zeros(2, 64, dtype=torch.int64, device="meta")
    report = netanatomy.training(model, example_inputs=ids, shard="zero3", dp=4)
    # one decoder layer: q, o 256², k, v 256·128 (2 of 4 heads), MLP 3·256·512, 2 norms
    layer = 2 * 256 * 256 + 2 * 256 * 128 + 3 * 256 * 512 + 2 * 256
    assert report.shard_unit == "model.layers.0"
    assert report.sharding.gathered_unit == 4 * layer * 2        # float32 params + grads
    peak = report.peak.point.by_category
    steady = peak["parameters"] + peak["gradients"] + peak["optimizer_state"]
    rest = report.peak.point.total - steady
    assert report.sharding.total == pytest.approx(steady / 4 + rest + 4 * layer * 2)
    with pytest.raises(UsageError, match="--dp must be"):
        netanatomy.training(model, example_inputs=ids, shard="zero1", dp=0)


class Block(nn.Module):
    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.up, self.down = nn.Linear(width, hidden), nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.down(torch.relu(self.up(x))))


def test_checkpointing_a_block_frees_its_inner_activations_for_one_more_forward() -> None:
    batch, width, hidden, blocks = 32, 64, 256, 4
    with torch.device("meta"):
        model = nn.Sequential(*[Block(width, hidden) for _ in range(blocks)])
    report = netanatomy.training(model, (batch, width), checkpoint="blocks")
    plan = report.checkpointing
    assert plan.chosen == ("0", "1", "2", "3")
    first = plan.candidates[0]
    # saved inside a block: both ReLU outputs (batch·hidden + batch·width floats); the
    # checkpoint keeps its input (batch·width, made by the previous block)
    assert first.saved == 4 * batch * (hidden + width)
    assert plan.candidates[1].kept == 4 * batch * width
    assert plan.candidates[1].freed == 4 * batch * hidden
    forward_macs = batch * (width * hidden + hidden * width)
    relus = batch * (hidden + width)                       # one FLOP per ReLU element
    biases = batch * (hidden + width)                      # one add per bias element
    assert first.recompute_flops == 2 * forward_macs + relus + biases
    assert plan.added_flops == blocks * first.recompute_flops
    budget = netanatomy.training(model, (batch, width), checkpoint="auto",
                                 memory_budget_gib=plan.peak_after / 2 ** 30)
    assert budget.checkpointing.fits and budget.checkpointing.peak_after <= plan.peak_after
    with pytest.raises(UsageError, match="needs --memory-budget"):
        netanatomy.training(model, (batch, width), checkpoint="auto")


@pytest.mark.parametrize(("precision", "weights", "masters", "grads", "state"), [
    ("fp32", 4, 0, 4, 8),            # AdamW: exp_avg + exp_avg_sq in the parameters' dtype
    ("bf16", 2, 0, 2, 4),
    ("bf16-mixed", 2, 4, 4, 8),      # fp32 masters, fp32 grads (bf16 ones released), state
    ("fp16-mixed", 2, 4, 4, 8),
])
def test_precision_policies_keep_the_copies_they_list(precision: str, weights: int,
                                                      masters: int, grads: int,
                                                      state: int) -> None:
    with torch.device("meta"):
        model = mlp()
    count = 64 * 128 + 128 + 128 * 10 + 10
    report = netanatomy.training(model, (32, 64), precision=precision)
    end = report.end.by_category
    steps = 4 * 4                                   # a float32 step per parameter tensor
    assert end["parameters"] == weights * count
    assert end["master_weights"] == masters * count
    assert end["gradients"] == grads * count
    assert end["optimizer_state"] == state * count + steps
    assert report.phases["forward"].macs == 32 * (64 * 128 + 128 * 10)   # dtype-free
    assert model[0].weight.dtype == torch.float32                         # untouched
    with pytest.raises(UsageError, match="--precision 'int4' is not known"):
        netanatomy.training(model, (32, 64), precision="int4")


def test_the_issues_example_flags_together_on_the_command_line() -> None:
    # training … --optimizer adamw --precision bf16-mixed --checkpoint auto --shard fsdp
    #            --gpus 64 --device-type h100-sxm: the budget is the device's 80 GiB
    runner = CliRunner()
    args = ["training", "docs/examples/models.py:TinyTransformer", "--input", "8x128:int64",
            "--optimizer", "adamw", "--precision", "bf16-mixed", "--checkpoint", "auto",
            "--shard", "fsdp", "--gpus", "64", "--device-type", "h100-sxm", "-f", "json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["precision"] == "bf16-mixed" and document["sharding"]["dp"] == 64
    assert document["checkpointing"]["budget"] == 80 * 2 ** 30 and document["time"]["mfu"]
    assert document["checkpointing"]["peak_before"] == pytest.approx(
        document["sharding"]["per_device_bytes"])
    clash = runner.invoke(app, [*args[:-2], "--dp", "8"])
    assert clash.exit_code == 2 and "disagree" in clash.output


@pytest.mark.parametrize("precision", ["fp32", "bf16-mixed"])
def test_foreach_updates_belong_to_each_parameters_module(monkeypatch: pytest.MonkeyPatch,
                                                          precision: str) -> None:
    # A second method: torch's for-loop AdamW (foreach=False) updates each parameter with
    # its own ops, so their module is unambiguous; the foreach step (one op over every
    # parameter, state and temporary list) must give each module the same optimizer FLOPs,
    # not the first parameter's module all of them.
    import netanatomy.frontends.torch.training as training_capture

    model = nn.Sequential(nn.Embedding(50, 16), nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    inputs = torch.zeros(4, 8, dtype=torch.int64)

    def per_module(report: Any) -> dict[str, Any]:
        return {row.path: row.optimizer.flops for row in report.modules
                if row.path in ("0", "1", "3")}

    foreach = per_module(netanatomy.training(model, example_inputs=inputs,
                                             precision=precision))
    make = training_capture.make_optimizer

    def loop(name: str, params: Any) -> Any:
        optimizer = make(name, params)
        for group in optimizer.param_groups:
            group["foreach"] = False
        return optimizer

    monkeypatch.setattr(training_capture, "make_optimizer", loop)
    looped = per_module(netanatomy.training(model, example_inputs=inputs,
                                            precision=precision))
    # per element both do the same work; they differ only in a few scalar ops on the step
    # count and bias corrections, which each implementation places differently
    params = {"0": 50 * 16, "1": 16 * 32 + 32, "3": 32 * 4 + 4}
    for path, count in params.items():
        assert abs(foreach[path] - looped[path]) <= 4, (path, foreach, looped)
        assert foreach[path] >= count and looped[path] >= count
    ratio = {path: foreach[path] // count for path, count in params.items()}
    assert len(set(ratio.values())) == 1          # the same FLOPs per element everywhere
