"""RNN, LSTM and GRU that take ``(N, T, F)`` and return only the output sequence.

They are ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` with ``batch_first=True`` whose forward
drops the final hidden state, so they can sit inside ``nn.Sequential``. The output is
``(N, T, D·hidden_size)`` with D = 2 when bidirectional.
"""

from __future__ import annotations

import torch
from torch import nn


class RNN(nn.RNN):
    """Elman RNN (tanh), batch first; forward returns the output sequence only."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, bidirectional: bool = False) -> None:
        super().__init__(input_size, hidden_size, num_layers=num_layers, bias=bias,
                         batch_first=True, bidirectional=bidirectional)

    # The narrower return type is the point of this class.
    def forward(self, input: torch.Tensor,  # type: ignore[override]
                hx: torch.Tensor | None = None) -> torch.Tensor:
        output, _ = super().forward(input, hx)
        return output


class LSTM(nn.LSTM):
    """LSTM, batch first; forward returns the output sequence only."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, bidirectional: bool = False) -> None:
        super().__init__(input_size, hidden_size, num_layers=num_layers, bias=bias,
                         batch_first=True, bidirectional=bidirectional)

    def forward(self, input: torch.Tensor,  # type: ignore[override]
                hx: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        output, _ = super().forward(input, hx)
        return output


class GRU(nn.GRU):
    """GRU, batch first; forward returns the output sequence only."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, bidirectional: bool = False) -> None:
        super().__init__(input_size, hidden_size, num_layers=num_layers, bias=bias,
                         batch_first=True, bidirectional=bidirectional)

    def forward(self, input: torch.Tensor,  # type: ignore[override]
                hx: torch.Tensor | None = None) -> torch.Tensor:
        output, _ = super().forward(input, hx)
        return output


__all__ = ["GRU", "LSTM", "RNN"]
