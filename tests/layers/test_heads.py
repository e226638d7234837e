"""PEDCC centroids and head against geometry (simplex, hexagon, Tammes), center loss against
hand loops and its analytic gradient."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from netanatomy.layers import CenterLoss, PEDCCHead, pedcc_centroids

F64 = torch.float64
TAMMES_8_DEGREES = 74.8585  # Tammes problem, 8 points on S²: square antiprism (Schütte and
#                             van der Waerden 1951), minimal angle ≈ 74.8585°


def minimal_angle_degrees(points: torch.Tensor) -> float:
    unit = F.normalize(points.to(F64), dim=1)
    cosines = unit @ unit.T
    cosines.fill_diagonal_(-1.0)
    return math.degrees(math.acos(min(cosines.max().item(), 1.0)))


def riesz_minimum(classes: int, dim: int, seed: int, steps: int = 3000) -> torch.Tensor:
    """An independent minimiser of Σ 1/‖cᵢ − cⱼ‖² on the sphere: Riemannian gradient
    descent (gradient projected on each tangent plane, fixed small step), float64."""
    generator = torch.Generator().manual_seed(seed)
    points = F.normalize(torch.randn(classes, dim, generator=generator, dtype=F64), dim=1)
    eye = torch.eye(classes, dtype=F64)
    for _ in range(steps):
        points.requires_grad_(True)
        squared = ((points[:, None] - points[None]) ** 2).sum(-1) + eye
        (grad,) = torch.autograd.grad(((1 - eye) / squared).sum(), points)
        with torch.no_grad():
            tangent = grad - (grad * points).sum(1, keepdim=True) * points
            points = F.normalize(points - 5e-3 * tangent, dim=1)
    return points.detach()


@pytest.fixture(scope="module")
def six_in_2d() -> torch.Tensor:
    return pedcc_centroids(6, 2)  # repulsion runs ≈ 0.4 s: computed once per module


@pytest.fixture(scope="module")
def eight_in_3d() -> torch.Tensor:
    return pedcc_centroids(8, 3)


# --- pedcc_centroids ---------------------------------------------------------------------

@pytest.mark.parametrize("classes, dim", [(2, 1), (3, 2), (4, 3), (5, 10), (10, 9)])
def test_centroids_have_unit_norm_and_requested_shape(classes, dim):
    centroids = pedcc_centroids(classes, dim)
    assert centroids.shape == (classes, dim)
    assert centroids.dtype == F64
    assert_close(centroids.norm(dim=1), torch.ones(classes, dtype=F64))


@pytest.mark.parametrize("classes, dim", [(2, 1), (2, 5), (3, 2), (4, 3), (5, 10), (10, 9)])
def test_centroids_up_to_dim_plus_one_form_a_regular_simplex(classes, dim):
    centroids = pedcc_centroids(classes, dim)
    cosines = centroids @ centroids.T
    off_diagonal = ~torch.eye(classes, dtype=torch.bool)
    expected = torch.full((classes * (classes - 1),), -1.0 / (classes - 1), dtype=F64)
    assert_close(cosines[off_diagonal], expected)


def test_simplex_centroids_sum_to_zero():
    # A regular simplex centred on the origin: Σ cᵢ = 0 (follows from cos = −1/(n − 1)).
    assert_close(pedcc_centroids(7, 6).sum(dim=0), torch.zeros(6, dtype=F64))


@pytest.mark.parametrize("name", ["six_in_2d", "eight_in_3d"])
def test_repelled_centroids_have_unit_norm(name, request):
    centroids = request.getfixturevalue(name)
    assert_close(centroids.norm(dim=1), torch.ones(len(centroids), dtype=F64))


def test_six_centroids_in_the_plane_form_a_regular_hexagon(six_in_2d):
    centroids = six_in_2d
    angles = torch.sort(torch.atan2(centroids[:, 1], centroids[:, 0])).values
    gaps = torch.diff(torch.cat([angles, angles[:1] + 2 * math.pi]))
    assert_close(gaps, torch.full((6,), 2 * math.pi / 6, dtype=F64), atol=1e-6, rtol=0)
    assert minimal_angle_degrees(centroids) == pytest.approx(360 / 6, abs=1e-4)


def test_eight_centroids_in_3d_beat_random_configurations(eight_in_3d):
    generator = torch.Generator().manual_seed(0)
    random_best = max(minimal_angle_degrees(torch.randn(8, 3, generator=generator, dtype=F64))
                      for _ in range(200))
    assert minimal_angle_degrees(eight_in_3d) > random_best


def test_eight_centroids_in_3d_do_not_beat_the_tammes_optimum(eight_in_3d):
    # No 8 points on S² have a larger minimal angle than the Tammes optimum.
    assert minimal_angle_degrees(eight_in_3d) <= TAMMES_8_DEGREES + 1e-3


def test_eight_centroids_in_3d_are_near_the_tammes_optimum(eight_in_3d):
    # The brief asked for "within ~1° of 74.8585°", which this construction cannot meet: it
    # minimises the 1/r² energy, whose minimiser (a square antiprism, ≈ 71.97°, see
    # riesz_minimum) lies ≈ 2.9° below the Tammes optimum. 6° covers that gap plus the
    # iteration; the best of 200 random ones is ≈ 29° short.
    assert minimal_angle_degrees(eight_in_3d) > TAMMES_8_DEGREES - 6.0


def test_eight_centroids_in_3d_reach_the_repulsion_energy_minimum(eight_in_3d):
    reference = minimal_angle_degrees(riesz_minimum(8, 3, seed=1))
    assert reference == pytest.approx(71.97, abs=0.05)  # the independent minimiser converged
    assert minimal_angle_degrees(eight_in_3d) == pytest.approx(reference, abs=0.5)


def test_centroids_are_deterministic(six_in_2d):
    assert torch.equal(pedcc_centroids(6, 2), six_in_2d)


@pytest.mark.parametrize("classes, dim", [(1, 3), (0, 3), (3, 0)])
def test_centroids_reject_degenerate_sizes(classes, dim):
    with pytest.raises(ValueError, match="PEDCC"):
        pedcc_centroids(classes, dim)


# --- PEDCCHead ---------------------------------------------------------------------------

def test_head_weight_is_frozen_centroids_without_bias():
    head = PEDCCHead(4, 5)
    assert head.weight.shape == (5, 4)
    assert not head.weight.requires_grad
    assert [name for name, _ in head.named_parameters()] == ["weight"]
    assert not any(p.requires_grad for p in head.parameters())
    assert_close(head.weight.to(F64), pedcc_centroids(5, 4), atol=1e-7, rtol=0)


def test_head_forward_is_features_times_centroids_transposed():
    torch.manual_seed(0)
    head = PEDCCHead(3, 4).double()
    x = torch.randn(6, 3, dtype=F64)
    expected = torch.stack([torch.stack([sum(x[n, d] * head.weight[k, d] for d in range(3))
                                         for k in range(4)]) for n in range(6)])
    assert_close(head(x), expected)
    assert_close(head(x), x @ head.weight.T)


def test_head_passes_gradient_to_features_but_not_to_weight():
    head = PEDCCHead(3, 4)
    x = torch.randn(2, 3, requires_grad=True)
    head(x).sum().backward()
    assert head.weight.grad is None
    assert_close(x.grad, head.weight.sum(dim=0).expand(2, 3))  # d/dx Σₖ x·cₖ = Σₖ cₖ


# --- CenterLoss --------------------------------------------------------------------------

def hand_center_loss(features: torch.Tensor, labels: torch.Tensor, centers: torch.Tensor
                     ) -> torch.Tensor:
    total = features.new_zeros(())
    for i in range(features.shape[0]):
        for d in range(features.shape[1]):
            total = total + (features[i, d] - centers[labels[i], d]) ** 2
    return 0.5 * total / features.shape[0]


def test_center_loss_equals_half_mean_squared_distance():
    torch.manual_seed(1)
    loss = CenterLoss(4, 3).double()
    features = torch.randn(7, 3, dtype=F64)
    labels = torch.tensor([0, 2, 2, 1, 0, 2, 1])
    assert_close(loss(features, labels), hand_center_loss(features, labels, loss.centers))


def test_center_loss_is_zero_at_the_centres():
    loss = CenterLoss(3, 2)
    labels = torch.tensor([2, 0, 2])
    assert loss(loss.centers.detach()[labels], labels).item() == 0.0


def test_center_loss_gradient_touches_only_present_classes():
    torch.manual_seed(2)
    loss = CenterLoss(5, 3).double()
    features = torch.randn(6, 3, dtype=F64)
    labels = torch.tensor([1, 3, 3, 1, 1, 3])
    loss(features, labels).backward()
    grad = loss.centers.grad
    for absent in (0, 2, 4):
        assert torch.count_nonzero(grad[absent]) == 0
    # ∂L/∂c_k = −(1/N) Σ_{i: yᵢ = k} (xᵢ − c_k)
    for present in (1, 3):
        members = features[labels == present]
        expected = -(members - loss.centers[present]).sum(dim=0) / features.shape[0]
        assert_close(grad[present], expected.detach())


@pytest.mark.parametrize("shape", [(6,), (6, 2), (6, 3, 1), (2, 3, 3)])
def test_center_loss_rejects_features_of_wrong_shape(shape):
    loss = CenterLoss(4, 3)
    with pytest.raises(ValueError, match="CenterLoss"):
        loss(torch.zeros(shape), torch.zeros(shape[0], dtype=torch.long))


@pytest.mark.parametrize("labels", [torch.tensor([[0], [1], [2], [0]]), torch.tensor([1])])
def test_center_loss_rejects_labels_of_wrong_shape(labels):
    loss = CenterLoss(3, 2)
    with pytest.raises(ValueError):
        loss(torch.zeros(4, 2), labels)
