"""RNN / LSTM / GRU wrappers: batch first, output sequence only, equal to torch's modules."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from netanatomy.layers import GRU, LSTM, RNN

F64 = torch.float64
PAIRS = [(RNN, nn.RNN), (LSTM, nn.LSTM), (GRU, nn.GRU)]


@pytest.mark.parametrize("ours, theirs", PAIRS)
@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, False), (1, True), (3, True)])
def test_wrapper_returns_only_the_output_sequence_of_torch_module(ours, theirs, layers,
                                                                  bidirectional):
    torch.manual_seed(0)
    wrapper = ours(5, 4, num_layers=layers, bidirectional=bidirectional).double()
    reference = theirs(5, 4, num_layers=layers, batch_first=True,
                       bidirectional=bidirectional).double()
    reference.load_state_dict(wrapper.state_dict())
    x = torch.randn(3, 7, 5, dtype=F64)
    out = wrapper(x)
    directions = 2 if bidirectional else 1
    assert isinstance(out, torch.Tensor)
    assert out.shape == (3, 7, directions * 4)  # (N, T, D·hidden)
    assert_close(out, reference(x)[0])


@pytest.mark.parametrize("ours", [RNN, GRU])
def test_initial_state_is_passed_through(ours):
    torch.manual_seed(1)
    wrapper = ours(2, 3).double()
    x = torch.randn(2, 4, 2, dtype=F64)
    h0 = torch.randn(1, 2, 3, dtype=F64)
    reference = getattr(nn, ours.__name__)(2, 3, batch_first=True).double()
    reference.load_state_dict(wrapper.state_dict())
    assert_close(wrapper(x, h0), reference(x, h0)[0])
    assert not torch.allclose(wrapper(x, h0), wrapper(x))


def test_lstm_initial_state_is_passed_through():
    torch.manual_seed(2)
    wrapper = LSTM(2, 3).double()
    x = torch.randn(2, 4, 2, dtype=F64)
    state = (torch.randn(1, 2, 3, dtype=F64), torch.randn(1, 2, 3, dtype=F64))
    reference = nn.LSTM(2, 3, batch_first=True).double()
    reference.load_state_dict(wrapper.state_dict())
    assert_close(wrapper(x, state), reference(x, state)[0])


@pytest.mark.parametrize("ours", [RNN, LSTM, GRU])
def test_wrapper_fits_in_sequential(ours):
    model = nn.Sequential(ours(3, 4, bidirectional=True), nn.Linear(8, 2))
    assert model(torch.zeros(5, 6, 3)).shape == (5, 6, 2)


def test_no_bias_option_reaches_torch():
    assert not any("bias" in name for name, _ in GRU(3, 4, bias=False).named_parameters())
