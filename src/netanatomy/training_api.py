"""``netanatomy.training``: one training step of a PyTorch model, captured on meta tensors
(forward, loss, backward, optimizer step) and folded into its costs and memory timeline."""

from __future__ import annotations

from typing import Any

from netanatomy.analysis.training import TrainingReport, training_report


def training(model: Any, input_size: Any = None, *, example_inputs: Any = None,
             dtype: Any = None, optimizer: str = "adamw", device: str = "meta",
             device_type: str | None = None, peak_dtype: str | None = None,
             convention: str = "palm", shard: str = "none", dp: int = 1,
             checkpoint: str = "none", memory_budget_gib: float | None = None,
             precision: str = "fp32", tp: int = 1,
             sequence_parallel: bool = False) -> TrainingReport:
    """Capture one training step of ``model`` and return its :class:`TrainingReport`.

    Args:
        model: an ``nn.Module`` (left unchanged: parameters, gradients, RNGs, flags).
        input_size / example_inputs / dtype: the inputs, as for :func:`netanatomy.analyze`
            (``"1x2048:int64"`` for token ids).
        optimizer: ``sgd``, ``sgd-momentum``, ``adam``, ``adamw`` (default), ``adagrad``,
            ``rmsprop``, ``adamax``, ``nadam``, ``radam``, ``adadelta`` or ``none`` (torch's
            ``foreach`` implementations, the default on GPUs; their state is what they allocate).
        device: ``"meta"`` (nothing allocated) or a real device to run the step on.
        precision: ``fp32`` (as the model is), ``bf16`` / ``fp16`` (everything in that
            dtype), ``bf16-mixed`` / ``fp16-mixed`` (half-precision model, fp32 master
            weights, gradients and optimizer state): the copies are captured, so bytes
            per parameter are derived.
        device_type: a hardware-table key (``netanatomy devices``): adds the step's
            roofline time, tokens/s and utilisations; ``peak_dtype`` picks the peak
            (``"bf16"``, ``"tf32"``; default: the ``precision``'s compute dtype — bf16 or
            fp16 — and for ``fp32`` the parameters' dtype).
        convention: the model-FLOPs convention shown beside the counted FLOPs
            (``palm``, ``kaplan``, ``megatron``, ``torchtitan``, … docs/model-flops.md).
        shard, dp: data-parallel sharding (``none``, ``zero1``, ``zero2``, ``zero3``,
            ``fsdp``) over ``dp`` devices: the peak's memory per device.
        checkpoint: ``none``, ``blocks`` (checkpoint every repeated block) or ``auto``
            (the fewest blocks that bring the estimated peak per device under
            ``memory_budget_gib``, default the ``device_type``'s memory, after ``shard``):
            memory freed against forward FLOPs recomputed.
        tp, sequence_parallel: Megatron tensor parallelism over ``tp`` devices (the split
            weights found from the step's dataflow, docs/training.md "Tensor
            parallelism"), with ``sequence_parallel`` also the norms, dropouts and saved
            linear inputs split over the sequence; composes with ``shard``/``dp``
            (devices = dp × tp). With ``dp`` or ``tp`` above 1 the report's
            ``communication`` says what one device sends per step and, with
            ``device_type``, how long that takes on its link (docs/training.md
            "Communication").

    Raises:
        UsageError: bad arguments. CaptureError: the step failed (the layer is named).
    """
    from netanatomy.api import check_model, resolve_inputs
    from netanatomy.frontends.torch.training import capture_training

    check_model(model, "training")
    from netanatomy.analysis.sharding import sharded_memory

    sharded_memory({}, shard, dp)                 # bad options fail before the run
    from netanatomy.analysis.tensor_parallel import check_degree

    check_degree(tp, sequence_parallel)
    capacity = None
    if device_type is not None:
        from netanatomy.hardware import device as find_device

        capacity = find_device(device_type).memory_bytes   # an unknown device fails here
    budget = check_checkpoint(checkpoint, memory_budget_gib, capacity)
    args, kwargs = resolve_inputs(input_size, example_inputs, dtype)
    from netanatomy.frontends.torch.training import check_precision

    check_precision(precision)
    from netanatomy.frontends.torch.capture import collector_paused

    with collector_paused():     # (as a capture: many objects, no cycles to collect)
        return training_report(capture_training(model, args, kwargs, optimizer=optimizer,
                                                device=device, precision=precision),
                               device_type, peak_dtype,
                               convention, shard, dp, checkpoint, budget, tp,
                               sequence_parallel)


def check_checkpoint(checkpoint: str, memory_budget_gib: float | None,
                     capacity: int | None = None) -> int | None:
    """The budget in bytes (``auto`` without one: the ``--device-type``'s memory,
    ``capacity``); refuses an unknown choice, ``auto`` with neither and a budget that is
    not a positive number.

    Raises:
        UsageError: naming the option and what it takes.
    """
    from netanatomy.analysis.checkpointing import check_choice
    from netanatomy.errors import UsageError

    if memory_budget_gib is not None and not memory_budget_gib > 0:   # (NaN too)
        raise UsageError(f"--memory-budget must be a positive number of GiB, got "
                         f"{memory_budget_gib!r}")
    budget = (int(memory_budget_gib * 2 ** 30) if memory_budget_gib is not None else
              capacity if checkpoint == "auto" else None)
    check_choice(checkpoint, budget)
    return budget
