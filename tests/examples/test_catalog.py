"""The built-in catalog (``src/netanatomy/examples``): every spec loads and analyses; the
classic networks give their published figures; the seed-topic exercises agree with hand
formulas (written here as arithmetic, with their sources)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import sympy

from netanatomy.analysis.receptive_field import Field
from netanatomy.analysis.summary import summarize
from netanatomy.frontends.spec import load_spec, spec_graph
from netanatomy.report import LayerRow, Report

CATALOG = Path(__file__).resolve().parents[2] / "src" / "netanatomy" / "examples"
FILES = sorted(CATALOG.glob("*.yaml"))


def sym(names: str) -> Any:
    """Spec symbols are positive integers; these compare equal to the spec's own."""
    return sympy.symbols(names, positive=True, integer=True)


@cache
def analyse(name: str, **overrides: Any) -> Report:
    return summarize(spec_graph(load_spec(CATALOG / f"{name}.yaml"), overrides))


def analyse_text(text: str, **overrides: Any) -> Report:
    return summarize(spec_graph(load_spec(text), overrides))


def same(value: Any, formula: Any) -> bool:
    """Symbolic equality: the difference simplifies to zero."""
    return bool(sympy.simplify(sympy.sympify(value) - formula) == 0)


def rf_size(row: LayerRow) -> tuple[Any, ...]:
    """A layer's receptive-field size (it must have one)."""
    assert row.rf is not None
    return row.rf.size


def output_field(report: Report) -> Field:
    """The receptive field of the network's output (it must have one)."""
    assert report.receptive_field is not None and report.receptive_field.output is not None
    return report.receptive_field.output


def shape(row: LayerRow) -> tuple[Any, ...]:
    assert row.output_shape is not None
    return tuple(row.output_shape)


def millions(count: int) -> int:
    return round(count / 1e6)


def giga(count: int) -> float:
    return round(count / 1e9, 2)


# ---------------------------------------------------------------------------- the catalog


def test_catalog_has_the_expected_entries() -> None:
    expected = {
        "fc-vs-conv", "inception-3a-naive", "inception-3a", "conv5x5-vs-two-3x3",
        "nxn-vs-1xn-nx1", "depthwise-separable", "standard-conv", "mobilenet-v1",
        "densenet-block", "unet-levels", "two-conv-227", "dilated-stack",
        "masked-conv-stack", "alexnet", "vgg16", "googlenet", "resnet50", "mobilenet-v2",
        "densenet121", "inception-v3"}
    assert expected <= {path.stem for path in FILES}
    assert (CATALOG / "__init__.py").is_file()


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_every_entry_loads_and_analyses(path: Path) -> None:
    spec = load_spec(path)
    assert spec.name == path.stem
    description = spec.document.get("description")
    assert isinstance(description, str) and len(description) > 40
    report = summarize(spec_graph(spec))
    assert report.totals.status == "exact"
    assert not report.uncounted
    assert report.totals.params != 0 or path.stem == "inception-3a-naive"


def test_catalog_listing_shows_descriptions() -> None:
    from netanatomy import spec

    listing = spec.examples()
    for path in FILES:
        assert listing[path.stem] == load_spec(path).document["description"]


# ------------------------------------------------------------------- published figures

# (params exact: torchvision's model builders; MACs as torchvision's weight tables give
# them, in GFLOPS meaning multiply-accumulates, rounded to two decimals)
PUBLISHED = {
    "alexnet": (61_100_840, 0.71),
    "vgg16": (138_357_544, 15.47),
    "googlenet": (6_624_904, 1.50),
    "resnet50": (25_557_032, 4.09),
    "mobilenet-v2": (3_504_872, 0.30),
    "densenet121": (7_978_856, 2.83),
}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_torchvision_figures(name: str) -> None:
    params, gmacs = PUBLISHED[name]
    report = analyse(name)
    assert report.totals.params == params
    assert giga(report.totals.macs) == gmacs
    assert report.layer("").output_shape == (1, 1000)


