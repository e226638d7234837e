"""The VAE's KL term in closed form against Monte Carlo, and the reparameterisation
gradient against its closed form."""

from __future__ import annotations

import math

import torch
from torch.distributions import Normal, kl_divergence

from netanatomy.lab.base import Check, Outcome, close, experiment
from netanatomy.lab.figures import MEASURED, THEORY, new_figure
from netanatomy.layers.generative import VAE, gaussian_kl, reparameterise

F64 = torch.float64
SAMPLES = ("reparameterised", "detached")


def kl_monte_carlo(mean: float, sigma: float, samples: int, generator: torch.Generator
                   ) -> tuple[float, float]:
    """``E_q[log q(z) − log p(z)]`` for ``q = N(μ, σ²)``, ``p = N(0, 1)``: the mean over
    ``samples`` draws and its standard error (densities from torch.distributions)."""
    q = Normal(torch.tensor(mean, dtype=F64), torch.tensor(sigma, dtype=F64))
    p = Normal(torch.tensor(0.0, dtype=F64), torch.tensor(1.0, dtype=F64))
    z = mean + sigma * torch.randn(samples, generator=generator, dtype=F64)
    terms = q.log_prob(z) - p.log_prob(z)
    return float(terms.mean()), float(terms.std() / math.sqrt(samples))


def reparameterised_gradient(mean: float, sigma: float, samples: int, sample: str,
                             generator: torch.Generator) -> dict[str, tuple[float, float]]:
    """∂E[z²]/∂μ and ∂E[z²]/∂σ by autograd through ``z = μ + σ ε`` (the layer's
    :func:`reparameterise` with log σ² = 2 log σ): mean and standard error of the
    per-sample gradients. ``detached`` cuts z from μ, σ (no reparameterisation)."""
    mu = torch.full((samples,), mean, dtype=F64, requires_grad=True)     # one copy per
    sd = torch.full((samples,), sigma, dtype=F64, requires_grad=True)    # draw: per-sample
    z = reparameterise(mu, 2 * sd.log(), generator)                      # gradients
    if sample == "detached":
        z = z.detach()
    f = z.pow(2).sum()
    grads = (torch.autograd.grad(f, [mu, sd]) if f.requires_grad
             else (torch.zeros_like(mu), torch.zeros_like(sd)))
    return {name: (float(g.mean()), float(g.std() / math.sqrt(samples)))
            for name, g in zip(("μ", "σ"), grads, strict=True)}


@experiment("vae-kl", topic="generative",
            title="VAE: closed-form KL and the reparameterisation gradient",
            claim="KL(N(μ,σ²) ‖ N(0,1)) = ½(μ² + σ² − 1 − log σ²) agrees with a Monte-Carlo "
                  "estimate of E_q[log q − log p]; through z = μ + σε autograd gives unbiased "
                  "gradients of E[f(z)] (for f = z²: 2μ and 2σ).",
            setting="μ ∈ {0, 1, 2} × σ ∈ {0.5, 1, 2}, 20 000 draws each; gradients at "
                    "(μ, σ) = (0, 0.5), (1, 1), (2, 2)")
def vae_kl(means: tuple[float, ...] = (0.0, 1.0, 2.0),
           sigmas: tuple[float, ...] = (0.5, 1.0, 2.0), samples: int = 20000,
           sample: str = "reparameterised", seed: int = 0) -> Outcome:
    if sample not in SAMPLES:
        raise ValueError(f"sample is one of {', '.join(SAMPLES)}, got {sample!r}")
    generator = torch.Generator().manual_seed(seed)
    checks: list[Check] = []
    kl_rows: list[dict[str, float]] = []
    for sigma in sigmas:
        for mean in means:
            closed = float(gaussian_kl(torch.tensor([mean], dtype=F64),
                                       torch.tensor([2 * math.log(sigma)], dtype=F64)))
            estimate, error = kl_monte_carlo(mean, sigma, samples, generator)
            kl_rows.append({"mu": mean, "sigma": sigma, "closed": closed, "mc": estimate,
                            "se": error})
            checks.append(close(f"KL, μ={mean:g}, σ={sigma:g}: Monte Carlo vs closed form",
                                estimate, closed, atol=5 * error + 1e-12,
                                reason="5 × the sample's standard error (+1e-12 for q = p, "
                                       "where every term is 0)"))
    grad_rows: list[dict[str, float | str]] = []
    for mean, sigma in zip(means, sigmas, strict=False):
        grads = reparameterised_gradient(mean, sigma, samples, sample, generator)
        for name, expected in (("μ", 2 * mean), ("σ", 2 * sigma)):
            measured, error = grads[name]
            grad_rows.append({"mu": mean, "sigma": sigma, "wrt": name, "autograd": measured,
                              "se": error, "closed": expected})
            checks.append(close(f"∂E[z²]/∂{name} at μ={mean:g}, σ={sigma:g} (= 2{name})",
                                measured, expected, atol=5 * error + 1e-12,
                                reason="5 × the standard error of the per-draw gradients"))
    checks.append(layer_kl_check(seed))
    figure = draw(kl_rows, grad_rows, means, sigmas, sample)
    return Outcome(checks, figure, data={"kl": kl_rows, "gradients": grad_rows})


