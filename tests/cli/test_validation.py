"""Every option value is checked before anything is loaded or run: exit 2, a message naming
the option, and a target that records being imported, built and run shows that nothing
was. Plus keyword inputs (--input NAME=SHAPE), TorchScript targets, and a fuzz of the
options that must never end in an internal error or a traceback."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from netanatomy.cli.common import MAX_WIDTH, MIN_WIDTH
from netanatomy.cli.main import app

runner = CliRunner()

LOUD_PY = '''
import torch
from torch import nn

MARK = {mark!r}

def note(what):
    with open(MARK, "a") as file:
        file.write(what + "\\n")

note("imported")

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 8 * 8, 2)

    def forward(self, x):
        note("ran")
        return self.fc(torch.relu(self.conv(x)).flatten(1))

def build():
    note("built")
    return Net()

class Masked(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x, *, mask):
        return self.fc(x * mask)

scripted = torch.jit.script(nn.Linear(4, 2))
'''

INPUT = ["-i", "2x3x8x8"]


@pytest.fixture
def loud(tmp_path: Path) -> tuple[str, Path]:
    """(file target prefix, marker file): the file notes 'imported', 'built', 'ran'."""
    mark = tmp_path / "mark.txt"
    path = tmp_path / "loud.py"
    path.write_text(LOUD_PY.format(mark=str(mark)))
    return str(path), mark


def command_args(command: str, target: str, data: bool = False) -> list[str]:
    """A valid invocation of ``command`` on ``target`` (sweep takes a spec that would fail
    to load: it must not be read either; ``data``: no --input, as with --data)."""
    if data:
        return [command, target]
    if command == "compare":
        return ["compare", target, target, *INPUT]
    if command == "sweep":
        return ["sweep", "no-such-spec.yaml", "--vary", "K=1,3"]
    return [command, target, *INPUT]


BAD_OPTIONS: list[tuple[tuple[str, ...], list[str], str]] = [
    # (commands, extra arguments, the option named in the message)
    (("summary", "rf", "diagnose", "lint", "compare", "sweep"), ["-o", "{tmp}/no/out.txt"],
     "-o/--output"),
    (("summary", "rf", "diagnose", "lint", "compare", "sweep"), ["-o", "{tmp}"],
     "-o/--output"),
    (("summary", "rf", "diagnose"), ["--depth", "-1"], "--depth"),
    (("summary", "rf", "diagnose"), ["--width", str(MIN_WIDTH - 1)], "--width"),
    (("summary", "rf", "diagnose"), ["--width", "9" * 30], "--width"),
    (("summary", "diagnose"), ["--device", "tpu"], "--device"),
    (("summary", "diagnose"), ["--device", "cuda:x"], "--device"),
    (("diagnose",), ["--device", "meta"], "--device"),
    (("summary", "rf", "diagnose", "lint", "compare"), ["-i", "9" * 25 + "x3"], "--input"),
    (("summary", "rf", "diagnose", "lint", "compare"), ["-i", "99999x99999x99999x99999"],
     "--input"),
    (("summary", "rf", "diagnose", "lint", "compare"), ["-i", "2x0x8"], "--input"),
    (("summary", "rf", "diagnose", "lint", "compare"), ["-i", "2x3:float13"], "--input"),
    (("summary", "rf", "diagnose", "lint", "compare"), ["-i", "2 x=3"], "--input"),
    (("diagnose",), ["-i", "mask=2x3"], "--input"),
    (("rf", "diagnose"), ["--plot", "{tmp}/field.jpg"], "--plot"),
    (("rf", "diagnose"), ["--plot", "{tmp}/no/field.png"], "--plot"),
    (("rf", "diagnose"), ["--plot", "{tmp}"], "--plot"),
    (("lint",), ["--batch-size", "0"], "--batch-size"),
    (("lint", "diagnose"), ["--object-size", "-3"], "--object-size"),
    (("diagnose",), ["--steps", "0"], "--steps"),
    (("diagnose",), ["--data", "{tmp}/no-batch.pt"], "--data"),
    (("diagnose",), ["--erf-fraction", "1.5"], "--erf-fraction"),
    (("summary", "rf", "diagnose", "lint", "compare", "sweep"), ["-f", "xml"], "--format"),
]
CASES = [(command, extra, option) for commands, extra, option in BAD_OPTIONS
         for command in commands]


@pytest.mark.parametrize(("command", "extra", "option"), CASES,
                         ids=[f"{c}{' '.join(e)}" for c, e, _ in CASES])
def test_bad_option_exits_2_before_anything_runs(loud: tuple[str, Path], tmp_path: Path,
                                                 command: str, extra: list[str],
                                                 option: str) -> None:
    path, mark = loud
    arguments = [a.format(tmp=tmp_path) for a in extra]
    result = runner.invoke(app, command_args(command, path + ":build", "--data" in extra)
                           + arguments)
    assert result.exit_code == 2, result.output
    assert option in result.output, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert not mark.exists(), mark.read_text()               # not imported, built nor run


@pytest.mark.parametrize("command", ["summary", "diagnose"])
def test_cuda_requested_but_unavailable_exits_2(loud: tuple[str, Path], command: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path, mark = loud
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = runner.invoke(app, [command, path + ":build", *INPUT, "--device", "cuda"])
    assert result.exit_code == 2, result.output
    assert "--device cuda" in result.output and "not available" in result.output
    assert not mark.exists()


def test_a_huge_size_is_refused_with_a_plain_message(loud: tuple[str, Path]) -> None:
    path, _ = loud
    result = runner.invoke(app, ["summary", path + ":build", "-i", "1" + "0" * 40])
    assert result.exit_code == 2
    assert "more than a tensor can hold" in result.output
    assert "c10::" not in result.output and "frame #" not in result.output


def test_the_widths_at_the_bounds_are_accepted(loud: tuple[str, Path]) -> None:
    path, _ = loud
    for width in (MIN_WIDTH, MAX_WIDTH):
        result = runner.invoke(app, ["summary", path + ":build", *INPUT, "--width", str(width)])
        assert result.exit_code == 0, result.output


def test_erf_layer_is_checked_after_loading_and_before_running(
        loud: tuple[str, Path]) -> None:
    path, mark = loud
    result = runner.invoke(app, ["diagnose", path + ":build", *INPUT, "--erf-layer", "conv2"])
    assert result.exit_code == 2, result.output
    assert "--erf-layer 'conv2'" in result.output and "'conv'" in result.output  # close one
    assert mark.read_text().split() == ["imported", "built"]  # loaded, never run


def test_keyword_inputs_mix_with_positional_ones(loud: tuple[str, Path]) -> None:
    path, _ = loud
    result = runner.invoke(app, ["summary", path + ":Masked", "-i", "mask=2x4:bool",
                                 "-i", "2x4", "-f", "json"])
    assert result.exit_code == 0, result.output
    import json

    data = json.loads(result.stdout)
    assert data["totals"]["macs"] == 2 * 4 * 3                # Linear(4, 3) on 2 rows
    twice = runner.invoke(app, ["summary", path + ":Masked", "-i", "2x4", "-i", "mask=2x4",
                                "-i", "mask=2x4"])
    assert twice.exit_code == 2 and "given twice" in twice.output


def test_a_missing_keyword_input_says_how_to_give_it(loud: tuple[str, Path]) -> None:
    path, _ = loud
    result = runner.invoke(app, ["summary", path + ":Masked", "-i", "2x4"])
    assert result.exit_code == 1
    assert "--input mask=SHAPE" in result.output and "keyword-only mask" in result.output


def test_a_torchscript_target_asks_for_the_eager_module(loud: tuple[str, Path]) -> None:
    path, _ = loud
    result = runner.invoke(app, ["summary", path + ":scripted", "-i", "1x4"])
    assert result.exit_code == 2, result.output
    assert "pass the eager module (before torch.jit.script/trace)" in result.output
    assert "hook" not in result.output


# --- fuzz ---------------------------------------------------------------------------------

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])

SIZES = st.one_of(st.integers(-2, 40), st.just(10**20), st.just(2**62))  # none in between:
SHAPES = st.lists(SIZES, max_size=5).map(lambda s: "x".join(map(str, s)))  # no CPU fallback
DTYPES = st.sampled_from(["", ":int64", ":float16", ":bool", ":nope", ":"])       # allocates
INPUTS = st.one_of(st.text(max_size=20), st.tuples(SHAPES, DTYPES).map("".join),
                   st.just("1x3x32x32"), st.tuples(st.sampled_from(["x=", "1x=", "mask="]),
                                                   SHAPES).map("".join))
INTS = st.one_of(st.none(), st.integers(-5, 200), st.integers(-10**30, 10**30))
DEVICES = st.one_of(st.none(), st.text(max_size=8), st.sampled_from(
    ["meta", "cuda", "cuda:0", "cuda:7", "mps", "xpu:1", "meta:0", "cpu:3"])).filter(
        lambda d: d is None or not re.fullmatch(r"cpu(:0+)?", d))  # cpu would allocate
NAMES = st.text(alphabet=st.characters(blacklist_characters="/\\",
                                       blacklist_categories=("Cs",)), max_size=300)


def option_list(flag: str, value: object) -> list[str]:
    return [] if value is None else [flag, str(value)]


@FUZZ
@given(command=st.sampled_from(["summary", "rf"]), inputs=st.lists(INPUTS, max_size=2),
       depth=INTS, width=INTS, device=DEVICES, name=st.one_of(st.none(), NAMES),
       folder=st.sampled_from(["", "missing/"]))
def test_fuzzed_options_never_crash(tmp_path: Path, command: str, inputs: list[str],
                                    depth: int | None, width: int | None, device: str | None,
                                    name: str | None, folder: str) -> None:
    arguments = [command, "zoo:smallcnn"]
    for text in inputs:
        arguments += ["--input", text]
    arguments += option_list("--depth", depth) + option_list("--width", width)
    if command == "summary":
        arguments += option_list("--device", device)
    if name is not None:
        arguments += ["-o", str(tmp_path / (folder + name))]
    result = runner.invoke(app, arguments)
    assert result.exit_code in (0, 1, 2), result.output
    assert "internal error" not in result.output, result.output
    assert "Traceback" not in result.output, result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit), repr(result.exception)


SETTINGS = st.one_of(st.text(max_size=20), st.tuples(
    st.sampled_from(["K", "F", "D", "H", "W", "k", "1K", ""]), st.sampled_from(["=", ":", ""]),
    st.one_of(st.integers(-10**6, 10**6).map(str), st.text(string.printable, max_size=8)),
).map("".join))


@FUZZ
@given(assignments=st.lists(SETTINGS, max_size=3))
def test_fuzzed_spec_settings_never_crash(assignments: list[str]) -> None:
    arguments = ["summary", "docs/examples/conv.yaml"]
    for text in assignments:
        arguments += ["--set", text]
    result = runner.invoke(app, arguments)
    assert result.exit_code in (0, 1, 2), result.output
    assert "internal error" not in result.output, result.output
    assert "Traceback" not in result.output, result.output


def test_a_gpu_index_is_checked_against_the_gpus_there(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from netanatomy.errors import UsageError
    from netanatomy.frontends.torch.devices import check_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert check_device("cuda:1") == "cuda:1" and check_device("cuda") == "cuda"
    with pytest.raises(UsageError, match=r"there are 2 cuda device\(s\) here, cuda:0 to cuda:1"):
        check_device("cuda:2")
