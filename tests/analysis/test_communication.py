"""Communication per training step against independent sources: ring-collective arithmetic
by hand (N = 2 and symbolic N), the ZeRO paper's own statement (§7: DP and ZeRO-1/2 send
2Ψ, ZeRO-3 3Ψ, "1.5x"), Ψ of a small model from its parameter count × itemsize, tensor and
data parallelism composed on a hand-counted Llama configuration, and a device without a
link giving no time, with its reason."""

from __future__ import annotations

import pytest
import sympy
import torch
from torch import nn

import netanatomy
from netanatomy.analysis.communication import (
    all_reduce_sent,
    data_parallel_transfers,
    gather_sent,
    step_communication,
)

NVLINK4_PER_DIRECTION = 900e9 / 2   # H100 SXM datasheet: "NVLink: 900GB/s", both ways


def test_the_ring_at_two_devices_sends_the_message_once_per_all_reduce() -> None:
    # ring all-reduce = reduce-scatter + all-gather, each (N−1)/N × M; N = 2: M/2 + M/2
    psi = 1000
    assert gather_sent(psi, 2) == psi // 2
    assert all_reduce_sent(psi, 2) == psi // 2 + psi // 2
    assert all_reduce_sent(psi, 1) == 0 and gather_sent(psi, 1) == 0


def test_the_ring_factors_hold_for_symbols() -> None:
    psi, n = sympy.symbols("Psi N", positive=True)
    assert sympy.simplify(all_reduce_sent(psi, n) - 2 * (n - 1) * psi / n) == 0
    assert sympy.limit(all_reduce_sent(psi, n), n, sympy.oo) == 2 * psi
    assert sympy.limit(gather_sent(psi, n), n, sympy.oo) == psi
    assert all_reduce_sent(psi, n).subs(n, 8) == all_reduce_sent(psi, 8)


@pytest.mark.parametrize("devices", [2, 64, 1024])
def test_the_zero_paper_statement_2psi_and_3psi_a_ratio_of_1_5(devices: int) -> None:
    # Rajbhandari et al. 2020, §7.2.1: "the total communication volume [of standard DP] is
    # 2Ψ"; "ZeRO-DP with Pos+g ... 2Ψ ... exactly the same as the baseline DP"; §7.2.2:
    # "the total volume of Pos+g+p is 3Ψ ... 1.5x compared to the baseline". Their Ψ
    # counts each reduce-scatter / all-gather as Ψ: the ring's (N−1)/N → 1 at large N.
    psi = 7.5e9 * 2                                            # fp16 bytes, Figure 1's model
    sent = {strategy: sum(t.sent_bytes for t in data_parallel_transfers(
        strategy, devices, psi, psi)) for strategy in ("none", "zero1", "zero2", "zero3")}
    ring = (devices - 1) / devices
    assert sent["none"] == pytest.approx(2 * ring * psi)
    assert sent["zero1"] == sent["zero2"] == pytest.approx(sent["none"])
    assert sent["zero3"] == pytest.approx(3 * ring * psi)
    assert sent["zero3"] / sent["none"] == pytest.approx(1.5)
    if devices == 1024:
        assert sent["none"] / psi == pytest.approx(2, abs=2 / devices)
        assert sent["zero3"] / psi == pytest.approx(3, abs=3 / devices)


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))


PARAMS = 8 * 16 + 16 + 16 * 4 + 4                               # = 212


@pytest.mark.parametrize(("precision", "itemsize"), [("fp32", 4), ("bf16-mixed", 2)])
@pytest.mark.parametrize(("shard", "factor"), [("none", 2), ("zero2", 2), ("fsdp", 3)])
def test_psi_is_the_parameter_count_times_the_compute_itemsize(
        precision: str, itemsize: int, shard: str, factor: int) -> None:
    # bf16-mixed: bf16 parameters gathered and bf16 gradients reduced (FSDP
    # MixedPrecision(param_dtype=bf16), reduce_dtype None → param_dtype); the fp32 master
    # weights are never sent
    report = netanatomy.training(mlp(), (2, 8), precision=precision, shard=shard, dp=4,
                                 device_type="h100-sxm")
    comm = report.communication
    psi = PARAMS * itemsize
    assert (comm.param_bytes, comm.gradient_bytes) == (psi, psi)
    assert comm.sent_bytes == factor * 3 * psi / 4             # factor × (N−1)/N × Ψ
    assert comm.seconds == pytest.approx(factor * 3 * psi / 4 / NVLINK4_PER_DIRECTION)
    compute = report.time.seconds
    assert comm.compute_seconds == compute
    assert comm.overlapped_seconds == max(compute, comm.seconds)
    assert comm.serial_seconds == pytest.approx(compute + comm.seconds)