def test_inception_v3_without_the_aux_head() -> None:
    # torchvision documents 27,161,264 params for Inception3 *with* its AuxLogits head and
    # 5.71 GFLOPS (MACs) at 299×299; the aux head does not run in evaluation. The head
    # (torchvision InceptionAux(768, 1000)): BasicConv2d 768→128 1×1 (conv, no bias, + BN),
    # BasicConv2d 128→768 5×5, Linear 768→1000.
    aux_by_hand = (768 * 128 + 2 * 128) + (128 * 768 * 5 * 5 + 2 * 768) + (768 * 1000 + 1000)
    assert aux_by_hand == 3_326_696
    aux = analyse_text("""
input: [768, 17, 17]
layers:
  - avgpool: {k: 5, s: 3}
  - conv: {out: 128, k: 1, bias: false}
  - bn
  - relu
  - conv: {out: 768, k: 5, bias: false}
  - bn
  - relu
  - globalavgpool
  - flatten
  - fc: {out: 1000}
""")
    assert aux.totals.params == aux_by_hand
    report = analyse("inception-v3")
    assert report.totals.params == 27_161_264 - aux_by_hand == 23_834_568
    assert giga(report.totals.macs) == 5.71
    assert report.layer("Mixed_5b").output_shape == (1, 256, 35, 35)
    assert report.layer("Mixed_6a").output_shape == (1, 768, 17, 17)
    assert report.layer("Mixed_7a").output_shape == (1, 1280, 8, 8)
    assert report.layer("Mixed_7c").output_shape == (1, 2048, 8, 8)


def test_googlenet_shapes_follow_the_paper() -> None:
    # Szegedy et al. 2015, Table 1: output sizes of the stages (ceil-mode pooling)
    report = analyse("googlenet")
    assert report.layer("maxpool1").output_shape == (1, 64, 56, 56)
    assert report.layer("inception3a").output_shape == (1, 256, 28, 28)
    assert report.layer("inception3b").output_shape == (1, 480, 28, 28)
    assert report.layer("inception4a").output_shape == (1, 512, 14, 14)
    assert report.layer("inception4e").output_shape == (1, 832, 14, 14)
    assert report.layer("inception5b").output_shape == (1, 1024, 7, 7)


def test_resnet50_stage_shapes() -> None:
    # He et al. 2016, Table 1: conv2_x 56×56×256 … conv5_x 7×7×2048
    report = analyse("resnet50")
    assert report.layer("layer1").output_shape == (1, 256, 56, 56)
    assert report.layer("layer2").output_shape == (1, 512, 28, 28)
    assert report.layer("layer3").output_shape == (1, 1024, 14, 14)
    assert report.layer("layer4").output_shape == (1, 2048, 7, 7)


def test_densenet121_channel_counts() -> None:
    # Huang et al. 2017, Table 1 with k = 32: 64 + 6·32, then halved by each transition
    report = analyse("densenet121")
    assert report.layer("denseblock1").output_shape == (1, 64 + 6 * 32, 56, 56)
    assert report.layer("transition1").output_shape == (1, 128, 28, 28)
    assert report.layer("denseblock2").output_shape == (1, 128 + 12 * 32, 28, 28)
    assert report.layer("denseblock3").output_shape == (1, 256 + 24 * 32, 14, 14)
    assert report.layer("denseblock4").output_shape == (1, 512 + 16 * 32, 7, 7)


# ------------------------------------------------------------------------ MobileNet v1

