"""Which axes batch norm averages over: BatchNorm2d normalises each channel over
(N, H, W), BatchNorm1d each neuron over N, with the biased variance; checked against
statistics computed by hand with NumPy."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from netanatomy.errors import UsageError
from netanatomy.lab.base import Outcome, close, experiment
from netanatomy.lab.experiments._float64 import reason, two_methods
from netanatomy.lab.figures import MEASURED, THEORY, new_figure

F64 = torch.float64
AXES = {"NHW": (0, 2, 3), "HW": (2, 3), "CHW": (1, 2, 3)}
"""The axes a hand computation may average over: batch norm's, instance norm's, layer
norm's."""


def by_hand(x: np.ndarray, axes: tuple[int, ...], eps: float, unbiased: bool
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x − μ)/√(v + ε) with μ, v over ``axes`` (v biased unless ``unbiased``)."""
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True, ddof=1 if unbiased else 0)
    return (x - mean) / np.sqrt(var + eps), mean, var


@experiment("bn-per-channel", topic="normalisation",
            title="BN normalises per channel over (N, H, W), per neuron over N",
            claim="BatchNorm2d gives every channel mean 0 and biased variance v/(v + ε) "
                  "over (N, H, W) (not per sample); BatchNorm1d does the same per neuron "
                  "over the batch.",
            setting="BatchNorm2d(4) on a batch of 8 of 4×5×5 with channel offsets and "
                    "scales; BatchNorm1d(5) on 16 samples; ε = 1e-5")
def bn_per_channel(hand_axes: str = "NHW", unbiased: bool = False, eps: float = 1e-5,
                   batch: int = 8, seed: int = 0) -> Outcome:
    if hand_axes not in AXES:
        raise UsageError(f"lab bn-per-channel: hand_axes={hand_axes!r}; use one of "
                         f"{', '.join(AXES)}")
    generator = torch.Generator().manual_seed(seed)
    offsets = torch.tensor([-3.0, 0.0, 1.0, 5.0], dtype=F64).view(1, 4, 1, 1)
    scales = torch.tensor([0.5, 1.0, 2.0, 4.0], dtype=F64).view(1, 4, 1, 1)
    x = torch.randn(batch, 4, 5, 5, generator=generator, dtype=F64) * scales + offsets
    bn2d = nn.BatchNorm2d(4, eps=eps, dtype=F64)
    with torch.no_grad():
        y = bn2d(x)
    hand, _, var = by_hand(x.numpy(), AXES[hand_axes], eps, unbiased)
    xs = torch.randn(2 * batch, 5, generator=generator, dtype=F64) * 3 + 1
    bn1d = nn.BatchNorm1d(5, eps=eps, dtype=F64)
    with torch.no_grad():
        y1 = bn1d(xs)
    hand1, _, var1 = by_hand(xs.numpy(), (0,), eps, unbiased)
    terms = batch * 25
    out_scale = float(np.abs(hand).max())
    v = x.var(dim=(0, 2, 3), unbiased=False)
    checks = [
        close(f"max |BatchNorm2d − by hand over {hand_axes}"
              + (" (unbiased v)" if unbiased else "") + "|",
              float(np.abs(y.numpy() - hand).max()), 0.0,
              atol=two_methods(terms, out_scale), reason=reason(terms, "entries")),
        close("max |BatchNorm1d − by hand over N" + (" (unbiased v)" if unbiased else "")
              + "|", float(np.abs(y1.numpy() - hand1).max()), 0.0,
              atol=two_methods(2 * batch, float(np.abs(hand1).max())),
              reason=reason(2 * batch, "entries")),
        close("max over channels |mean over (N,H,W) of BN output|",
              float(y.mean(dim=(0, 2, 3)).abs().max()), 0.0,
              atol=two_methods(terms, out_scale), reason=reason(terms, "outputs")),
        close("max over channels |biased var of BN output − v/(v+ε)|",
              float((y.var(dim=(0, 2, 3), unbiased=False) - v / (v + eps)).abs().max()),
              0.0, atol=two_methods(terms, out_scale**2), reason=reason(terms, "squares")),
    ]
    per_sample = y.mean(dim=(2, 3))
    figure = draw(x, y, v, eps, per_sample)
    data: dict[str, Any] = {
        "channel_means": y.mean(dim=(0, 2, 3)).tolist(),
        "channel_vars": y.var(dim=(0, 2, 3), unbiased=False).tolist(),
        "theory_vars": (v / (v + eps)).tolist(),
        "max_per_sample_mean": float(per_sample.abs().max()),
        "hand_var": np.asarray(var).ravel()[:8].tolist(),
        "hand_var_1d": np.asarray(var1).ravel().tolist()}
    notes = [f"per (sample, channel) means of the output reach "
             f"{data['max_per_sample_mean']:.2f}: BN is not per sample",
             f"with ε = {eps:g} the channel variances are v/(v+ε), e.g. "
             f"{float((v / (v + eps)).min()):.8f} for v = {float(v.min()):.3g}"]
    return Outcome(checks, figure, data=data, notes=notes)


def draw(x: torch.Tensor, y: torch.Tensor, v: torch.Tensor, eps: float,
         per_sample: torch.Tensor) -> Any:
    figure, axes = new_figure(3, 1, width=3.8, height=3.4)
    channels = range(x.shape[1])
    axis = axes[0]
    axis.bar([c - 0.2 for c in channels], x.mean(dim=(0, 2, 3)).numpy(), 0.4, color="0.7",
             label="input mean")
    axis.bar([c + 0.2 for c in channels], y.mean(dim=(0, 2, 3)).numpy(), 0.4, color=MEASURED,
             label="BN output mean")
    axis.axhline(0, color=THEORY, linestyle="--", label="theory 0")
    axis.set_xlabel("channel")
    axis.set_ylabel("mean over (N, H, W)")
    axis.legend(fontsize=7)
    axis.set_title("per-channel means", fontsize=9)
    axis = axes[1]
    axis.bar([c - 0.2 for c in channels], v.numpy(), 0.4, color="0.7", label="input v")
    axis.bar([c + 0.2 for c in channels], y.var(dim=(0, 2, 3), unbiased=False).numpy(), 0.4,
             color=MEASURED, label="BN output var (biased)")
    axis.plot(list(channels), (v / (v + eps)).numpy(), "_", markersize=20, color=THEORY,
              label="v/(v+ε)")
    axis.set_yscale("log")
    axis.set_xlabel("channel")
    axis.set_ylabel("variance over (N, H, W)")
    axis.legend(fontsize=7)
    axis.set_title("per-channel variances", fontsize=9)
    limit = float(per_sample.abs().max())
    image = axes[2].imshow(per_sample.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit,
                           aspect="auto")
    axes[2].set_xlabel("channel")
    axes[2].set_ylabel("sample n")
    axes[2].set_title("output mean over (H, W): columns average 0", fontsize=9)
    figure.colorbar(image, ax=axes[2], shrink=0.8, label="mean over H, W")
    figure.suptitle("BatchNorm2d normalises each channel over (N, H, W), not each sample")
    return figure
