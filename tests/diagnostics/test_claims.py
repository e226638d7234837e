"""The behaviour claims of SEED_TOPICS.md §3, each measured on a small real model.

Where ``diagnose`` / ``lint`` expose the effect, the test reads it from the report (and,
where cheap, checks the number against an independent computation). Claims about plain
autograd arithmetic that the report does not show (conv and pool backward, guided
backprop, dropout algebra, clipping, recurrent gradients) are checked directly with torch
against a closed form or a second method. Float64 wherever a tolerance is tight;
tolerances are derived in the comments (rounding, or Monte-Carlo standard errors × 5).
"""

from __future__ import annotations

import copy
import itertools
import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import netanatomy
from netanatomy.diagnostics.result import DiagnoseReport
from netanatomy.layers import LSTM, RNN, GaussianDropout, MaskedConv2d

from .claim_models import (
    TwoLayerResidual,
    conv_norm,
    dilated_stack,
    make_positive,
    masked_stack,
    one_hidden,
    relu_chain,
    residual_tanh_stack,
    spectral_chain,
    tanh_chain,
)

F64 = torch.float64
ROUNDING = 1e-10
"""Relative slack for float64 results that agree analytically: accumulated rounding of a
few hundred operations is ~1e-13, far below this."""


def normal(*shape: int, seed: int = 0, dtype: torch.dtype = F64) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def positive(*shape: int, seed: int = 0) -> torch.Tensor:
    return 0.5 + torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def measure(model: nn.Module, batch: torch.Tensor, target: torch.Tensor | None = None,
            **options: object) -> DiagnoseReport:
    """``diagnose`` with an mse loss and the expensive optional passes off by default."""
    settings: dict[str, object] = {"loss_fn": "mse", "spectral": False,
                                   "effective_field": False}
    settings.update(options)
    return netanatomy.diagnose(model, batch, target=target, **settings)


