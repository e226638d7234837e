"""Depthwise-separable vs standard convolution: MACs in the ratio 1/N + 1/K², from
netanatomy's analysis of the built-in specs, symbolically and over a grid of N and K."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import sympy

from netanatomy import spec
from netanatomy.lab.base import Check, Outcome, equal, experiment
from netanatomy.lab.experiments._efficient import ratio
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure, verdict_title

SEPARABLE, STANDARD = "example:depthwise-separable", "example:standard-conv"


def grouped_spec(group_width: int) -> str:
    """The three separable convs of ``example:depthwise-separable`` with the depthwise
    stage replaced by a grouped K×K conv of ``group_width`` input channels per filter
    (groups = channels / group_width; 1 would be the depthwise conv)."""
    stage = ("  - conv: {{out: {c}, k: K, p: same, groups: {c}//{g}, bias: false}}\n"
             "  - conv: {{out: N, k: 1, bias: false}}\n")
    layers = "".join(stage.format(c=c, g=group_width) for c in ("M", "N", "N"))
    return f"name: grouped-separable\ninput: [M, H, W]\nlayers:\n{layers}"


def formula(n: int, k: int) -> Fraction:
    """1/N + 1/K² (Howard et al. 2017, eq. 5): per output position the depthwise stage
    does K²·M and the pointwise M·N multiply-adds against the standard conv's K²·M·N."""
    return Fraction(1, n) + Fraction(1, k * k)


def symbolic_ratio() -> tuple[str, str]:
    """separable/standard MACs from the examples' formulas with every size a symbol
    (M, N, K, H, W), and 1/N + 1/K², both as sympy's canonical cancelled fraction."""
    K = sympy.Symbol("K", positive=True, integer=True)
    separable: Any = spec.analyze(SEPARABLE, {"K": K}).totals.macs
    standard: Any = spec.analyze(STANDARD, {"K": K}).totals.macs
    N = next(s for s in sympy.sympify(standard).free_symbols if s.name == "N")
    return str(sympy.cancel(separable / standard)), str(sympy.cancel(1 / N + 1 / K**2))


def grid_ratios(outputs: tuple[int, ...], kernels: tuple[int, ...], inputs: int, size: int,
                group_width: int) -> dict[int, list[Fraction]]:
    """Per K, separable/standard MACs at each N (netanatomy's totals, exact rationals)."""
    target = spec.load(SEPARABLE if group_width == 1 else grouped_spec(group_width))
    standard_spec = spec.load(STANDARD)
    ratios: dict[int, list[Fraction]] = {}
    for k in kernels:
        ratios[k] = []
        for n in outputs:
            values = {"M": inputs, "N": n, "K": k, "H": size, "W": size}
            separable = spec.analyze(target, values).totals.macs
            standard = spec.analyze(standard_spec, values).totals.macs
            ratios[k].append(ratio(separable, standard))
    return ratios


@experiment("depthwise-separable-ratio", topic="efficient",
            title="Depthwise-separable convs cost 1/N + 1/K² of standard ones",
            claim="A K×K depthwise conv followed by a 1×1 pointwise conv to N channels does "
                  "1/N + 1/K² of the multiply-adds of a standard K×K conv to N channels, "
                  "exactly, whatever the input channels and grid (Howard et al. 2017, "
                  "MobileNets, eq. 5).",
            setting="example:depthwise-separable vs example:standard-conv (three 'same' "
                    "convs M → N → N → N): symbolic, and M = 32 on 14×14 for N = 16 … 1024, "
                    "K = 3, 5, 7; the worked value at N = 64, K = 3")
def depthwise_separable_ratio(group_width: int = 1, kernels: tuple[int, ...] = (3, 5, 7),
                              outputs: tuple[int, ...] = (16, 32, 64, 128, 256, 512, 1024),
                              inputs: int = 32, size: int = 14, worked_n: int = 64,
                              worked_k: int = 3) -> Outcome:
    ratios = grid_ratios(outputs, kernels, inputs, size, group_width)
    worked = grid_ratios((worked_n,), (worked_k,), inputs, size, group_width)[worked_k][0]
    symbolic, expected = symbolic_ratio()
    checks: list[Check] = [
        equal("separable/standard MACs, symbolic in M, N, K, H, W", symbolic, expected,
              reason="exact: sympy's cancelled form of both sides"),
        equal(f"separable/standard MACs at M={inputs}, N={worked_n}, K={worked_k}",
              str(worked), str(formula(worked_n, worked_k)), reason="exact rational"),
    ]
    for k in kernels:
        deviations = [abs(r - formula(n, k)) for r, n in zip(ratios[k], outputs)]
        checks.append(equal(f"largest |separable/standard − (1/N + 1/K²)|, K={k}, "
                            f"N = {outputs[0]} … {outputs[-1]}", str(max(deviations)), "0",
                            reason="exact rationals of integer MAC counts"))
    figure = draw(ratios, outputs, checks)
    return Outcome(checks, figure, data={
        "outputs": list(outputs), "kernels": list(kernels),
        "ratios": {str(k): [float(r) for r in ratios[k]] for k in kernels},
        "worked": str(worked)},
        notes=[f"M={inputs}, N={worked_n}, K={worked_k}: separable/standard = {worked} "
               f"= {float(worked):.4f}; 1/N + 1/K² = {formula(worked_n, worked_k)}",
               "the ratio depends only on N and K: every layer of the stack has it, so the "
               "totals do too"])


def draw(ratios: dict[int, list[Fraction]], outputs: tuple[int, ...], checks: list[Check]
         ) -> Any:
    figure, (axis,) = new_figure(1, 1, width=6.4, height=4.0)
    lines = [2 ** (e / 8) for e in range(8 * 3, 8 * 11 + 1)]
    markers = "osd^v<>"
    for index, (k, values) in enumerate(ratios.items()):
        axis.plot(lines, [1 / n + 1 / k**2 for n in lines], color=THEORY, linewidth=1,
                  label="1/N + 1/K² (hand)" if index == 0 else None)
        axis.axhline(1 / k**2, color=OTHER, linestyle=":", linewidth=1,
                     label="asymptote 1/K²" if index == 0 else None)
        axis.plot(outputs, [float(v) for v in values], markers[index % len(markers)],
                  color=MEASURED, label=f"netanatomy, K={k}")
        axis.annotate(f"K={k}", (lines[-1], 1 / lines[-1] + 1 / k**2), fontsize=8,
                      xytext=(3, 0), textcoords="offset points", va="center")
    axis.set_xscale("log", base=2)
    axis.set_xlim(lines[0], lines[-1] * 2.2)
    axis.set_yscale("log")
    axis.set_xlabel("output channels N")
    axis.set_ylabel("MACs separable / standard")
    axis.legend(fontsize=7, loc="upper right")
    verdict_title(figure, "Separable convs cost 1/N + 1/K² of standard ones",
                  all(check.passed for check in checks))
    return figure
