"""DenseNet channel growth: layer ℓ of a dense block sees c₀ + ℓ·k channels, so its
params and MACs grow linearly and the stored concatenations quadratically; from
netanatomy's analysis of the built-in ``example:densenet-block``."""

from __future__ import annotations

from typing import Any

from netanatomy import spec
from netanatomy.lab.base import Check, Outcome, equal, experiment
from netanatomy.lab.experiments._efficient import built_params, label_bars
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure, verdict_title

BYTES = 4
"""float32, the spec's dtype."""

PLAIN = """
name: plain-chain
input: [c0, H, W]
layers:
  - repeat:
      n: L
      body:
        - bn
        - relu
        - conv: {out: k, k: 3, p: 1, bias: false}
"""
"""The dense block's layers chained without concatenation (each sees only the last
output): the contrast that breaks c₀ + ℓ·k."""


def hand(c0: int, k: int, layers: int, size: int) -> dict[str, Any]:
    """Per layer ℓ = 0 … L−1 of BN-ReLU-3×3 conv (no bias) on c = c₀ + ℓ·k channels:
    params 2c (BN γ, β) + 9·c·k, MACs H·W·9·c·k (BN and ReLU are elementwise, not MACs);
    the block ends with c₀ + L·k channels. Memory: every tensor the block allocates
    (BN, ReLU and conv outputs per layer, and the concatenation after each layer, of
    c₀ + (ℓ+1)·k channels), at 4 bytes an element."""
    seen = [c0 + layer * k for layer in range(layers)]
    positions = size * size
    concatenations = [c + k for c in seen]
    return {"seen": seen, "out": c0 + layers * k,
            "params": [2 * c + 9 * c * k for c in seen],
            "macs": [positions * 9 * c * k for c in seen],
            "concat_bytes": BYTES * positions * sum(concatenations),
            "block_bytes": BYTES * positions * sum(2 * c + k for c in seen)
            + BYTES * positions * sum(concatenations)}


def measured(target: str, values: dict[str, int], layers: int) -> dict[str, Any]:
    """The same quantities from netanatomy's rows: channels seen (the BN's output, which
    has its input's shape), per-layer params and MACs, and the block's activation bytes;
    the concatenations' bytes are the block's minus its layers' (what the merge adds)."""
    report = spec.analyze(target, values)
    rows = [report.layer(f"0.{layer}") for layer in range(layers)]
    norms = [report.layer(f"0.{layer}.0") for layer in range(layers)]
    block = report.layer("0")
    assert block.output_shape is not None
    return {"seen": [int(n.output_shape[1]) for n in norms if n.output_shape],
            "out": int(block.output_shape[1]),
            "params": [int(r.params_total) for r in rows],
            "macs": [int(r.macs or 0) for r in rows],
            "concat_bytes": int(block.activation_bytes)
            - sum(int(r.activation_bytes) for r in rows),
            "block_bytes": int(block.activation_bytes),
            "total_params": int(report.totals.params)}


@experiment("densenet-growth", topic="efficient",
            title="DenseNet: layer ℓ sees c₀ + ℓ·k channels",
            claim="In a dense block with growth rate k on c₀ channels, layer ℓ (from 0) reads "
                  "the concatenation of c₀ + ℓ·k channels and the block outputs c₀ + L·k, so "
                  "a BN-ReLU-3×3 layer costs 2c + 9ck params and H·W·9ck MACs with c = c₀ + "
                  "ℓk, and the concatenated features held grow quadratically in L "
                  "(Huang et al. 2017, Sec. 3).",
            setting="example:densenet-block with L = 3 layers, growth k = 24 on c₀ = 32 "
                    "channels (32 → 104), 32×32 maps, float32")