def test_mobilenet_v1_table_8() -> None:
    # Howard et al. 2017, Table 8: 1.0 MobileNet-224, 569 million mult-adds, 4.2 million
    # parameters. Exactly: 3·3·3·32 + Σ depthwise 3·3·C + Σ pointwise C·C' + 1024·1000 + 1000
    # + BN γ, β (2 per channel).
    report = analyse("mobilenet-v1")
    convs = (3 * 3 * 3 * 32 + 9 * (32 + 64 + 128 + 128 + 256 + 256 + 6 * 512 + 1024)
             + 32 * 64 + 64 * 128 + 128 * 128 + 128 * 256 + 256 * 256 + 256 * 512
             + 5 * 512 * 512 + 512 * 1024 + 1024 * 1024)
    depthwise_in = 32 + 64 + 128 + 128 + 256 + 256 + 5 * 512 + 512 + 1024
    pointwise_out = 64 + 128 + 128 + 256 + 256 + 512 + 5 * 512 + 1024 + 1024
    batch_norm = 2 * (32 + depthwise_in + pointwise_out)
    assert report.totals.params == convs + 1024 * 1000 + 1000 + batch_norm == 4_231_976
    assert round(report.totals.params / 1e5) / 10 == 4.2
    assert millions(report.totals.macs) == 569
    assert report.layer("").output_shape == (1, 1000)


@pytest.mark.parametrize(("alpha", "mult_adds", "params"),
                         [(1, 569, 4.2), (0.75, 325, 2.6), (0.5, 149, 1.3), (0.25, 41, 0.5)])
def test_mobilenet_v1_width_multiplier_table_6(alpha: float, mult_adds: int,
                                               params: float) -> None:
    # Howard et al. 2017, Table 6: million mult-adds and million parameters per width
    report = analyse("mobilenet-v1", alpha=alpha)
    assert millions(report.totals.macs) == mult_adds
    assert round(report.totals.params / 1e5) / 10 == params


@pytest.mark.parametrize(("size", "mult_adds"), [(224, 569), (192, 418), (128, 186)])
def test_mobilenet_v1_resolution_multiplier_table_7(size: int, mult_adds: int) -> None:
    # Howard et al. 2017, Table 7: million mult-adds per input resolution; params stay 4.2 M
    report = analyse("mobilenet-v1", rho=size / 224)
    assert report.layer("").output_shape == (1, 1000)
    assert millions(report.totals.macs) == mult_adds
    assert report.totals.params == 4_231_976


def test_mobilenet_v1_160_row_is_truncated_in_the_paper() -> None:
    # Table 7 lists 290 M for 1.0 MobileNet-160; the exact count is 290.675 M, which the
    # paper truncates (every other row of Tables 6-7 rounds to nearest).
    report = analyse("mobilenet-v1", rho=160 / 224)
    assert report.totals.macs == 290_675_200
    assert int(report.totals.macs / 1e6) == 290


def test_mobilenet_v1_alpha_in_closed_form() -> None:
    # Left symbolic, alpha gives polynomials: cost and params grow roughly with alpha²
    # (Howard et al. 2017, Sec. 3.3); only the FC bias (1000) does not scale with alpha.
    alpha = sym("alpha")
    report = analyse("mobilenet-v1", alpha=None)
    params = sympy.Poly(sympy.expand(report.totals.params), alpha)
    macs = sympy.Poly(sympy.expand(report.totals.macs), alpha)
    assert params.degree() == 2 and macs.degree() == 2
    assert params.eval(0) == 1000 and macs.eval(0) == 0
    for value in (1, 0.5):
        numeric = analyse("mobilenet-v1", alpha=value)
        assert params.eval(sympy.Rational(value)) == numeric.totals.params
        assert macs.eval(sympy.Rational(value)) == numeric.totals.macs


# ----------------------------------------------------------------- seed-topic exercises