def mse_gradients(model: nn.Module, batch: torch.Tensor,
                  target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(dL/d input, dL/d output) of ``mse(model(batch), target)``, by plain autograd."""
    x = batch.clone().requires_grad_(True)
    y = model(x)
    dx, dy = torch.autograd.grad(F.mse_loss(y, target), (x, y))
    return dx, dy


# --- bias before a normalisation ---------------------------------------------------------

@pytest.mark.parametrize("norm", [nn.BatchNorm2d(6), nn.InstanceNorm2d(6, affine=True)],
                         ids=["batch", "instance"])
def test_bias_before_batch_or_instance_norm_gets_zero_gradient_and_na001(norm):
    model = conv_norm(norm, channels=6)
    report = measure(model, normal(8, 3, 6, 6))
    weight, bias = report.layer("0").params
    # The norm subtracts each channel's mean, so dL/db_c = Σ_(n,h,w) (mean-free) = 0
    # analytically; float64 leaves rounding far below ROUNDING × the weight's gradient.
    assert bias.name == "0.bias" and bias.grad_norm is not None
    assert bias.grad_norm <= ROUNDING * weight.grad_norm
    beta = report.layer("1").params[1]
    assert beta.name == "1.bias" and beta.grad_norm > 1e6 * bias.grad_norm
    (lint,) = report.lints_with("NA001")
    assert (lint.path, lint.wasted_params) == ("0", 6)   # 6 channels, all redundant
    assert netanatomy.lint(model, (8, 3, 6, 6), dtype=F64) == report.lints


def test_the_norm_output_does_not_depend_on_the_bias_at_all():
    model = conv_norm(nn.BatchNorm2d(6))
    x = normal(8, 3, 6, 6)
    before = model[1](model[0](x))
    with torch.no_grad():
        model[0].bias.add_(normal(6, seed=1) * 10)
    after = model[1](model[0](x))
    assert torch.allclose(before, after, rtol=0, atol=1e-12)   # β alone sets the shift


def test_bias_before_batchnorm1d_is_redundant_per_neuron():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.BatchNorm1d(7), nn.ReLU(),
                          nn.Linear(7, 1)).double()
    report = measure(model, normal(16, 5))
    weight, bias = report.layer("0").params
    assert bias.grad_norm <= ROUNDING * weight.grad_norm
    (lint,) = report.lints_with("NA001")
    assert (lint.path, lint.wasted_params) == ("0", 7)   # one per neuron


def test_group_norm_removes_only_the_group_means_of_the_bias():
    model = conv_norm(nn.GroupNorm(2, 6))
    x, target = normal(8, 3, 6, 6), normal(8, 2, 6, 6, seed=1)
    report = measure(model, x, target)
    (lint,) = report.lints_with("NA001")
    assert lint.wasted_params == 2                       # one value per group
    bias_stats = report.layer("0").params[1]
    model.zero_grad()
    F.mse_loss(model(x), target).backward()
    gradient = model[0].bias.grad
    assert math.isclose(bias_stats.grad_norm, float(gradient.norm()), rel_tol=ROUNDING)
    # The within-group differences still matter; only each group's sum is annihilated.
    assert bias_stats.grad_norm > 1e-3
    group_sums = gradient.view(2, 3).sum(dim=1)
    assert float(group_sums.abs().max()) <= ROUNDING * float(gradient.norm())


def test_na001_message_for_group_norm_agrees_with_the_measured_gradient():
    report = measure(conv_norm(nn.GroupNorm(2, 6)), normal(8, 3, 6, 6))
    (lint,) = report.lints_with("NA001")
    assert report.layer("0").params[1].grad_norm > 1e-3
    assert "gradient is zero" not in lint.message


# --- batch norm: scale invariance, per-channel statistics, batch dependence ---------------

def conv_then_bn(eps: float = 1e-5) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, eps=eps)).double()


def scaled_weights(model: nn.Sequential, alpha: float) -> nn.Sequential:
    twin = copy.deepcopy(model)
    with torch.no_grad():
        twin[0].weight.mul_(alpha)
    return twin


@pytest.mark.parametrize("alpha", [0.5, 3.0])
def test_bn_train_output_is_invariant_to_scaling_the_weights_up_to_eps(alpha):
    model, x = conv_then_bn(), normal(8, 3, 7, 7)
    z = model[0](x) - model[0].bias.view(1, -1, 1, 1)          # the linear part W*x
    mean = z.mean(dim=(0, 2, 3), keepdim=True)
    var = z.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    eps = model[1].eps
    scaled = scaled_weights(model, alpha)(x)
    # Closed form: BN(αWx + b) = α(z − μ)/sqrt(α²v + ε) (the bias cancels with the mean).
    expected = alpha * (z - mean) / torch.sqrt(alpha**2 * var + eps)
    assert torch.allclose(scaled, expected, rtol=0, atol=1e-12)
    # Its distance from the unscaled output is |ẑ|·|α√v/√(α²v+ε) − √v/√(v+ε)|
    # ≤ |ẑ|·ε/(2v)·|1 − 1/α²|: of order ε, not zero.
    change = (scaled - model(x)).abs().detach()
    bound = (z - mean).abs() / var.sqrt() * eps / (2 * var) * abs(1 - alpha**-2)
    assert bool((change <= bound * (1 + 1e-6) + 1e-15).all())
    assert float(change.max()) > 0


@pytest.mark.parametrize("alpha", [0.5, 3.0])
def test_bn_scale_invariance_becomes_exact_as_eps_goes_to_zero(alpha):
    # torch refuses ε = 0 in training; at ε = 1e-30 the ε/(2v) term is 1e-30, far below
    # float64 rounding, so the two outputs agree to rounding.
    model, x = conv_then_bn(eps=1e-30), normal(8, 3, 7, 7)
    assert torch.allclose(scaled_weights(model, alpha)(x), model(x), rtol=0, atol=1e-12)
    scaled_input = model(alpha * x)            # BN(W(αx) + b) = BN(α·Wx + b) as well
    assert torch.allclose(scaled_input, model(x), rtol=0, atol=1e-12)


def test_bn_with_running_statistics_is_not_scale_invariant():
    alpha, model, x = 3.0, conv_then_bn(), normal(8, 3, 7, 7)
    model[1].momentum = None              # cumulative average: one pass sets the stats
    with torch.no_grad():
        model(x)
    train = [measure(scaled_weights(model, a), x).layer("1").act_std for a in (1.0, alpha)]
    evaluated = [measure(scaled_weights(model, a), x, training=False).layer("1")
                 for a in (1.0, alpha)]
    # Train mode: the batch statistics absorb α; each channel's std moves by a relative
    # ε/(2v)·|1 − 1/α²| at most (the bound above), so the overall std by no more.
    z = (model[0](x) - model[0].bias.view(1, -1, 1, 1)).detach()
    v = z.var(dim=(0, 2, 3), unbiased=False)
    assert math.isclose(train[0], train[1], rel_tol=model[1].eps / (2 * float(v.min())))
    # Eval mode: y = (αWx + b − μ_run)/sqrt(v_run + ε): the second method is that formula.
    bn = model[1]
    shape = (1, -1, 1, 1)
    bias = model[0].bias.detach().view(shape)
    direct = ((alpha * z + bias - bn.running_mean.view(shape))
              / torch.sqrt(bn.running_var.view(shape) + bn.eps))
    assert math.isclose(evaluated[1].act_std, float(direct.std()), rel_tol=ROUNDING)
    assert evaluated[1].act_std > 2 * evaluated[0].act_std


def test_bn_normalises_each_channel_over_batch_and_space():
    model, x = conv_then_bn(), normal(8, 3, 7, 7)
    with torch.no_grad():
        z, y = model[0](x), model(x)
    eps = model[1].eps
    v = z.var(dim=(0, 2, 3), unbiased=False)
    assert float(y.mean(dim=(0, 2, 3)).abs().max()) <= 1e-12
    # Biased variance per channel is exactly v/(v + ε) (1 only as ε → 0).
    assert torch.allclose(y.var(dim=(0, 2, 3), unbiased=False), v / (v + eps), atol=1e-12)
    # Not per sample: single samples' channel means stay far from 0.
    assert float(y.mean(dim=(2, 3)).abs().max()) > 0.1
    row = measure(model, x).layer("1")
    count = y.numel()
    assert abs(row.act_mean) <= 1e-12
    # diagnose's act_std is the unbiased std over all entries: channels have mean 0, so
    # it is sqrt(mean_c v_c/(v_c+ε) · M/(M − 1)).
    expected = math.sqrt(float((v / (v + eps)).mean()) * count / (count - 1))
    assert math.isclose(row.act_std, expected, rel_tol=ROUNDING)


def test_bn1d_normalises_each_neuron_over_the_batch():
    torch.manual_seed(0)
    bn = nn.BatchNorm1d(5).double()
    x = normal(32, 5) * 3 + 1
    y = bn(x).detach()
    v = x.var(dim=0, unbiased=False)
    assert float(y.mean(dim=0).abs().max()) <= 1e-12
    assert torch.allclose(y.var(dim=0, unbiased=False), v / (v + bn.eps), atol=1e-12)


@torch.no_grad()
def first_sample_output(norm: nn.Module, x0: torch.Tensor,
                        companions: torch.Tensor) -> torch.Tensor:
    """The norm's output for sample x0 in a batch with ``companions``."""
    return norm(torch.cat([x0, companions]))[0]


# BatchNorm1d normalises each feature on its own, so the 400 features of one call are 400
# independent draws of the companions of a sample whose value is x0 = 1 in every feature.
DRAWS = 400


def test_bn_with_a_batch_of_two_outputs_only_signs():
    bn = nn.BatchNorm1d(DRAWS).double()
    x0, partners = torch.ones(1, DRAWS, dtype=F64), normal(1, DRAWS, seed=2)
    outputs = first_sample_output(bn, x0, partners)
    # Batch of 2: y0 = (d/2)/sqrt(d²/4 + ε), d = x0 − x1: ±1 up to ε, whatever x0 is.
    d = (x0 - partners).flatten()
    assert torch.allclose(outputs, (d / 2) / torch.sqrt(d**2 / 4 + bn.eps), atol=1e-12)
    # P(y0 = +1) = P(x1 < 1) = Φ(1); 5 binomial standard errors.
    plus = float((outputs > 0).double().mean())
    phi = 0.5 * (1 + math.erf(1 / math.sqrt(2)))
    assert abs(plus - phi) <= 5 * math.sqrt(phi * (1 - phi) / DRAWS)


def test_bn_output_of_a_sample_depends_on_its_companions_less_with_a_big_batch():
    bn, batch = nn.BatchNorm1d(DRAWS).double(), 64
    x0, companions = torch.ones(1, DRAWS, dtype=F64), normal(batch - 1, DRAWS, seed=3)
    outputs = first_sample_output(bn, x0, companions)
    # Delta method: y0 = (x0 − m)/s with Var m = (N−1)/N², Var s² ≈ 2/N, so
    # Var y0 ≈ (N−1)/N² + x0²/(2N) (0.152² at N = 64); the sample std over 400 draws has
    # relative standard error 1/sqrt(2·400) = 3.5 %: 5 of them plus 7 % for the O(1/N)
    # terms the delta method leaves out.
    predicted = math.sqrt((batch - 1) / batch**2 + 1 / (2 * batch))
    assert abs(float(outputs.std()) / predicted - 1) <= 0.25
    phi = 0.5 * (1 + math.erf(1 / math.sqrt(2)))
    sign_std = 2 * math.sqrt(phi * (1 - phi))        # batch 2: ±1 with P(+1) = Φ(1)
    assert float(outputs.std()) < sign_std / 3


@pytest.mark.parametrize("norm", [nn.GroupNorm(2, 4), nn.InstanceNorm1d(4, affine=True)],
                         ids=["group", "instance"])
def test_group_and_instance_norm_outputs_do_not_depend_on_the_batch(norm):
    norm = norm.double()
    x0 = normal(1, 4, 8)
    outputs = [first_sample_output(norm, x0, normal(size, 4, 8, seed=seed))
               for size, seed in ((1, 1), (1, 2), (63, 3))]
    for other in outputs[1:]:
        assert torch.allclose(outputs[0], other, rtol=0, atol=1e-12)
    batch_norm = nn.BatchNorm1d(4).double()
    bn_outputs = [first_sample_output(batch_norm, x0, normal(1, 4, 8, seed=seed))
                  for seed in (1, 2)]
    assert float((bn_outputs[0] - bn_outputs[1]).abs().max()) > 0.1


def test_na002_fires_for_a_batch_of_two_and_not_for_64_or_group_norm():
    model = conv_norm(nn.BatchNorm2d(6))
    small = measure(model, normal(2, 3, 6, 6)).lints_with("NA002")
    assert [(lint.path, lint.severity) for lint in small] == [("1", "warning")]
    assert [lint.path for lint in netanatomy.lint(model, (2, 3, 6, 6), dtype=F64)
            if lint.code == "NA002"] == ["1"]
    large = netanatomy.lint(model, (64, 3, 6, 6), dtype=F64)
    group = netanatomy.lint(conv_norm(nn.GroupNorm(2, 6)), (2, 3, 6, 6), dtype=F64)
    assert not [lint for lint in large + group if lint.code == "NA002"]


# --- conv and pooling backward -----------------------------------------------------------

def conv_backward_by_sums(x: np.ndarray, w: np.ndarray, g: np.ndarray, stride: int,
                          padding: int) -> tuple[np.ndarray, np.ndarray]:
    """dL/dW and dL/dX of z = conv2d(x, w) written as explicit sums over kernel taps."""
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    out_h, out_w = g.shape[2:]
    for a, b in itertools.product(range(w.shape[2]), range(w.shape[3])):
        rows = slice(a, a + stride * (out_h - 1) + 1, stride)
        cols = slice(b, b + stride * (out_w - 1) + 1, stride)
        dw[:, :, a, b] = np.einsum("noyx,niyx->oi", g, xp[:, :, rows, cols])
        dxp[:, :, rows, cols] += np.einsum("noyx,oi->niyx", g, w[:, :, a, b])
    height, width = x.shape[2:]
    return dw, dxp[:, :, padding:padding + height, padding:padding + width]


@pytest.mark.parametrize("size, stride, padding", [(7, 1, 1), (7, 2, 0), (7, 2, 1),
                                                 (8, 2, 0)])
def test_conv_weight_gradient_is_a_cross_correlation_and_input_gradient_a_transposed_conv(
        size, stride, padding):
    x = normal(2, 3, size, size).requires_grad_(True)
    w = normal(4, 3, 3, 3, seed=1).requires_grad_(True)
    z = F.conv2d(x, w, stride=stride, padding=padding)
    g = normal(*z.shape, seed=2)
    dx, dw = torch.autograd.grad(z, (x, w), g)
    dw_sum, dx_sum = conv_backward_by_sums(x.detach().numpy(), w.detach().numpy(),
                                           g.numpy(), stride, padding)
    assert np.allclose(dw.numpy(), dw_sum, atol=1e-12)
    assert np.allclose(dx.numpy(), dx_sum, atol=1e-12)
    # The same as convolutions: dW = x ⋆ g (g as the kernel, dilated by the stride) and
    # dX = conv_transpose(g, W) with the forward's stride and padding.
    correlation = F.conv2d(x.detach().transpose(0, 1), g.transpose(0, 1), padding=padding,
                           dilation=stride).transpose(0, 1)[:, :, :3, :3]
    assert torch.allclose(dw, correlation, atol=1e-12)
    extra = x.shape[2] - ((z.shape[2] - 1) * stride - 2 * padding + 3)
    transposed = F.conv_transpose2d(g, w.detach(), stride=stride, padding=padding,
                                    output_padding=extra)
    assert torch.allclose(dx, transposed, atol=1e-12)


@pytest.mark.parametrize("kernel, stride", [(2, 2), (3, 3), (3, 2)])
def test_average_pool_backward_spreads_one_over_r_squared_per_window(kernel, stride):
    x = normal(2, 3, 9, 9).requires_grad_(True)
    z = F.avg_pool2d(x, kernel, stride)
    g = normal(*z.shape, seed=1)
    (dx,) = torch.autograd.grad(z, x, g)
    expected = torch.zeros_like(x)
    for i, j in itertools.product(range(z.shape[2]), range(z.shape[3])):
        window = (..., slice(i * stride, i * stride + kernel),
                  slice(j * stride, j * stride + kernel))
        expected[window] += g[..., i, j, None, None] / kernel**2
    assert torch.allclose(dx, expected, atol=1e-12)


def test_max_pool_backward_routes_the_gradient_to_the_argmax():
    x = normal(2, 3, 8, 8).requires_grad_(True)
    z, switches = F.max_pool2d(x, 2, return_indices=True)
    g = normal(*z.shape, seed=1)
    (dx,) = torch.autograd.grad(z, x, g)
    windows = x.detach().numpy().reshape(2, 3, 4, 2, 4, 2).transpose(0, 1, 2, 4, 3, 5)
    argmax = windows.reshape(2, 3, 4, 4, 4).argmax(axis=-1)          # numpy's own switches
    rows = np.arange(4)[:, None] * 2 + argmax // 2
    cols = np.arange(4)[None, :] * 2 + argmax % 2
    assert np.array_equal(rows * 8 + cols, switches.numpy())
    expected = np.zeros((2, 3, 8, 8))
    n, c, i, j = np.indices(argmax.shape)
    expected[n, c, rows[n, c, i, j], cols[n, c, i, j]] = g.numpy()
    assert np.allclose(dx.numpy(), expected, atol=0)
    assert int((dx != 0).sum()) == g.numel()                # one tap per window


# --- guided backpropagation, deconvnet, plain gradient ------------------------------------

class ReLURule(torch.autograd.Function):
    """ReLU whose backward follows one of the three saliency rules."""

    @staticmethod
    def forward(ctx, x, rule):
        ctx.save_for_backward(x)
        ctx.rule = rule
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        if ctx.rule == "gradient":
            return grad * (x > 0), None
        if ctx.rule == "deconvnet":
            return grad.clamp(min=0), None
        return grad.clamp(min=0) * (x > 0), None      # guided


RULES = ("gradient", "deconvnet", "guided")


def saliency_layers() -> list[nn.Linear]:
    torch.manual_seed(0)
    return [nn.Linear(6, 10).double(), nn.Linear(10, 10).double(), nn.Linear(10, 1).double()]


def saliency(layers: list[nn.Linear], x: torch.Tensor, rule: str,
             relu: bool = True) -> list[torch.Tensor]:
    """Gradients of the output w.r.t. x and every intermediate tensor (input first)."""
    x = x.clone().requires_grad_(True)
    tensors, h = [x], x
    for index, layer in enumerate(layers):
        h = layer(h)
        tensors.append(h)
        if index < len(layers) - 1:
            h = ReLURule.apply(h, rule) if relu else torch.tanh(h)
            tensors.append(h)
    return list(torch.autograd.grad(h.sum(), tensors))


def test_saliency_rules_match_their_closed_forms_on_one_hidden_layer():
    torch.manual_seed(0)
    first, second = nn.Linear(6, 10).double(), nn.Linear(10, 1).double()
    x = normal(1, 6)
    w1, w2 = first.weight.detach().numpy(), second.weight.detach().numpy()[0]
    active = (first(x).detach().numpy()[0] > 0).astype(float)
    expected = {"gradient": w1.T @ (w2 * active), "deconvnet": w1.T @ np.maximum(w2, 0),
                "guided": w1.T @ (np.maximum(w2, 0) * active)}
    for rule in RULES:
        (gradient,) = saliency([first, second], x, rule)[:1]
        assert np.allclose(gradient.numpy()[0], expected[rule], atol=1e-12)
    plain = torch.autograd.grad(second(F.relu(first(x.requires_grad_(True)))).sum(), x)[0]
    assert np.allclose(plain.numpy()[0], expected["gradient"], atol=1e-12)


def test_saliency_rules_differ_only_where_a_relu_passes_the_gradient_back():
    layers, x = saliency_layers(), normal(1, 6, seed=4)
    grads = {rule: saliency(layers, x, rule) for rule in RULES}
    # Tensors: x, z1, h1, z2, h2, y. Above the last ReLU (h2, y) nothing differs yet.
    for rule in RULES[1:]:
        for index in (4, 5):
            assert torch.equal(grads[rule][index], grads["gradient"][index])
    # Every Linear's backward is the same map Wᵀ under all three rules.
    for rule in RULES:
        for layer, (below, above) in zip(layers, [(0, 1), (2, 3), (4, 5)]):
            assert torch.allclose(grads[rule][below], grads[rule][above] @ layer.weight,
                                  atol=1e-12)
    saliencies = [grads[rule][0] for rule in RULES]
    for first, second in itertools.combinations(saliencies, 2):
        assert not torch.allclose(first, second, atol=1e-6)
    # Without ReLUs the rules have nothing to act on: identical saliencies.
    smooth = [saliency(layers, x, rule, relu=False)[0] for rule in RULES]
    assert torch.equal(smooth[0], smooth[1]) and torch.equal(smooth[0], smooth[2])


# --- residual blocks, depth, spectral norms ------------------------------------------------

def test_residual_block_jacobian_is_identity_plus_branch_jacobian():
    torch.manual_seed(0)
    block, x = TwoLayerResidual(6, 10).double(), normal(6)
    jacobian = torch.autograd.functional.jacobian(block, x)
    branch = torch.autograd.functional.jacobian(block.branch, x)
    assert torch.allclose(jacobian - torch.eye(6, dtype=F64), branch, atol=1e-12)
    slope = 1 - torch.tanh(block.fc1(x)) ** 2          # closed form W2 diag(tanh') W1
    closed = block.fc2.weight @ torch.diag(slope) @ block.fc1.weight
    assert torch.allclose(branch, closed.detach(), atol=1e-12)


def test_deep_plain_tanh_stack_is_vanishing_and_residual_twin_is_not():
    x, target = normal(64, 32, seed=1), normal(64, 32, seed=2)
    plain = tanh_chain(50, 32).double()
    residual = residual_tanh_stack(50, 32).double()
    plain_verdict = measure(plain, x, target).verdict
    assert plain_verdict.status == "vanishing" and plain_verdict.gain < 1e-3
    dx, dy = mse_gradients(plain, x, target)               # second method: autograd
    assert math.isclose(plain_verdict.gain, float(dx.norm() / dy.norm()), rel_tol=1e-8)
    assert measure(residual, x, target).verdict.status == "healthy"
    dx, dy = mse_gradients(residual, x, target)
    assert float(dx.norm() / dy.norm()) > 1                  # I + ∂F/∂x keeps it alive


def test_residual_verdict_gain_is_the_gradient_at_the_model_input():
    # The first block's branch nearly off: its skip still carries the whole gradient.
    x, target = normal(64, 32, seed=1), normal(64, 32, seed=2)
    model = residual_tanh_stack(50, 32).double()
    with torch.no_grad():
        model[0].fc.weight.mul_(1e-6)
    verdict = measure(model, x, target).verdict
    dx, dy = mse_gradients(model, x, target)
    assert float(dx.norm() / dy.norm()) > 1
    assert verdict.status == "healthy"
    assert math.isclose(verdict.gain, float(dx.norm() / dy.norm()), rel_tol=1e-8)


def test_spectral_norm_below_one_decays_the_gradient_geometrically():
    depth, sigma = 20, 0.9
    model = spectral_chain(depth, 16, sigma)
    report = measure(model, normal(32, 16), spectral=True)
    verdict = report.verdict
    assert verdict.gain <= sigma**depth * (1 + ROUNDING)
    rows = [report.layer(str(i)) for i in range(depth)]
    top = rows[-1].grad_output_norm
    for index, row in enumerate(rows):          # geometric: σ^(layers above and at it)
        assert math.isclose(row.sigma_max, sigma, rel_tol=ROUNDING)
        assert row.gain <= sigma * (1 + ROUNDING)
        assert row.grad_input_norm <= sigma ** (depth - index) * top * (1 + ROUNDING)


@pytest.mark.parametrize("activation, slope", [(nn.ReLU, 1.0), (nn.Tanh, 1.0),
                                               (nn.Sigmoid, 0.25)], ids=["relu", "tanh",
                                                                         "sigmoid"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_product_bound_is_at_least_the_measured_gain_on_plain_chains(activation, slope, seed):
    depth = 8
    model = bumpy_chain(depth, activation, seed)
    report = measure(model, normal(32, 16, seed=seed), spectral=True)
    norms = [np.linalg.norm(layer.weight.detach().numpy(), 2) for layer in model[::2]]
    rows = [report.layer(str(2 * i)) for i in range(depth)]
    assert np.allclose([row.sigma_max for row in rows], norms, rtol=1e-12, atol=0)
    bound = float(np.prod(norms)) * slope**depth          # Π σ_max · max|f'|^depth
    assert report.verdict.gain <= bound * (1 + ROUNDING)


def bumpy_chain(depth: int, activation, seed: int) -> nn.Sequential:
    """A float64 chain whose Linear layers have σ_max between 0.75 and 2.25."""
    model = spectral_chain(depth, 16, 1.5, activation, seed=seed)
    for linear in model[::2]:
        with torch.no_grad():
            linear.weight.mul_(0.5 + torch.rand(()).item())
    return model


def test_verdict_reports_the_product_bound_on_plain_chains():
    chain = measure(spectral_chain(20, 16, 0.9), normal(32, 16), spectral=True).verdict
    assert chain.bound_applies
    assert math.isclose(chain.bound, 0.9**20, rel_tol=ROUNDING)
    assert chain.gain <= chain.bound * (1 + ROUNDING)
    model = bumpy_chain(8, nn.Sigmoid, 0)
    verdict = measure(model, normal(32, 16), spectral=True).verdict
    norms = [np.linalg.norm(layer.weight.detach().numpy(), 2) for layer in model[::2]]
    assert verdict.bound_applies
    assert math.isclose(verdict.bound, float(np.prod(norms)) * 0.25**8, rel_tol=1e-9)


def test_sigmoid_gain_is_at_most_a_quarter_and_saturation_is_counted():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 64), nn.Sigmoid(), nn.Linear(64, 4)).double()
    x = normal(512, 16)
    small, large = (measure(scaled_weights(model, s), x, spectral=True) for s in (0.01, 30.0))
    z_small = scaled_weights(model, 0.01)[0](x).detach()
    # σ'(z) = 1/4 − z²/16 + O(z⁴): the layer gain lies in [1/4 · (1 − max z²/4), 1/4].
    gain = small.layer("1").gain
    assert 0.25 * (1 - float(z_small.abs().max()) ** 2 / 4) <= gain <= 0.25
    for report in (small, large):
        linear, sigmoid = report.layer("0"), report.layer("1")
        assert sigmoid.gain <= 0.25
        assert linear.gain * sigmoid.gain <= 0.25 * linear.sigma_max * (1 + ROUNDING)
    # Saturation: outputs outside [0.01, 0.99] ⇔ |z| > logit(0.99); counted independently.
    z_large = scaled_weights(model, 30.0)[0](x).detach()
    counted = float((z_large.abs() > math.log(99)).double().mean())
    assert math.isclose(large.layer("1").saturated_fraction, counted, rel_tol=ROUNDING)
    # Given W, z_j ~ N(b_j, 900·||w_j||²) over the batch; the expected fraction is
    # mean_j P(|z_j| > log 99); batch of 512: standard error ≤ sqrt(1/4 / 512), × 5.
    b = model[0].bias.detach()
    scale = 30 * model[0].weight.detach().norm(dim=1)
    normal_cdf = torch.distributions.Normal(0.0, 1.0).cdf
    expected = float((normal_cdf((-math.log(99) - b) / scale)
                      + 1 - normal_cdf((math.log(99) - b) / scale)).mean())
    assert abs(counted - expected) <= 5 * math.sqrt(0.25 / 512)
    assert counted > 0.5 and large.layer("1").gain < small.layer("1").gain / 2


# --- initialisation and dead units --------------------------------------------------------

# Variance propagation through Linear (no bias) → ReLU: E[z_{l+1}²] = fan_in·Var(w)·E[relu(z)²]
# = 2 · ½ E[z_l²] under He init, so act std is constant in expectation. Given layer l, the
# next second moment is a sum of n Gaussian quadratic forms with relative variance
# 2 tr(C²)/(n tr(C)²) ≤ 2/n; over L layers log q has sd ≤ sqrt(2L/n), log std half of that:
# 0.198 for L = 20, n = 256, so [0.5, 2] is ±3.5 sd. A gain g on the weights multiplies
# each layer's std by g: g^(L−1) between the first and the last, with the same spread.
DEPTH, WIDTH = 20, 256


def relu_stack_std_ratio(gain: float) -> tuple[float, DiagnoseReport]:
    model = relu_chain(DEPTH, WIDTH, gain)
    report = measure(model, normal(256, WIDTH, dtype=torch.float32))
    first, last = report.layer("0"), report.layer(str(2 * DEPTH - 2))
    return last.act_std / first.act_std, report


def test_he_init_keeps_activation_std_through_20_relu_layers():
    ratio, report = relu_stack_std_ratio(1.0)
    assert 0.5 <= ratio <= 2.0
    assert report.verdict.status == "healthy"
    check = report.layer("0").init
    assert (check.expected, check.activation, check.flagged) == ("he", "relu", False)


def test_too_small_init_shrinks_activation_std_geometrically():
    gain = 0.4
    ratio, report = relu_stack_std_ratio(gain)
    assert 0.5 <= ratio / gain ** (DEPTH - 1) <= 2.0
    assert report.verdict.status == "vanishing"
    check = report.layer("0").init
    # The std of 256² Gaussian weights has relative standard error 1/sqrt(2·256²); × 5.
    assert check.flagged and math.isclose(check.ratio, gain, rel_tol=5 / math.sqrt(2 * 256**2))
    assert len(report.lints_with("NA008") + report.lints_with("NA003")) == DEPTH


def test_dead_relu_gets_zero_gradient_for_ever():
    model = one_hidden(nn.ReLU(), bias=-100.0)
    x, target = normal(32, 4), normal(32, 2, seed=1)
    report = measure(model, x, target, steps=5, lr=0.1)
    assert report.layer("1").dead_fraction == 1.0
    weight, bias = report.layer("0").params
    assert weight.grad_norm == 0.0 and bias.grad_norm == 0.0
    assert all(step.grad_norms["0.weight"] == 0.0 for step in report.steps)
    assert math.isclose(weight.weight_norm, float(model[0].weight.detach().norm()), rel_tol=1e-15)
    assert report.steps[-1].grad_norms["2.bias"] > 0       # the layer above still learns


def first_weight_gradient(model: nn.Sequential, x: torch.Tensor, target: torch.Tensor,
                          slope) -> float:
    """||dL/dW1|| of mse(W2 f(W1 x + b1) + b2, t) by hand, with f' = ``slope(z)``."""
    w1, b1 = model[0].weight.detach().numpy(), model[0].bias.detach().numpy()
    w2 = model[2].weight.detach().numpy()
    x_np = x.numpy()
    z = x_np @ w1.T + b1
    y = model(x).detach().numpy()
    dy = 2 * (y - target.numpy()) / y.size
    dz = (dy @ w2) * slope(z)
    return float(np.linalg.norm(dz.T @ x_np))


@pytest.mark.parametrize("activation, slope", [
    (nn.LeakyReLU(0.01), lambda z: np.where(z > 0, 1.0, 0.01)),
    (nn.PReLU(), lambda z: np.where(z > 0, 1.0, 0.25)),
    (nn.ELU(), lambda z: np.where(z > 0, 1.0, np.exp(z))),
], ids=["leaky", "prelu", "elu"])
def test_leaky_prelu_elu_twins_keep_a_gradient_where_relu_is_dead(activation, slope):
    model = one_hidden(activation, bias=-100.0)
    x, target = normal(32, 4), normal(32, 2, seed=1)
    report = measure(model, x, target)
    assert report.layer("1").dead_fraction == 1.0       # never positive, by the convention
    weight = report.layer("0").params[0]
    assert weight.grad_norm > 0
    expected = first_weight_gradient(model, x, target, slope)
    assert math.isclose(weight.grad_norm, expected, rel_tol=ROUNDING)
    # ELU's slope at z ≈ −100 is e^−100: alive, but 44 orders of magnitude down.


@pytest.mark.parametrize("groups, kernel", [(1, (3, 3)), (4, (3, 3)), (2, (3, 5))])
def test_he_fan_in_of_a_conv_is_c_in_over_groups_times_kernel_area(groups, kernel):
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 16, kernel, groups=groups, padding=1)
    nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
    model = nn.Sequential(conv, nn.ReLU(), nn.Conv2d(16, 2, 1))
    check = measure(model, normal(2, 8, 6, 6, dtype=torch.float32)).layer("0").init
    fan_in = 8 // groups * kernel[0] * kernel[1]
    assert (check.fan_in, check.fan_out) == (fan_in, 16 * kernel[0] * kernel[1])
    assert (check.fan_in, check.fan_out) == nn.init._calculate_fan_in_and_fan_out(conv.weight)
    assert math.isclose(check.he_std, math.sqrt(2 / fan_in), rel_tol=1e-12)
    # The sample std of 16·fan_in weights has relative standard error 1/sqrt(2·16·fan_in).
    assert abs(check.ratio - 1) <= 5 / math.sqrt(2 * 16 * fan_in)
    assert check.expected == "he" and not check.flagged


