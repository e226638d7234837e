"""Calibrating the machine at hand: short micro-benchmarks that measure the matmul FLOP/s
per dtype and the memory bandwidth of a torch device, returned as a
:class:`~netanatomy.hardware.Device` the roofline takes like a row of the hardware table.

- **matmul**: ``torch.mm`` of square ``n × n`` operands (2·n³ FLOPs) at a few sizes, each
  timed a few times after one warm-up; the best FLOP/s of all is the dtype's peak. float32
  always, bfloat16 where the device runs it, float16 on CUDA (the CPU's float16 matmul is
  an emulation, not a peak worth stating), and any other dtype asked for. On CUDA float32
  runs under the user's TF32 setting, unchanged (``torch.backends.cuda.matmul``).
- **bandwidth**: ``dst.copy_(src)`` of a buffer far larger than the caches (128 MiB on the
  CPU, 512 MiB on CUDA): bytes read + bytes written per second, the best of a few.
- **memory**: ``MemTotal`` of /proc/meminfo (CPU, Linux) or ``torch.cuda.mem_get_info``'s
  total (CUDA).

Each benchmark stops adding sizes or repeats once its time budget is spent, so the whole
calibration takes about a second on a CPU. The operands come from a private generator:
the global RNG, the thread count and every flag are left as they were.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from types import MappingProxyType

import torch

from netanatomy.diagnostics.profile_result import Calibration, Measurement
from netanatomy.errors import UsageError
from netanatomy.frontends.torch.guard import globals_preserved
from netanatomy.hardware import Device, Source, dtype_key

__all__ = ["Calibration", "Measurement", "calibrate", "calibration_dtypes"]

MATMUL_SIZES = (256, 512, 1024, 2048)
"""Square matmul sizes tried, smallest first (larger ones only while the budget lasts)."""

COPY_BYTES = {"cpu": 128 * 2**20, "cuda": 512 * 2**20}
"""Bytes of the buffer copied by the bandwidth benchmark, per device type."""

MEMINFO = Path("/proc/meminfo")

SOURCE = Source("measured on this machine by netanatomy's calibration micro-benchmarks "
                "(docs/profile.md)", "")


def calibration_dtypes(torch_device: str, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """Table keys measured on ``torch_device``: fp32, bf16 (where supported), fp16 on CUDA,
    and ``extra`` (e.g. the model's own dtype)."""
    kind = torch.device(torch_device).type
    keys = ["fp32", "bf16"] if kind != "cuda" or torch.cuda.is_bf16_supported() else ["fp32"]
    if kind == "cuda":
        keys.append("fp16")
    keys += [dtype_key(d) for d in extra]
    return tuple(dict.fromkeys(keys))


KEY_DTYPES = {"fp64": torch.float64, "fp32": torch.float32, "bf16": torch.bfloat16,
              "fp16": torch.float16}


def calibrate(device: str = "cpu", dtypes: Sequence[str] | None = None,
              matmul_budget_s: float = 0.25, copy_budget_s: float = 0.15) -> Calibration:
    """Measure ``device``'s matmul FLOP/s per dtype and its memory bandwidth.

    Args:
        device: a torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"``).
        dtypes: table keys or tensor dtypes to measure (default:
            :func:`calibration_dtypes`); fp64, fp32, bf16 and fp16 can be measured.
        matmul_budget_s, copy_budget_s: seconds each dtype's matmul / the copy may take
            (a size or repeat is not started once spent; one run always completes).

    Raises:
        UsageError: a dtype that cannot be measured, or a device that is not usable.
    """
    from netanatomy.frontends.torch.devices import check_device

    check_device(device, "device", real=True)
    keys = tuple(dict.fromkeys(dtype_key(d) for d in dtypes)) if dtypes is not None \
        else calibration_dtypes(device)
    unknown = [key for key in keys if key not in KEY_DTYPES]
    if unknown:
        raise UsageError(f"calibration measures {', '.join(KEY_DTYPES)}, not "
                         f"{', '.join(unknown)}")
    started = time.perf_counter()
    cuda = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []
    measurements: list[Measurement] = []
    skipped: list[str] = []
    with globals_preserved(cuda), torch.no_grad():
        generator = torch.Generator(device=device).manual_seed(0)
        for key in keys:
            found = matmul_peak(device, KEY_DTYPES[key], key, generator, matmul_budget_s)
            if found is None:
                skipped.append(f"{key}: torch.mm does not run on {device}")
            else:
                measurements.append(found)
        measurements.append(copy_bandwidth(device, copy_budget_s))
    elapsed = time.perf_counter() - started
    built = measured_device(device, measurements, elapsed)
    return Calibration(built, device, torch.get_num_threads(), tuple(measurements), elapsed,
                       tuple(skipped))


def synchronize(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def best_time(run: Callable[[], object], device: str, budget_s: float,
              repeats: int = 5) -> float:
    """The best wall time of ``run`` over up to ``repeats`` runs after one warm-up, fewer
    when the budget is spent (at least one timed run)."""
    run()
    synchronize(device)
    best = float("inf")
    spent = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        synchronize(device)
        took = time.perf_counter() - start
        best, spent = min(best, took), spent + took
        if spent >= budget_s:
            break
    return best


def matmul_peak(device: str, dtype: torch.dtype, key: str, generator: torch.Generator,
                budget_s: float) -> Measurement | None:
    """The best ``torch.mm`` FLOP/s over the sizes the budget allows (None: unsupported)."""
    best: Measurement | None = None
    deadline = time.perf_counter() + budget_s
    for n in MATMUL_SIZES:
        a = torch.randn(n, n, generator=generator, device=device).to(dtype)
        b = torch.randn(n, n, generator=generator, device=device).to(dtype)
        out = torch.empty(n, n, device=device, dtype=dtype)
        try:
            seconds = best_time(partial(torch.mm, a, b, out=out), device,
                                max(deadline - time.perf_counter(), 0.0) / 2)
        except (RuntimeError, NotImplementedError):
            return None
        found = Measurement("matmul", key, n, 2 * n**3, seconds)
        if best is None or found.rate > best.rate:
            best = found
        # the next size costs 8x: start it only when that fits in what is left
        if time.perf_counter() + 8 * seconds * 2 > deadline:
            break
    return best


def copy_bandwidth(device: str, budget_s: float) -> Measurement:
    """Bytes read + written per second by ``dst.copy_(src)`` of a large float32 buffer."""
    size = COPY_BYTES.get(torch.device(device).type, COPY_BYTES["cpu"])
    src = torch.ones(size // 4, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    seconds = best_time(lambda: dst.copy_(src), device, budget_s)
    return Measurement("copy", "fp32", size, 2 * size, seconds)


def measured_device(device: str, measurements: Sequence[Measurement],
                    elapsed: float) -> Device:
    """A Device of the measured peaks (best matmul per dtype) and bandwidth."""
    peaks = {m.dtype: int(m.rate) for m in measurements if m.what == "matmul"}
    copy = next(m for m in measurements if m.what == "copy")
    kind = torch.device(device).type
    total = memory_total(device)
    name = f"measured {device}" + (f" ({torch.cuda.get_device_name(device)})"
                                   if kind == "cuda" else "")
    notes = (f"calibrated in {elapsed:.2f} s with {torch.get_num_threads()} threads: "
             + "; ".join(f"{m.what} {m.dtype} size {m.size} best {m.seconds * 1e3:.2f} ms"
                         for m in measurements))
    return Device(
        key=f"measured-{kind}", vendor="measured", name=name,
        kind="gpu" if kind == "cuda" else "cpu", bandwidth=int(copy.rate),
        dense=MappingProxyType(peaks), sparse=MappingProxyType({}), source=SOURCE,
        notes=notes, memory_gb=None if total is None else total / 2**30)


def memory_total(device: str) -> int | None:
    """Bytes of memory of ``device``: MemTotal (CPU, Linux) or the CUDA device's total."""
    if torch.device(device).type == "cuda":
        return int(torch.cuda.mem_get_info(device)[1])
    try:
        text = MEMINFO.read_text()
    except OSError:
        return None
    return read_mem_total(text)


def read_mem_total(meminfo: str) -> int | None:
    """``MemTotal`` of a /proc/meminfo text, in bytes (None when absent)."""
    for line in meminfo.splitlines():
        name, _, rest = line.partition(":")
        if name.strip() == "MemTotal":
            value, _, unit = rest.strip().partition(" ")
            return int(value) * (1024 if unit.strip().lower() == "kb" else 1)
    return None
