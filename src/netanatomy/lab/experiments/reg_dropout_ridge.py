"""Dropout on the inputs of linear regression is, in expectation, a ridge penalty whose
weights are the data's own column energies: E‖y − X(m⊙w)·a‖² = ‖y − μXw‖² + v·wᵀdiag(XᵀX)w,
with μ = E[a·m] and v = Var(a·m) of one mask entry (m ~ Bernoulli(1 − p))."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from netanatomy.lab.base import Outcome, close, experiment
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure

F64 = torch.float64


def mask_moments(p: float, scaling: str) -> tuple[float, float]:
    """(μ, v): mean and variance of one mask factor a·m, m ~ Bernoulli(q = 1 − p);
    ``inverted`` dropout (torch's) has a = 1/q, ``standard`` a = 1."""
    q = 1.0 - p
    scale = 1.0 / q if scaling == "inverted" else 1.0
    return scale * q, scale**2 * p * q


def regression_problem(rows: int, features: int, seed: int
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """X (columns of unequal scale, so diag(XᵀX) is far from a multiple of I), y, w."""
    generator = torch.Generator().manual_seed(seed)
    scales = torch.logspace(-0.5, 0.5, features, dtype=F64)
    x = torch.randn(rows, features, generator=generator, dtype=F64) * scales
    y = torch.randn(rows, generator=generator, dtype=F64)
    w = torch.randn(features, generator=generator, dtype=F64)
    return x, y, w


def monte_carlo_losses(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, p: float,
                       scaling: str, samples: int) -> torch.Tensor:
    """‖y − X(m⊙w)·a‖² for ``samples`` draws of torch's dropout (one mask per example)."""
    ones = torch.ones(samples, *x.shape, dtype=F64)
    factors = F.dropout(ones, p, training=True)            # m/q, torch's own masks
    if scaling == "standard":
        factors = factors * (1 - p)
    predictions = (x * factors * w).sum(dim=-1)
    return ((y - predictions) ** 2).sum(dim=-1)


def expected_loss_by_enumeration(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor,
                                 p: float, scaling: str) -> torch.Tensor:
    """The exact expectation, one shared mask for all rows, summed over all 2^d masks
    (the expectation of a sum of per-row losses does not depend on the sharing)."""
    features = x.shape[1]
    bits = torch.tensor([[(index >> j) & 1 for j in range(features)]
                         for index in range(2**features)], dtype=F64)
    kept = bits.sum(dim=1)
    probability = (1 - p) ** kept * p ** (features - kept)
    scale = 1 / (1 - p) if scaling == "inverted" else 1.0
    residuals = y - (bits * scale * w) @ x.T
    return (probability * (residuals**2).sum(dim=1)).sum()


def minimise_by_lbfgs(x: torch.Tensor, y: torch.Tensor, p: float, scaling: str,
                     iterations: int) -> tuple[torch.Tensor, float]:
    """Minimise the enumerated expected loss numerically (L-BFGS from w = 0, strong-Wolfe
    line search; no formula for the minimiser is used); returns w and the final gradient
    norm."""
    w = torch.zeros(x.shape[1], dtype=F64, requires_grad=True)
    optimiser = torch.optim.LBFGS([w], lr=1.0, max_iter=iterations, tolerance_grad=1e-14,
                                  tolerance_change=0.0, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = expected_loss_by_enumeration(x, y, w, p, scaling)
        loss.backward()
        return loss

    optimiser.step(closure)
    (gradient,) = torch.autograd.grad(expected_loss_by_enumeration(x, y, w, p, scaling), w)
    return w.detach(), float(gradient.norm())


@experiment("dropout-ridge", topic="regularisation",
            title="Dropout on linear regression is a data-dependent ridge",
            claim="With inverted dropout on the inputs (keep probability 1 − p, kept inputs "
                  "scaled by 1/(1 − p)), E‖y − X(m⊙w)/(1 − p)‖² = ‖y − Xw‖² + "
                  "p/(1 − p)·Σ_j w_j²‖X_j‖², so its minimiser is the ridge solution "
                  "(XᵀX + λ·diag(XᵀX))⁻¹Xᵀy with λ = p/(1 − p).",
            setting="20 × 5 design with column scales 10^−0.5 … 10^0.5, p = 0.3, "
                    "torch's inverted dropout, 20 000 masks per example")
def dropout_ridge(p: float = 0.3, rows: int = 20, features: int = 5,
                  samples: int = 20000, scaling: str = "inverted", penalty: str = "data",
                  iterations: int = 200, seed: int = 0) -> Outcome:
    """``penalty="identity"`` asserts the plain ridge λ·I instead of λ·diag(XᵀX) (the
    failing premise); ``scaling="standard"`` keeps inputs unscaled (μ = 1 − p, v = p(1 − p))."""
    x, y, w = regression_problem(rows, features, seed)
    mu, v = mask_moments(p, scaling)
    lam = v / mu**2                                       # p/(1 − p) in both conventions
    gram = x.T @ x
    weighting = torch.diag(torch.diag(gram)) if penalty == "data" else torch.eye(features,
                                                                                 dtype=F64)
    closed_loss = float(((y - mu * x @ w) ** 2).sum() + v * w @ weighting @ w)
    losses = monte_carlo_losses(x, y, w, p, scaling, samples)
    mc_mean = float(losses.mean())
    mc_error = float(losses.std()) / math.sqrt(samples)
    # Ridge solution of the expected loss: ∇ = 0 ⇔ (μ²XᵀX + v·D)w = μXᵀy.
    ridge = torch.linalg.solve(mu**2 * gram + v * weighting, mu * x.T @ y)
    descended, gradient_norm = minimise_by_lbfgs(x, y, p, scaling, iterations)
    hessian_min = float(torch.linalg.eigvalsh(2 * (mu**2 * gram + v * torch.diag(
        torch.diag(gram)))).min())
    # Strong convexity: ‖w − w*‖ ≤ ‖∇f(w)‖/μ_min (μ_min the least Hessian eigenvalue).
    descent_bound = gradient_norm / hessian_min
    ols = torch.linalg.lstsq(x, y.unsqueeze(1)).solution.flatten() / mu
    checks = [
        close("MC mean of ‖y − X(m⊙w)·a‖²", mc_mean, closed_loss, atol=5 * mc_error,
              reason=f"5 × the Monte-Carlo standard error {mc_error:.3g} (sample std/√"
                     f"{samples})"),
        close("exact E over all 2^d masks", float(expected_loss_by_enumeration(
            x, y, w, p, scaling)), closed_loss, rtol=1e-12,
              reason="float64 rounding of 2^d weighted sums"),
        close("‖w_L-BFGS − w_ridge‖", float((descended - ridge).norm()), 0.0,
              atol=descent_bound + 1e-12 * float(ridge.norm()),
              reason="strong convexity: ‖w − w*‖ ≤ ‖∇f(w)‖/λ_min(∇²f) at the last "
                     "L-BFGS iterate, plus float64 rounding"),
    ]
    plain = torch.linalg.solve(gram + lam * torch.eye(features, dtype=F64), x.T @ y) / mu
    figure = draw(losses, closed_loss, (ols, ridge, descended, plain), lam)
    return Outcome(checks, figure, data={
        "lambda": lam, "closed_form_loss": closed_loss, "mc_mean": mc_mean,
        "mc_standard_error": mc_error, "w_ridge": [float(c) for c in ridge],
        "w_lbfgs": [float(c) for c in descended], "w_ols": [float(c) for c in ols],
        "diag_gram": [float(c) for c in torch.diag(gram)]},
        notes=[f"λ = v/μ² = p/(1 − p) = {lam:.6g} ({scaling} dropout: μ = {mu:.4g}, "
               f"v = {v:.4g})",
               "the penalty weights are diag(XᵀX): columns with more energy are shrunk more"])


def draw(losses: torch.Tensor, closed_loss: float,
         solutions: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
         lam: float) -> object:
    ols, ridge, descended, plain = (s.numpy() for s in solutions)
    figure, (left, right) = new_figure(2, 1)
    count = torch.arange(1, len(losses) + 1, dtype=F64)
    running = torch.cumsum(losses, 0) / count
    spread = float(losses.std())
    left.plot(count, running, color=MEASURED, label="running MC mean")
    left.fill_between(count, closed_loss - 5 * spread / count.sqrt(),
                      closed_loss + 5 * spread / count.sqrt(), color=THEORY, alpha=0.15,
                      label="closed form ± 5 SE")
    left.axhline(closed_loss, color=THEORY, linestyle="--",
                 label="‖y − Xw‖² + λ·wᵀdiag(XᵀX)w")
    left.set_xscale("log")
    left.set_xlabel("number of dropout masks per example")
    left.set_ylabel("squared error (sum over rows)")
    left.set_ylim(closed_loss * 0.8, closed_loss * 1.2)
    left.legend(fontsize=8)
    left.set_title("Monte Carlo meets the ridge closed form")
    index = torch.arange(len(ridge)).numpy()
    right.bar(index - 0.27, ols, width=0.26, color=OTHER, label="least squares")
    right.bar(index, ridge, width=0.26, color=THEORY, label=f"ridge, λ = {lam:.3g}, D = diag(XᵀX)")
    right.bar(index + 0.27, descended, width=0.26, color=MEASURED,
              label="L-BFGS on exact E[loss]")
    right.scatter(index, plain, marker="x", color="black", zorder=3,
                  label="plain ridge (XᵀX + λI)⁻¹Xᵀy")
    right.set_xlabel("coefficient j (column scale grows with j)")
    right.set_ylabel("w_j")
    right.legend(fontsize=8)
    right.set_title("The expected-loss minimiser is the ridge solution")
    return figure
