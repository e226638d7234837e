"""The ``profile`` command's glue: the target and its input, then
:func:`netanatomy.diagnostics.profile.profile` (torch is reached only through it)."""

from __future__ import annotations

from typing import Any

from netanatomy.errors import UsageError


def run_profile(target: str, inputs: list[str], device: str, repeats: int, warmup: int,
                seed: int) -> Any:
    """Profile ``target`` on ``device``: every row kept (the renderer cuts to --depth).

    Raises:
        UsageError: no --input for a target without a default one, or bad options.
    """
    from netanatomy.diagnostics.profile import profile
    from netanatomy.frontends.torch.devices import check_device

    check_device(device, "--device", real=True)
    try:
        return profile(target, inputs or None, device=device, repeats=repeats,
                       warmup=warmup, seed=seed)
    except UsageError as error:
        if "needs input_size=" in str(error):
            raise UsageError(f"--input is required for {target!r}: give the input shape, "
                             "e.g. --input 32x3x224x224 (or 1x128:int64 for token ids)") \
                from None
        if str(error).startswith(("repeats ", "warmup ")):
            raise UsageError(f"--{error}") from None
        raise
