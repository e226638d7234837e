"""The figures of the HTML report (payload ``images``): one PNG per figure the command
draws, decoding (Pillow) to the size it was drawn at (inches × DPI); lab's equal, byte for
byte, the file ``lab NAME -o DIR`` writes in the same run, attribute's the file of ``-o``;
diagnose's and rf's are their ``--plot`` files at the page's lower resolution (pixel
sizes compared; the pictures are drawn anew, not compared pixel by pixel). Drawing
them writes no file and leaves matplotlib, the model and the process as they were."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from typer.testing import CliRunner

import netanatomy
from netanatomy.cli.main import app
from netanatomy.render.catalog import write
from netanatomy.render.figures import MAX_BYTES, MIN_DPI, PAGE_DPI, png_bytes
from tests.test_state_harness import assert_unchanged, image, user_model

runner = CliRunner()
EXPERIMENT = "sigmoid-saturation"              # a fast lab experiment with one figure
CONV = str(Path(__file__).resolve().parents[2] / "docs" / "examples" / "conv.yaml")
VALUES = "K=3,F=8,D=4,H=6,W=6"

NET_PY = '''
from torch import nn

def make():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
'''


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("net") / "net.py"
    path.write_text(NET_PY)
    return f"{path}:make"


def payload(text: str) -> dict[str, Any]:
    """The JSON the page embeds (its data element)."""
    found = re.search(r'<script id="netanatomy-data" type="application/json">(.*?)</script>',
                      text, re.S)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def decoded(entry: dict[str, Any]) -> tuple[bytes, Image.Image]:
    raw = base64.b64decode(entry["png"])
    picture = Image.open(io.BytesIO(raw))
    assert picture.format == "PNG"
    return raw, picture


def pixels(inches: Any, dpi: int) -> tuple[int, int]:
    """Matplotlib's canvas size: inches × DPI, rounded (``FigureCanvasAgg``)."""
    width, height = inches
    return round(width * dpi), round(height * dpi)