def layer_kl_check(seed: int) -> Check:
    """The VAE layer's KL term against torch.distributions' closed form, on its own
    encoder's output for a random batch (float64; weights from the runner-seeded global
    RNG, data and ε from ``seed``)."""
    generator = torch.Generator().manual_seed(seed)
    model = VAE(8, 6, 3).double()
    x = torch.rand(16, 8, dtype=F64, generator=generator)
    with torch.no_grad():
        output = model(x, generator)
        _, kl = model.loss(x, output)
        q = Normal(output.mean, (0.5 * output.log_variance).exp())
        reference = kl_divergence(q, Normal(torch.zeros_like(q.loc), torch.ones_like(q.loc)))
    return close("VAE.loss KL term vs torch.distributions.kl_divergence",
                 float(kl), float(reference.sum(-1).mean()), rtol=1e-12,
                 reason="float64 rounding of two evaluations of the same closed form")


def draw(kl_rows: list[dict[str, float]], grad_rows: list[dict[str, float | str]],
         means: tuple[float, ...], sigmas: tuple[float, ...], sample: str) -> object:
    figure, (left, right) = new_figure(2, width=4.8)
    styles = ["-", "--", ":", "-."]
    grid = torch.linspace(min(means) - 0.5, max(means) + 0.5, 101, dtype=F64)
    for index, sigma in enumerate(sigmas):
        curve = gaussian_kl(grid[:, None], torch.full((101, 1), 2 * math.log(sigma), dtype=F64))
        left.plot(grid.tolist(), curve.tolist(), styles[index % 4], color=THEORY,
                  label=f"closed form, σ={sigma:g}")
        rows = [row for row in kl_rows if row["sigma"] == sigma]
        left.errorbar([row["mu"] for row in rows], [row["mc"] for row in rows],
                      yerr=[5 * row["se"] for row in rows], fmt="o", color=MEASURED,
                      capsize=3, label="Monte Carlo ± 5 SE" if index == 0 else None)
    left.set_xlabel("μ")
    left.set_ylabel("KL(q ‖ p)  [nats]")
    left.legend(fontsize=7)
    left.set_title("KL: closed form and Monte Carlo agree", fontsize=9)
    top = max([float(row["closed"]) for row in grad_rows]
              + [float(row["autograd"]) for row in grad_rows]) * 1.1 + 0.1
    right.plot([0, top], [0, top], color=THEORY, label="y = x (closed form 2μ, 2σ)")
    for name, marker, offset in (("μ", "o", -0.06), ("σ", "s", 0.06)):
        picked = [row for row in grad_rows if row["wrt"] == name]
        right.errorbar([float(row["closed"]) + offset for row in picked],
                       [float(row["autograd"]) for row in picked],
                       yerr=[5 * float(row["se"]) for row in picked], fmt=marker,
                       color=MEASURED, capsize=3, mfc="white" if name == "σ" else MEASURED,
                       label=f"∂/∂{name} by autograd, {sample} (± 5 SE)")
    right.set_xlabel("closed-form gradient of E[z²]")
    right.set_ylabel("Monte-Carlo autograd gradient")
    right.legend(fontsize=7, loc="upper left")
    right.set_title("Reparameterisation: gradients through z = μ + σε", fontsize=9)
    return figure