def densenet_growth(layers: int = 3, growth: int = 24, channels: int = 32, size: int = 32,
                    concatenate: bool = True) -> Outcome:
    values = {"L": layers, "k": growth, "c0": channels, "H": size, "W": size}
    target = "example:densenet-block" if concatenate else PLAIN
    got = measured(target, values, layers)
    want = hand(channels, growth, layers, size)
    checks: list[Check] = [
        equal("channels seen by layers ℓ = 0 … L−1", got["seen"], want["seen"],
              reason="integers: c₀ + ℓ·k"),
        equal("block output channels", got["out"], want["out"], reason="c₀ + L·k"),
        equal("params per layer", got["params"], want["params"],
              reason="integer counts: 2c + 9ck"),
        equal("MACs per layer", got["macs"], want["macs"], reason="integer counts: H·W·9ck"),
        equal("bytes of the concatenated features", got["concat_bytes"],
              want["concat_bytes"], reason="4·H·W·Σ (c₀ + (ℓ+1)k), float32"),
        equal("activation bytes of the block", got["block_bytes"], want["block_bytes"],
              reason="every tensor allocated, float32"),
        equal("params = built module's p.numel()", got["total_params"],
              built_params(target, values), reason="torch's parameter tensors, counted apart"),
    ]
    depths = list(range(1, max(layers, 12) + 1))
    growth_curve = [measured(target, {**values, "L": n}, n)["concat_bytes"] for n in depths]
    figure = draw(got, want, (channels, growth, size), (depths, growth_curve), checks)
    return Outcome(checks, figure, data={key: got[key] for key in (
        "seen", "out", "params", "macs", "concat_bytes", "block_bytes")},
        notes=[f"channels {' → '.join(str(c) for c in [*got['seen'], got['out']])}; "
               f"params per layer {got['params']}, MACs per layer {got['macs']}",
               f"concatenated features: {got['concat_bytes']:,} bytes "
               f"(Σ_ℓ (c₀ + (ℓ+1)k) = L·c₀ + k·L(L+1)/2 channel maps: quadratic in L); the "
               f"block's output alone is {BYTES * size * size * got['out']:,} bytes"])


def draw(got: dict[str, Any], want: dict[str, Any], setting: tuple[int, int, int],
         curve: tuple[list[int], list[int]], checks: list[Check]) -> Any:
    c0, k, size = setting
    figure, axes = new_figure(4, 1, width=3.4, height=3.5)
    layers = list(range(len(got["seen"])))
    positions = [*layers, len(layers)]
    channels, params, macs, memory = axes
    bars = channels.bar(positions, [*got["seen"], got["out"]], 0.6, color=MEASURED,
                        label="netanatomy")
    label_bars(channels, bars, [*got["seen"], got["out"]])
    channels.plot(positions, [c0 + ell * k for ell in positions], "--", color=THEORY,
                  label=f"c₀ + ℓ·k = {c0} + {k}ℓ")
    channels.set_xticks(positions, [*(str(ell) for ell in layers), "out"])
    channels.set_ylabel("channels")
    channels.set_title("input channels of layer ℓ", fontsize=10)
    for axis, key, scale, unit, title in ((params, "params", 1e3, "thousands", "params"),
                                          (macs, "macs", 1e6, "millions", "MACs")):
        values = [v / scale for v in got[key]]
        bars = axis.bar(layers, values, 0.6, color=MEASURED, label="netanatomy")
        label_bars(axis, bars, values)
        axis.scatter(layers, [v / scale for v in want[key]], marker="_", s=400,
                     color=THEORY, zorder=3, label="hand: 2c + 9ck" if key == "params"
                     else "hand: H·W·9ck")
        axis.set_xticks(layers, [str(ell) for ell in layers])
        axis.set_ylabel(f"{title} ({unit})")
        axis.set_title(f"{title} per layer", fontsize=10)
    depths, stored = curve
    memory.plot(depths, [b / 2**20 for b in stored], "o", color=MEASURED, markersize=4,
                label="netanatomy (concatenations)")
    memory.plot(depths, [BYTES * size * size * (n * c0 + k * n * (n + 1) // 2) / 2**20
                         for n in depths], color=THEORY, label="4·H·W·(L·c₀ + k·L(L+1)/2)")
    memory.axvline(len(layers), color=OTHER, linestyle=":", linewidth=1,
                   label=f"this block (L={len(layers)})")
    memory.set_xticks(depths[1::2])
    memory.set_xlabel("layers L in the block")
    memory.set_ylabel("MiB (float32)")
    memory.set_title("concatenated features held", fontsize=10)
    memory.legend(fontsize=7, loc="upper left")
    for axis in axes[:3]:
        axis.set_xlabel("layer ℓ of the block")
        axis.legend(fontsize=7, loc="upper left")
        axis.set_ylim(0, axis.get_ylim()[1] * 1.15)
    verdict_title(figure, f"Dense block: {c0} → {want['out']} channels, cost linear in ℓ",
                  all(check.passed for check in checks))
    return figure
