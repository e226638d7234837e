"""``netanatomy.training``: one training step of a PyTorch model, captured on meta tensors
(forward, loss, backward, optimizer step) and folded into its costs and memory timeline."""

from __future__ import annotations

from typing import Any

from netanatomy.analysis.training import TrainingReport, training_report


def training(model: Any, input_size: Any = None, *, example_inputs: Any = None,
             dtype: Any = None, optimizer: str = "adamw", device: str = "meta"
             ) -> TrainingReport:
    """Capture one training step of ``model`` and return its :class:`TrainingReport`.

    Args:
        model: an ``nn.Module`` (left unchanged: parameters, gradients, RNGs, flags).
        input_size / example_inputs / dtype: the inputs, as for :func:`netanatomy.analyze`
            (``"1x2048:int64"`` for token ids).
        optimizer: ``sgd``, ``sgd-momentum``, ``adam``, ``adamw`` (default), ``adagrad``,
            ``rmsprop``, ``adamax``, ``nadam``, ``radam``, ``adadelta`` or ``none`` (torch's
            single-tensor implementations; their state is what they allocate).
        device: ``"meta"`` (nothing allocated) or a real device to run the step on.

    Raises:
        UsageError: bad arguments. CaptureError: the step failed (the layer is named).
    """
    from netanatomy.api import check_model, resolve_inputs
    from netanatomy.frontends.torch.training import capture_training

    check_model(model, "training")
    args, kwargs = resolve_inputs(input_size, example_inputs, dtype)
    return training_report(capture_training(model, args, kwargs, optimizer=optimizer,
                                            device=device))
