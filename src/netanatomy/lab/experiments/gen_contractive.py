"""The contractive autoencoder's penalty ‖∂h/∂x‖²_F in closed form against autograd's full
Jacobian."""

from __future__ import annotations

import torch

from netanatomy.lab.base import Outcome, at_most, close, experiment
from netanatomy.lab.figures import MEASURED, THEORY, new_figure
from netanatomy.layers.generative import ContractiveAutoencoder, sigmoid_jacobian_penalty

F64 = torch.float64
ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh}


@experiment("contractive-jacobian", topic="generative",
            title="Contractive AE: ‖J‖²_F in closed form",
            claim="For h = σ(Wx + b), J = diag(h(1 − h)) W, so ‖J‖²_F = Σ_j (h_j(1 − h_j))² "
                  "Σ_i W_ji² — no Jacobian needs forming; autograd's full Jacobian agrees "
                  "to float64 rounding.",
            setting="a ContractiveAutoencoder 10 → 6 on 24 Gaussian inputs, float64")
def contractive_jacobian(inputs: int = 10, hidden: int = 6, samples: int = 24,
                         activation: str = "sigmoid", seed: int = 0) -> Outcome:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation is one of {', '.join(ACTIVATIONS)}, got {activation!r}")
    generator = torch.Generator().manual_seed(seed)
    model = ContractiveAutoencoder(inputs, hidden).double()   # weights: runner's seed
    x = 1.5 * torch.randn(samples, inputs, generator=generator, dtype=F64)
    weight, bias = model.encoder.weight.detach(), model.encoder.bias.detach()
    act = ACTIVATIONS[activation]

    def encode(sample: torch.Tensor) -> torch.Tensor:
        return act(sample @ weight.T + bias)

    jacobians = torch.stack([torch.autograd.functional.jacobian(encode, row) for row in x])
    autograd = jacobians.pow(2).sum((1, 2))                       # ‖J‖²_F per sample
    hidden_values = encode(x)
    closed = sigmoid_jacobian_penalty(hidden_values, weight)      # the sigmoid formula
    per_unit_closed = (hidden_values * (1 - hidden_values)).pow(2) * weight.pow(2).sum(1)
    per_unit_autograd = jacobians.pow(2).sum(2)                   # row j of J
    eps = torch.finfo(F64).eps
    rtol = 4 * inputs * eps                  # a sum of `inputs` products, two orderings
    relative = ((closed - autograd).abs() / autograd).max()
    checks = [
        close("Σ over samples of ‖J‖²_F: closed form vs autograd", float(closed.sum()),
              float(autograd.sum()), rtol=rtol,
              reason=f"float64: 4·(inputs={inputs})·ε, summation of the squared entries in "
                     "two orders"),
        at_most("max relative error per sample", float(relative), rtol,
                reason="the same float64 bound, sample by sample"),
        at_most("max relative error per hidden unit",
                float(((per_unit_closed - per_unit_autograd).abs()
                       / per_unit_autograd).max()), rtol,
                reason="the same bound for each row of J (unit j's contribution)"),
        close("layer's jacobian_penalty vs the formula on its own encoder",
              float(model.jacobian_penalty(x).detach().sum()),
              float(sigmoid_jacobian_penalty(torch.sigmoid(x @ weight.T + bias), weight).sum()),
              rtol=1e-14, reason="float64: the same arithmetic through the module"),
    ]
    figure = draw(closed, autograd, per_unit_closed, per_unit_autograd, activation)
    return Outcome(checks, figure, data={
        "closed_form": [round(float(v), 12) for v in closed],
        "autograd": [round(float(v), 12) for v in autograd],
        "per_unit_mean": [float(v) for v in per_unit_autograd.mean(0)],
        "max_relative_error": float(relative)})


def draw(closed: torch.Tensor, autograd: torch.Tensor, per_unit_closed: torch.Tensor,
         per_unit_autograd: torch.Tensor, activation: str) -> object:
    figure, (left, right) = new_figure(2, width=4.6)
    top = float(torch.maximum(closed, autograd).max()) * 1.05
    left.plot([0, top], [0, top], color=THEORY, label="y = x")
    left.plot(autograd.tolist(), closed.tolist(), "o", color=MEASURED,
              label=f"one input ({activation} encoder)")
    left.set_xlabel("‖J‖²_F from autograd's full Jacobian")
    left.set_ylabel("Σ_j (h_j(1−h_j))² Σ_i W_ji²")
    left.legend(fontsize=8)
    left.set_title("Penalty per sample: closed form = autograd", fontsize=9)
    units = range(per_unit_closed.shape[1])
    right.bar(units, per_unit_autograd.mean(0).tolist(), color=MEASURED, alpha=0.6,
              label="‖row j of J‖², autograd (mean over inputs)")
    right.plot(units, per_unit_closed.mean(0).tolist(), "_", color=THEORY, markersize=22, mew=2,
               label="(h_j(1−h_j))² ‖W_j‖², closed form")
    right.set_xlabel("hidden unit j")
    right.set_ylabel("contribution to ‖J‖²_F")
    right.set_ylim(0, float(per_unit_autograd.mean(0).max()) * 1.4)
    right.legend(fontsize=7, loc="upper left")
    right.set_title("Per-unit contributions", fontsize=9)
    return figure
