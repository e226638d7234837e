"""A variational autoencoder and a contractive autoencoder, with their losses in closed form.

:class:`VAE` is an MLP encoder to ``(μ, log σ²)``, a reparameterised sample
``z = μ + σ·ε`` and an MLP decoder to Bernoulli logits; :meth:`VAE.loss` is the negative
ELBO, reconstruction (binary cross-entropy) plus the closed-form
``KL(N(μ, σ²) ‖ N(0, 1)) = ½ Σ (μ² + σ² − 1 − log σ²)``.

:class:`ContractiveAutoencoder` has a sigmoid encoder ``h = σ(Wx + b)``, whose Jacobian
``J = diag(h ⊙ (1 − h)) W`` gives the penalty ``‖J‖²_F = Σ_j (h_j(1 − h_j))² Σ_i W_ji²``
without forming ``J``.

Randomness: :func:`reparameterise` draws ``ε`` from the ``generator`` it is given, or from
torch's global RNG when it is ``None`` (``netanatomy.lab`` seeds and restores that one).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["VAE", "ContractiveAutoencoder", "VAEOutput", "gaussian_kl", "reparameterise",
           "sigmoid_jacobian_penalty"]


def gaussian_kl(mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """``KL(N(μ, diag σ²) ‖ N(0, I))`` per sample: ``½ Σ (μ² + σ² − 1 − log σ²)`` over the
    last axis (nats)."""
    return 0.5 * (mean.pow(2) + log_variance.exp() - 1 - log_variance).sum(-1)


def reparameterise(mean: torch.Tensor, log_variance: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """``z = μ + exp(½ log σ²) · ε`` with ``ε ~ N(0, I)`` drawn from ``generator`` (torch's
    global RNG when ``None``); gradients flow to ``μ`` and ``log σ²`` through ``z``."""
    noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
    return mean + torch.exp(0.5 * log_variance) * noise


def sigmoid_jacobian_penalty(hidden: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``‖∂h/∂x‖²_F`` per sample for ``h = σ(Wx + b)``: ``Σ_j (h_j(1 − h_j))² Σ_i W_ji²``.

    ``hidden`` is ``(N, H)``, ``weight`` is ``W`` of shape ``(H, D)``. Valid for the sigmoid
    only (its derivative is ``h(1 − h)``)."""
    slope = hidden * (1 - hidden)
    return slope.pow(2) @ weight.pow(2).sum(1)


def mlp(sizes: tuple[int, ...]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for index, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
        if index:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(fan_in, fan_out))
    return nn.Sequential(*layers)


class VAEOutput(NamedTuple):
    """What :meth:`VAE.forward` returns: decoder logits, ``μ``, ``log σ²`` and the sample."""

    logits: torch.Tensor
    mean: torch.Tensor
    log_variance: torch.Tensor
    latent: torch.Tensor


class VAE(nn.Module):
    """Variational autoencoder: ``input → hidden (ReLU) → μ, log σ²`` (two linear heads),
    ``z = μ + σ·ε``, ``z → hidden (ReLU) → input`` logits.

    Parameters: ``2·(D·H + H) + 2·(H·Z + Z) + (Z·H + H) + (H·D + D)`` for input ``D``,
    hidden ``H``, latent ``Z``; MACs per sample ``2·D·H + 3·H·Z``.
    """

    def __init__(self, input_dim: int, hidden_dim: int, latent_dim: int) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(input_dim, hidden_dim), nn.ReLU())
        self.mean = nn.Linear(hidden_dim, latent_dim)
        self.log_variance = nn.Linear(hidden_dim, latent_dim)
        self.decoder = mlp((latent_dim, hidden_dim, input_dim))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(μ, log σ²)`` of ``q(z | x)``."""
        hidden = self.encoder(x)
        return self.mean(hidden), self.log_variance(hidden)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None
                ) -> VAEOutput:
        mean, log_variance = self.encode(x)
        latent = reparameterise(mean, log_variance, generator)
        return VAEOutput(self.decoder(latent), mean, log_variance, latent)

    def loss(self, x: torch.Tensor, output: VAEOutput) -> tuple[torch.Tensor, torch.Tensor]:
        """``(reconstruction, KL)``, each summed over features and averaged over the batch
        (nats); their sum is the negative ELBO. ``x`` holds targets in ``[0, 1]``."""
        reconstruction = F.binary_cross_entropy_with_logits(output.logits, x, reduction="sum")
        kl = gaussian_kl(output.mean, output.log_variance).sum()
        return reconstruction / x.shape[0], kl / x.shape[0]


class ContractiveAutoencoder(nn.Module):
    """``h = σ(W x + b)``, reconstruction ``W' h + b'`` (logits); :meth:`loss` adds
    ``λ ‖∂h/∂x‖²_F`` (Rifai et al. 2011) in closed form.

    Parameters ``D·H + H + H·D + D``; MACs per sample ``2·D·H`` (the penalty, computed in
    :meth:`loss`, is not part of the forward pass).
    """

    def __init__(self, input_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.encoder = nn.Linear(input_dim, hidden_dim)
        self.decoder = nn.Linear(hidden_dim, input_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.encoder(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encode(x))

    def jacobian_penalty(self, x: torch.Tensor) -> torch.Tensor:
        """``‖∂h/∂x‖²_F`` per sample, ``(N,)``."""
        return sigmoid_jacobian_penalty(self.encode(x), self.encoder.weight)

    def loss(self, x: torch.Tensor, weight: float = 0.1) -> torch.Tensor:
        """Binary cross-entropy of the reconstruction plus ``weight · ‖J‖²_F``, both summed
        per sample and averaged over the batch; ``x`` in ``[0, 1]``."""
        hidden = self.encode(x)
        logits = self.decoder(hidden)
        reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        penalty = sigmoid_jacobian_penalty(hidden, self.encoder.weight)
        return (reconstruction + weight * penalty).mean()
