"""He initialisation: Var(w) = 2/fan_in keeps the second moment of pre-activations constant
through a stack of ReLU layers; any other gain g multiplies it by g²/2 per layer."""

from __future__ import annotations

import math

import torch
from torch import nn

from netanatomy.lab.base import Outcome, close, equal, experiment
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure

HE_GAIN = math.sqrt(2.0)


@experiment("he-init-variance", topic="initialisation",
            title="He initialisation keeps the activation variance through ReLU layers",
            claim="With Var(w) = 2/fan_in (gain √2) the second moment of the pre-activations "
                  "of a ReLU stack stays constant with depth; a gain g multiplies it by g²/2 "
                  "per layer, so gain 1 halves it at every layer.",
            setting="the course's conv: 8×8 kernel on 3 input channels (fan_in 192, "
                    "std √(2/192)); 256 independent 30-layer ReLU stacks of width 64")
def he_init_variance(kernel: int = 8, in_channels: int = 3, out_channels: int = 512,
                     gain: float = HE_GAIN, depth: int = 30, width: int = 64,
                     batch: int = 4, replicates: int = 256, seed: int = 0) -> Outcome:
    generator = torch.Generator().manual_seed(seed)
    conv = nn.Conv2d(in_channels, out_channels, kernel, bias=False, dtype=torch.float64)
    default_init = conv.weight.detach().clone()      # torch's own: kaiming_uniform_, a = √5
    nn.init.kaiming_normal_(conv.weight, nonlinearity="relu", generator=generator)
    he = conv.weight.detach()
    fan_in = in_channels * kernel * kernel           # the course's formula, by hand
    torch_fan_in, _ = nn.init._calculate_fan_in_and_fan_out(conv.weight)
    moments = {g: stack_second_moments(g, depth, width, batch, replicates, generator)
               for g in dict.fromkeys((gain, 1.0 if gain == HE_GAIN else HE_GAIN))}
    ratios = moments[gain]                           # (replicates, depth): q_l / q_1
    last, last_se = mean_and_se(ratios[:, -1])
    checks = [
        equal(f"fan_in of a {kernel}×{kernel} conv on {in_channels} channels",
              torch_fan_in, fan_in, reason="torch's fan-in against C_in·k·k"),
        close("std of kaiming_normal_ (relu) weights", float(he.std()),
              math.sqrt(2 / fan_in), rtol=5 * relative_se_of_std(he),
              reason=f"5 × the standard error of the std of {he.numel()} samples, "
                     "√((kurtosis − 1)/(4n)) from the sample"),
        close("std of torch's default conv init", float(default_init.std()),
              math.sqrt(1 / (3 * fan_in)), rtol=5 * relative_se_of_std(default_init),
              reason="kaiming_uniform_(a=√5): Var = 1/(3·fan_in); 5 × the sample's SE"),
        close(f"q_{depth} / q_1 at gain {gain:.4g} (He keeps it at 1)", last, 1.0,
              atol=5 * last_se,
              reason=f"5 × the standard error over {replicates} independent stacks"),
        close(f"q_{depth} / q_1 against (g²/2)^{depth - 1}", last,
              (gain**2 / 2) ** (depth - 1), atol=5 * last_se,
              reason="E[q_(l+1)] = g²·E[relu(z_l)²] = (g²/2)·E[q_l]; 5 × SE over stacks"),
    ]
    figure = draw(he, default_init, fan_in, moments, depth)
    return Outcome(checks, figure, data={
        "fan_in": fan_in, "he_variance": 2 / fan_in, "he_std": math.sqrt(2 / fan_in),
        "default_std": math.sqrt(1 / (3 * fan_in)), "gain": gain,
        "ratio_by_depth": {f"{g:.4g}": [float(v) for v in m.mean(dim=0)]
                           for g, m in moments.items()}},
        notes=[f"He for an {kernel}×{kernel} kernel on {in_channels} channels: fan_in = "
               f"{fan_in}, Var = 2/{fan_in} = {2 / fan_in:.6g}, std = {math.sqrt(2 / fan_in):.6g}"])


def stack_second_moments(gain: float, depth: int, width: int, batch: int, replicates: int,
                         generator: torch.Generator) -> torch.Tensor:
    """q_l / q_1 for l = 1..depth, q_l = mean z_l² of z_l = W_l relu(z_(l−1)) (z_0 = x),
    W_l ~ N(0, g²/width), bias-free; one row per independent stack."""
    h = torch.randn(replicates, batch, width, generator=generator)
    moments = []
    for _ in range(depth):
        weight = torch.randn(replicates, width, width, generator=generator)
        z = torch.bmm(h, weight * (gain / math.sqrt(width)))
        moments.append(z.double().pow(2).mean(dim=(1, 2)))
        h = torch.relu(z)
    stacked = torch.stack(moments, dim=1)
    return stacked / stacked[:, :1]


def mean_and_se(values: torch.Tensor) -> tuple[float, float]:
    return float(values.mean()), float(values.std() / math.sqrt(values.numel()))


def relative_se_of_std(sample: torch.Tensor) -> float:
    """Relative standard error of a sample std: √((κ − 1)/(4n)), κ the sample kurtosis
    (1/√(2n) for a Gaussian, √(0.2/n) for a uniform)."""
    centred = sample.double().flatten() - sample.double().mean()
    kurtosis = float(centred.pow(4).mean() / centred.pow(2).mean() ** 2)
    return math.sqrt((kurtosis - 1) / (4 * centred.numel()))


def draw(he: torch.Tensor, default_init: torch.Tensor, fan_in: int,
         moments: dict[float, torch.Tensor], depth: int) -> object:
    figure, (weights, stack) = new_figure(2)
    std = math.sqrt(2 / fan_in)
    grid = torch.linspace(-4 * std, 4 * std, 200, dtype=torch.float64)
    weights.hist(he.flatten().numpy(), bins=80, density=True, color=MEASURED, alpha=0.6,
                 label="kaiming_normal_ (relu)")
    weights.hist(default_init.flatten().numpy(), bins=80, density=True, color=OTHER,
                 alpha=0.5, label="torch default (a = √5)")
    weights.plot(grid, torch.exp(-grid**2 / (2 * std**2)) / (std * math.sqrt(2 * math.pi)),
                 color=THEORY, label=f"N(0, 2/{fan_in})")
    weights.set_xlabel("weight value")
    weights.set_ylabel("density")
    weights.set_title(f"fan_in {fan_in}: He std √(2/{fan_in}) = {std:.4f}")
    weights.legend(fontsize=8)
    layers = torch.arange(1, depth + 1)
    for (g, ratios), colour in zip(moments.items(), (MEASURED, OTHER), strict=True):
        stack.semilogy(layers, ratios.mean(dim=0), "o", markersize=3, color=colour,
                       label=f"measured, gain {g:.3g}")
        stack.semilogy(layers, (g**2 / 2) ** (layers - 1.0), "--", color=THEORY, linewidth=1)
    stack.plot([], [], "--", color=THEORY, label="theory (g²/2)^(l−1)")
    stack.set_xlabel("layer l")
    stack.set_ylabel("second moment q_l / q_1")
    stack.set_title("He keeps it; gain 1 halves it per layer")
    stack.legend(fontsize=8)
    return figure
