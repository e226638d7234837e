"""Residual vs plain stacks: the gradient at the input of a deep plain tanh stack vanishes,
while a residual block's Jacobian I + ∂F/∂x carries it through every layer."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

from netanatomy.lab.base import Outcome, at_least, close, experiment
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure


@dataclass(frozen=True)
class Arm:
    """One stack's gradient norms by depth (autograd), the hand product at full depth, the
    mean-field prediction of ln‖g‖ and the lower bound Π σ_min(J)."""

    measured: list[float]
    by_hand: float
    mean_field: list[float]
    lower: list[float]


ROUNDING = 1e-10
"""float64 rounding of 50 chained 32×32 products and their SVDs (≈ L·n·ε = 4e-13, with
room)."""


@experiment("residual-vs-plain", topic="depth",
            title="Residual stacks keep the gradient a plain stack loses",
            claim="Through L plain tanh layers at torch's default init (n·Var(w) = 1/3) the "
                  "input gradient shrinks like Π √χ_l, χ_l = mean tanh'(z_l)²/3; a residual "
                  "block y = x + tanh(Wx + b) has Jacobian I + ∂F/∂x, so the gradient is at least "
                  "Π σ_min(I + ∂F/∂x) and in practice does not shrink.",
            setting="50 layers of width 32, torch's default Linear init, one input, "
                    "a random unit output direction")
def residual_vs_plain(depth: int = 50, width: int = 32, residual: bool = True,
                      seed: int = 0) -> Outcome:
    generator = torch.Generator().manual_seed(seed)
    bound = 1 / math.sqrt(width)                     # torch's Linear default: U(±1/√fan_in)
    weights = [torch.empty(width, width, dtype=torch.float64).uniform_(
        -bound, bound, generator=generator) for _ in range(depth)]
    biases = [torch.empty(width, dtype=torch.float64).uniform_(
        -bound, bound, generator=generator) for _ in range(depth)]
    x = torch.randn(width, generator=generator, dtype=torch.float64)
    u = torch.randn(width, generator=generator, dtype=torch.float64)
    u = u / u.norm()
    plain = gradients_by_depth(weights, biases, x, u, skip=False)
    arm = gradients_by_depth(weights, biases, x, u, skip=residual)
    label = "residual" if residual else "plain (residual=False)"
    checks = [
        close(f"plain: ln ‖∂(u·y)/∂x‖ after {depth} layers", math.log(plain.measured[-1]),
              plain.mean_field[-1], atol=5 * math.sqrt(depth / (2 * width)),
              reason="mean field ‖g‖² × n·Var(w)·mean tanh'² per layer; 5 × its sd "
                     "√(L/2n), each layer's ‖Jᵀg‖² having relative variance 2/n"),
        close(f"{label}: ‖∂(u·y)/∂x‖ by autograd", arm.measured[-1], arm.by_hand,
              rtol=ROUNDING, reason="against the hand product Jᵀ⋯Jᵀu; float64 rounding"),
        at_least(f"{label}: ‖∂(u·y)/∂x‖ ≥ Π σ_min(J)", arm.measured[-1],
                 arm.lower[-1], atol=ROUNDING * arm.lower[-1],
                 reason="‖Aᵀv‖ ≥ σ_min(A)‖v‖ per block; float64 rounding"),
        at_least(f"{label}: ‖∂(u·y)/∂x‖ after {depth} layers (does not shrink)",
                 arm.measured[-1], 1.0,
                 reason="E‖(I + J)ᵀg‖² = ‖g‖² + E‖Jᵀg‖² ≥ ‖g‖² when E[W] = 0"),
    ]
    figure = draw(plain, arm, label)
    return Outcome(checks, figure, data={
        "plain_gradient": plain.measured[-1], "residual_gradient": arm.measured[-1],
        "plain_by_depth": plain.measured, "residual_by_depth": arm.measured})


def gradients_by_depth(weights: list[torch.Tensor], biases: list[torch.Tensor],
                       x: torch.Tensor, u: torch.Tensor, skip: bool) -> Arm:
    """‖∂(u·y)/∂h_(L−d)‖ for d = 1..L by autograd; the per-block Jacobians
    J = [I +] diag(1 − tanh²(z))·W by hand, and the product bounds on them."""
    h = x.clone().requires_grad_(True)
    states, jacobians = [h], []
    for weight, bias in zip(weights, biases, strict=True):
        z = weight @ h + bias
        jacobian = (1 - torch.tanh(z.detach()) ** 2)[:, None] * weight
        jacobians.append(jacobian + torch.eye(len(x), dtype=x.dtype) if skip else jacobian)
        h = h + torch.tanh(z) if skip else torch.tanh(z)
        states.append(h)
    grads = torch.autograd.grad(h @ u, states[:-1])
    measured = [float(g.norm()) for g in reversed(grads)]
    chi = [float((1 - torch.tanh(w @ s.detach() + b) ** 2).pow(2).mean()) / 3
           for w, b, s in zip(weights, biases, states, strict=False)]    # n·Var(w) = 1/3
    growth = [math.log(1 + c if skip else c) / 2 for c in reversed(chi)]
    by_hand = u
    for jacobian in reversed(jacobians):
        by_hand = jacobian.T @ by_hand
    singular = [torch.linalg.svdvals(j) for j in reversed(jacobians)]
    lower = torch.cumprod(torch.stack([s[-1] for s in singular]), 0)
    return Arm(measured, float(by_hand.norm()), list(itertools.accumulate(growth)),
               [float(v) for v in lower])


def draw(plain: Arm, arm: Arm, label: str) -> object:
    figure, (axis,) = new_figure()
    depth = len(plain.measured)
    layers = range(1, depth + 1)
    axis.semilogy(layers, plain.measured, "o", markersize=3, color=OTHER,
                  label="plain: measured")
    axis.semilogy(layers, [math.exp(v) for v in plain.mean_field], "-", color=THEORY,
                  linewidth=1, label="mean field: Π √(χ) , Π √(1 + χ)")
    axis.semilogy(layers, arm.measured, "o", markersize=3, color=MEASURED,
                  label=f"{label}: measured")
    axis.semilogy(layers, [math.exp(v) for v in arm.mean_field], "-", color=THEORY,
                  linewidth=1)
    axis.semilogy(layers, arm.lower, "--", color=THEORY, linewidth=1,
                  label=f"{label}: bound Π σ_min(J)")
    axis.axhline(1.0, color="0.6", linewidth=0.8)
    lowest = min(plain.measured + arm.measured)
    axis.set_ylim(bottom=lowest / 100)                 # Π σ_min may run far below
    axis.set_xlabel("layers back-propagated through")
    axis.set_ylabel("‖gradient‖ (unit gradient at the output)")
    axis.set_title("Skip connections keep the gradient; the plain stack loses it")
    axis.legend(fontsize=8)
    return figure
