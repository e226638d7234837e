"""Two one-line derivations checked against autograd: the gradient of a sigmoid unit
ŷ = σ(wᵀx + b) with respect to its input, ŷ(1 − ŷ)·w, and the Jacobian of a residual
block y = x + F(x), I + ∂F/∂x."""

from __future__ import annotations

from typing import Any

import torch

from netanatomy.errors import UsageError
from netanatomy.lab.base import Outcome, close, experiment
from netanatomy.lab.experiments._float64 import U, reason, two_methods
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure

F64 = torch.float64
ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh}


@experiment("sigmoid-unit-gradient", topic="backprop",
            title="A sigmoid unit: ∂ŷ/∂x = ŷ(1 − ŷ)·w",
            claim="For ŷ = σ(wᵀx + b), ∂ŷ/∂x = ŷ(1 − ŷ)·w; with cross-entropy the loss "
                  "gradient is (ŷ − y)·w (the σ' cancels), with squared error "
                  "(ŷ − y)·ŷ(1 − ŷ)·w (it saturates when the unit is confidently wrong).",
            setting="5 inputs, random w and b, 201 inputs with wᵀx + b from −8 to 8, "
                    "label y = 1")
def sigmoid_unit_gradient(inputs: int = 5, points: int = 201, reach: float = 8.0,
                          label: float = 1.0, activation: str = "sigmoid",
                          seed: int = 0) -> Outcome:
    if activation not in ACTIVATIONS:
        raise UsageError(f"lab sigmoid-unit-gradient: activation={activation!r}; "
                         f"use {' or '.join(ACTIVATIONS)}")
    generator = torch.Generator().manual_seed(seed)
    w = torch.randn(inputs, generator=generator, dtype=F64)
    b = float(torch.randn(1, generator=generator, dtype=F64))
    # Inputs along w so that the pre-activation z = wᵀx + b sweeps [−reach, reach].
    z_wanted = torch.linspace(-reach, reach, points, dtype=F64)
    base = torch.randn(inputs, generator=generator, dtype=F64)
    base = base - (base @ w) / (w @ w) * w
    x = (base + ((z_wanted - b) / (w @ w))[:, None] * w).requires_grad_(True)
    y_hat = ACTIVATIONS[activation](x @ w + b)
    (dy_dx,) = torch.autograd.grad(y_hat.sum(), x, retain_graph=True)
    p = y_hat.detach()
    cross_entropy = -(label * torch.log(y_hat) + (1 - label) * torch.log(1 - y_hat))
    (ce_dx,) = torch.autograd.grad(cross_entropy.sum(), x, retain_graph=True)
    squared = 0.5 * (y_hat - label) ** 2
    (se_dx,) = torch.autograd.grad(squared.sum(), x)
    slope = (p * (1 - p))[:, None] * w
    theory = {"∂ŷ/∂x": slope, "∂L_CE/∂x": (p - label)[:, None] * w,
              "∂L_SE/∂x": ((p - label) * p * (1 - p))[:, None] * w}
    measured = {"∂ŷ/∂x": dy_dx, "∂L_CE/∂x": ce_dx, "∂L_SE/∂x": se_dx}
    forms = {"∂ŷ/∂x": "ŷ(1−ŷ)·w", "∂L_CE/∂x": "(ŷ−y)·w", "∂L_SE/∂x": "(ŷ−y)ŷ(1−ŷ)·w"}
    # Cross-entropy's autograd path divides by ŷ and 1 − ŷ and multiplies by σ' again:
    # relative rounding of a few u/min(ŷ, 1 − ŷ) on an entry of size |w|·max|ŷ − y|.
    smallest = float(torch.minimum(p, 1 - p).clamp(min=U).min())
    scale = float(w.abs().max())
    bounds = {"∂ŷ/∂x": two_methods(4, scale * 0.25),
              "∂L_CE/∂x": two_methods(8, scale) / smallest,
              "∂L_SE/∂x": two_methods(8, scale * 0.25)}
    checks = [close(f"max |{key} autograd − {forms[key]}|",
                    float((measured[key] - theory[key]).abs().max()), 0.0,
                    atol=bounds[key], reason=reason(8, "rounded factors")
                    + (" divided by min(ŷ, 1 − ŷ)" if key == "∂L_CE/∂x" else ""))
              for key in forms]
    figure = draw_sigmoid(x.detach() @ w + b, measured, theory, w, activation)
    at_zero = points // 2
    data: dict[str, Any] = {"w": w.tolist(), "b": b,
                            "slope_at_z0": float(dy_dx[at_zero].norm() / w.norm())}
    notes = [f"at z = 0 the unit passes ŷ(1−ŷ) = {data['slope_at_z0']:.4g} of w "
             "(1/4 for the sigmoid)"]
    return Outcome(checks, figure, data=data, notes=notes)