def test_fc_vs_conv_weights_and_connections() -> None:
    # Weight sharing: a conv layer W×H×D → W'×H'×F with F filters of K×K×D has
    # F·(K²·D + 1) weights (with bias) but W'·H'·F·(K²·D + 1) connections, W' = W + 2P − K + 1
    # (stride 1; the output-size formula floor((M + 2P − D(F−1) − 1)/S) + 1).
    D, H, W, F, K, P = sym("D H W F K P")
    H2, W2 = H + 2 * P - K + 1, W + 2 * P - K + 1
    report = analyse("fc-vs-conv")
    conv = report.layer("0")
    assert all(same(a, b) for a, b in zip(shape(conv), (1, F, H2, W2)))
    assert same(report.totals.params, F * (K**2 * D + 1))
    connections = report.totals.macs + H2 * W2 * F          # one bias input per output
    assert same(connections, W2 * H2 * F * (K**2 * D + 1))
    values = {D: 3, H: 32, W: 32, F: 10, K: 5, P: 0}
    numeric = analyse("fc-vs-conv", D=3, H=32, W=32, F=10, K=5, P=0)
    assert numeric.totals.params == 10 * (5 * 5 * 3 + 1) == 760
    assert numeric.totals.macs + 28 * 28 * 10 == 28 * 28 * 10 * (5 * 5 * 3 + 1) == 595_840
    assert sympy.sympify(report.totals.params).subs(values) == 760
    # a fully connected layer between the same volumes: every weight is its own connection
    fc = analyse_text("input: [D*H*W]\nlayers:\n  - fc: {out: F*(H+2*P-K+1)*(W+2*P-K+1)}")
    assert same(fc.totals.params, (W * H * D + 1) * W2 * H2 * F)
    assert same(fc.totals.macs, W * H * D * W2 * H2 * F)
    assert sympy.sympify(fc.totals.params).subs(values) == (32 * 32 * 3 + 1) * 28 * 28 * 10


def test_inception_3a_with_reductions() -> None:
    # Szegedy et al. 2015, Table 1, inception (3a): 28×28 positions × Σ C_in·k²·C_out
    report = analyse("inception-3a")
    macs = 28 * 28 * (192 * 64 + 192 * 96 + 96 * 3 * 3 * 128 + 192 * 16 + 16 * 5 * 5 * 32
                      + 192 * 32)
    weights = (192 * 64 + 192 * 96 + 96 * 9 * 128 + 192 * 16 + 16 * 25 * 32 + 192 * 32)
    biases = 64 + 96 + 128 + 16 + 32 + 32
    assert report.totals.macs == macs == 128_049_152
    assert millions(macs) == 128                       # Table 1: "ops 128M"
    # (Table 1's params column says 159K for 3a; the layer widths give 163,328 weights)
    assert report.totals.params == weights + biases == 163_328 + 368
    assert report.layer("inception_3a").output_shape == (1, 64 + 128 + 32 + 32, 28, 28)
    # per branch
    assert report.layer("inception_3a.0").macs == 28 * 28 * 192 * 64
    assert report.layer("inception_3a.1").macs == 28 * 28 * (192 * 96 + 96 * 9 * 128)
    assert report.layer("inception_3a.2").macs == 28 * 28 * (192 * 16 + 16 * 25 * 32)
    assert report.layer("inception_3a.3").macs == 28 * 28 * 192 * 32


def test_inception_3a_naive() -> None:
    # The naive module (Fig. 2a) with Table 1's widths: the pool path keeps all 192 maps
    report = analyse("inception-3a-naive")
    macs = 28 * 28 * (192 * 64 + 192 * 3 * 3 * 128 + 192 * 5 * 5 * 32)
    assert report.totals.macs == macs == 303_464_448
    assert report.totals.params == (192 * 64 + 192 * 9 * 128 + 192 * 25 * 32) + 64 + 128 + 32
    assert report.layer("inception_3a").output_shape == (1, 64 + 128 + 32 + 192, 28, 28)
    reduced = analyse("inception-3a")
    assert reduced.totals.macs / report.totals.macs < 0.43    # the 1×1 reductions save 58 %


def test_conv5x5_vs_two_3x3() -> None:
    # Szegedy et al. 2016, Sec. 3.1: two 3×3 convs cost (9 + 9)/25 of one 5×5, same field
    C, H, W = sym("C H W")
    report = analyse("conv5x5-vs-two-3x3")
    five, two = report.layer("compare.0"), report.layer("compare.1")
    assert same(five.params_total, 25 * C**2)
    assert same(two.params_total, 2 * 9 * C**2)
    assert same(five.macs, 25 * C**2 * H * W)
    assert same(two.macs, 18 * C**2 * H * W)
    assert same(two.macs / five.macs, sympy.Rational(18, 25))
    assert rf_size(five) == rf_size(two) == (5, 5)
    assert five.output_shape == two.output_shape == (1, C, H, W)


