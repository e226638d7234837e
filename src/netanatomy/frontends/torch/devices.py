"""Checking a device name (``--device``, ``device=``) before anything runs: a name torch
knows and netanatomy supports, and, for an accelerator, one that is there."""

from __future__ import annotations

import re

import torch

from netanatomy.errors import UsageError

KINDS = ("meta", "cpu", "cuda", "mps", "xpu")
"""Device types accepted (``cuda:N`` and ``xpu:N`` pick one accelerator)."""

FORM = re.compile(r"(?P<kind>[a-z]+)(?::(?P<index>[0-9]{1,6}))?")


def check_device(text: str, option: str = "--device", *, real: bool = False) -> str:
    """``text`` when it names a device that can be used here.

    Args:
        text: ``meta``, ``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``xpu[:N]``.
        option: how the caller names the setting, for the message.
        real: refuse ``meta`` (the caller runs the model for real).

    Raises:
        UsageError: an unknown name, ``meta`` where values are needed, or an accelerator
            that this torch build or machine does not have.
    """
    match = FORM.fullmatch(text)
    kind = match["kind"] if match else None
    if match is None or kind not in KINDS:
        raise UsageError(f"{option}: unknown device {text[:40]!r}; expected "
                         f"{', '.join(KINDS)} (cuda:N for the N-th GPU)")
    if kind == "meta" and real:
        raise UsageError(f"{option} meta: this runs the model for real, and meta tensors hold "
                         "no values; use cpu or cuda")
    index = int(match["index"]) if match["index"] else None
    if kind in ("meta", "cpu", "mps") and index not in (None, 0):
        raise UsageError(f"{option}: {kind} has no device {index}; give {kind!r}")
    available, count = accelerator(kind)
    if not available:
        raise UsageError(f"{option} {text}: {kind} is not available here ({why_missing(kind)}"
                         "); use --device cpu, or meta where the command takes it")
    if index is not None and index >= count:
        raise UsageError(f"{option} {text}: there are {count} {kind} device(s) here, "
                         f"{kind}:0 to {kind}:{count - 1}")
    return text


def accelerator(kind: str) -> tuple[bool, int]:
    """Whether devices of ``kind`` are usable here, and how many there are."""
    if kind in ("meta", "cpu"):
        return True, 1
    if kind == "cuda":
        available = torch.cuda.is_available()
        return available, torch.cuda.device_count() if available else 0
    if kind == "mps":
        return bool(torch.backends.mps.is_available()), 1
    xpu = getattr(torch, "xpu", None)
    available = xpu is not None and bool(xpu.is_available())
    return available, xpu.device_count() if available and xpu is not None else 0


def why_missing(kind: str) -> str:
    """Why ``kind`` is not available: the torch build, or the machine."""
    if kind == "cuda" and torch.version.cuda is None:
        return f"torch {torch.__version__} is built without CUDA"
    return f"torch {torch.__version__} sees no {kind} device"
