"""``profile``: predicted vs measured per module. Timings vary from run to run, so these
tests check structure and invariants only, never a measured time against a bound; the
predictions are checked against the roofline arithmetic done by hand, with a fixed fake
calibration injected."""

from __future__ import annotations

import math
import random
from types import MappingProxyType

import pytest
import torch
from torch import nn

import netanatomy
from netanatomy.analysis.roofline import roofline
from netanatomy.diagnostics.calibrate import calibrate, read_mem_total
from netanatomy.diagnostics.profile import profile
from netanatomy.diagnostics.profile_result import ModuleTiming, error_stats, leaf_rows
from netanatomy.diagnostics.timing import cpu_peak
from netanatomy.errors import UsageError
from netanatomy.hardware import Device, Source


def fake_device(peak: int, bandwidth: int) -> Device:
    """A calibration with known roofs: ``peak`` FLOP/s (fp32) and ``bandwidth`` bytes/s."""
    return Device("fake", "test", "fake device", "cpu", bandwidth,
                  MappingProxyType({"fp32": peak}), MappingProxyType({}),
                  Source("test", ""), "fixed for tests")


class Net(nn.Module):
    """Conv → BN → ReLU, a nested block, a residual add in the parent, dropout, a head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = x + self.block(x)                       # functional op of the root
        return self.head(self.drop(x.mean((2, 3))))


LINEAR_BYTES = 4 * (1024 + 1024 * 1024 + 1024 + 1024)
"""Linear(1024, 1024) at batch 1, fp32: the input, weight, bias read once and the output
written once (4 bytes each); the transpose of the weight is a view (0 bytes)."""

LINEAR_FLOPS = 2 * 1024 * 1024 + 1024
"""2 × MACs (1 × 1024 × 1024) + the bias add, one per output element."""


def test_memory_bound_linear_prediction_is_bytes_over_bandwidth() -> None:
    # intensity ~0.5 FLOP/B, far below the ridge 1e12 / 1e9 = 1000: memory-bound
    report = profile(nn.Linear(1024, 1024), (1, 1024), calibration=fake_device(10**12, 10**9),
                     repeats=1, warmup=0)
    root = report.row("")
    assert root.predicted_s == pytest.approx(LINEAR_BYTES / 10**9, rel=1e-12)
    assert report.total_predicted_s == pytest.approx(LINEAR_BYTES / 10**9, rel=1e-12)
    assert (root.flops, root.bytes) == (LINEAR_FLOPS, LINEAR_BYTES)


def test_compute_bound_linear_prediction_is_flops_over_peak() -> None:
    # ridge 1e6 / 1e15 = 1e-9 FLOP/B: everything is compute-bound
    report = profile(nn.Linear(1024, 1024), (1, 1024), calibration=fake_device(10**6, 10**15),
                     repeats=1, warmup=0)
    assert report.row("").predicted_s == pytest.approx(LINEAR_FLOPS / 10**6, rel=1e-12)


def test_every_counted_module_has_a_prediction_and_a_measurement() -> None:
    torch.manual_seed(0)
    model = Net()
    report = profile(model, (2, 3, 16, 16), calibration=fake_device(10**11, 10**10),
                     repeats=3, warmup=1)
    counted = {node.path for node in netanatomy.analyze(model, (2, 3, 16, 16)).graph.nodes}
    rows = {row.path: row for row in report.rows}
    for path in counted:
        predicted, measured = rows[path].predicted_s, rows[path].measured_s
        assert predicted is not None and predicted > 0, path
        assert measured is not None and measured > 0, path
        assert rows[path].calls == 1
    # every module that ran is a row, with its class name
    assert set(rows) == {name for name, _ in model.named_modules()}
    assert rows["stem.0"].type == "Conv2d" and rows["drop"].predicted_s == 0   # eval: no op
    assert rows["drop"].ratio is None


def test_module_predictions_fold_the_roofline_by_module() -> None:
    torch.manual_seed(0)
    model, device = Net(), fake_device(10**11, 10**10)
    report = profile(model, (2, 3, 16, 16), calibration=device, repeats=1, warmup=0)
    line = roofline(netanatomy.analyze(model, (2, 3, 16, 16)).graph, device)
    for row in report.rows:
        own = sum(n.time_s or 0 for n in line.nodes
                  if n.path == row.path or n.path.startswith(row.path + ".") or not row.path)
        assert row.predicted_s == pytest.approx(own), row.path
    # the parent covers its children and its own residual add
    children = sum(report.row(p).predicted_s or 0 for p in ("stem", "block", "drop", "head"))
    assert (report.row("").predicted_s or 0) > children


class Stack(nn.Module):
    """Layers in a ModuleList, which is never called itself."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(16, 16) for _ in range(3)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


