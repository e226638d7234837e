"""The ``inference`` command's glue: the ``--window`` text and the call of
:func:`netanatomy.inference_api.inference`."""

from __future__ import annotations

from typing import Any

from netanatomy.errors import UsageError


def parse_window(text: str | None) -> int | list[int | None] | None:
    """``"4096"`` → 4096; ``"4096,none,4096"`` → per layer; None → the config's.

    Raises:
        UsageError: an entry that is neither a positive integer nor ``none``.
    """
    if text is None:
        return None
    entries: list[int | None] = []
    for entry in text.split(","):
        entry = entry.strip().lower()
        if entry in ("none", "full"):
            entries.append(None)
            continue
        if not entry.isdigit() or int(entry) < 1:
            raise UsageError(f"--window {text!r}: give a positive number of tokens, or a "
                             "comma list with one per layer ('none' for full attention), "
                             "e.g. --window 4096")
        entries.append(int(entry))
    return entries[0] if len(entries) == 1 and entries[0] is not None else entries


def run_inference(target: str, prompt: int, generate: int, batch: int, kv_dtype: str | None,
                  device_type: str | None, window: str | None, usable: float) -> Any:
    from netanatomy.inference_api import inference

    for option, value in (("--prompt", prompt), ("--generate", generate),
                          ("--batch", batch)):
        if value < 1:
            raise UsageError(f"{option} must be at least 1, got {value}")
    if not 0 < usable <= 1:
        raise UsageError(f"--usable must be in (0, 1], got {usable}")
    return inference(target, prompt, generate, batch, kv_dtype=kv_dtype,
                     device_type=device_type, window=parse_window(window),
                     usable_fraction=usable)
