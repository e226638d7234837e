"""Containers against the computation composed by hand; InceptionV1 against GoogLeNet."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from netanatomy.layers import Branch, DenseBlock, InceptionV1, Residual, SpecNetwork

F64 = torch.float64


def seeded(module: nn.Module, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    for parameter in module.parameters():
        nn.init.normal_(parameter, 0.0, 0.3)
    return module.double()


# --- SpecNetwork -------------------------------------------------------------------------

def test_spec_network_runs_children_in_registration_order():
    network = SpecNetwork()
    network.add_module("identity", nn.Identity())
    network.add_module("scale", seeded(nn.Linear(3, 3)))
    network.add_module("act", nn.Tanh())
    x = torch.randn(2, 3, dtype=F64)
    assert_close(network(x), torch.tanh(network.scale(x)))


def test_spec_network_runs_a_module_registered_twice_twice():
    layer = seeded(nn.Linear(3, 3))
    network = SpecNetwork()
    network.add_module("first", layer)
    network.add_module("again", layer)
    network.add_module("skipped", None)
    x = torch.randn(2, 3, dtype=F64)
    assert_close(network(x), layer(layer(x)))


# --- Branch ------------------------------------------------------------------------------

def test_branch_concatenates_paths_on_channels_in_order():
    branch = Branch()
    branch.add_module("0", seeded(nn.Conv2d(3, 2, 1), 1))
    branch.add_module("1", seeded(nn.Conv2d(3, 4, 3, padding=1), 2))
    branch.add_module("2", nn.MaxPool2d(3, 1, 1))
    one, three = getattr(branch, "0"), getattr(branch, "1")
    x = torch.randn(2, 3, 5, 5, dtype=F64)
    out = branch(x)
    assert out.shape == (2, 2 + 4 + 3, 5, 5)
    assert_close(out[:, :2], F.conv2d(x, one.weight, one.bias))
    assert_close(out[:, 2:6], F.conv2d(x, three.weight, three.bias, padding=1))
    assert_close(out[:, 6:], F.max_pool2d(x, 3, 1, 1))


def test_branch_skips_none_paths():
    branch = Branch()
    branch.add_module("0", nn.Identity())
    branch.add_module("1", None)
    branch.add_module("2", nn.Identity())
    x = torch.randn(1, 2, 3, 3)
    assert torch.equal(branch(x), torch.cat([x, x], dim=1))


# --- Residual ----------------------------------------------------------------------------

def test_residual_without_shortcut_adds_the_input():
    body = seeded(nn.Conv2d(3, 3, 3, padding=1))
    residual = Residual(body)
    assert "shortcut" not in residual._modules
    x = torch.randn(1, 3, 4, 4, dtype=F64)
    assert_close(residual(x), F.conv2d(x, body.weight, body.bias, padding=1) + x)


def test_residual_with_projection_shortcut():
    body = seeded(nn.Conv2d(3, 6, 3, stride=2, padding=1), 1)
    shortcut = seeded(nn.Conv2d(3, 6, 1, stride=2), 2)
    residual = Residual(body, shortcut)
    assert "shortcut" in residual._modules
    x = torch.randn(2, 3, 6, 6, dtype=F64)
    expected = (F.conv2d(x, body.weight, body.bias, stride=2, padding=1)
                + F.conv2d(x, shortcut.weight, shortcut.bias, stride=2))
    assert_close(residual(x), expected)


# --- DenseBlock --------------------------------------------------------------------------

@pytest.mark.parametrize("layers", [1, 2, 4])
def test_dense_block_has_c0_plus_n_times_k_channels(layers):
    c0, growth = 5, 3
    block = DenseBlock()
    for i in range(layers):
        block.add_module(str(i), nn.Conv2d(c0 + i * growth, growth, 3, padding=1))
    assert block(torch.zeros(1, c0, 4, 4)).shape == (1, c0 + layers * growth, 4, 4)


def test_dense_block_equals_hand_composed_concatenation():
    first = seeded(nn.Conv2d(2, 3, 3, padding=1), 1)
    second = seeded(nn.Conv2d(5, 3, 1), 2)
    block = DenseBlock()
    block.add_module("0", first)
    block.add_module("1", second)
    x = torch.randn(2, 2, 5, 5, dtype=F64)
    y1 = F.conv2d(x, first.weight, first.bias, padding=1)
    y2 = F.conv2d(torch.cat([x, y1], dim=1), second.weight, second.bias)
    assert_close(block(x), torch.cat([x, y1, y2], dim=1))


# --- InceptionV1 -------------------------------------------------------------------------

# GoogLeNet (Szegedy et al. 2014), table 1, inception (3a): input 28×28×192; #1×1 64,
# #3×3 reduce 96, #3×3 128, #5×5 reduce 16, #5×5 32, pool proj 32 → 256 channels.
INCEPTION_3A = (192, 64, 96, 128, 16, 32, 32)


def test_inception_3a_output_shape():
    module = InceptionV1(*INCEPTION_3A)
    assert module(torch.zeros(1, 192, 28, 28)).shape == (1, 64 + 128 + 32 + 32, 28, 28)


def test_inception_3a_parameter_count_is_sum_over_its_six_convs():
    # Σ (k²·c_in·c_out + c_out), GoogLeNet table 1, inception (3a)
    expected = (
        1 * 1 * 192 * 64 + 64        # 1×1
        + 1 * 1 * 192 * 96 + 96      # 3×3 reduce
        + 3 * 3 * 96 * 128 + 128     # 3×3
        + 1 * 1 * 192 * 16 + 16      # 5×5 reduce
        + 5 * 5 * 16 * 32 + 32       # 5×5
        + 1 * 1 * 192 * 32 + 32      # pool proj
    )
    module = InceptionV1(*INCEPTION_3A)
    assert sum(p.numel() for p in module.parameters()) == expected


def test_inception_equals_hand_composed_branches():
    module = seeded(InceptionV1(4, 2, 3, 5, 2, 3, 1))
    x = torch.randn(2, 4, 7, 6, dtype=F64)

    def conv(layer: nn.Conv2d, inputs: torch.Tensor) -> torch.Tensor:
        k = layer.kernel_size[0]
        return F.relu(F.conv2d(inputs, layer.weight, layer.bias, padding=k // 2))

    b0, b1, b2, b3 = (getattr(module, str(i)) for i in range(4))
    expected = torch.cat([
        conv(b0[0], x),
        conv(b1[2], conv(b1[0], x)),
        conv(b2[2], conv(b2[0], x)),
        conv(b3[1], F.max_pool2d(x, 3, 1, 1)),
    ], dim=1)
    assert [b1[2].kernel_size, b2[2].kernel_size] == [(3, 3), (5, 5)]
    assert_close(module(x), expected)
