"""Inception v3's factorisations: a 5×5 conv as a stack of 3×3 convs, an n×n conv as 1×n
followed by n×1; weights, MACs and receptive fields from netanatomy's spec analysis."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import sympy

from netanatomy import spec
from netanatomy.lab.base import Check, Outcome, at_most, equal, experiment
from netanatomy.lab.experiments._efficient import built_params, label_bars, ratio
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure, verdict_title


def stack_spec(stack: int) -> str:
    """A 5×5 conv beside ``stack`` 3×3 convs (C → C, no bias, padding keeping H×W) as the
    two paths of a branch; with ``stack`` 2 it is ``example:conv5x5-vs-two-3x3``."""
    convs = ", ".join(f"{{conv: {{name: conv3x3_{i}, out: C, k: 3, p: 1, bias: false}}}}"
                      for i in range(stack))
    return f"""
name: conv5x5-vs-{stack}-3x3
input: [C, H, W]
layers:
  - branch:
      name: compare
      paths:
        - [{{conv: {{name: conv5x5, out: C, k: 5, p: 2, bias: false}}}}]
        - [{convs}]
"""


def asymmetric_spec(padding: str) -> str:
    """An n×n conv beside 1×n then n×1 (C → C, no bias) with ``padding`` (``same``:
    ``example:nxn-vs-1xn-nx1``; ``valid`` shrinks the grid, so the 1×n conv works on
    H×(W−n+1) positions and the n×1 on (H−n+1)×(W−n+1))."""
    return f"""
name: nxn-vs-1xn-nx1-{padding}
input: [C, H, W]
layers:
  - branch:
      name: compare
      paths:
        - [{{conv: {{name: nxn, out: C, k: n, p: {padding}, bias: false}}}}]
        - [{{conv: {{name: 1xn, out: C, k: [1, n], p: {padding}, bias: false}}}},
           {{conv: {{name: nx1, out: C, k: [n, 1], p: {padding}, bias: false}}}}]
"""


def paths(report: Any) -> tuple[Any, Any]:
    """The rows of the branch's two paths: the single conv, the factorised stack."""
    return report.layer("compare.0"), report.layer("compare.1")


def field(row: Any) -> int:
    """The (square) receptive field of a row's output, in input pixels."""
    size = row.rf.size
    assert size[0] == size[1], size
    return int(size[0])


