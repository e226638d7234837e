"""Classifier heads and losses from the seed topics: PEDCC (fixed, evenly distributed class
centroids as a frozen linear classifier) and center loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def simplex_centroids(classes: int, dim: int) -> torch.Tensor:
    """``classes`` unit vectors in R^dim with equal pairwise cosine −1/(classes − 1), the
    largest possible minimal angle; needs classes ≤ dim + 1. Built from the centred basis
    of R^classes, orthonormalised into its (classes − 1)-dimensional span."""
    centred = torch.eye(classes, dtype=torch.float64) - 1.0 / classes
    basis, _ = torch.linalg.qr(centred.T)          # columns span the centred vectors
    coordinates = centred @ basis[:, : classes - 1]
    points = torch.zeros(classes, dim, dtype=torch.float64)
    points[:, : classes - 1] = coordinates
    return F.normalize(points, dim=1)


def repelled_centroids(classes: int, dim: int, steps: int = 5000, seed: int = 0
                       ) -> torch.Tensor:
    """``classes`` unit vectors in R^dim spread by mutual repulsion on the sphere (the PEDCC
    construction, for classes > dim + 1): Riemannian gradient descent on Σ 1/‖cᵢ − cⱼ‖²
    (the gradient projected on the sphere's tangent space), with a step that shrinks
    when the energy would rise, until the energy stops changing."""
    generator = torch.Generator().manual_seed(seed)
    points = F.normalize(torch.randn(classes, dim, generator=generator, dtype=torch.float64),
                         dim=1)
    off_diagonal = ~torch.eye(classes, dtype=torch.bool)

    def energy(p: torch.Tensor) -> torch.Tensor:
        return (1.0 / torch.cdist(p, p)[off_diagonal].clamp_min(1e-9) ** 2).sum()

    step, current = 0.1, float(energy(points))
    for _ in range(steps):
        points.requires_grad_(True)
        (grad,) = torch.autograd.grad(energy(points), points)
        points = points.detach()
        tangent = grad - (grad * points).sum(dim=1, keepdim=True) * points
        scale = step / tangent.norm(dim=1).max().clamp_min(1e-30)
        moved = F.normalize(points - scale * tangent, dim=1)
        value = float(energy(moved))
        if value <= current:
            converged = current - value <= 1e-13 * current
            points, current, step = moved, value, step * 1.2
            if converged:
                break
        else:
            step *= 0.5
    return points.detach()


def pedcc_centroids(classes: int, dim: int) -> torch.Tensor:
    """Predefined evenly-distributed class centroids (Zhu et al. 2019), unit norm, float64."""
    if classes < 2 or dim < 1:
        raise ValueError(f"PEDCC needs at least 2 classes and 1 feature, got {classes}, {dim}")
    if classes <= dim + 1:
        return simplex_centroids(classes, dim)
    return repelled_centroids(classes, dim)


class PEDCCHead(nn.Module):
    """Linear classifier whose weight rows are fixed PEDCC centroids (frozen, no bias):
    logits = x · Cᵀ, so class k scores the projection of the feature on centroid k."""

    def __init__(self, in_features: int, classes: int) -> None:
        super().__init__()
        self.in_features, self.classes = in_features, classes
        weight = pedcc_centroids(classes, in_features).to(torch.get_default_dtype())
        self.weight = nn.Parameter(weight, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, classes={self.classes}, frozen"


class CenterLoss(nn.Module):
    """Center loss (Wen et al. 2016): ½ · mean over the batch of ‖xᵢ − c_{yᵢ}‖², with one
    learnable centre per class (``centers``, (classes, dim))."""

    def __init__(self, classes: int, dim: int) -> None:
        super().__init__()
        self.centers = nn.Parameter(torch.randn(classes, dim))

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if features.dim() != 2 or features.shape[1] != self.centers.shape[1]:
            raise ValueError(f"CenterLoss expects features (N, {self.centers.shape[1]}), got "
                             f"{tuple(features.shape)}")
        if labels.shape != features.shape[:1] or labels.is_floating_point():
            raise ValueError(f"CenterLoss expects integer labels of shape ({features.shape[0]},),"
                             f" got {labels.dtype} {tuple(labels.shape)}")
        differences = features - self.centers[labels]
        return 0.5 * differences.pow(2).sum(dim=1).mean()


__all__ = ["CenterLoss", "PEDCCHead", "pedcc_centroids"]
