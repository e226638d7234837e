"""Rounding bounds for float64 comparisons in the backprop and normalisation experiments.

A sum of ``n`` products computed in floating point differs from the exact one by at most
γ_n·Σ|terms| with γ_n = n·u/(1 − n·u) and u = 2⁻⁵³ (Higham, *Accuracy and Stability of
Numerical Algorithms*, §3.1). Two methods that each obey that bound differ by at most
twice it; that is the tolerance the experiments use, computed from the magnitudes of the
very terms they sum (so it is derived, not tuned).
"""

from __future__ import annotations

U = 2.0 ** -53
"""Unit roundoff of float64."""


def gamma(terms: int) -> float:
    """γ_n = n·u/(1 − n·u): the relative error bound of a sum or dot product of n terms."""
    n = max(int(terms), 1)
    return n * U / (1 - n * U)


def two_methods(terms: int, magnitude: float) -> float:
    """How far two float64 evaluations of the same n-term sum can lie apart: 2·γ_n times
    ``magnitude`` (the largest Σ|terms| of one output entry)."""
    return 2 * gamma(terms) * float(magnitude)


def reason(terms: int, what: str = "terms") -> str:
    """The words for a :func:`two_methods` tolerance."""
    return (f"float64: two evaluations of a sum of ≤ {terms} {what}, each within "
            f"γ_n·Σ|terms| (γ_n ≈ n·2⁻⁵³, Higham §3.1)")
