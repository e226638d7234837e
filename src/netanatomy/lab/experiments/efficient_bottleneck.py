"""1×1 bottlenecks: GoogLeNet's inception (3a) with and without its 1×1 reductions,
counted by netanatomy's spec analysis and by hand, branch by branch."""

from __future__ import annotations

from fractions import Fraction

from netanatomy import spec
from netanatomy.lab.base import Check, Outcome, at_most, equal, experiment
from netanatomy.lab.experiments._efficient import built_params, label_bars, ratio
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure, verdict_title

C_IN, SIZE = 192, 28
"""Inception (3a)'s input: 28×28×192 (Szegedy et al. 2015, Table 1)."""
OUT_1X1, OUT_3X3, OUT_5X5 = 64, 128, 32
"""Its branch widths: #1×1, #3×3, #5×5 (Table 1)."""
BRANCHES = ("1×1", "3×3", "5×5", "pool")


def reduced_spec(reduce3: int, reduce5: int, pool_proj: int) -> str:
    """Inception (3a) as a spec, with 1×1 reductions of ``reduce3`` and ``reduce5``
    channels and a pool projection to ``pool_proj`` (0: that 1×1 conv left out). At 96,
    16, 32 it is the built-in ``example:inception-3a``."""

    def reduce(width: int) -> str:
        return f"{{conv: {{out: {width}, k: 1}}}}, relu, " if width else ""

    projection = f", {{conv: {{out: {pool_proj}, k: 1}}}}, relu" if pool_proj else ""
    return f"""
name: inception-3a-reduced
input: [{C_IN}, {SIZE}, {SIZE}]
layers:
  - branch:
      name: inception_3a
      paths:
        - [{{conv: {{out: {OUT_1X1}, k: 1}}}}, relu]
        - [{reduce(reduce3)}{{conv: {{out: {OUT_3X3}, k: 3, p: 1}}}}, relu]
        - [{reduce(reduce5)}{{conv: {{out: {OUT_5X5}, k: 5, p: 2}}}}, relu]
        - [{{maxpool: {{k: 3, s: 1, p: 1}}}}{projection}]
"""


def conv_macs(c_in: int, c_out: int, k: int) -> int:
    """MACs of a stride-1 'same' k×k conv on the 28×28 grid: one multiply-add per weight
    per output position, H·W·C_in·C_out·k²."""
    return SIZE * SIZE * c_in * c_out * k * k


def conv_params(c_in: int, c_out: int, k: int) -> int:
    """Weights C_in·C_out·k² plus one bias per output channel (the specs keep biases)."""
    return c_in * c_out * k * k + c_out


def hand_costs(reduce3: int, reduce5: int, pool_proj: int
               ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Per branch (1×1, 3×3, 5×5, pool): MACs and params by hand. A reduction of r
    channels puts a 1×1 conv C_in → r before the k×k conv, which then reads r channels;
    max-pooling has no multiply-adds (comparisons only) and no weights."""

    def branch(reduction: int, c_out: int, k: int) -> tuple[int, int]:
        if not reduction:
            return conv_macs(C_IN, c_out, k), conv_params(C_IN, c_out, k)
        return (conv_macs(C_IN, reduction, 1) + conv_macs(reduction, c_out, k),
                conv_params(C_IN, reduction, 1) + conv_params(reduction, c_out, k))

    costs = [branch(0, OUT_1X1, 1), branch(reduce3, OUT_3X3, 3), branch(reduce5, OUT_5X5, 5),
             (conv_macs(C_IN, pool_proj, 1), conv_params(C_IN, pool_proj, 1))
             if pool_proj else (0, 0)]
    return tuple(m for m, _ in costs), tuple(p for _, p in costs)


def measured_costs(target: str) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """netanatomy's MACs and params per branch (the rows of the branch's four paths) and
    the module's output depth."""
    report = spec.analyze(target)
    rows = [report.layer(f"inception_3a.{index}") for index in range(4)]
    depth = report.layer("inception_3a").output_shape
    assert depth is not None
    return (tuple(int(row.macs or 0) for row in rows),
            tuple(int(row.params_total) for row in rows), int(depth[1]))


@experiment("inception-bottleneck", topic="efficient",
            title="1×1 reductions cut Inception (3a)'s cost",
            claim="A 1×1 convolution that reduces 192 channels to 16 before the 5×5 conv "
                  "of inception (3a) cuts that branch's multiply-adds by C·O·k² / "
                  "(C·r + r·O·k²) ≈ 9.7×, and with the 3×3 reduction and the pool "
                  "projection the module costs 2.4× less and outputs 256 channels, not 416.",
            setting="GoogLeNet inception (3a) on 28×28×192: #1×1 64; #3×3 reduce 96, #3×3 "
                    "128; #5×5 reduce 16, #5×5 32; pool proj 32 (Szegedy et al. 2015, "
                    "Table 1); reduction 0 leaves that 1×1 conv out")
