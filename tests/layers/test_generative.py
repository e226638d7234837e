"""VAE and contractive autoencoder: closed forms against torch.distributions and autograd,
the sample's RNG, and netanatomy's counts against hand formulas."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Normal, kl_divergence
from torch.testing import assert_close

import netanatomy
from netanatomy.layers import VAE, ContractiveAutoencoder
from netanatomy.layers.generative import gaussian_kl, reparameterise, sigmoid_jacobian_penalty

F64 = torch.float64


def test_closed_form_kl_matches_torch_distributions() -> None:
    generator = torch.Generator().manual_seed(0)
    mean = torch.randn(5, 3, generator=generator, dtype=F64)
    log_variance = torch.randn(5, 3, generator=generator, dtype=F64)
    reference = kl_divergence(Normal(mean, (0.5 * log_variance).exp()),
                              Normal(torch.zeros_like(mean), torch.ones_like(mean))).sum(-1)
    assert_close(gaussian_kl(mean, log_variance), reference)
    assert gaussian_kl(torch.zeros(1, 4), torch.zeros(1, 4)).item() == 0.0  # q = p


def test_sample_draws_from_the_given_generator_or_the_global_rng() -> None:
    mean, log_variance = torch.zeros(4, 2), torch.zeros(4, 2)
    first = reparameterise(mean, log_variance, torch.Generator().manual_seed(3))
    again = reparameterise(mean, log_variance, torch.Generator().manual_seed(3))
    assert torch.equal(first, again)
    assert torch.equal(first, torch.randn(4, 2, generator=torch.Generator().manual_seed(3)))
    torch.manual_seed(5)
    global_draw = reparameterise(mean, log_variance)
    torch.manual_seed(5)
    assert torch.equal(global_draw, torch.randn(4, 2))


def test_sample_is_mean_plus_sigma_times_noise_and_carries_gradients() -> None:
    mean = torch.tensor([[1.0, -2.0]], dtype=F64, requires_grad=True)
    log_variance = torch.log(torch.tensor([[4.0, 0.25]], dtype=F64)).requires_grad_()
    noise = torch.randn(1, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    z = reparameterise(mean, log_variance, torch.Generator().manual_seed(1))
    assert_close(z, mean + torch.tensor([[2.0, 0.5]], dtype=F64) * noise)
    grad_mean, grad_log_variance = torch.autograd.grad(z.sum(), [mean, log_variance])
    assert_close(grad_mean, torch.ones(1, 2, dtype=F64))                  # ∂z/∂μ = 1
    assert_close(grad_log_variance, 0.5 * torch.tensor([[2.0, 0.5]], dtype=F64) * noise)


def test_vae_loss_is_reconstruction_plus_kl() -> None:
    torch.manual_seed(0)
    model = VAE(6, 5, 2).double()
    x = torch.rand(3, 6, dtype=F64)
    output = model(x, torch.Generator().manual_seed(0))
    assert output.logits.shape == (3, 6) and output.latent.shape == (3, 2)
    reconstruction, kl = model.loss(x, output)
    p = torch.sigmoid(output.logits)
    assert_close(reconstruction, -(x * p.log() + (1 - x) * (1 - p).log()).sum() / 3)
    assert_close(kl, gaussian_kl(output.mean, output.log_variance).mean())


def test_sigmoid_penalty_is_the_squared_frobenius_norm_of_the_jacobian() -> None:
    torch.manual_seed(0)
    model = ContractiveAutoencoder(7, 4).double()
    x = torch.randn(5, 7, dtype=F64)
    penalty = model.jacobian_penalty(x)
    for sample, value in zip(x, penalty, strict=True):
        jacobian = torch.autograd.functional.jacobian(model.encode, sample)  # (4, 7)
        assert_close(value, jacobian.pow(2).sum(), rtol=1e-13, atol=0)
    hidden = model.encode(x)
    assert_close(sigmoid_jacobian_penalty(hidden, model.encoder.weight), penalty)


def test_contractive_loss_adds_the_weighted_penalty() -> None:
    torch.manual_seed(0)
    model = ContractiveAutoencoder(4, 3).double()
    x = torch.rand(6, 4, dtype=F64)
    difference = model.loss(x, weight=2.0) - model.loss(x, weight=0.0)
    assert_close(difference, 2.0 * model.jacobian_penalty(x).mean())


@pytest.mark.parametrize("inputs, hidden, latent, batch", [(10, 6, 3, 4), (784, 400, 20, 2)])
def test_vae_counts(inputs: int, hidden: int, latent: int, batch: int) -> None:
    model = VAE(inputs, hidden, latent)
    report = netanatomy.analyze(model, (batch, inputs))
    assert report.totals.params == sum(p.numel() for p in model.parameters())
    assert report.totals.params == (inputs * hidden + hidden          # encoder
                                    + 2 * (hidden * latent + latent)  # μ and log σ² heads
                                    + latent * hidden + hidden        # decoder hidden
                                    + hidden * inputs + inputs)       # decoder output
    # linear layers: in·out MACs per sample; encoder, two heads, decoder (two layers)
    assert report.totals.macs == batch * (2 * inputs * hidden + 3 * hidden * latent)
    assert report.totals.status == "exact"


def test_contractive_autoencoder_counts() -> None:
    model = ContractiveAutoencoder(12, 5)
    report = netanatomy.analyze(model, (3, 12))
    assert report.totals.params == sum(p.numel() for p in model.parameters())
    assert report.totals.params == 12 * 5 + 5 + 5 * 12 + 12
    assert report.totals.macs == 3 * 2 * 12 * 5       # encoder and decoder, in·out each
