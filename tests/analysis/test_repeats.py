"""Repeated sibling blocks (netanatomy.analysis.repeats) against facts known without it:
how many blocks the models were built with, and hand MAC formulas."""

from __future__ import annotations

import sympy
import torch
from torch import nn

import netanatomy
from netanatomy import spec
from netanatomy.analysis.repeats import repeated_groups, runs


class Block(nn.Module):
    """conv 3×3 (no bias) → BN → ReLU, channels kept."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class Stack(nn.Module):
    """A stem conv and a ModuleList of identical blocks."""

    def __init__(self, blocks: int, channels: int) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, channels, 1)
        self.blocks = nn.ModuleList(Block(channels) for _ in range(blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return x


def test_runs_are_maximal_and_at_least_two_long() -> None:
    assert runs("aabbbcda") == [(0, 2), (2, 5)]
    assert runs("abc") == []


def test_a_sequential_of_identical_blocks_is_one_group_of_n() -> None:
    blocks, channels, size = 5, 8, 16
    report = netanatomy.analyze(nn.Sequential(*[Block(channels) for _ in range(blocks)]),
                                (1, channels, size, size))
    (group,) = repeated_groups(report.layers)
    assert (group.parent, group.count, group.type) == ("", blocks, "Block")
    assert group.label == "Block × 5"
    per_block = size * size * channels * channels * 3 * 3    # output positions · C_in · C_out · 3·3
    assert group.totals["macs"] == blocks * per_block
    assert group.totals["flops"] == 2 * blocks * per_block
    root = report.layer("")                                   # the root holds only the run
    for key in ("macs", "flops", "elementwise_flops", "params_total", "activation_bytes"):
        assert group.totals[key] == getattr(root, key), key


def test_a_module_list_of_identical_blocks_groups_under_the_list() -> None:
    report = netanatomy.analyze(Stack(4, 8), (2, 3, 8, 8))
    (group,) = repeated_groups(report.layers)
    assert group.parent == "blocks"
    assert group.members == ("blocks.0", "blocks.1", "blocks.2", "blocks.3")
    assert group.totals["macs"] == 4 * (2 * 8 * 8) * 8 * 8 * 9  # N·H·W positions · C·C · 3·3
    assert group.totals["macs"] == report.layer("blocks").macs
    assert group.totals["params_total"] == 4 * (8 * 8 * 9 + 2 * 8)  # conv + BN weight, bias


def test_different_blocks_and_repeated_leaves_make_no_group() -> None:
    model = nn.Sequential(Block(8), nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU()),
                          Block(8))
    assert repeated_groups(netanatomy.analyze(model, (1, 8, 8, 8)).layers) == ()
    leaves = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 4))
    assert repeated_groups(netanatomy.analyze(leaves, (1, 4)).layers) == ()


def test_blocks_alike_in_type_but_not_in_shape_are_not_grouped() -> None:
    model = nn.Sequential(nn.Sequential(nn.Conv2d(4, 4, 3), nn.ReLU()),
                          nn.Sequential(nn.Conv2d(4, 4, 3), nn.ReLU()))  # 10 → 8 → 6 pixels
    assert repeated_groups(netanatomy.analyze(model, (1, 4, 10, 10)).layers) == ()


def test_resnet50_groups_every_block_of_a_stage_but_the_first() -> None:
    from netanatomy.frontends.torch.target import load_target

    report = netanatomy.analyze(load_target("zoo:resnet50"), (1, 3, 224, 224))
    groups = repeated_groups(report.layers)
    # He et al. 2016, Table 1: [3, 4, 6, 3] bottlenecks per stage; the first of each has the
    # projection shortcut (and the stride), the rest are alike
    assert [(g.parent, g.count) for g in groups] == [
        ("layer1", 2), ("layer2", 3), ("layer3", 5), ("layer4", 2)]
    assert groups[0].members == ("layer1.1", "layer1.2")
    # a layer1 bottleneck on 56×56: 1×1 256→64, 3×3 64→64, 1×1 64→256
    bottleneck = 56 * 56 * (256 * 64 + 64 * 64 * 9 + 64 * 256)
    assert groups[0].totals["macs"] == 2 * bottleneck
    for group in groups:
        assert group.totals["macs"] == sum(report.layer(p).macs for p in group.members)


def test_a_tiny_llama_is_one_group_of_its_decoder_layers() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=2, vocab_size=256)
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    report = netanatomy.analyze(model, "1x16:int64")
    (group,) = repeated_groups(report.layers)
    assert (group.parent, group.count, group.type) == ("model.layers", 4, "LlamaDecoderLayer")
    # per layer: q, k, v, o projections and the gate/up/down MLP, 16 tokens
    hidden, kv, inter, tokens = 64, 2 * 16, 128, 16
    linear = tokens * (hidden * hidden + 2 * hidden * kv + hidden * hidden + 3 * hidden * inter)
    attention = 2 * 4 * tokens * tokens * 16                 # QKᵀ and AV, 4 heads of 16
    assert group.totals["macs"] == 4 * (linear + attention)


def test_a_spec_repeat_groups_with_symbolic_sums() -> None:
    report = spec.analyze("""
name: repeated
input: [C, H, W]
layers:
  - conv: {out: C, k: 3, p: same}
  - repeat:
      n: 3
      body:
        - conv: {out: C, k: K, p: same, bias: false}
        - relu
""")
    (group,) = repeated_groups(report.layers)
    assert group.count == 3
    c, h, w, k = sympy.symbols("C H W K", positive=True, integer=True)
    assert sympy.simplify(group.totals["macs"] - 3 * h * w * c * c * k * k) == 0
    assert group.totals["macs"] == report.layer(group.parent).macs