def test_nxn_vs_1xn_nx1() -> None:
    # Szegedy et al. 2016, Sec. 3.2: n×n → 1×n + n×1 keeps the n×n field, weights 2n/n²
    n, C, H, W = sym("n C H W")
    report = analyse("nxn-vs-1xn-nx1")
    square, factorised = report.layer("compare.0"), report.layer("compare.1")
    assert same(square.params_total, n**2 * C**2)
    assert same(factorised.params_total, 2 * n * C**2)
    assert same(factorised.macs / square.macs, 2 / n)
    assert same(rf_size(square)[0], n) and same(rf_size(factorised)[1], n)
    assert all(same(a, b) for a, b in zip(shape(factorised), (1, C, H, W)))
    numeric = analyse("nxn-vs-1xn-nx1", n=7, C=192, H=17, W=17)
    assert numeric.layer("compare.0").params_total == 7 * 7 * 192 * 192
    assert numeric.layer("compare.1").params_total == 2 * 7 * 192 * 192


def test_depthwise_separable_ratio_symbolic() -> None:
    # Howard et al. 2017, eq. 5: (D_K²·M·D_F² + M·N·D_F²) / (D_K²·M·N·D_F²) = 1/N + 1/D_K²,
    # per layer, hence for the whole stack (every layer has N outputs)
    M, N, H, W, K = sym("M N H W K")
    separable, standard = analyse("depthwise-separable"), analyse("standard-conv")
    assert same(separable.totals.macs / standard.totals.macs, 1 / N + sympy.Rational(1, 16))
    assert same(standard.totals.macs, 16 * M * N * H * W + 2 * 16 * N * N * H * W)
    assert same(separable.totals.macs, (16 * M + M * N + 2 * (16 * N + N * N)) * H * W)
    # with the kernel size left symbolic too
    separable_k = analyse("depthwise-separable", K=None)
    standard_k = analyse("standard-conv", K=None)
    assert same(separable_k.totals.macs / standard_k.totals.macs, 1 / N + 1 / K**2)
    assert same(separable_k.totals.params / standard_k.totals.params, 1 / N + 1 / K**2)


@pytest.mark.parametrize(("M", "N", "size"), [(3, 32, 56), (32, 64, 28), (512, 512, 14)])
def test_depthwise_separable_ratio_numeric(M: int, N: int, size: int) -> None:
    values = {"M": M, "N": N, "H": size, "W": size}
    separable = analyse("depthwise-separable", **values)
    standard = analyse("standard-conv", **values)
    first = size * size * (4 * 4 * M + M * N)                  # depthwise + pointwise
    rest = 2 * size * size * (4 * 4 * N + N * N)
    assert separable.totals.macs == first + rest
    assert standard.totals.macs == size * size * 4 * 4 * N * (M + 2 * N)
    ratio = sympy.Rational(separable.totals.macs, standard.totals.macs)
    assert ratio == sympy.Rational(1, N) + sympy.Rational(1, 16)


def test_densenet_block_growth() -> None:
    # Huang et al. 2017, Sec. 3: layer l receives c0 + l·k feature maps; the block ends with
    # c0 + L·k. Params of layer l: BN 2(c0 + l·k) + 3×3 conv 9·k·(c0 + l·k).
    c0, k, H, W = sym("c0 k H W")
    report = analyse("densenet-block")
    layers = 4
    assert all(same(a, b) for a, b in zip(shape(report.layer("0")),
                                          (1, c0 + layers * k, H, W)))
    for index in range(layers):
        channels = c0 + index * k
        assert same(report.layer(f"0.{index}").params_total, 2 * channels + 9 * k * channels)
        assert report.layer(f"0.{index}").output_shape == (1, k, H, W)
    total = sum(2 * (c0 + i * k) + 9 * k * (c0 + i * k) for i in range(layers))
    assert same(report.totals.params, total)
    numeric = analyse("densenet-block", c0=64, k=32, H=56, W=56, L=6)
    assert numeric.layer("0").output_shape == (1, 64 + 6 * 32, 56, 56)


