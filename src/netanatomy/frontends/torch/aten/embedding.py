"""Embedding lookups → ``embedding`` (table, indices)."""

from __future__ import annotations

from netanatomy.frontends.torch.aten.registry import AtenCall, Emit, aten


@aten("embedding")
def adapt_embedding(call: AtenCall) -> Emit:
    return Emit("embedding", (call.info(call.args[0]), call.info(call.args[1])))