def draw_sigmoid(z: torch.Tensor, measured: dict[str, torch.Tensor],
                 theory: dict[str, torch.Tensor], w: torch.Tensor, activation: str) -> Any:
    figure, axes = new_figure(2, 1)
    norm = float(w.norm())
    axis = axes[0]
    axis.plot(z, measured["∂ŷ/∂x"].norm(dim=1) / norm, "o", markersize=3, color=MEASURED,
              label="‖∂ŷ/∂x‖/‖w‖ by autograd")
    axis.plot(z, theory["∂ŷ/∂x"].norm(dim=1) / norm, color=THEORY, label="ŷ(1 − ŷ)")
    axis.set_xlabel("pre-activation z = wᵀx + b")
    axis.set_ylabel("‖∂ŷ/∂x‖ / ‖w‖")
    axis.set_title(f"{activation} unit: input gradient", fontsize=10)
    axis.legend(fontsize=8)
    axis = axes[1]
    for key, colour, name in (("∂L_CE/∂x", MEASURED, "cross-entropy"),
                              ("∂L_SE/∂x", OTHER, "squared error")):
        axis.plot(z, measured[key].norm(dim=1) / norm, "o", markersize=3, color=colour,
                  label=f"{name} (autograd)")
        axis.plot(z, theory[key].norm(dim=1) / norm, color=THEORY, linewidth=1)
    axis.plot([], [], color=THEORY, label="closed forms |ŷ−y|, |ŷ−y|ŷ(1−ŷ)")
    axis.set_xlabel("pre-activation z (label y = 1)")
    axis.set_ylabel("‖∂L/∂x‖ / ‖w‖")
    axis.set_title("loss gradient: squared error saturates when wrong", fontsize=10)
    axis.legend(fontsize=8)
    figure.suptitle("Autograd matches ŷ(1 − ŷ)·w" if activation == "sigmoid"
                    else f"{activation}: ŷ(1 − ŷ)·w is not its derivative")
    return figure


class Residual(torch.nn.Module):
    """y = shortcut·x + W₂ tanh(W₁ x) (shortcut 1: a residual block)."""

    def __init__(self, width: int, hidden: int, shortcut: float,
                 generator: torch.Generator) -> None:
        super().__init__()
        self.w1 = torch.randn(hidden, width, generator=generator, dtype=F64) / width**0.5
        self.w2 = torch.randn(width, hidden, generator=generator, dtype=F64) / hidden**0.5
        self.shortcut = shortcut

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2 @ torch.tanh(self.w1 @ x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut * x + self.branch(x)


@experiment("residual-jacobian", topic="backprop",
            title="Residual block: ∂y/∂x = I + ∂F/∂x",
            claim="For y = x + F(x) the Jacobian is the identity plus the branch's Jacobian "
                  "(here W₂·diag(tanh'(W₁x))·W₁), so the gradient has a path that no "
                  "branch can shrink.",
            setting="width 6, hidden 10, F(x) = W₂ tanh(W₁ x), one random x")
def residual_jacobian(width: int = 6, hidden: int = 10, shortcut: float = 1.0,
                      seed: int = 0) -> Outcome:
    generator = torch.Generator().manual_seed(seed)
    block = Residual(width, hidden, shortcut, generator)
    x = torch.randn(width, generator=generator, dtype=F64)
    full = torch.autograd.functional.jacobian(block, x)
    branch = torch.autograd.functional.jacobian(block.branch, x)
    slope = 1 - torch.tanh(block.w1 @ x) ** 2
    closed = block.w2 @ torch.diag(slope) @ block.w1
    identity = torch.eye(width, dtype=F64)
    magnitude = float((block.w2.abs() @ block.w1.abs()).max())
    bound = two_methods(hidden + 1, magnitude + 1)
    checks = [
        close("max |J autograd − (I + J_F autograd)|",
              float((full - identity - branch).abs().max()), 0.0, atol=bound,
              reason=reason(hidden + 1, "products")),
        close("max |J_F autograd − W₂ diag(tanh') W₁|", float((branch - closed).abs().max()),
              0.0, atol=bound, reason=reason(hidden + 1, "products")),
        close("max |J autograd − (I + W₂ diag(tanh') W₁)|",
              float((full - identity - closed).abs().max()), 0.0, atol=2 * bound,
              reason="the sum of the two bounds above"),
    ]
    singular = torch.linalg.svdvals(full)
    branch_singular = torch.linalg.svdvals(branch)
    figure = draw_residual(full, identity + closed, branch, singular, branch_singular,
                           shortcut)
    data: dict[str, Any] = {"singular_values_J": singular.tolist(),
                            "singular_values_JF": branch_singular.tolist()}
    notes = [f"smallest singular value: J {float(singular.min()):.3g}, "
             f"J_F {float(branch_singular.min()):.3g}"]
    return Outcome(checks, figure, data=data, notes=notes)


def draw_residual(full: torch.Tensor, theory: torch.Tensor, branch: torch.Tensor,
                  singular: torch.Tensor, branch_singular: torch.Tensor,
                  shortcut: float) -> Any:
    figure, axes = new_figure(4, 1, width=3.2, height=3.2)
    limit = float(torch.cat([full.flatten(), theory.flatten()]).abs().max())
    for axis, values, title in ((axes[0], full, "∂y/∂x by autograd"),
                                (axes[1], theory, "I + W₂ diag(tanh') W₁")):
        image = axis.imshow(values.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
        axis.set_title(title, fontsize=9)
        axis.set_xlabel("input j")
        figure.colorbar(image, ax=axis, shrink=0.7)
    axes[0].set_ylabel("output i")
    difference = (full - theory).abs().clamp(min=1e-18).log10()
    image = axes[2].imshow(difference.numpy(), cmap="magma", vmin=-18, vmax=1)
    axes[2].set_title("log₁₀ |difference|", fontsize=9)
    axes[2].set_xlabel("input j")
    figure.colorbar(image, ax=axes[2], shrink=0.7, label="log₁₀ |autograd − I − J_F|")
    axis = axes[3]
    ranks = range(1, len(singular) + 1)
    axis.plot(ranks, singular.numpy(), "o-", color=MEASURED, label=f"J = {shortcut:g}·I + J_F")
    axis.plot(ranks, branch_singular.numpy(), "s--", color=OTHER, label="J_F (branch alone)")
    axis.set_xlabel("index")
    axis.set_ylabel("singular value")
    axis.set_yscale("log")
    axis.legend(fontsize=8)
    axis.set_title("the shortcut lifts the small ones", fontsize=9)
    figure.suptitle("Residual block Jacobian = identity + branch Jacobian")
    return figure