# --- dropout ------------------------------------------------------------------------------

def all_masks(size: int, p: float):
    """Every keep-mask of ``size`` units with its probability under Bernoulli(1 − p)."""
    for bits in itertools.product((0.0, 1.0), repeat=size):
        kept = sum(bits)
        yield torch.tensor(bits, dtype=F64), (1 - p) ** kept * p ** (size - kept)


def ridge_problem() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    return normal(20, 5), normal(20, seed=1), normal(5, seed=2), 0.3


def test_dropout_on_linear_regression_is_a_data_dependent_ridge_penalty():
    x, y, w, p = ridge_problem()
    q = 1 - p
    exact = sum(prob * float(((y - x @ (mask * w) / q) ** 2).sum())
                for mask, prob in all_masks(5, p))
    # E||y − X(m⊙w)/q||² = ||y − Xw||² + (p/q) Σ_j w_j² ||X_j||²
    ridge = float(((y - x @ w) ** 2).sum() + p / q * (w**2 * (x**2).sum(dim=0)).sum())
    assert math.isclose(exact, ridge, rel_tol=ROUNDING)
    # torch's own dropout, by Monte Carlo: within 5 standard errors.
    torch.manual_seed(0)
    masks = nn.Dropout(p)(torch.ones(20000, 5, dtype=F64))
    losses = ((y - (masks * w) @ x.T) ** 2).sum(dim=1)
    error = float(losses.std()) / math.sqrt(len(losses))
    assert abs(float(losses.mean()) - ridge) <= 5 * error