def test_a_container_never_called_sums_its_children() -> None:
    report = profile(Stack(), (4, 16), calibration=fake_device(10**11, 10**10), repeats=2,
                     warmup=0)
    container = report.row("layers")
    children = [report.row(f"layers.{i}") for i in range(3)]
    assert container.calls == 0 and all(child.calls == 1 for child in children)
    assert container.measured_s == pytest.approx(sum(c.measured_s or 0 for c in children))
    assert container.predicted_s == pytest.approx(sum(c.predicted_s or 0 for c in children))


def test_depth_keeps_the_shallow_rows_and_the_error_stats_of_every_leaf() -> None:
    torch.manual_seed(0)
    model, device = Net(), fake_device(10**11, 10**10)
    full = profile(model, (2, 3, 16, 16), calibration=device, repeats=1, warmup=0)
    cut = profile(model, (2, 3, 16, 16), calibration=device, repeats=1, warmup=0, depth=1)
    assert {row.depth for row in cut.rows} == {0, 1}
    assert [row.path for row in cut.rows] == [r.path for r in full.rows if r.depth <= 1]
    # stem.0..2, block.0..1, head compared; drop has no predicted work
    assert full.errors.count == cut.errors.count == 6
    assert full.errors.left_out == ("drop",)


def test_the_model_its_grads_and_the_rngs_are_unchanged() -> None:
    torch.manual_seed(0)
    model = Net().train()
    model(torch.randn(2, 3, 16, 16)).sum().backward()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    grads = {n: (p.grad, p.grad.clone()) for n, p in model.named_parameters()
             if p.grad is not None}
    assert len(grads) == len(list(model.parameters()))
    torch_rng, python_rng = torch.random.get_rng_state(), random.getstate()
    threads, grad_mode = torch.get_num_threads(), torch.is_grad_enabled()
    profile(model, (2, 3, 16, 16), repeats=2, warmup=1)        # a real calibration too
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    for name, param in model.named_parameters():
        assert param.grad is grads[name][0]
        assert param.grad is not None and torch.equal(param.grad, grads[name][1])
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())
    assert torch.equal(torch.random.get_rng_state(), torch_rng)
    assert random.getstate() == python_rng
    assert (torch.get_num_threads(), torch.is_grad_enabled()) == (threads, grad_mode)


def test_calibration_gives_positive_finite_peaks_and_bandwidth() -> None:
    found = calibrate("cpu", ["fp32"], matmul_budget_s=0.05, copy_budget_s=0.05)
    assert {m.what for m in found.measurements} == {"matmul", "copy"}
    for m in found.measurements:
        assert m.seconds > 0 and math.isfinite(m.rate) and m.rate > 0
    matmul = next(m for m in found.measurements if m.what == "matmul")
    assert matmul.work == 2 * matmul.size**3              # n × n by n × n: 2·n³ FLOPs
    copy = next(m for m in found.measurements if m.what == "copy")
    assert copy.work == 2 * copy.size                      # read once, written once
    assert found.device.peak_flops("fp32") == int(matmul.rate)
    assert found.device.bandwidth == int(copy.rate)
    assert found.device.kind == "cpu" and found.device.name == "measured cpu"
    # the roofline takes it like a row of the table
    line = roofline(netanatomy.analyze(nn.Linear(8, 8), (1, 8)).graph, found.device)
    assert line.time_s.value is not None and line.time_s.value > 0


