"""Pooling as matrices: 2×2 average pooling is P with r² entries 1/r² per row; max pooling
of one input is its 0/1 switch matrix S, and max-pool backward is Sᵀ·g (the switches)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as functional

from netanatomy.errors import UsageError
from netanatomy.lab import matrices
from netanatomy.lab.base import Outcome, close, equal, experiment
from netanatomy.lab.figures import new_figure
from netanatomy.lab.matrix_figures import draw_grid, draw_pattern

ROUTES = ("argmax", "first")


@experiment("pooling-matrices", topic="matrices",
            title="Pooling as matrices: 1/r² entries and max-pool switches",
            claim="r×r average pooling is y = P·vec(x) with r² entries 1/r² in each row, and "
                  "its backward is Pᵀ·g; max pooling of a given input is a 0/1 switch matrix S "
                  "with one 1 per row at the window's maximum, and autograd routes the "
                  "gradient exactly as Sᵀ·g.",
            setting="2×2 average and max pooling (stride 2) over a 4×4 input")
def pooling_matrices(size: int = 4, window: int = 2, route: str = "argmax", seed: int = 0
                     ) -> Outcome:
    if route not in ROUTES:
        raise UsageError(f"route={route!r}: give argmax (the switches) or first (the "
                         "window's top-left, a wrong routing)")
    generator = torch.Generator().manual_seed(seed)
    average = matrices.avg_pool(2, size, window, run_check=False)
    switches = matrices.max_pool(2, size, window, seed=seed, run_check=False)
    p_matrix = np.array(average.matrix.tolist(), dtype=np.float64)
    s_matrix = np.array(switches.matrix.tolist(), dtype=np.float64)
    if route == "first":        # the premise broken: every window passes its top-left
        s_matrix = np.zeros_like(p_matrix)
        s_matrix[np.arange(p_matrix.shape[0]), (p_matrix != 0).argmax(axis=1)] = 1.0
    x = torch.tensor([float(v) for v in switches.parameters["input"]],
                     dtype=torch.float64).reshape(1, 1, size, size).requires_grad_(True)
    g = torch.randn((1, 1, *switches.output_shape[1:]), generator=generator,
                    dtype=torch.float64)
    max_out = functional.max_pool2d(x, window)
    (max_grad,) = torch.autograd.grad(max_out, x, g)
    avg_out = functional.avg_pool2d(x, window)
    (avg_grad,) = torch.autograd.grad(avg_out, x, g)
    vector, upstream = x.detach().reshape(-1).numpy(), g.reshape(-1).numpy()
    row_counts = tuple(sorted({int(n) for n in (p_matrix != 0).sum(axis=1)}))
    values = tuple(sorted({str(v) for v in average.matrix if v != 0}))
    r2 = window * window
    float_sum = 1e-15 * r2 * float(np.abs(vector).max())
    checks = [
        equal("nonzeros in each row of P", row_counts, (r2,),
              reason="one per window position: r²"),
        equal("the nonzero entries of P", values, (f"1/{r2}",),
              reason="closed form 1/r² (exact rationals)"),
        close("max |P·vec(x) − avg_pool2d(x)|",
              float(np.abs(p_matrix @ vector - avg_out.detach().reshape(-1).numpy()).max()),
              0.0, atol=float_sum, reason="float64 rounding of r²-term sums"),
        close("max |Pᵀ·g − autograd of avg_pool2d|",
              float(np.abs(p_matrix.T @ upstream - avg_grad.reshape(-1).numpy()).max()),
              0.0, atol=1e-15 * float(np.abs(upstream).max()),
              reason="float64 rounding of g/r²"),
        close("max |S·vec(x) − max_pool2d(x)|",
              float(np.abs(s_matrix @ vector - max_out.detach().reshape(-1).numpy()).max()),
              0.0, reason="a 0/1 row copies one value: exact"),
        close(f"max |Sᵀ·g − autograd of max_pool2d| ({route} routing)",
              float(np.abs(s_matrix.T @ upstream - max_grad.reshape(-1).numpy()).max()),
              0.0, reason="Sᵀ copies each g to one position: exact"),
    ]
    picked = (s_matrix.sum(axis=0) > 0).reshape(size, size)
    figure, axes = new_figure(3, 1, width=3.6, height=3.4)
    draw_grid(axes[0], x.detach()[0, 0], "input x (framed: the switches)",
              texts=[[f"{int(v)}" for v in row] for row in x.detach()[0, 0].tolist()],
              highlight=picked, cmap="Blues")
    texts_s = [[("1" if v else "0") for v in row] for row in s_matrix]
    draw_pattern(axes[1], texts_s, f"S ({s_matrix.shape[0]}×{s_matrix.shape[1]}): "
                 f"{route} routing", switches.row_labels, switches.column_labels)
    draw_pattern(axes[2], matrices.entry_texts(average.matrix),
                 f"P ({p_matrix.shape[0]}×{p_matrix.shape[1]}): entries 1/{r2}",
                 average.row_labels, average.column_labels)
    figure.suptitle(f"{window}×{window} pooling as matrices: max-pool backward = Sᵀ·g, "
                    f"avg-pool = 1/{r2} per window", fontsize=10)
    return Outcome(checks, figure, data={
        "input": [int(v) for v in vector] if vector.size <= 100 else None,
        "switch_columns": [int(j) for j in s_matrix.argmax(axis=1)],
        "avg_entry": f"1/{r2}", "row_nonzeros": list(row_counts)},
        notes=[switches.notes[1], average.notes[0]])