def test_the_ridge_solution_minimises_the_expected_dropout_loss():
    x, y, _, p = ridge_problem()
    lam = p / (1 - p)
    gram = x.T @ x
    w_ridge = torch.linalg.solve(gram + lam * torch.diag(torch.diag(gram)), x.T @ y)
    w = w_ridge.clone().requires_grad_(True)
    expected_loss = sum(prob * ((y - x @ (mask * w) / (1 - p)) ** 2).sum()
                        for mask, prob in all_masks(5, p))
    (gradient,) = torch.autograd.grad(expected_loss, w)
    assert float(gradient.norm()) <= 1e-9 * float((x.T @ y).norm())
    w_ols = torch.linalg.lstsq(x, y.unsqueeze(1)).solution.flatten()
    assert float((w_ols - w_ridge).norm()) > 1e-3


@pytest.mark.parametrize("dropout", [GaussianDropout(0.25), nn.Dropout(0.25)],
                         ids=["gaussian", "bernoulli"])
def test_gaussian_dropout_matches_bernoulli_mean_and_variance(dropout):
    p, q = 0.25, 0.75
    model = nn.Sequential(dropout, nn.Linear(512, 1))
    row = measure(model, torch.ones(256, 512)).layer("0")
    count, variance = 256 * 512, p / q
    # Standard errors: mean sqrt(v/n); std sqrt(v·(κ − 1)/(4n)) with κ the kurtosis of
    # the noise (3 for Gaussian; (p⁴/q³ + p)/(p/q)² for rescaled Bernoulli). × 5.
    kurtosis = 3.0 if isinstance(dropout, GaussianDropout) else (p**4 / q**3 + p) / (p / q) ** 2
    assert abs(row.act_mean - 1) <= 5 * math.sqrt(variance / count)
    std_error = math.sqrt(variance * (kurtosis - 1) / (4 * count))
    assert abs(row.act_std - math.sqrt(variance)) <= 5 * std_error