def invoke(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout


# --- lab ------------------------------------------------------------------------------

def test_lab_page_embeds_the_file_lab_writes(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "figures"
    data = payload(invoke(["lab", EXPERIMENT, "-o", str(folder), "-f", "html"]))
    (entry,) = data["images"]                          # one experiment, one figure
    raw, picture = decoded(entry)
    assert raw == (folder / f"{EXPERIMENT}.png").read_bytes()   # the same run's file
    assert entry["section"] == "lab" and entry["title"].startswith(f"{EXPERIMENT}: ")
    assert data["sections"]["lab"]["experiments"][0]["figure"] == str(folder / f"{EXPERIMENT}.png")


def test_a_figure_with_colour_bars_is_the_file_too(tmp_path: Path) -> None:
    """dilated-gridding's two heat maps have colour bars: drawing that figure a second
    time moves its constrained layout, so the page takes the saved file's bytes."""
    folder = tmp_path / "figures"
    data = payload(invoke(["lab", "dilated-gridding", "-o", str(folder), "-f", "html"]))
    (entry,) = data["images"]
    assert decoded(entry)[0] == (folder / "dilated-gridding.png").read_bytes()


def test_an_unsaved_lab_result_is_drawn_at_the_figure_size() -> None:
    from netanatomy import lab

    result = lab.run(EXPERIMENT)
    assert result.figure_path is None
    (entry,) = payload(write("lab", "html", result))["images"]
    _, picture = decoded(entry)
    # LabResult.save_figure's dpi (110): what `lab -o` writes
    assert picture.size == pixels(result.figure.get_size_inches(), 110)
    assert PAGE_DPI["lab"] == 110


def test_a_lab_listing_has_no_images() -> None:
    assert payload(invoke(["lab", "-f", "html"]))["images"] == []


# --- attribute ------------------------------------------------------------------------

def test_attribute_page_embeds_the_grid_of_dash_o(net: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    grid = tmp_path / "grid.png"
    data = payload(invoke(["attribute", net, "--input", "1x3x16x16", "--method", "saliency",
                           "-o", str(grid), "-f", "html"]))
    (entry,) = data["images"]                          # the grid: input + one overlay
    raw, picture = decoded(entry)
    assert raw == grid.read_bytes()                    # same run, same figure, same dpi
    # attribution_plot: 2 panels in one row, 2.6 in each wide, 2.8 in high + 0.3 in title
    assert picture.size == (round(2 * 2.6 * 100), round((2.8 + 0.3) * 100))
    assert entry["section"] == "attribute"
    assert entry["title"] == f"Attributions of {net}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]


def test_attribute_without_a_kept_input_draws_nothing() -> None:
    from netanatomy.attribution.api import attribute
    from netanatomy.render.attribution import AttributeResult

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten(), nn.LazyLinear(2))
    x = torch.randn(1, 3, 8, 8)
    model(x)
    found = attribute(model, x, method="saliency")
    kept = AttributeResult("m", tuple(x.shape), {"saliency": found}, inputs=x)
    bare = AttributeResult("m", tuple(x.shape), {"saliency": found})
    assert len(payload(write("attribute", "html", kept))["images"]) == 1
    assert payload(write("attribute", "html", bare))["images"] == []


# --- diagnose -------------------------------------------------------------------------

def test_diagnose_page_draws_the_plots_of_dash_plot(net: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["diagnose", net, "--input", "2x3x8x8", "--seed", "1"]
    data = payload(invoke([*args, "-f", "html"]))
    assert list(tmp_path.iterdir()) == []              # the page wrote no file
    invoke([*args, "--plot", str(tmp_path / "d.png")])
    files = [tmp_path / "d.png", tmp_path / "d-erf.png"]
    files = [path for path in files if path.exists()]
    assert len(data["images"]) == len(files) >= 1      # one per figure --plot writes
    for entry, path in zip(data["images"], files, strict=True):
        _, picture = decoded(entry)
        with Image.open(path) as written:              # --plot: 110 dpi; the page: 90
            expected = [size * PAGE_DPI["diagnose"] / 110 for size in written.size]
        assert all(abs(got - want) <= 1 for got, want in zip(picture.size, expected))
        assert entry["section"] == "diagnose"
    assert data["images"][0]["title"].startswith("Diagnostics: weight gradients")


def test_diagnose_image_has_the_figure_size() -> None:
    from netanatomy.render.diagnose_plot import diagnostics_figure

    report = netanatomy.diagnose(user_model(), image())
    entry = payload(write("diagnose", "html", report))["images"][0]
    _, picture = decoded(entry)
    # plot_diagnostics: 8 in wide for few layers (max(8, 0.22 * n)), 90 dpi on the page
    assert picture.size[0] == 8 * 90
    assert picture.size == pixels(diagnostics_figure(report).get_size_inches(), 90)


# --- rf -------------------------------------------------------------------------------

def test_rf_page_is_the_summary_page_with_the_plot(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = payload(invoke(["rf", CONV, "--set", VALUES, "-f", "html"]))
    assert data["schema"] == "netanatomy.report/1" and data["summary"]["layers"]
    invoke(["rf", CONV, "--set", VALUES, "--plot", str(tmp_path / "rf.png")])
    (entry,) = data["images"]
    _, picture = decoded(entry)
    with Image.open(tmp_path / "rf.png") as written:   # --plot: 120 dpi; the page: 100
        assert picture.size == tuple(round(s * 100 / 120) for s in written.size)
    # plot_receptive_field: max(7, 0.25 per layer) × 6.5 in; the spec has 1 layer
    assert picture.size == (7 * 100, round(6.5 * 100))


def test_rf_page_of_a_model_without_a_spatial_input_has_no_image() -> None:
    report = netanatomy.analyze(nn.Sequential(nn.Linear(4, 3)), "2x4")
    from netanatomy.render.results import FieldResult

    assert payload(write("rf", "html", FieldResult(report)))["images"] == []


# --- size limit, state ----------------------------------------------------------------

def test_a_too_large_png_is_saved_again_smaller() -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4, 4))                    # 400 × 400 px of noise at 100 dpi
    figure.add_axes((0, 0, 1, 1)).imshow(
        np.random.default_rng(0).random((400, 400, 3)), interpolation="nearest")

    def save(file: Any, dpi: int) -> None:
        figure.savefig(file, format="png", dpi=dpi)

    big = io.BytesIO()
    save(big, 100)
    assert len(big.getvalue()) > MAX_BYTES            # noise hardly compresses
    small = png_bytes(save, 100)
    assert len(small) <= MAX_BYTES
    assert 4 * MIN_DPI <= Image.open(io.BytesIO(small)).size[0] < 400


def test_drawing_the_images_leaves_matplotlib_the_model_and_the_process_alone() -> None:
    backend = matplotlib.get_backend()
    params = dict(matplotlib.rcParams)

    def run(model: nn.Module) -> Any:
        return write("diagnose", "html", netanatomy.diagnose(model, image(), steps=2))

    assert payload(assert_unchanged(user_model(), run))["images"]
    assert matplotlib.get_backend() == backend
    assert dict(matplotlib.rcParams) == params


def test_pyplot_is_never_imported() -> None:
    code = ("import sys, netanatomy; from netanatomy.render.catalog import write; "
            "payload_images = lambda text: '\"images\":[{' in text; "
            "from netanatomy.render.results import FieldResult; "
            "from netanatomy import spec; "
            f"r = spec.analyze({CONV!r}, spec.parse_assignments([{VALUES!r}])); "
            "assert payload_images(write('rf', 'html', FieldResult(r))); "
            "from netanatomy.render.figures import command_images; "
            "assert len(command_images('rf', r)) == 1; "
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
