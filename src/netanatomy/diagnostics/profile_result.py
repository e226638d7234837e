"""The result of ``profile``: per module the roofline's predicted time beside the measured
one, the totals, the error distribution and the peak memory predicted vs measured; and the
calibration it used. Plain frozen dataclasses (no torch); renderers write them out.

The ratio is always measured / predicted. The roofline prediction is a lower bound (peak
throughput, perfect overlap, no launch or Python overhead), so ratios above 1 are
expected; how far above says how far the module runs from the machine's roofs.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from netanatomy.hardware import Device

__all__ = ["CONVENTIONS", "Calibration", "ErrorStats", "Measurement", "MemoryComparison",
           "ModuleTiming", "ProfileReport", "error_stats", "leaf_rows", "ratio"]

CONVENTIONS: Mapping[str, str] = {
    "predicted_s": "roofline on the calibrated device: per node max(FLOPs / matmul peak of "
                   "the dtype, bytes / copy bandwidth), nodes added up per module, "
                   "submodules included; FLOPs = 2 x MACs + elementwise FLOPs; a lower "
                   "bound (peak reached, compute and traffic overlapped, no overhead)",
    "measured_s": "median over the repeats of the module's wall time per forward, from "
                  "forward pre/post hooks (time.perf_counter; CUDA events on CUDA), all "
                  "calls of the module summed, submodules and hook overhead included; "
                  "eval mode, no autograd; a container never called itself (ModuleList, "
                  "ModuleDict): the sum of its children's (calls 0)",
    "total_measured_s": "median wall time of the forward without hooks "
                        "(synchronised on CUDA)",
    "ratio": "measured_s / predicted_s (above 1: slower than the roofline); none when "
             "either is 0 or unknown",
    "errors": "over the leaf modules (no submodule that ran) with both times positive: "
              "median and extreme ratios, and the median and worst |log10 ratio|",
    "memory": "predicted: activation bytes of the forward (every tensor an op allocates, "
              "none freed: an upper bound for an inference forward that frees as it goes); "
              "measured: the peak rise of allocated bytes above the level before the "
              "forward (CUDA: max_memory_allocated; CPU: the profiler's allocator events, "
              "profile_memory=True); parameters, buffers and the batch are resident before "
              "and listed apart",
}


@dataclass(frozen=True, slots=True)
class Measurement:
    """One calibration micro-benchmark: what ran, its work and its best time.

    Attributes:
        what: ``"matmul"`` or ``"copy"``.
        dtype: the table key of the operands' dtype (``"fp32"``).
        size: matmul: n (n × n operands); copy: bytes of the buffer.
        work: FLOPs (matmul: 2·n³) or bytes read + written (copy: 2 × size) of one run.
        seconds: the best time of one run.
    """

    what: str
    dtype: str
    size: int
    work: int
    seconds: float

    @property
    def rate(self) -> float:
        """FLOP/s (matmul) or bytes/s (copy)."""
        return self.work / self.seconds


@dataclass(frozen=True)
class Calibration:
    """The calibrated device and the measurements it comes from (``skipped``: dtypes the
    device could not run, with the reason)."""

    device: Device
    torch_device: str
    threads: int
    measurements: tuple[Measurement, ...]
    seconds: float
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ModuleTiming:
    """One module: predicted and measured seconds per forward (None: unknown).

    Attributes:
        depth: 0 for the model itself, 1 for its children, …
        calls: times the module ran in one forward (0: it did not run in the measured
            forward, though the capture saw its ops).
        status: of the prediction: ``exact``, ``partial`` (some ops uncounted: a lower
            bound of a lower bound) or ``unknown``.
        flops, bytes: the roofline's work of the module (None: unknown).
        measured_min_s: the fastest repeat.
    """

    path: str
    type: str
    depth: int
    calls: int
    predicted_s: float | None
    status: str
    flops: float | None
    bytes: float | None
    measured_s: float | None
    measured_min_s: float | None

    @property
    def ratio(self) -> float | None:
        """measured / predicted (None when either is 0 or unknown)."""
        return ratio(self.measured_s, self.predicted_s)


@dataclass(frozen=True, slots=True)
class ErrorStats:
    """The distribution of measured / predicted over the compared modules."""

    count: int
    median_ratio: float | None
    min_ratio: float | None
    max_ratio: float | None
    median_abs_log10: float | None
    worst_abs_log10: float | None
    worst_path: str | None
    left_out: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MemoryComparison:
    """Peak memory of the forward, predicted and measured (see ``CONVENTIONS['memory']``).

    Attributes:
        predicted_activation_bytes: the report's activation bytes of the forward.
        measured_peak_bytes: the peak rise above the start (None: not measurable here).
        resident_predicted_bytes: parameters + buffers + the batch.
        resident_measured_bytes: allocated on the device before the forward (CUDA only).
        method: how the peak was measured.
    """

    predicted_activation_bytes: int | None
    measured_peak_bytes: int | None
    resident_predicted_bytes: int
    resident_measured_bytes: int | None
    method: str

    @property
    def ratio(self) -> float | None:
        return ratio(self.measured_peak_bytes, self.predicted_activation_bytes)


@dataclass(frozen=True)
class ProfileReport:
    """Prediction against measurement of one model on the machine at hand."""

    model: str
    inputs: tuple[str, ...]
    torch_device: str
    device: Device
    dtype: str
    repeats: int
    warmup: int
    threads: int
    rows: tuple[ModuleTiming, ...]
    total_predicted_s: float | None
    total_status: str
    total_measured_s: float
    errors: ErrorStats
    memory: MemoryComparison
    calibration: Calibration | None = None
    seconds: float = 0.0
    notes: tuple[str, ...] = ()
    conventions: Mapping[str, str] = field(default_factory=lambda: dict(CONVENTIONS))

    @property
    def total_ratio(self) -> float | None:
        """Measured / predicted for the whole forward."""
        return ratio(self.total_measured_s, self.total_predicted_s)

    def row(self, path: str) -> ModuleTiming:
        """The row of the module at ``path`` (``""``: the model).

        Raises:
            KeyError: no such row.
        """
        for row in self.rows:
            if row.path == path:
                return row
        raise KeyError(f"no module {path!r} in the profile")


def ratio(measured: float | None, predicted: float | None) -> float | None:
    """measured / predicted, None when either is unknown or not positive."""
    if measured is None or predicted is None or measured <= 0 or predicted <= 0:
        return None
    return measured / predicted


def leaf_rows(rows: Sequence[ModuleTiming]) -> list[ModuleTiming]:
    """The rows below which no other row ran (the finest modules measured)."""
    ran = [row for row in rows if row.calls > 0]
    return [row for row in ran if row.path and not any(
        other.path.startswith(row.path + ".") for other in ran)]


def error_stats(rows: Sequence[ModuleTiming]) -> ErrorStats:
    """Median and extreme ratios over the leaf modules with both times positive; those
    left out are named (a module with no work predicted, or none measured)."""
    leaves = leaf_rows(rows)
    compared = [(row.path, row.ratio) for row in leaves if row.ratio is not None]
    left_out = tuple(row.path for row in leaves if row.ratio is None)
    if not compared:
        return ErrorStats(0, None, None, None, None, None, None, left_out)
    ratios = [value for _, value in compared]
    logs = [abs(math.log10(value)) for value in ratios]
    worst = max(range(len(compared)), key=lambda i: logs[i])
    return ErrorStats(len(compared), statistics.median(ratios), min(ratios), max(ratios),
                      statistics.median(logs), logs[worst], compared[worst][0], left_out)