def test_spatial_dropout_zeroes_whole_feature_maps():
    torch.manual_seed(0)
    p, maps = 0.3, 64 * 32
    out = nn.Dropout2d(p)(torch.ones(64, 32, 8, 8))
    flat = out.view(maps, 64)
    assert bool((flat == flat[:, :1]).all())                        # constant per map
    kept = torch.isclose(flat[:, 0], torch.tensor(1 / (1 - p)))
    assert bool(((flat[:, 0] == 0) | kept).all())
    zeroed = float((flat[:, 0] == 0).double().mean())
    assert abs(zeroed - p) <= 5 * math.sqrt(p * (1 - p) / maps)
    elementwise = nn.Dropout(p)(torch.ones(64, 32, 8, 8)).view(maps, 64)
    assert not bool((elementwise == elementwise[:, :1]).all())


def expectation_over_input_masks(function, x: torch.Tensor, p: float) -> torch.Tensor:
    return sum(prob * function(mask * x / (1 - p)) for mask, prob in all_masks(x.shape[-1], p))


def test_weight_scaling_matches_the_training_expectation_exactly_only_for_linear_layers():
    torch.manual_seed(0)
    p, x = 0.4, normal(1, 6)
    linear = nn.Linear(6, 3).double()
    mlp = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).double()
    for function, exact in ((linear, True), (mlp, False)):
        trained = nn.Sequential(nn.Dropout(p), function).eval()   # test time: no op
        expected = expectation_over_input_masks(function, x, p)
        difference = float((expected - trained(x)).abs().max().detach())
        assert (difference <= 1e-12) == exact
    # A closed form for a nonlinear case: E[(w·(m⊙x)/q)²] = (w·x)² + (p/q) Σ w_j² x_j².
    w = normal(6, seed=3)
    squared = expectation_over_input_masks(lambda v: (v @ w) ** 2, x, p)
    gap = p / (1 - p) * float((w**2 * x[0] ** 2).sum())
    assert math.isclose(float(squared - (x @ w) ** 2), gap, rel_tol=ROUNDING)
    # An elementwise positively homogeneous f right after dropout is exact too.
    relu_only = expectation_over_input_masks(F.relu, x, p)
    assert torch.allclose(relu_only, F.relu(x), atol=1e-12)


