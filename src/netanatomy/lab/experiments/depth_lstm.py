"""LSTM vs vanilla RNN: along the LSTM's cell path ∂c_T/∂c_0 = diag(Π f_t), which stays
near 1 when the forget gates are near 1; a tanh RNN multiplies by diag(tanh')·W_hh at every
step and decays at least like σ_max(W_hh)^T."""

from __future__ import annotations

import math
import sys

import torch
from torch import nn

from netanatomy.lab.base import Outcome, at_least, at_most, close, experiment
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure

EPS = sys.float_info.epsilon


@experiment("lstm-vs-rnn-gradient", topic="depth",
            title="An LSTM's cell keeps the gradient a vanilla RNN loses",
            claim="On the LSTM's cell path ∂c_T/∂c_0 = diag(Π_t f_t): with the forget bias "
                  "high (f ≈ 1) it stays above e^−1 over T steps (memory of at least T "
                  "steps), while a tanh RNN's ‖∂h_T/∂h_0‖ ≤ σ_max(W_hh)^T decays.",
            setting="T = 50 steps, 8 inputs, 16 units; forget bias 5; the cell path alone "
                    "(W_hh = 0 in the LSTM); RNN with σ_max(W_hh) = 0.9")
def lstm_vs_rnn_gradient(steps: int = 50, forget_bias: float = 5.0, rnn_sigma: float = 0.9,
                         hidden: int = 16, inputs: int = 8, seed: int = 0) -> Outcome:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, inputs, generator=generator, dtype=torch.float64)
    lstm, rnn = lstm_cell(inputs, hidden, forget_bias), rnn_cell(inputs, hidden, rnn_sigma)
    cell = jacobians(lambda c0: lstm_cells(lstm, x, c0), hidden)        # (T, n, n)
    gates = x @ lstm.weight_ih[hidden:2 * hidden].T + lstm.bias_ih[hidden:2 * hidden]
    forget = torch.cumprod(torch.sigmoid(gates.detach()), dim=0)       # Π f_t, by hand
    state = jacobians(lambda h0: rnn_states(rnn, x, h0), hidden)
    lstm_norms = [float(torch.linalg.matrix_norm(j, ord=2)) for j in cell]
    rnn_norms = [float(torch.linalg.matrix_norm(j, ord=2)) for j in state]
    final = cell[-1]
    checks = [
        close("max |∂c_T/∂c_0 − diag(Π f_t)|",
              float((final - torch.diag(forget[-1])).abs().max()), 0.0,
              atol=4 * steps * EPS, reason="float64 rounding of T products (4Tε)"),
        at_least(f"LSTM: min_j (∂c_T/∂c_0)_jj after {steps} steps (kept ≥ e^−1)",
                 float(torch.diagonal(final).min()), math.exp(-1),
                 reason="a memory time −T/ln Π f of at least T steps"),
        at_most(f"RNN: ‖∂h_T/∂h_0‖ after {steps} steps ≤ σ_max(W_hh)^T", rnn_norms[-1],
                rnn_sigma ** steps, atol=4 * steps * hidden * EPS * rnn_sigma ** steps,
                reason="|tanh'| ≤ 1 and ‖AB‖ ≤ ‖A‖‖B‖; float64 rounding"),
    ]
    figure = draw(lstm_norms, [float(v) for v in forget.max(dim=1).values], rnn_norms,
                  rnn_sigma, forget_bias)
    return Outcome(checks, figure, data={
        "lstm_by_step": lstm_norms, "rnn_by_step": rnn_norms,
        "forget_product": float(forget[-1].max())},
        notes=[f"σ({forget_bias:g})^{steps} = "
               f"{(1 / (1 + math.exp(-forget_bias))) ** steps:.4g} (forget gates at the bias "
               "alone)"])


def lstm_cell(inputs: int, hidden: int, forget_bias: float) -> nn.LSTMCell:
    """torch's LSTMCell (gate order i, f, g, o) with the forget bias set and W_hh = 0, so
    the cell is the only route from c_0 to c_T."""
    cell = nn.LSTMCell(inputs, hidden, dtype=torch.float64)
    with torch.no_grad():
        cell.bias_ih[hidden:2 * hidden].fill_(forget_bias)
        cell.bias_hh.zero_()
        cell.weight_hh.zero_()
    return cell


def rnn_cell(inputs: int, hidden: int, sigma: float) -> nn.RNNCell:
    cell = nn.RNNCell(inputs, hidden, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_hh.mul_(sigma / torch.linalg.matrix_norm(cell.weight_hh, ord=2))
    return cell


def lstm_cells(cell: nn.LSTMCell, x: torch.Tensor, c0: torch.Tensor) -> torch.Tensor:
    h, c, cells = torch.zeros_like(c0), c0, []
    for x_t in x:
        h, c = cell(x_t, (h, c))
        cells.append(c)
    return torch.stack(cells)


def rnn_states(cell: nn.RNNCell, x: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    h, states = h0, []
    for x_t in x:
        h = cell(x_t, h)
        states.append(h)
    return torch.stack(states)


def jacobians(run: object, hidden: int) -> torch.Tensor:
    """∂s_t/∂s_0 for every step t, by autograd: (T, hidden, hidden)."""
    start = torch.zeros(hidden, dtype=torch.float64)
    return torch.autograd.functional.jacobian(run, start, vectorize=True)  # type: ignore[arg-type]


def draw(lstm: list[float], forget: list[float], rnn: list[float], sigma: float,
         forget_bias: float) -> object:
    figure, (axis,) = new_figure()
    steps = range(1, len(lstm) + 1)
    axis.semilogy(steps, lstm, "o", markersize=3, color=MEASURED,
                  label=f"LSTM ‖∂c_t/∂c_0‖ (forget bias {forget_bias:g})")
    axis.semilogy(steps, forget, "-", color=THEORY, linewidth=1, label="max_j Π f_t by hand")
    axis.semilogy(steps, rnn, "o", markersize=3, color=OTHER, label="RNN ‖∂h_t/∂h_0‖")
    axis.semilogy(steps, [sigma**t for t in steps], "--", color=THEORY, linewidth=1,
                  label=f"bound {sigma:g}^t")
    axis.axhline(math.exp(-1), color="0.6", linewidth=0.8, label="e^−1")
    axis.set_xlabel("time steps t")
    axis.set_ylabel("gradient gain back to step 0")
    axis.set_title("The LSTM cell keeps the gradient; the RNN's decays")
    axis.legend(fontsize=8)
    return figure
