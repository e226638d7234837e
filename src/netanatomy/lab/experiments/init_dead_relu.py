"""Dead ReLUs: a unit whose pre-activation is negative for every input gets exactly zero
gradient and no SGD step can revive it; Leaky ReLU, PReLU and ELU pass a gradient through
the negative side, and the same SGD steps bring their units back."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from netanatomy.errors import UsageError
from netanatomy.lab.base import Check, Outcome, close, equal, experiment
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure

LEAKY_SLOPE = 0.01
PRELU_SLOPE = 0.25
ACTIVATIONS = ("relu", "leaky", "prelu", "elu")


@experiment("dead-relu", topic="initialisation",
            title="Dead ReLUs stay dead; leaky, PReLU and ELU recover",
            claim="A ReLU unit whose pre-activation is negative for every input gets exactly "
                  "zero gradient, so SGD never moves it; Leaky ReLU, PReLU and ELU keep a "
                  "gradient there and the same SGD steps bring their units back to life.",
            setting="Linear(4, 16) with its bias shifted by −3 (every unit dead on 64 "
                    "inputs), trained by SGD (lr 1, 300 steps) towards outputs of 1")
def dead_relu(activation: str = "relu", bias_shift: float = -3.0, steps: int = 300,
              lr: float = 1.0, hidden: int = 16, batch: int = 64, seed: int = 0) -> Outcome:
    if activation not in ACTIVATIONS:
        raise UsageError(f"lab dead-relu: activation={activation!r}; use one of "
                         f"{', '.join(ACTIVATIONS)}")
    runs = {name: train(name, bias_shift, steps, lr, hidden, batch, seed)
            for name in ACTIVATIONS}
    chosen = runs[activation]
    checks = [
        equal("units dead at the start (z < 0 on every input)", chosen["dead"][0], hidden,
              reason="the premise: a bias shift that puts every unit below zero"),
        close("‖∂L/∂W₁‖ by autograd", chosen["grad_norm"], chosen["hand_grad_norm"],
              rtol=1e-12, reason="float64 rounding; hand formula 2(f(z) − 1)·f'(z)·xᵀ/B"),
        *claim_checks(activation, chosen, hidden, steps),
    ]
    figure = draw(runs, activation, steps)
    return Outcome(checks, figure, data={
        "activation": activation,
        "dead_before": chosen["dead"][0], "dead_after": chosen["dead"][-1],
        "alive_fraction_by_step": {name: [1 - d / hidden for d in run["dead"][::10]]
                                   for name, run in runs.items()}},
        notes=["PReLU's slope is held at 0.25 here: learned, it turns negative and fits the "
               "target through the negative side instead of reviving the unit"])


def claim_checks(activation: str, run: dict[str, Any], hidden: int, steps: int
                 ) -> list[Check]:
    if activation == "relu":
        return [
            equal("‖∂L/∂(W₁, b₁)‖ at dead ReLUs", run["grad_norm"], 0.0,
                  reason="relu'(z) = 0 for z < 0: exactly zero"),
            equal(f"dead units after {steps} SGD steps", run["dead"][-1], hidden,
                  reason="a zero gradient gives a zero step"),
            equal(f"max |ΔW₁| after {steps} SGD steps", run["moved"], 0.0,
                  reason="a zero gradient gives a zero step"),
        ]
    return [equal(f"dead units after {steps} SGD steps", run["dead"][-1], 0,
                  reason="f'(z) > 0 for z < 0: SGD pushes every unit up until it fires")]


def slope(activation: str, z: torch.Tensor) -> torch.Tensor:
    """f'(z) by hand."""
    negative = {"relu": torch.zeros_like(z), "leaky": torch.full_like(z, LEAKY_SLOPE),
                "prelu": torch.full_like(z, PRELU_SLOPE), "elu": torch.exp(z)}[activation]
    return torch.where(z > 0, torch.ones_like(z), negative)


def module(activation: str) -> nn.Module:
    if activation == "prelu":
        prelu = nn.PReLU(init=PRELU_SLOPE, dtype=torch.float64)
        prelu.weight.requires_grad_(False)
        return prelu
    return {"relu": nn.ReLU(), "leaky": nn.LeakyReLU(LEAKY_SLOPE), "elu": nn.ELU()}[activation]


def train(activation: str, bias_shift: float, steps: int, lr: float, hidden: int,
          batch: int, seed: int) -> dict[str, Any]:
    """SGD on mean_b Σ_j (f(z_j) − 1)², z = W₁x + b₁: dead counts per step, the first
    gradient (autograd and by hand), how far W₁ moved."""
    generator = torch.Generator().manual_seed(seed)
    layer = nn.Linear(4, hidden, dtype=torch.float64)
    with torch.no_grad():
        nn.init.uniform_(layer.weight, -0.5, 0.5, generator=generator)   # torch's bound 1/√4
        layer.bias.uniform_(-0.5, 0.5, generator=generator).add_(bias_shift)
    x = torch.randn(batch, 4, generator=generator, dtype=torch.float64)
    f, start = module(activation), layer.weight.detach().clone()
    optimiser = torch.optim.SGD(layer.parameters(), lr=lr)
    dead, grad_norm, hand = [], 0.0, 0.0
    for step in range(steps + 1):
        z = layer(x)
        dead.append(int((z <= 0).all(dim=0).sum()))
        if step == steps:
            break
        optimiser.zero_grad()
        ((f(z) - 1) ** 2).sum(dim=1).mean().backward()
        if step == 0:
            assert layer.weight.grad is not None and layer.bias.grad is not None
            grad_norm = float(torch.cat([layer.weight.grad.flatten(), layer.bias.grad]).norm())
            upstream = (2 * (f(z) - 1) * slope(activation, z) / batch).detach()
            hand = float(torch.cat([(upstream.T @ x).flatten(), upstream.sum(dim=0)]).norm())
        optimiser.step()
    moved = float((layer.weight.detach() - start).abs().max())
    return {"dead": dead, "grad_norm": grad_norm, "hand_grad_norm": hand, "moved": moved}


def draw(runs: dict[str, dict[str, Any]], activation: str, steps: int) -> object:
    figure, (axis,) = new_figure()
    styles = {"relu": "-", "leaky": "--", "prelu": "-.", "elu": ":"}
    colours = {"relu": MEASURED, "leaky": "#2da44e", "prelu": "#bf8700", "elu": OTHER}
    for name, run in runs.items():
        hidden = run["dead"][0] or 1
        alive = [1 - d / hidden for d in run["dead"]]
        axis.plot(range(steps + 1), alive, styles[name], linewidth=2.2 if name == activation
                  else 1.4, color=colours[name],
                  label=f"{name}{' (chosen)' if name == activation else ''}")
    axis.axhline(0, color=THEORY, linewidth=0.8, label="ReLU theory: stays 0")
    axis.set_xlabel("SGD step")
    axis.set_ylabel("fraction of units alive (z > 0 on some input)")
    axis.set_ylim(-0.05, 1.05)
    axis.set_title("Dead ReLUs stay dead; leaky, PReLU and ELU come back")
    axis.legend(fontsize=8)
    return figure