def test_dropout_before_batch_norm_is_reported_by_na004():
    def mlp(dropout_first: bool) -> nn.Sequential:
        torch.manual_seed(0)
        pair = [nn.Dropout(0.3), nn.BatchNorm1d(7)]
        return nn.Sequential(nn.Linear(5, 7, bias=False), *(pair if dropout_first
                                                            else pair[::-1]), nn.ReLU(),
                             nn.Linear(7, 1))
    report = measure(mlp(True), normal(16, 5, dtype=torch.float32))
    assert [(lint.path, lint.code) for lint in report.lints_with("NA004")] == [("1", "NA004")]
    assert not measure(mlp(False), normal(16, 5, dtype=torch.float32)).lints_with("NA004")
    conv = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.Dropout2d(0.3), nn.BatchNorm2d(4))
    assert [lint.path for lint in netanatomy.lint(conv, (16, 3, 8, 8))
            if lint.code == "NA004"] == ["1"]


def test_dropout_before_batch_norm_shifts_the_variance_between_train_and_test():
    torch.manual_seed(0)
    p, q, mean, std = 0.3, 0.7, 1.0, 2.0
    bn = nn.BatchNorm1d(1, momentum=None).double()    # cumulative running statistics
    dropout = nn.Dropout(p)
    for batch in range(50):
        bn(dropout(mean + std * normal(1000, 1, seed=batch)))
    # Var of m·x/q = (s² + μ²)/q − μ²; 50 000 draws: relative standard error of a variance
    # sqrt((κ − 1)/n) with κ ≈ 3.9 the kurtosis of m·x/q here; bounded by κ < 9, × 5.
    train_variance = (std**2 + mean**2) / q - mean**2
    tolerance = 5 * math.sqrt(8 / 50000)
    assert abs(float(bn.running_var) / train_variance - 1) <= tolerance
    # At test time dropout is off, so BN sees variance s² and its output std is
    # s/sqrt(v_train) = 0.81, not 1 (relative error half that of the variance).
    shifted = std / math.sqrt(float(bn.running_var))
    assert abs(shifted / math.sqrt(std**2 / train_variance) - 1) <= tolerance / 2
    assert shifted < 0.9


