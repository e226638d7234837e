"""Normalisation kernels → ``norm`` with its type and whether statistics are computed."""

from __future__ import annotations

import torch

from netanatomy.frontends.torch.aten.registry import Adapter, AtenCall, Emit, register_adapter


def norm_adapter(norm_type: str, affine_positions: tuple[int, ...],
                 stats: bool | int) -> Adapter:
    """Adapter for a norm op: operand 0 is x, ``affine_positions`` hold weight/bias.

    ``stats`` is a constant bool, or the index of the op's ``training`` argument.
    """

    def adapt(call: AtenCall) -> Emit:
        affine = [call.info(call.args[i]) for i in affine_positions
                  if len(call.args) > i and isinstance(call.args[i], torch.Tensor)]
        computed = stats if isinstance(stats, bool) else bool(call.arg(stats, "training", True))
        return Emit("norm", (call.info(call.args[0]), *affine),
                    {"type": norm_type, "stats": computed})

    return adapt


for _name, (_type, _affine, _stats) in {
    "aten.native_batch_norm": ("batch", (1, 2), 5),
    "aten._native_batch_norm_legit": ("batch", (1, 2), 5),
    "aten._native_batch_norm_legit.no_stats": ("batch", (1, 2), 3),
    "aten._native_batch_norm_legit_no_training": ("batch", (1, 2), False),
    "aten._batch_norm_with_update": ("batch", (1, 2), True),
    "aten._batch_norm_no_update": ("batch", (1, 2), False),
    "aten.cudnn_batch_norm": ("batch", (1, 2), 5),
    "aten.native_layer_norm": ("layer", (2, 3), True),
    "aten.native_group_norm": ("group", (1, 2), True),
    "aten.rms_norm": ("rms", (2,), True),
    "aten._fused_rms_norm": ("rms", (2,), True),
}.items():
    register_adapter(_name, norm_adapter(_type, _affine, _stats))