def inception_bottleneck(reduce3: int = 96, reduce5: int = 16, pool_proj: int = 32
                         ) -> Outcome:
    naive_macs, naive_params, naive_depth = measured_costs("example:inception-3a-naive")
    text = reduced_spec(reduce3, reduce5, pool_proj)
    macs, params, depth = measured_costs(text)
    hand_naive_macs, hand_naive_params = hand_costs(0, 0, 0)
    hand_macs, hand_params = hand_costs(reduce3, reduce5, pool_proj)
    saving = ratio(naive_macs[2], macs[2])
    # the 5×5 branch by hand: H·W·C·O·k² against H·W·(C·r + r·O·k²); H·W cancels
    hand_saving = (Fraction(C_IN * OUT_5X5 * 25, C_IN * reduce5 + reduce5 * OUT_5X5 * 25)
                   if reduce5 else Fraction(1))
    checks = [
        equal("naive MACs per branch (1×1, 3×3, 5×5, pool)", naive_macs, hand_naive_macs,
              reason="integer counts: H·W·C_in·C_out·k² per conv"),
        equal("naive params per branch", naive_params, hand_naive_params,
              reason="integer counts: C_in·C_out·k² + C_out per conv"),
        equal("reduced MACs per branch", macs, hand_macs, reason="integer counts"),
        equal("reduced params per branch", params, hand_params, reason="integer counts"),
        equal("output depth naive, reduced", (naive_depth, depth),
              (OUT_1X1 + OUT_3X3 + OUT_5X5 + C_IN,
               OUT_1X1 + OUT_3X3 + OUT_5X5 + (pool_proj or C_IN)),
              reason="concatenation adds the branch widths; pooling keeps its 192"),
        equal("5×5 branch MACs naive/reduced", str(saving), str(hand_saving),
              reason="exact rational: C·O·k² / (C·r + r·O·k²)"),
        at_most("5×5 branch MACs with reduction", macs[2], naive_macs[2] - 1,
                reason="strictly cheaper than without: integer counts, so < is ≤ naive − 1"),
        at_most("module MACs with reductions", sum(macs), sum(naive_macs) - 1,
                reason="strictly cheaper than the naive module; integer counts"),
        equal("module params = sum of the built module's p.numel()", sum(params),
              built_params(text), reason="torch's parameter tensors, counted apart"),
    ]
    figure = draw({"naive": (naive_macs, naive_params), "reduced": (macs, params)},
                  {"naive": (hand_naive_macs, hand_naive_params),
                   "reduced": (hand_macs, hand_params)}, checks)
    return Outcome(checks, figure, data={
        "branches": list(BRANCHES), "naive_macs": list(naive_macs), "reduced_macs": list(macs),
        "naive_params": list(naive_params), "reduced_params": list(params),
        "naive_total_macs": sum(naive_macs), "reduced_total_macs": sum(macs),
        "naive_total_params": sum(naive_params), "reduced_total_params": sum(params),
        "five_by_five_saving": float(saving), "module_saving": sum(naive_macs) / sum(macs),
        "output_depth": [naive_depth, depth]},
        notes=[f"5×5 branch: {naive_macs[2]:,} MACs naive vs {macs[2]:,} reduced "
               f"(×{float(saving):.3f} = {saving})",
               f"module: {sum(naive_macs):,} vs {sum(macs):,} MACs "
               f"(×{sum(naive_macs) / sum(macs):.3f}), {sum(naive_params):,} vs "
               f"{sum(params):,} params",
               "max-pooling counts no multiply-adds (its comparisons are not MACs)"])


def draw(measured: dict[str, tuple[tuple[int, ...], tuple[int, ...]]],
         hand: dict[str, tuple[tuple[int, ...], tuple[int, ...]]], checks: list[Check]
         ) -> object:
    """Grouped bars (naive, reduced) per branch and for the module, MACs and params, with
    the hand counts as red ticks on the bars."""
    figure, (left, right) = new_figure(2, 1, width=5.0, height=3.8)
    names = [*BRANCHES, "module"]
    x = list(range(len(names)))
    panels = ((left, "macs", 1e6, "multiply-adds (millions)", "MACs per branch"),
              (right, "params", 1e3, "parameters (thousands)", "parameters per branch"))
    for axis, metric, scale, ylabel, title in panels:
        for (naive, reduced), shift, colour, label in (
                (measured["naive"], -0.2, OTHER, "naive (netanatomy)"),
                (measured["reduced"], 0.2, MEASURED, "with 1×1 reductions (netanatomy)")):
            values = [v / scale for v in pick(naive, reduced, metric)]
            bars = axis.bar([i + shift for i in x], values, 0.4, color=colour, label=label)
            label_bars(axis, bars, values)
        for key, shift in (("naive", -0.2), ("reduced", 0.2)):
            values = [v / scale for v in pick(*hand[key], metric)]
            axis.scatter([i + shift for i in x], values, marker="_", s=300, color=THEORY,
                         zorder=3, label="hand count" if key == "naive" else None)
        axis.set_xticks(x, names)
        axis.set_xlabel("branch of inception (3a)")
        axis.set_ylabel(ylabel)
        axis.set_title(title, fontsize=10)
        axis.legend(fontsize=7, loc="upper left")
    naive_5x5, reduced_5x5 = measured["naive"][0][2], measured["reduced"][0][2]
    saving = naive_5x5 / reduced_5x5 if reduced_5x5 else float("nan")
    verdict_title(figure, f"The 1×1 reduction makes the 5×5 branch {saving:.1f}× cheaper",
                  all(check.passed for check in checks))
    return figure


def pick(macs: tuple[int, ...], params: tuple[int, ...], metric: str) -> list[int]:
    """The four branches' values of ``metric`` and the module's total."""
    values = macs if metric == "macs" else params
    return [*values, sum(values)]