# --- masked and dilated convolutions --------------------------------------------------------

def support_offsets(heatmap: np.ndarray, centre: tuple[int, int]) -> set[tuple[int, int]]:
    rows, cols = np.nonzero(heatmap)
    return {(int(r) - centre[0], int(c) - centre[1]) for r, c in zip(rows, cols)}


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_masked_conv_output_depends_only_on_raster_earlier_pixels(mask_type):
    conv = make_positive(MaskedConv2d(1, 1, 5, mask_type).double())
    x = positive(1, 1, 9, 9).requires_grad_(True)
    (gradient,) = torch.autograd.grad(conv(x)[0, 0, 4, 4], x)
    seen = support_offsets(gradient[0, 0].numpy(), (4, 4))
    earlier = {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
               if dy < 0 or (dy == 0 and dx < 0)}
    assert seen == earlier | ({(0, 0)} if mask_type == "B" else set())


def blind_spot(seen: set[tuple[int, int]]) -> set[tuple[int, int]]:
    rows, cols = [dy for dy, _ in seen], [dx for _, dx in seen]
    return {(dy, dx) for dy in range(min(rows), 1) for dx in range(min(cols), max(cols) + 1)
            if (dy < 0 or dx < 0) and (dy, dx) not in seen}


def test_stacked_masked_convs_leave_a_blind_spot_that_na006_reports():
    model = make_positive(masked_stack(3)).double()
    report = measure(model, positive(2, 1, 15, 15), loss_fn="sum", effective_field=True,
                     erf_layer="4", erf_fraction=1.0)
    seen = support_offsets(report.erf.heatmap, report.erf.output_position)
    assert all(dy < 0 or (dy == 0 and dx <= 0) for dy, dx in seen)    # causal
    missing = blind_spot(seen)
    (lint,) = report.lints_with("NA006")
    count = int(re.search(r"never sees (\d+) raster", lint.message).group(1))
    example = tuple(int(v) for v in re.search(r"= \((-?\d+), (-?\d+)\)", lint.message).groups())
    assert lint.path == "4" and count == len(missing) > 0 and example in missing
    single = make_positive(masked_stack(1)).double()
    assert not netanatomy.lint(single, (1, 1, 15, 15), dtype=F64)


def sampled_offsets(dilations: tuple[int, ...]) -> set[int]:
    """Offsets along one axis that 3-tap convs with these dilations reach."""
    return {sum(d * t for d, t in zip(dilations, taps))
            for taps in itertools.product((-1, 0, 1), repeat=len(dilations))}


