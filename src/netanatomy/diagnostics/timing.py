"""Measuring a model's forward for real: per-module wall time from forward hooks, the
whole forward without hooks, and the peak memory a forward allocates.

Why hooks and not ``torch.profiler`` with ``record_function`` per module: a hook pair
measures exactly the span the module's ``forward`` runs — its own ops, its submodules and
its functional ops — for any module, shared or called several times, with a few
microseconds of Python per call (the profiler adds its own per-op overhead, larger on
small ops, and its module scopes would have to be added by hooks anyway). The cost: a
parent's time includes its children's and their hook overhead; the forward without hooks
is timed apart, and the difference shows what the hooks cost. On CUDA each hook records a
CUDA event on the current stream, so a module's time is the GPU time between its start
and its end, read after one synchronisation per forward (no sync inside the forward).
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

__all__ = ["ModuleTimes", "measure_memory", "module_times", "time_forward"]

Forward = Callable[[], object]


def synchronize(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_forward(forward: Forward, device: str, repeats: int, warmup: int) -> list[float]:
    """Wall seconds of each of ``repeats`` forwards after ``warmup`` untimed ones."""
    for _ in range(warmup):
        forward()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        forward()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


class ModuleTimes:
    """Hook state: the open spans of each module and, per forward, its summed seconds."""

    def __init__(self, device: str) -> None:
        self.cuda = torch.device(device).type == "cuda"
        self.device = device
        self.open: dict[str, list[Any]] = {}
        self.spans: dict[str, list[tuple[Any, Any]]] = {}
        self.runs: list[dict[str, float]] = []
        self.calls: dict[str, int] = {}

    def stamp(self) -> Any:
        if not self.cuda:
            return time.perf_counter()
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def start(self, path: str) -> None:
        self.open.setdefault(path, []).append(self.stamp())

    def stop(self, path: str) -> None:
        stack = self.open.get(path)
        if stack:                      # a pre-hook without its post-hook is not timed
            self.spans.setdefault(path, []).append((stack.pop(), self.stamp()))

    def end_forward(self) -> None:
        """Close one forward: sum each module's spans (seconds) and start afresh."""
        synchronize(self.device)
        summed: dict[str, float] = {}
        for path, spans in self.spans.items():
            summed[path] = sum(begin.elapsed_time(end) * 1e-3 if self.cuda else end - begin
                               for begin, end in spans)
            self.calls[path] = len(spans)
        self.runs.append(summed)
        self.spans, self.open = {}, {}

    def medians(self) -> dict[str, tuple[float, float]]:
        """Per module: (median, min) seconds over the recorded forwards."""
        paths = dict.fromkeys(itertools.chain.from_iterable(self.runs))
        return {path: (statistics.median(run.get(path, 0.0) for run in self.runs),
                       min(run.get(path, 0.0) for run in self.runs)) for path in paths}


@contextmanager
def hooked(model: nn.Module, times: ModuleTimes) -> Iterator[None]:
    """Time every module of ``model`` (a private copy) while inside; hooks removed after."""
    handles = []
    for path, module in model.named_modules():
        handles.append(module.register_forward_pre_hook(
            lambda *_, path=path: times.start(path)))
        handles.append(module.register_forward_hook(
            lambda *_, path=path: times.stop(path)))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def module_times(model: nn.Module, forward: Forward, device: str, repeats: int,
                 warmup: int) -> ModuleTimes:
    """Per-module seconds of ``repeats`` hooked forwards after ``warmup`` untimed ones."""
    times = ModuleTimes(device)
    with hooked(model, times):
        for _ in range(warmup):
            forward()
        synchronize(device)
        times.spans, times.open = {}, {}
        for _ in range(repeats):
            forward()
            times.end_forward()
    return times


def measure_memory(forward: Forward, device: str) -> tuple[int | None, int | None, str]:
    """(peak rise of allocated bytes above the start of one forward, bytes allocated
    before it (CUDA only), how it was measured)."""
    if torch.device(device).type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        forward()
        synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - before
        return int(peak), int(before), "torch.cuda.max_memory_allocated - memory_allocated " \
                                       "before the forward (peak stats reset)"
    if torch.device(device).type != "cpu":
        return None, None, f"not measured on {device}"
    return cpu_peak(forward), None, ("torch.profiler (profile_memory=True): running sum of "
                                     "the CPU allocator's events, its maximum")


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null while inside: the profiler's C++ backend
    (kineto) writes a "profiler_start/stop" log line there that no setting turns off. The
    forward inside has run several times before, so nothing it says is lost."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:              # no file descriptor 2 (an embedded interpreter)
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def cpu_peak(forward: Forward) -> int | None:
    """The largest running sum of the CPU allocator's allocations and frees during one
    forward, from the profiler's memory events (None when this torch does not expose
    them)."""
    from torch.profiler import ProfilerActivity, profile

    with quiet_stderr(), profile(activities=[ProfilerActivity.CPU],
                                 profile_memory=True) as prof:
        forward()
    results = getattr(prof.profiler, "kineto_results", None)
    if results is None:
        return None
    events = sorted((event.start_ns(), event.nbytes()) for event in results.events()
                    if event.name() == "[memory]" and event.device_type().name == "CPU")
    return max(itertools.accumulate(size for _, size in events), default=0) if events else 0
