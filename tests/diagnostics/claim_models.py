"""Tiny models for the behaviour claims of SEED_TOPICS.md §3 (``test_claims.py``).

Every builder seeds torch itself, so a model is the same whatever ran before it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from netanatomy.layers import MaskedConv2d

Activation = Callable[[], nn.Module]


def seeded(seed: int) -> None:
    torch.manual_seed(seed)


def tanh_chain(depth: int, width: int, seed: int = 0) -> nn.Sequential:
    """``depth`` × (Linear(width, width) → Tanh), torch's default init."""
    seeded(seed)
    return nn.Sequential(*[m for _ in range(depth) for m in (nn.Linear(width, width),
                                                              nn.Tanh())])


class TanhResidual(nn.Module):
    """y = x + tanh(Linear(x))."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.act = nn.Tanh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.act(self.fc(x))


class TwoLayerResidual(nn.Module):
    """y = x + F(x), F = Linear → tanh → Linear (the block of the Jacobian check)."""

    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.tanh(self.fc1(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.branch(x)


def residual_tanh_stack(depth: int, width: int, seed: int = 0) -> nn.Sequential:
    """The residual twin of :func:`tanh_chain` (the same Linear init, drawn in order)."""
    seeded(seed)
    return nn.Sequential(*[TanhResidual(width) for _ in range(depth)])


def relu_chain(depth: int, width: int, gain: float, seed: int = 0) -> nn.Sequential:
    """``depth`` × (Linear without bias → ReLU), weights He normal × ``gain``."""
    seeded(seed)
    layers: list[nn.Module] = []
    for _ in range(depth):
        linear = nn.Linear(width, width, bias=False)
        nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        with torch.no_grad():
            linear.weight.mul_(gain)
        layers += [linear, nn.ReLU()]
    return nn.Sequential(*layers)


def spectral_chain(depth: int, width: int, sigma: float,
                   activation: Activation | None = None, seed: int = 0) -> nn.Sequential:
    """Float64 chain of Linear layers rescaled to largest singular value ``sigma``, each
    followed by ``activation()`` when given."""
    seeded(seed)
    layers: list[nn.Module] = []
    for _ in range(depth):
        linear = nn.Linear(width, width).double()
        with torch.no_grad():
            linear.weight.mul_(sigma / torch.linalg.matrix_norm(linear.weight, ord=2))
        layers += [linear] if activation is None else [linear, activation().double()]
    return nn.Sequential(*layers)


def one_hidden(activation: nn.Module, bias: float, inputs: int = 4, hidden: int = 8,
               outputs: int = 2, seed: int = 0) -> nn.Sequential:
    """Float64 Linear → activation → Linear, the first bias filled with ``bias``."""
    seeded(seed)
    model = nn.Sequential(nn.Linear(inputs, hidden), activation,
                          nn.Linear(hidden, outputs)).double()
    with torch.no_grad():
        model[0].bias.fill_(bias)
    return model


def conv_norm(norm: nn.Module, channels: int = 6, seed: int = 0) -> nn.Sequential:
    """Float64 Conv2d(3, channels, 3, bias) → norm → ReLU → 1×1 conv (a loss that is not
    a function of the norm's output alone)."""
    seeded(seed)
    return nn.Sequential(nn.Conv2d(3, channels, 3, padding=1), norm, nn.ReLU(),
                         nn.Conv2d(channels, 2, 1)).double()


def make_positive(model: nn.Module, seed: int = 0) -> nn.Module:
    """Weights uniform in [0.1, 1.1), biases 0: no gradient can cancel, so a gradient's
    support is exactly the set of input positions a unit is connected to."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.zero_()
            else:
                parameter.copy_(0.1 + torch.rand(parameter.shape, generator=generator))
    return model


def dilated_stack(dilations: Sequence[int], seed: int = 0) -> nn.Sequential:
    """3×3 convs (1 channel, 'same' padding) with the given dilations, ReLU between."""
    seeded(seed)
    layers: list[nn.Module] = []
    for dilation in dilations:
        layers += [nn.Conv2d(1, 1, 3, padding=dilation, dilation=dilation), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def masked_stack(depth: int, kernel: int = 3, seed: int = 0) -> nn.Sequential:
    """PixelCNN stack: a type-A masked conv, then ``depth − 1`` type-B ones, ReLU between."""
    seeded(seed)
    layers: list[nn.Module] = [MaskedConv2d(1, 2, kernel, "A")]
    for _ in range(depth - 1):
        layers += [nn.ReLU(), MaskedConv2d(2, 2, kernel, "B")]
    return nn.Sequential(*layers)