def test_frozen_parameters_are_gathered_but_send_no_gradient() -> None:
    model = mlp()
    model[0].requires_grad_(False)
    comm = netanatomy.training(model, (2, 8), shard="fsdp", dp=2).communication
    whole, trained = 4 * PARAMS, 4 * (16 * 4 + 4)
    assert (comm.param_bytes, comm.gradient_bytes) == (whole, trained)
    assert comm.sent_bytes == (2 * whole + trained) / 2       # N = 2: (N−1)/N = 1/2
    ddp = netanatomy.training(model, (2, 8), dp=2).communication
    assert ddp.sent_bytes == trained                           # 2 · 1/2 · G


def llama() -> nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, vocab_size=96)
    with torch.device("meta"):
        return LlamaForCausalLM(config)


def test_tensor_and_data_parallel_compose_a_hand_example() -> None:
    t, dp, b, s, h, inter, vocab, kv = 2, 4, 2, 8, 64, 128, 96, 2 * 16
    ids = torch.zeros(b, s, dtype=torch.int64, device="meta")
    report = netanatomy.training(llama(), example_inputs=ids, tp=t, dp=dp, optimizer="sgd",
                                 device_type="h100-sxm")
    comm = report.communication
    # one TP rank's parameters (the shards counted as in test_tensor_parallel.py), fp32
    split = h * h + 2 * h * kv + h * h + 3 * h * inter
    rank = 2 * (split // t + 2 * h) + 2 * vocab * h // t + h
    assert comm.param_bytes == comm.gradient_bytes == 4 * rank
    assert comm.dp_sent_bytes == 2 * (dp - 1) / dp * 4 * rank  # DDP over the dp replicas
    # Megatron without SP: per layer 2 regions × (forward + backward) all-reduces of b·s·h
    # fp32, + the vocab-parallel embedding's forward and the LM head's backward one; at
    # t = 2 a ring all-reduce sends 2(t−1)/t = 1 × the message
    assert comm.tp_sent_bytes == (2 * 2 * 2 + 2) * b * s * h * 4
    assert comm.sent_bytes == comm.dp_sent_bytes + comm.tp_sent_bytes
    assert comm.seconds == pytest.approx(comm.sent_bytes / NVLINK4_PER_DIRECTION)
    assert comm.compute_seconds == report.tensor_parallel.seconds
    assert comm.tp_seconds == pytest.approx(comm.tp_sent_bytes / NVLINK4_PER_DIRECTION)


@pytest.mark.parametrize("device", ["rtx-4090", "xeon-8480+", None])
def test_no_link_gives_no_time_and_says_why(device: str | None) -> None:
    comm = step_communication("fsdp", 8, 1e9, 1e9, device=device, compute_seconds=1.0)
    assert comm.sent_bytes == 3 * 7 / 8 * 1e9
    assert comm.seconds is None and comm.overlapped_seconds is None
    assert comm.serial_seconds is None
    assert ("no interconnect" if device else "no --device-type") in comm.reason


def test_one_device_sends_nothing_and_takes_no_time() -> None:
    comm = step_communication("zero3", 1, 1e9, 1e9, device="h100-sxm", compute_seconds=2.0)
    assert (comm.transfers, comm.sent_bytes, comm.seconds) == ((), 0, 0.0)
    assert comm.overlapped_seconds == comm.serial_seconds == 2.0


def test_no_parallelism_leaves_the_report_without_communication() -> None:
    assert netanatomy.training(mlp(), (2, 8)).communication is None