def stacked_checks(stack: int, channels: int, size: int) -> tuple[list[Check], dict[str, Any]]:
    """5×5 vs ``stack`` 3×3: the weight and MAC ratios as sympy formulas (any C, H, W), the
    fields, and the built module's parameters."""
    text = stack_spec(stack)
    single, factorised = paths(spec.analyze(text))
    weights = sympy.nsimplify(factorised.params_total / single.params_total)
    macs = sympy.nsimplify(factorised.macs / single.macs)
    numbers = {"C": channels, "H": size, "W": size}
    concrete = spec.analyze(text, numbers)
    one, many = paths(concrete)
    checks = [
        # hand: a k×k conv C → C has k²·C² weights, so s 3×3 convs have 9s·C² against 25·C²
        equal(f"weights {stack}×(3×3) / 5×5, symbolic in C", str(weights),
              str(Fraction(9 * stack, 25)), reason="exact: ratio of sympy formulas"),
        equal(f"MACs {stack}×(3×3) / 5×5, symbolic in C, H, W", str(macs),
              str(Fraction(9 * stack, 25)), reason="exact: every conv keeps the H×W grid"),
        at_most(f"weights {stack}×(3×3) / 5×5", float(weights), 1.0,
                reason="the factorisation must save weights (exact rational)"),
        equal("receptive field 5×5, 3×3 stack (netanatomy rf)", (field(one), field(many)),
              (5, 5), reason="the stack must see what the 5×5 sees; s stacked 3×3 see 1 + 2s"),
        equal(f"params at C={channels} = built module's p.numel()",
              int(concrete.totals.params), built_params(text, numbers),
              reason="torch's parameter tensors, counted apart"),
    ]
    data = {"stack": stack, "weights_per_c2": [int(one.params_total) // channels ** 2,
                                               int(many.params_total) // channels ** 2],
            "fields": [field(one), field(many)], "weight_ratio": str(weights)}
    return checks, data


def asymmetric_checks(kernels: tuple[int, ...], padding: str, channels: int, size: int
                      ) -> tuple[list[Check], dict[str, Any]]:
    """n×n vs 1×n + n×1 at each n: weight and MAC ratios exactly, against 2/n."""
    text = asymmetric_spec(padding)
    weights, macs, fields = [], [], []
    for n in kernels:
        single, factorised = paths(spec.analyze(text, {"C": channels, "H": size, "W": size,
                                                       "n": n}))
        weights.append(ratio(factorised.params_total, single.params_total))
        macs.append(ratio(factorised.macs, single.macs))
        fields.append((field(single), field(factorised)))
    # hand: n×n has n²·C² weights, 1×n + n×1 has 2n·C²: a ratio of 2/n, in MACs too when
    # both convs work on the same H×W grid ('same' padding)
    expected = [str(Fraction(2, n)) for n in kernels]
    shown = ", ".join(str(n) for n in kernels)
    checks = [
        equal(f"weights (1×n + n×1)/(n×n), n = {shown}", [str(w) for w in weights], expected,
              reason="exact rationals: 2n·C² / n²·C²"),
        equal(f"MACs (1×n + n×1)/(n×n), n = {shown}", [str(m) for m in macs], expected,
              reason="exact rationals; holds when every conv keeps the grid"),
        equal("receptive fields n×n, 1×n + n×1 (netanatomy rf)", fields,
              [(n, n) for n in kernels], reason="1×n then n×1 sees an n×n window"),
    ]
    data = {"n": list(kernels), "weight_ratio": [float(w) for w in weights],
            "mac_ratio": [float(m) for m in macs]}
    return checks, data


@experiment("factorised-convs", topic="efficient",
            title="Factorised convs: 5×5 → two 3×3, n×n → 1×n + n×1",
            claim="Two stacked 3×3 convs see the same 5×5 field as one 5×5 conv with 18/25 "
                  "of its weights and MACs; 1×n followed by n×1 sees the n×n field at 2/n "
                  "of the cost (Szegedy et al. 2016, Rethinking the Inception Architecture, "
                  "Sec. 3).",
            setting="C → C channels, no bias; 5×5 vs two 3×3 symbolic in C, H, W; n = 3, 5, "
                    "7 at C = 64 on Inception v3's 17×17 grid, 'same' padding")
def factorised_convs(stack: int = 2, kernels: tuple[int, ...] = (3, 5, 7),
                     padding: str = "same", channels: int = 64, size: int = 17) -> Outcome:
    stacked, stacked_data = stacked_checks(stack, channels, size)
    asymmetric, asymmetric_data = asymmetric_checks(kernels, padding, channels, size)
    checks = stacked + asymmetric
    figure = draw(stacked_data, asymmetric_data, checks)
    return Outcome(checks, figure, data={"stacked": stacked_data,
                                         "asymmetric": asymmetric_data},
                   notes=[f"{stack}×(3×3) / 5×5 = {stacked_data['weight_ratio']} of the "
                          f"weights, fields {stacked_data['fields']}",
                          "1×n + n×1 / n×n MACs: " + ", ".join(
                              f"n={n}: {r:.4f} (2/n = {2 / n:.4f})" for n, r in
                              zip(asymmetric_data["n"], asymmetric_data["mac_ratio"]))])


def draw(stacked: dict[str, Any], asymmetric: dict[str, Any], checks: list[Check]) -> object:
    figure, (left, right) = new_figure(2, 1, width=4.6, height=3.6)
    labels = ["one 5×5", f"{stacked['stack']} × 3×3"]
    values = stacked["weights_per_c2"]
    bars = left.bar(labels, values, 0.5, color=[OTHER, MEASURED])
    label_bars(left, bars, values, "·C²")
    for bar, rf in zip(bars, stacked["fields"]):
        left.annotate(f"field {rf}×{rf}", (bar.get_x() + bar.get_width() / 2,
                                           bar.get_height() / 2),
                      ha="center", va="bottom", color="white", fontsize=8)
    left.axhline(25, color=THEORY, linestyle="--", linewidth=1, label="25·C² (hand)")
    left.axhline(9 * stacked["stack"], color=THEORY, linestyle=":", linewidth=1,
                 label=f"{9 * stacked['stack']}·C² (hand)")
    left.set_ylabel("weights per C² (netanatomy, C → C)")
    left.set_title("5×5 vs stacked 3×3: same field", fontsize=10)
    left.set_ylim(0, max(25, *values) * 1.25)
    left.legend(fontsize=7, loc="upper right")
    grid = [n / 10 for n in range(20, 101)]
    right.plot(grid, [2 / n for n in grid], color=THEORY, label="2/n (hand)")
    right.plot(asymmetric["n"], asymmetric["mac_ratio"], "o", color=MEASURED,
               label="MACs ratio (netanatomy)")
    right.plot(asymmetric["n"], asymmetric["weight_ratio"], "x", color=OTHER, markersize=8,
               label="weights ratio (netanatomy)")
    right.plot([5], [stacked["weights_per_c2"][1] / stacked["weights_per_c2"][0]], "s",
               color=OTHER, fillstyle="none", label=f"{stacked['stack']} × 3×3 for a 5×5")
    right.set_xlabel("kernel size n")
    right.set_ylabel("cost of 1×n + n×1 / cost of n×n")
    right.set_title("n×n vs 1×n + n×1", fontsize=10)
    right.legend(fontsize=7)
    verdict_title(figure, "Factorised convs keep the field at a fraction of the cost",
                  all(check.passed for check in checks))
    return figure