def test_unet_level_sizes() -> None:
    # Ronneberger et al. 2015, Fig. 1: 572 → 570 → 568 → (pool) 284 → 282 → 280 → 140 →
    # 138 → 136 → 68 → 66 → 64 → 32 → 30 → 28, up-conv 2×2 → 56
    report = analyse("unet-levels")
    sizes = {"level1.0": (64, 570), "level1.2": (64, 568), "pool1": (64, 284),
             "level2.0": (128, 282), "level2.2": (128, 280), "pool2": (128, 140),
             "level3.0": (256, 138), "level3.2": (256, 136), "pool3": (256, 68),
             "level4.0": (512, 66), "level4.2": (512, 64), "pool4": (512, 32),
             "bottom.0": (1024, 30), "bottom.2": (1024, 28), "upconv4": (512, 56)}
    for path, (channels, size) in sizes.items():
        assert report.layer(path).output_shape == (1, channels, size, size), path
    # transposed conv size (H − 1)·S − 2P + K = 27·2 + 2
    assert (28 - 1) * 2 - 0 + 2 == 56
    # params: 3·3·C_in·F + F per conv, 2·2·1024·512 + 512 for the up-conv
    assert report.layer("level1.0").params == 3 * 3 * 1 * 64 + 64
    assert report.layer("level1.2").params == 3 * 3 * 64 * 64 + 64
    assert report.layer("bottom.2").params == 3 * 3 * 1024 * 1024 + 1024
    assert report.layer("upconv4").params == 2 * 2 * 1024 * 512 + 512
    widths = [(1, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 512),
              (512, 512), (512, 1024), (1024, 1024)]
    assert report.totals.params == sum(9 * a * b + b for a, b in widths) + 4 * 1024 * 512 + 512
    # receptive field at the bottom of the U: 140 pixels
    assert rf_size(report.layer("bottom")) == (140, 140)


def test_two_conv_227_network() -> None:
    # Seed exercise: 227×227×3 → conv 5×5 (32) → conv 5×5 (64) → max-pool 5×5 s2 → FC 512
    # → FC 1; output sizes 227 − 5 + 1 = 223, 223 − 4 = 219, (219 − 5)//2 + 1 = 108
    report = analyse("two-conv-227")
    assert report.layer("conv1").output_shape == (1, 32, 223, 223)
    assert report.layer("conv2").output_shape == (1, 64, 219, 219)
    assert report.layer("pool").output_shape == (1, 64, 108, 108)
    assert report.layer("conv1").params == 5 * 5 * 3 * 32 + 32
    assert report.layer("conv2").params == 5 * 5 * 32 * 64 + 64
    assert report.layer("fc1").params == 108 * 108 * 64 * 512 + 512
    assert report.layer("fc2").params == 512 + 1
    assert report.layer("conv1").macs == 223 * 223 * 32 * 5 * 5 * 3
    assert report.layer("conv2").macs == 219 * 219 * 64 * 5 * 5 * 32
    assert report.layer("fc1").macs == 108 * 108 * 64 * 512
    assert report.layer("fc2").macs == 512
    assert report.totals.params == 2432 + 51_264 + 382_206_464 + 513 == 382_260_673
    assert rf_size(report.layer("pool")) == (13, 13)             # 5 + 4 + (5 − 1)·1