@pytest.mark.parametrize("dilations", [(1, 1, 1), (1, 2, 4), (2, 2, 2), (1, 2, 5)])
def test_dilated_stacks_grow_the_field_fast_and_na007_reports_gridding_holes(dilations):
    model = dilated_stack(dilations)
    last = str(2 * len(dilations) - 2)
    size = 1 + 2 * sum(dilations)                          # 1 + Σ (k − 1)·d
    field = netanatomy.analyze(model, (1, 1, 41, 41)).layer(last).rf
    assert tuple(field.size) == (size, size)
    make_positive(model)
    report = measure(model.double(), positive(2, 1, 41, 41), loss_fn="sum",
                     effective_field=True, erf_layer=last, erf_fraction=1.0)
    seen = support_offsets(report.erf.heatmap, report.erf.output_position)
    axis = sampled_offsets(dilations)
    assert seen == {(a, b) for a in axis for b in axis}
    holes = len(axis) < size
    lints = report.lints_with("NA007")
    assert bool(lints) == holes
    if holes:
        (lint,) = lints
        spans = re.search(r"spans (\d+) positions per axis but samples only (\d+)",
                          lint.message).groups()
        assert (lint.path, int(spans[0]), int(spans[1])) == (last, size, len(axis))


# --- gradient clipping and recurrent gradients ----------------------------------------------

def test_clipping_by_norm_keeps_the_direction_and_clipping_by_value_does_not():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)).double()
    x, target = normal(32, 8), normal(32, 4, seed=1)
    report = measure(model, x, target)
    total = math.sqrt(sum(n**2 for n in report.steps[0].grad_norms.values()))
    F.mse_loss(model(x), target).backward()
    original = torch.cat([p.grad.flatten() for p in model.parameters()]).clone()
    returned = float(nn.utils.clip_grad_norm_(model.parameters(), total / 4))
    assert math.isclose(returned, total, rel_tol=ROUNDING)
    clipped = torch.cat([p.grad.flatten() for p in model.parameters()])
    coefficient = (total / 4) / (total + 1e-6)               # torch's clip coefficient
    assert torch.allclose(clipped, original * coefficient, rtol=1e-12, atol=0)
    cosine = float(F.cosine_similarity(clipped, original, dim=0))
    assert cosine >= 1 - ROUNDING
    for parameter, grad in zip(model.parameters(), original.split(
            [p.numel() for p in model.parameters()])):
        parameter.grad = grad.view_as(parameter).clone()
    limit = float(original.abs().median())
    nn.utils.clip_grad_value_(model.parameters(), limit)
    by_value = torch.cat([p.grad.flatten() for p in model.parameters()])
    assert torch.equal(by_value, original.clamp(-limit, limit))
    assert float(F.cosine_similarity(by_value, original, dim=0)) < 1 - 1e-3


def last_output_input_gradients(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """||d Σ h_T / d x_t|| per time step t (over batch and features)."""
    x = x.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(model(x)[:, -1].sum(), x)
    return gradient.norm(dim=(0, 2))


def lstm_with_forget_bias(bias: float, recurrent: bool = True) -> LSTM:
    torch.manual_seed(0)
    lstm = LSTM(8, 16).double()
    with torch.no_grad():                           # gate order: input, forget, cell, output
        lstm.bias_ih_l0[16:32].fill_(bias)
        lstm.bias_hh_l0[16:32].zero_()
        if not recurrent:
            lstm.weight_hh_l0.zero_()
    return lstm


def test_lstm_cell_path_gradient_is_the_product_of_forget_gates():
    lstm, x = lstm_with_forget_bias(5.0, recurrent=False), normal(1, 50, 8)
    x0 = x.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(lstm(x0)[0, -1].sum(), x0)
    # W_hh = 0: only the cell carries x_0 forward. With gates a = W x_t + b (i, f, g, o):
    # dL/dc_T = o_T(1 − tanh² c_T), dL/dc_0 = dL/dc_T · Π_{t≥1} f_t,
    # dL/dx_0 = (diag(g_0 σ'(a_i)) W_i + diag(i_0 tanh'(a_g)) W_g)ᵀ dL/dc_0.
    gates = (x[0] @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + lstm.bias_hh_l0).detach()
    i, f, g, o = torch.sigmoid(gates[:, :16]), torch.sigmoid(gates[:, 16:32]), \
        torch.tanh(gates[:, 32:48]), torch.sigmoid(gates[:, 48:])
    cell = torch.zeros(16, dtype=F64)
    for t in range(50):
        cell = f[t] * cell + i[t] * g[t]
    upstream = o[-1] * (1 - torch.tanh(cell) ** 2) * f[1:].prod(dim=0)
    weights = lstm.weight_ih_l0.detach()
    local = (torch.diag(g[0] * i[0] * (1 - i[0])) @ weights[:16]
             + torch.diag(i[0] * (1 - g[0] ** 2)) @ weights[32:48])
    assert torch.allclose(gradient[0, 0], local.T @ upstream, atol=1e-14)
    # Forget pre-activations 5 + W_f x_t, W_f x_t of sd ≈ sqrt(8/48) = 0.41: Π f_t is about
    # σ(5)^49 = 0.72 and its log has sd ≈ 7·(1 − σ(5))·0.41 = 0.02, so > 0.5 by far.
    assert float(f[1:].prod(dim=0).min()) > 0.5


def test_lstm_with_high_forget_bias_keeps_the_gradient_where_a_vanilla_rnn_decays():
    steps, x = 50, normal(4, 50, 8, seed=1)
    torch.manual_seed(0)
    rnn = RNN(8, 16).double()
    with torch.no_grad():
        rnn.weight_hh_l0.mul_(0.5 / torch.linalg.matrix_norm(rnn.weight_hh_l0, ord=2))
    rnn_grads = last_output_input_gradients(rnn, x)
    # Per sample ‖dh_T/dx_0‖ ≤ Π ‖diag(tanh')‖·‖W_hh‖ · ‖W_ih‖ ≤ 0.5^(T−1)·σ(W_ih); the loss
    # sums 16 outputs (× ‖1‖ = 4) and the norm runs over 4 samples (× sqrt 4).
    sigma_ih = float(torch.linalg.matrix_norm(rnn.weight_ih_l0.detach(), ord=2))
    assert float(rnn_grads[0]) <= 0.5 ** (steps - 1) * sigma_ih * 4 * 2
    high = last_output_input_gradients(lstm_with_forget_bias(5.0), x)
    low = last_output_input_gradients(lstm_with_forget_bias(0.0), x)
    # The cell path scales dL/dx_0 by Π f_t ≈ σ(5)^49 = 0.72 against σ(0)^49 = 1.8e-15
    # for f ≈ 1/2; the local factors at t = 0 and t = T−1 are O(1), so the thresholds
    # below sit orders of magnitude from both predictions.
    assert float(high[0] / high[-1]) > 1e-2
    assert float(low[0] / low[-1]) < 1e-6
    assert float(high[0] / high[-1]) > 1e6 * float(rnn_grads[0] / rnn_grads[-1])
