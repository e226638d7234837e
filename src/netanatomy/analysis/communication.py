"""What one training step sends between devices, and how long that takes on the device's
scale-up link. netanatomy models the engine; it launches none.

Bytes (ring collectives over a group of ``N`` devices, bytes one device sends; it receives
as many at the same time):

- all-reduce of a message of M bytes: 2(N−1)/N × M (reduce-scatter then all-gather);
- all-gather and reduce-scatter: (N−1)/N × M (M: the whole, gathered tensor).

Data parallelism over ``dp`` devices (Rajbhandari et al. 2020, "ZeRO", §7: "ZeRO-DP ...
2Ψ ... same as baseline"; stage 3 "3Ψ ... 1.5x compared to the baseline"), with P the
bytes of the parameters and G those of the gradients one device computes (of the
trainable parameters), both in the step's compute precision:

- ``none`` (DDP): the gradients all-reduced, 2(N−1)/N × G;
- ``zero1``, ``zero2``: the gradients reduce-scattered and the updated parameters
  all-gathered, (N−1)/N × (G + G);
- ``zero3``, ``fsdp``: the parameters all-gathered in forward and again in backward, the
  gradients reduce-scattered, (N−1)/N × (2P + G).

Precision: the half-precision policies all-gather half-precision parameters and reduce
half-precision gradients — what FSDP's ``MixedPrecision(param_dtype=torch.bfloat16)`` does
with its default ``reduce_dtype=None`` ("this takes on the param_dtype value"), and what
DDP does with a half-precision model (it reduces the gradients in their dtype); fp32 master
weights and optimizer state are never sent. With tensor parallelism, P and G are what one
rank of the TP group holds, and the TP collectives
(:mod:`netanatomy.analysis.tensor_parallel`) are added.

Time (a convention, bandwidth only): bytes one device sends / its link's peak bandwidth
per direction (the datasheets' bidirectional totals halved); no latency, no algorithm
or protocol overhead, every collective on the scale-up link (NVLink, Infinity Fabric,
PCIe) — groups larger than one scale-up domain go over the slower network, not modelled,
so the time is a lower bound. The step is given both ways: compute and communication
perfectly overlapped (max) and not overlapped at all (sum). A device without a link in
the hardware table gets no time, with the reason, never a default bandwidth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from netanatomy.ir.graph import Graph
from netanatomy.symbolic import Dim, to_fraction

CONVENTIONS = (
    "communication: ring collectives, bytes one device sends per step; all-reduce "
    "2(N−1)/N × message, all-gather and reduce-scatter (N−1)/N × message; data parallel "
    "(ZeRO §7): DDP all-reduces the gradients (2Ψ), ZeRO-1/2 reduce-scatter them and "
    "all-gather the updated parameters (2Ψ), ZeRO-3/FSDP all-gather the parameters in "
    "forward and backward and reduce-scatter the gradients (3Ψ); Ψ in the compute precision",
    "communication time: bytes sent / the link's peak bandwidth per direction; no latency, "
    "every group on the scale-up link (a lower bound); step given with compute and "
    "communication perfectly overlapped (max) and not overlapped (sum)",
)


def all_reduce_sent(message: Dim, devices: Dim) -> Any:
    """Bytes one device sends in a ring all-reduce of ``message`` bytes: 2(N−1)/N × M."""
    return to_fraction(2 * (devices - 1) * message, devices)


def gather_sent(message: Dim, devices: Dim) -> Any:
    """Bytes one device sends in a ring all-gather or reduce-scatter whose gathered tensor
    has ``message`` bytes: (N−1)/N × M."""
    return to_fraction((devices - 1) * message, devices)


@dataclass(frozen=True, slots=True)
class Transfer:
    """One collective of the step: its group (``dp`` or ``tp``), phase, kind, what it
    carries, the message (the whole tensor, bytes) and the bytes one device sends."""

    group: str
    phase: str
    kind: str
    what: str
    message_bytes: float
    sent_bytes: float


def data_parallel_transfers(strategy: str, dp: int, param_bytes: float,
                            gradient_bytes: float) -> tuple[Transfer, ...]:
    """The data-parallel collectives of one step (module doc); () for one device.

    ``param_bytes``: every parameter one device computes with (frozen ones too);
    ``gradient_bytes``: the gradients it computes (trainable parameters), both in the
    compute precision.
    """
    if dp == 1:
        return ()

    def ring(phase: str, kind: str, what: str, message: float) -> Transfer:
        sent = all_reduce_sent(message, dp) if kind == "all-reduce" else gather_sent(
            message, dp)
        return Transfer("dp", phase, kind, what, message, float(sent))

    if strategy == "none":
        return (ring("backward", "all-reduce", "gradients (DDP)", gradient_bytes),)
    if strategy in ("zero1", "zero2"):
        return (ring("backward", "reduce-scatter", "gradients", gradient_bytes),
                ring("optimizer", "all-gather", "updated parameters", gradient_bytes))
    return (ring("forward", "all-gather", "parameters", param_bytes),
            ring("backward", "all-gather", "parameters (again, for backward)", param_bytes),
            ring("backward", "reduce-scatter", "gradients", gradient_bytes))


def step_parameter_bytes(graph: Graph, held_parameters: float,
                         plan: Sequence[Any] = ()) -> tuple[float, float]:
    """(P, G): bytes of the parameters and of the trainable ones one device computes with,
    in the step's compute precision: the graph's parameter bytes scaled by what the step
    holds (``held_parameters``: its ``parameters`` category, e.g. half of fp32 under
    bf16-mixed), each parameter by its tensor-parallel share (``plan``: PlanEntry)."""
    shares: Mapping[str, Fraction] = {entry.param: entry.share for entry in plan}
    whole = every = trained = Fraction(0)
    for info in graph.params.values():
        if info.is_buffer:
            continue
        size = int(info.nbytes)
        held = size * shares.get(info.name, Fraction(1))
        whole += size
        every += held
        if info.trainable:
            trained += held
    if not whole:
        return 0.0, 0.0
    scale = Fraction(held_parameters) / whole
    return float(every * scale), float(trained * scale)


@dataclass(frozen=True)
class Communication:
    """What one device sends per step and how long it takes (module doc). Seconds are None
    when the device has no link in the table (``reason`` says why); the step times also
    when its compute time is unknown."""

    strategy: str
    dp: int
    tp: int
    param_bytes: float
    gradient_bytes: float
    transfers: tuple[Transfer, ...]
    dp_sent_bytes: float
    tp_sent_bytes: float
    sent_bytes: float
    link: str | None
    per_direction: int | None          # bytes/s
    seconds: float | None
    dp_seconds: float | None
    tp_seconds: float | None
    compute_seconds: float | None
    overlapped_seconds: float | None   # max(compute, communication)
    serial_seconds: float | None       # compute + communication
    reason: str
    conventions: tuple[str, ...] = CONVENTIONS


def link_of(device: Any) -> tuple[Any, str]:
    """The device's :class:`~netanatomy.hardware.Interconnect` (None when it has none)
    and a line saying which link and bandwidth are used, or why none is."""
    if device is None:
        return None, "no --device-type: bytes only, no time"
    from netanatomy.hardware import device as find_device

    found = find_device(device)
    link = found.interconnect
    if link is None:
        return None, (f"{found.key} ({found.name}) has no interconnect in the hardware table "
                      "(docs/hardware.md): bytes only, no time")
    return link, (f"{found.key}: {link.link}, {link.per_direction / 1e9:g} GB/s per direction "
                  f"(its datasheet: {link.printed})")


def transfer_seconds(sent_bytes: float, link: Any) -> float | None:
    """Seconds to send ``sent_bytes`` at the link's per-direction peak (None: no link;
    0.0 when nothing is sent)."""
    if not sent_bytes:
        return 0.0
    return None if link is None else sent_bytes / link.per_direction


def step_communication(strategy: str, dp: int, param_bytes: float, gradient_bytes: float,
                       tp_collectives: Sequence[Any] = (), tp: int = 1, device: Any = None,
                       compute_seconds: float | None = None) -> Communication:
    """The :class:`Communication` of one step: the data-parallel collectives of
    ``strategy`` over ``dp`` devices plus the tensor-parallel ``tp_collectives`` (those of
    :class:`~netanatomy.analysis.tensor_parallel.TensorParallel`), timed on ``device``'s
    link, beside the step's ``compute_seconds`` (per device)."""
    transfers = (*data_parallel_transfers(strategy, dp, param_bytes, gradient_bytes),
                 *(Transfer("tp", c.phase, c.kind, c.where, c.message_bytes, c.sent_bytes)
                   for c in tp_collectives))
    dp_sent = sum(t.sent_bytes for t in transfers if t.group == "dp")
    tp_sent = sum(t.sent_bytes for t in transfers if t.group == "tp")
    link, reason = link_of(device)
    seconds = transfer_seconds(dp_sent + tp_sent, link)
    both = None if seconds is None or compute_seconds is None else (
        max(compute_seconds, seconds), compute_seconds + seconds)
    return Communication(
        strategy, dp, tp, param_bytes, gradient_bytes, transfers, dp_sent, tp_sent,
        dp_sent + tp_sent, None if link is None else link.link,
        None if link is None else link.per_direction, seconds,
        transfer_seconds(dp_sent, link), transfer_seconds(tp_sent, link), compute_seconds,
        None if both is None else both[0], None if both is None else both[1], reason)