def test_calibration_refuses_a_dtype_it_cannot_measure() -> None:
    with pytest.raises(UsageError, match="calibration measures"):
        calibrate("cpu", ["int8"])


def test_mem_total_is_read_from_meminfo() -> None:
    text = "MemTotal:       16318412 kB\nMemFree:  1 kB\n"
    assert read_mem_total(text) == 16318412 * 1024
    assert read_mem_total("MemFree: 1 kB\n") is None


def test_cpu_peak_sees_a_known_allocation() -> None:
    # one float32 tensor of 2**20 elements: 4 MiB allocated, then freed
    assert cpu_peak(lambda: torch.empty(2**20)) == 4 * 2**20


def test_memory_is_measured_and_predicted_on_the_cpu() -> None:
    report = profile(nn.Sequential(nn.Linear(256, 512), nn.ReLU()), (32, 256),
                     calibration=fake_device(10**11, 10**10), repeats=1, warmup=0)
    memory = report.memory
    # activations: the linear's output and the ReLU's, 32 × 512 fp32 each
    assert memory.predicted_activation_bytes == 2 * 32 * 512 * 4
    assert memory.measured_peak_bytes is not None and memory.measured_peak_bytes > 0
    # resident: weights 256·512 + 512, and the batch 32·256, fp32
    assert memory.resident_predicted_bytes == 4 * (256 * 512 + 512 + 32 * 256)
    assert memory.resident_measured_bytes is None          # known on CUDA only


def timing(path: str, predicted: float | None, measured: float | None) -> ModuleTiming:
    return ModuleTiming(path, "M", path.count(".") + 1 if path else 0, 1, predicted, "exact",
                        None, None, measured, measured)


def test_error_stats_over_leaf_modules() -> None:
    rows = [timing("", 10.0, 40.0), timing("a", 1.0, 2.0), timing("b", 1.0, 4.0),
            timing("c", 1.0, 8.0), timing("c.x", 1.0, 8.0), timing("d", 0.0, 1.0)]
    assert [row.path for row in leaf_rows(rows)] == ["a", "b", "c.x", "d"]
    stats = error_stats(rows)
    assert stats.count == 3 and stats.left_out == ("d",)
    assert stats.median_ratio == 4.0 and (stats.min_ratio, stats.max_ratio) == (2.0, 8.0)
    assert stats.worst_path == "c.x"
    assert stats.worst_abs_log10 == pytest.approx(math.log10(8))
    assert stats.median_abs_log10 == pytest.approx(math.log10(4))


@pytest.mark.parametrize(("options", "message"), [
    ({"repeats": 0}, "repeats must be"),
    ({"warmup": -1}, "warmup must be"),
    ({"depth": -1}, "depth must be"),
    ({"device": "meta"}, "runs the model for real"),
    ({"device": "cuda:99"}, "cuda"),
    ({"calibration": "h100"}, "calibration must be"),
])
def test_bad_options_are_usage_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        profile(nn.Linear(4, 4), (1, 4), **options)   # type: ignore[arg-type]


def test_a_meta_model_and_keyword_inputs_are_refused() -> None:
    with torch.device("meta"):
        meta = nn.Linear(4, 4)
    with pytest.raises(UsageError, match="meta device"):
        profile(meta, (1, 4))
    with pytest.raises(UsageError, match="positionally"):
        profile(nn.Linear(4, 4), ["x=1x4"])
    with pytest.raises(UsageError, match="input_size"):
        profile(nn.Linear(4, 4))


def test_a_dtype_without_a_calibrated_peak_is_refused() -> None:
    model = nn.Linear(8, 8).to(torch.bfloat16)
    with pytest.raises(UsageError, match="no bf16 figure"):
        profile(model, ["1x8:bfloat16"], calibration=fake_device(10**11, 10**10))


def test_profile_is_exported_lazily() -> None:
    assert netanatomy.profile is profile
    assert "profile" in netanatomy.__all__
