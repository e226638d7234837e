"""The dilated kernel as a Kronecker product: crop(K ⊗ S), S the D×D selector with
a₁₁ = 1, is the kernel torch's dilated convolution applies, of size (F−1)D + 1."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as functional

from netanatomy.lab import matrices
from netanatomy.lab.base import Outcome, close, equal, experiment
from netanatomy.lab.figures import new_figure
from netanatomy.lab.matrix_figures import draw_pattern


@experiment("dilated-kernel-kronecker", topic="matrices",
            title="The dilated kernel is K ⊗ selector, cropped",
            claim="Dilating an F×F kernel by D is the Kronecker product K ⊗ S with the D×D "
                  "selector S (a₁₁ = 1, else 0) with its last D−1 rows and columns cropped: "
                  "an ((F−1)D+1)² kernel that conv2d applies exactly as conv2d with "
                  "dilation D.",
            setting="a 3×3 kernel with dilation 2: K ⊗ S is 6×6, cropped to 5×5")
def dilated_kernel_kronecker(kernel: int = 3, dilation: int = 2, size: int = 9,
                             crop: bool = True, seed: int = 0) -> Outcome:
    generator = torch.Generator().manual_seed(seed)
    op = matrices.dilated_kernel((kernel, kernel), dilation, size=(size, size),
                                 run_check=False)
    product = op.steps[2].matrix
    built = op.matrix if crop else product         # crop=False: the premise broken
    w = torch.randn((1, 1, kernel, kernel), generator=generator, dtype=torch.float64)
    x = torch.randn((1, 1, size, size), generator=generator, dtype=torch.float64)
    values = {op.weights[(0, 0, i, j)]: float(w[0, 0, i, j])
              for i in range(kernel) for j in range(kernel)}
    expanded = torch.tensor(np.array(built.xreplace(values).tolist(), dtype=np.float64)
                            ).reshape(1, 1, built.rows, built.cols)
    dilated = functional.conv2d(x, w, dilation=dilation)
    plain = functional.conv2d(x, expanded)
    rows, cols = min(dilated.shape[-2], plain.shape[-2]), min(dilated.shape[-1],
                                                              plain.shape[-1])
    error = float((plain[..., :rows, :cols] - dilated[..., :rows, :cols]).abs().max())
    effective = (kernel - 1) * dilation + 1
    torch_effective = size - dilated.shape[-1] + 1
    zeros = sum(1 for entry in built if entry == 0)
    scale = float(w.abs().max() * x.abs().max()) * kernel * kernel
    checks = [
        equal(f"size of {'crop(K ⊗ S)' if crop else 'K ⊗ S (not cropped)'}",
              (built.rows, built.cols), (effective, effective),
              reason="closed form (F−1)D + 1"),
        equal("torch's effective size (input − output + 1)", torch_effective, effective,
              reason="conv2d with dilation D shrinks each axis by (F−1)D"),
        equal("nonzeros of the dilated kernel", built.rows * built.cols - zeros,
              kernel * kernel, reason="K's F² taps, D−1 zeros between neighbours"),
        close("max |conv2d(x, K_D) − conv2d(x, K, dilation=D)| (common outputs)", error, 0.0,
              atol=1e-15 * scale, reason="float64 rounding of F²-term sums"),
    ]
    figure, axes = new_figure(4, 1, width=3.0, height=3.2)
    step_k, step_s, step_ks = op.steps
    draw_pattern(axes[0], matrices.entry_texts(step_k.matrix), "K", step_k.row_labels,
                 step_k.column_labels)
    draw_pattern(axes[1], matrices.entry_texts(step_s.matrix),
                 f"S ({dilation}×{dilation} selector, a₁₁ = 1)", step_s.row_labels,
                 step_s.column_labels)
    cut = np.zeros(product.shape, dtype=bool)
    cut[product.rows - (dilation - 1):, :] = True
    cut[:, product.cols - (dilation - 1):] = True
    draw_pattern(axes[2], matrices.entry_texts(product),
                 f"K ⊗ S ({product.rows}×{product.cols}); grey: cropped", step_ks.row_labels,
                 step_ks.column_labels, shade=cut)
    draw_pattern(axes[3], matrices.entry_texts(built),
                 f"K_D ({built.rows}×{built.cols}) = (F−1)D+1 = {effective}"
                 if crop else f"uncropped ({built.rows}×{built.cols}) ≠ {effective}",
                 step_ks.row_labels[:built.rows], step_ks.column_labels[:built.cols])
    figure.suptitle(f"Dilation {dilation}: crop(K ⊗ S) is the dilated kernel "
                    f"(max |Δ| = {error:.1e} vs torch)", fontsize=10)
    return Outcome(checks, figure, data={
        "effective_size": effective, "torch_effective_size": torch_effective,
        "max_error": error, "kernel": [list(row) for row in matrices.entry_texts(built)]
        if built.rows * built.cols <= 200 else None,
        "selector": [[int(v) for v in row] for row in step_s.matrix.tolist()]},
        notes=[*op.formula, op.notes[0]])
