"""Diagnostics plots: valid PNGs of sensible size from hand-built results, edge cases drawn
without failing, the window arithmetic, and no pyplot state left behind."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from netanatomy.diagnostics.result import (
    DiagnoseReport,
    EffectiveField,
    LayerDiagnostics,
    ParamStats,
    StepRecord,
    Verdict,
)
from netanatomy.errors import UsageError
from netanatomy.render.diagnose_plot import (
    activation_rows,
    mark_verdict,
    mass_centre,
    plot_diagnostics,
    plot_effective_field,
    view_limits,
    weight_points,
    window_bounds,
)

image = pytest.importorskip("matplotlib.image")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """(height, width) in pixels of a valid, non-trivial PNG."""
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert path.stat().st_size > 10_000
    pixels = image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[2] in (3, 4)
    assert 300 <= pixels.shape[0] <= 3000 and 300 <= pixels.shape[1] <= 3000
    assert float(pixels[..., :3].std()) > 0.01                   # not a blank canvas
    return pixels.shape[0], pixels.shape[1]


def layer(path: str, kind: str, mean: float | None = None, *, dead: float | None = None,
          saturated: float | None = None, params: tuple[ParamStats, ...] = ()
          ) -> LayerDiagnostics:
    return LayerDiagnostics(path=path, type=kind, depth=path.count(".") + bool(path),
                            calls=1, output_shape=(4, 8, 16, 16), act_mean=mean,
                            act_std=None if mean is None else 0.5 + abs(mean),
                            dead_fraction=dead, saturated_fraction=saturated,
                            grad_output_norm=1.0, grad_input_norm=0.5, gain=0.5, params=params)


def conv_params(grad: float | None) -> tuple[ParamStats, ...]:
    return (ParamStats("weight", (8, 8, 3, 3), 2.0, grad, None if grad is None else grad / 2),
            ParamStats("bias", (8,), 0.1, grad, grad))


def report(steps: int = 0, verdict: str = "vanishing") -> DiagnoseReport:
    rows = [layer("", "Net", 0.1), layer("body", "Sequential", 0.1)]
    for index in range(6):
        rows.append(layer(f"body.{2 * index}", "Conv2d", 0.1 * index,
                          params=conv_params(10.0 ** -index)))
        rows.append(layer(f"body.{2 * index + 1}", "ReLU" if index % 2 else "Tanh", 0.2,
                          dead=0.1 * index if index % 2 else None,
                          saturated=None if index % 2 else 0.3))
    rows.append(layer("head", "Linear", 0.0, params=(ParamStats("weight", (10, 8), 1.0,
                                                                None, None),)))
    gains = {"vanishing": 1e-5, "exploding": 1e4, "healthy": 0.7, "unknown": None}
    return DiagnoseReport(
        layers=tuple(rows),
        verdict=Verdict(verdict, gains[verdict], 1e-3, True, "body.0", "head", ("body.4",),
                        f"gradients {verdict}"),
        lints=(), loss=2.3, loss_name="cross_entropy", input_shapes=((4, 3, 16, 16),),
        device="cpu", training=True, seed=0,
        steps=tuple(StepRecord(i, 2.3 * math.exp(-0.3 * i), {}) for i in range(steps)))


@pytest.mark.parametrize("verdict", ["vanishing", "exploding", "healthy", "unknown"])
def test_plot_diagnostics_writes_png(tmp_path: Path, verdict: str) -> None:
    target = tmp_path / "diagnose.png"
    plot_diagnostics(report(verdict=verdict), target, title="my model")
    png_size(target)


TITLES = {   # written by hand from the report() fixture: gain, bound 1e-3, body.4 responsible
    "vanishing": "(a) weight gradients: VANISHING (end-to-end gain 1e-05)",
    "exploding": "(a) weight gradients: EXPLODING (end-to-end gain 1e+04)",
    "healthy": "(a) weight gradients: HEALTHY (end-to-end gain 0.7)",
    "unknown": "(a) weight gradients: UNKNOWN (end-to-end gain unknown)",
}


def verdict_title(verdict: str) -> tuple[str, tuple[float, ...]]:
    from matplotlib.colors import to_rgb
    from matplotlib.figure import Figure

    axis = Figure().subplots()
    mark_verdict(axis, report(verdict=verdict).verdict)
    return axis.get_title(loc="left"), to_rgb(axis._left_title.get_color())


@pytest.mark.parametrize("verdict", list(TITLES))
def test_the_plot_names_each_verdict(verdict: str) -> None:
    text, _ = verdict_title(verdict)
    assert text == f"{TITLES[verdict]}\nproduct bound 0.001; responsible: body.4"


def test_verdict_colours_tell_good_from_bad_from_unknown() -> None:
    colours = {verdict: verdict_title(verdict)[1] for verdict in TITLES}
    assert colours["vanishing"] == colours["exploding"]               # both bad
    assert len({colours["healthy"], colours["vanishing"], colours["unknown"]}) == 3
    red, green, _ = colours["healthy"]
    assert green > red                                                 # healthy is green
    red, green, _ = colours["exploding"]
    assert red > green                                                 # bad is red


def test_png_differs_between_verdicts(tmp_path: Path) -> None:
    pixels = {}
    for verdict in ("healthy", "exploding"):
        plot_diagnostics(report(verdict=verdict), tmp_path / f"{verdict}.png", title="m")
        pixels[verdict] = image.imread(tmp_path / f"{verdict}.png")
    assert pixels["healthy"].shape == pixels["exploding"].shape
    assert not np.array_equal(pixels["healthy"], pixels["exploding"])


def test_steps_add_a_loss_panel(tmp_path: Path) -> None:
    plot_diagnostics(report(), tmp_path / "two.png")
    plot_diagnostics(report(steps=12), tmp_path / "three.png")
    two, three = png_size(tmp_path / "two.png"), png_size(tmp_path / "three.png")
    assert three[0] > two[0] * 1.2 and three[1] == two[1]


def test_plot_diagnostics_survives_missing_statistics(tmp_path: Path) -> None:
    odd = (ParamStats("weight", (4, 4), 1.0, math.inf, math.inf),
           ParamStats("weight2", (4, 4), 1.0, 0.0, 0.0))
    rows = (layer("", "Net"), layer("fc", "Linear", params=odd), layer("act", "ReLU"))
    base = report()
    bare = DiagnoseReport(rows, base.verdict, (), math.nan, "mse", ((2, 4),), "cpu", False, 0,
                          steps=(StepRecord(0, math.inf, {}),))
    plot_diagnostics(bare, tmp_path / "bare.png")
    empty = DiagnoseReport((), base.verdict, (), 0.0, "mse", (), "cpu", False, 0)
    plot_diagnostics(empty, tmp_path / "empty.png")
    png_size(tmp_path / "bare.png")
    png_size(tmp_path / "empty.png")


def test_many_layers_drop_tick_labels_and_widen(tmp_path: Path) -> None:
    rows = [layer("", "Net")] + [layer(f"l{i}", "Conv2d", 0.01 * i, params=conv_params(1.0))
                                 for i in range(120)]
    base = report()
    big = DiagnoseReport(tuple(rows), base.verdict, (), 1.0, "mse", ((1, 3, 8, 8),), "cpu",
                         True, 0)
    plot_diagnostics(big, tmp_path / "big.png")
    assert png_size(tmp_path / "big.png")[1] > png_size_of_default(tmp_path)[1]


def png_size_of_default(tmp_path: Path) -> tuple[int, int]:
    plot_diagnostics(report(), tmp_path / "default.png")
    return png_size(tmp_path / "default.png")


def test_weight_points_dedupe_and_skip_biases() -> None:
    stats = ParamStats("weight", (8, 8, 3, 3), 2.0, 0.1, 0.05)
    rows = [layer("", "Net", params=(ParamStats("body.0.weight", (8, 8, 3, 3), 2.0, 0.1, 0.05),)),
            layer("body", "Sequential", params=(ParamStats("0.weight", (8, 8, 3, 3), 2.0, 0.1,
                                                           0.05),)),
            layer("body.0", "Conv2d", params=(stats, ParamStats("bias", (8,), 0.1, 0.1, 1.0))),
            layer("head", "Linear", params=(ParamStats("head.weight", (2, 8), 1.0, 0.2, 0.2),))]
    assert [point.label for point in weight_points(rows)] == ["body.0.weight", "head.weight"]


def test_activation_rows_are_leaves_with_statistics() -> None:
    rows = [layer("", "Net", 0.1), layer("body", "Sequential", 0.1), layer("body.0", "Conv2d", 0.1),
            layer("body.1", "ReLU", 0.2), layer("body.2", "Flatten")]
    assert [row.path for row in activation_rows(rows)] == ["body.0", "body.1"]
    assert [row.path for row in activation_rows([layer("", "Conv2d", 0.3)])] == [""]


def field(heatmap: np.ndarray, size: tuple[int, ...],
          theoretical: tuple[int, ...] | None) -> EffectiveField:
    position = tuple(n // 2 for n in heatmap.shape)
    return EffectiveField("body.4", 0.95, size, position, theoretical, heatmap / heatmap.sum())


def gaussian(shape: tuple[int, ...], sigma: float) -> np.ndarray:
    grids = np.meshgrid(*[np.arange(n) - n // 2 for n in shape], indexing="ij")
    return np.exp(-sum(g.astype(float) ** 2 for g in grids) / (2 * sigma ** 2))


@pytest.mark.parametrize(("shape", "size", "theoretical"), [
    ((64, 64), (9, 9), (21, 21)),
    ((48, 40), (9, 11), None),
    ((16, 16), (13, 13), (41, 41)),            # theoretical field larger than the input
    ((80,), (9,), (21,)),
    ((12, 24, 24), (5, 9, 9), (7, 15, 15)),
])
def test_plot_effective_field_writes_png(tmp_path: Path, shape: tuple[int, ...],
                                         size: tuple[int, ...],
                                         theoretical: tuple[int, ...] | None) -> None:
    target = tmp_path / "erf.PNG"
    plot_effective_field(field(gaussian(shape, 2.5), size, theoretical), target)
    height, width = png_size(target)
    assert width > height if len(shape) == 1 else 0.8 < width / height < 1.6


def test_plots_refuse_other_suffixes_and_bad_fields(tmp_path: Path) -> None:
    erf = field(gaussian((16, 16), 2.0), (5, 5), None)
    with pytest.raises(UsageError, match=r"must end in \.png"):
        plot_effective_field(erf, tmp_path / "erf.svg")
    with pytest.raises(UsageError, match=r"must end in \.png"):
        plot_diagnostics(report(), tmp_path / "diagnose")
    with pytest.raises(UsageError, match="no heatmap"):
        plot_effective_field(EffectiveField("x", 0.95, (5, 5), (8, 8), None), tmp_path / "a.png")
    with pytest.raises(UsageError, match="one axis per spatial axis"):
        plot_effective_field(field(gaussian((16, 16), 2.0), (5,), None), tmp_path / "b.png")
    assert not list(tmp_path.iterdir())


def test_plots_leave_no_pyplot_figures(tmp_path: Path) -> None:
    pyplot = pytest.importorskip("matplotlib.pyplot")
    before = pyplot.get_fignums()
    plot_diagnostics(report(steps=3), tmp_path / "d.png")
    plot_effective_field(field(gaussian((16, 16), 2.0), (5, 5), (7, 7)), tmp_path / "e.png")
    assert pyplot.get_fignums() == before


@pytest.mark.parametrize(("centre", "width", "count", "bounds"), [
    (8, 5, 16, (6, 10)),
    (8, 16, 16, (0, 15)),
    (1, 5, 16, (0, 4)),          # clipped on the left: radius 3 → [0, 4]
    (14, 4, 16, (12, 15)),       # clipped on the right: radius 2 → [12, 15]
    (0, 1, 1, (0, 0)),
])
def test_window_bounds(centre: int, width: int, count: int, bounds: tuple[int, int]) -> None:
    assert window_bounds(centre, width, count) == bounds
    assert bounds[1] - bounds[0] + 1 == width


def test_mass_centre_and_view_limits() -> None:
    heatmap = np.zeros((5, 8))
    heatmap[1, 6] = 3.0
    heatmap[3, 2] = 1.0                       # rows: (1·3 + 3·1)/4 = 1.5 → 2; cols 5
    assert (mass_centre(heatmap, 0), mass_centre(heatmap, 1)) == (2, 5)
    assert view_limits(50, 200, [11.0, 21.0]) == (50 - 17.75, 50 + 17.75)
    assert view_limits(8, 16, [13.0]) == (-0.5, 15.5)        # nearly all of it: show all