def test_dilated_stack_receptive_field() -> None:
    # Kernels w−1, w, w+1 with dilations d−1, d, d+1: effective sizes (F − 1)·D + 1, so the
    # field is 1 + (w−2)(d−1) + (w−1)d + w(d+1) = (3w − 3)·d + 3 (seed topic 1)
    w, d = sym("w d")
    report = analyse("dilated-stack")
    field = output_field(report)
    assert field is not None and not field.is_global
    assert same(field.size[0], (3 * w - 3) * d + 3)
    assert same(field.size[1], (3 * w - 3) * d + 3)
    for w_value, d_value in [(3, 2), (5, 4), (4, 3)]:
        numeric = analyse("dilated-stack", w=w_value, d=d_value, C=1, H=128, W=128)
        expected = (3 * w_value - 3) * d_value + 3
        assert output_field(numeric).size == (expected, expected)
        assert numeric.layer("").output_shape == (1, 1, 128 - expected + 1, 128 - expected + 1)
    assert (3 * 3 - 3) * 2 + 3 == 1 + 1 * 1 + 2 * 2 + 3 * 3 == 15


def test_masked_conv_stack() -> None:
    # PixelCNN (van den Oord et al. 2016): 7×7 type A, then N = 5 type B 3×3, 128 maps. The
    # weight tensors are full k×k (the mask is a buffer), so params and the MACs actually
    # executed count every tap, masked or not.
    report = analyse("masked-conv-stack")
    type_a = 7 * 7 * 1 * 128 + 128
    type_b = 3 * 3 * 128 * 128 + 128
    assert report.layer("0").params == type_a
    assert report.totals.params == type_a + 5 * type_b == 744_320
    assert report.totals.macs == 28 * 28 * 128 * (7 * 7 * 1 + 5 * 3 * 3 * 128)
    assert report.layer("").output_shape == (1, 128, 28, 28)
    # bounding box of the field: 7 + 2·N (the visible part is its raster-earlier half)
    assert output_field(report).size == (7 + 2 * 5, 7 + 2 * 5)
    assert output_field(analyse("masked-conv-stack", N=10)).size == (27, 27)


# ------------------------------------- spec features the catalog asked for (now present)

def test_relu6_layer() -> None:
    report = analyse_text("input: [4, 8, 8]\nlayers:\n  - relu6")
    assert report.layer("0").type == "ReLU6"
    assert report.totals.elementwise_flops == 4 * 8 * 8          # one per element


def test_bn_eps_option_changes_no_count() -> None:
    with_eps = analyse_text("input: [4, 8, 8]\nlayers:\n  - bn: {eps: 0.001}")
    assert with_eps.totals.params == 2 * 4 and with_eps.totals.buffers == 2 * 4 + 1


def test_block_with_zero_value() -> None:
    report = analyse_text("""
input: [3, 8, 8]
blocks:
  c: [{conv: {out: 4, k: 3, p: P}}]
layers:
  - block: {use: c, with: {P: 0}}
""")
    assert report.layer("").output_shape == (1, 4, 6, 6)          # valid 3×3: 8 − 2


def test_dense_block_name() -> None:
    report = analyse_text("""
input: [8, 8, 8]
layers:
  - dense: {name: block1, n: 2, growth: 4, body: [{conv: {out: growth, k: 1}}]}
""")
    assert report.layer("block1").output_shape == (1, 8 + 2 * 4, 8, 8)   # c0 + l·k


def test_unet_skip_crop() -> None:
    # a UNet level: skip path centre-cropped to the size the way down-and-up gives back
    report = analyse_text("""
input: [64, 16, 16]
layers:
  - branch:
      - [{crop: {size: 8}}]
      - [{maxpool: {k: 2}}, {conv: {out: 128, k: 3}}, {conv: {out: 128, k: 3}},
         {deconv: {out: 64, k: 2, s: 2}}]
""")
    # 16 → pool 8 → valid 3×3: 6 → 4 → up-conv ×2: 8; the skip is cropped (16 − 8)/2 = 4
    assert report.layer("0.1").output_shape == (1, 64, 8, 8)
    assert report.layer("0.0").output_shape == (1, 64, 8, 8)
    assert report.layer("").output_shape == (1, 128, 8, 8)
    assert report.layer("0.0").rf.padding == (-4, -4)        # the crop starts 4 pixels in
