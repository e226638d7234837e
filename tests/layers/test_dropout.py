"""Gaussian dropout: identity in eval; in training, noise with Bernoulli dropout's first two
moments (mean 1, variance p/(1 − p)), checked to 5 standard errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from netanatomy.layers import GaussianDropout

SAMPLES = 400_000


def noise_samples(p: float, seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)
    x = torch.ones(SAMPLES, dtype=torch.float64)
    return GaussianDropout(p).train()(x)  # x = 1, so the output is the noise itself


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_training_noise_has_mean_one(p):
    noise = noise_samples(p)
    variance = p / (1 - p)
    standard_error = math.sqrt(variance / SAMPLES)
    assert abs(noise.mean().item() - 1.0) < 5 * standard_error


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_training_noise_has_variance_p_over_one_minus_p(p):
    noise = noise_samples(p, seed=1)
    variance = p / (1 - p)
    # sample variance of a Gaussian: standard error σ²·√(2 / (n − 1))
    standard_error = variance * math.sqrt(2 / (SAMPLES - 1))
    assert abs(noise.var().item() - variance) < 5 * standard_error


def test_noise_moments_match_bernoulli_dropout():
    # Independent method: inverted Bernoulli dropout, sampled, has the same two moments.
    p = 0.3
    torch.manual_seed(2)
    bernoulli = nn.Dropout(p).train()(torch.ones(SAMPLES, dtype=torch.float64))
    gaussian = noise_samples(p, seed=3)
    tolerance = 5 * math.sqrt(2 * (p / (1 - p)) / SAMPLES)  # two means, each σ/√n
    assert abs(gaussian.mean().item() - bernoulli.mean().item()) < tolerance
    # sample-variance standard errors: Gaussian σ²·√(2/n); Bernoulli √((μ₄ − σ⁴)/n) with
    # μ₄ = (1 − p)·(p/(1 − p))⁴ + p·1⁴ the fourth central moment of Bernoulli(1 − p)/(1 − p)
    variance = p / (1 - p)
    fourth = (1 - p) * variance**4 + p
    variance_error = math.sqrt(2 * variance**2 / SAMPLES + (fourth - variance**2) / SAMPLES)
    assert abs(gaussian.var().item() - bernoulli.var().item()) < 5 * variance_error


def test_training_noise_is_multiplicative_and_elementwise():
    torch.manual_seed(4)
    x = torch.randn(3, 5, dtype=torch.float64)
    torch.manual_seed(5)
    out = GaussianDropout(0.5).train()(x)
    torch.manual_seed(5)
    noise = GaussianDropout(0.5).train()(torch.ones_like(x))
    torch.testing.assert_close(out, x * noise)
    assert out.shape == x.shape and not torch.equal(out, x)


def test_eval_mode_is_identity():
    x = torch.randn(4, 6)
    layer = GaussianDropout(0.5).eval()
    assert layer(x) is x


def test_p_zero_is_identity_in_training():
    x = torch.randn(4, 6)
    assert torch.equal(GaussianDropout(0.0).train()(x), x)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, float("nan")])
def test_p_out_of_range_raises(p):
    with pytest.raises(ValueError, match="GaussianDropout needs 0 <= p < 1"):
        GaussianDropout(p)


def test_repr_shows_p():
    assert repr(GaussianDropout(0.25)) == "GaussianDropout(p=0.25)"
