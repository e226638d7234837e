"""Profiler instrumentation ops (``record_function`` ranges, which optimizers open around
``step``): no tensor work, so no node."""

from __future__ import annotations

from netanatomy.frontends.torch.aten.registry import AtenCall, Emit, aten


@aten("profiler._record_function_enter", "profiler._record_function_enter_new",
      "profiler._record_function_exit")
def adapt_record_function(call: AtenCall) -> list[Emit]:
    return []
