"""The limits of the spec path (``frontends/spec/limits.py``), one hand-written case each:
a spec that would hang, blow up memory or crash stops at once with a located SpecError
(exit 2) that names the limit. Expected positions are counted from the spec text itself;
expected counts come from the textbook formulas (params of a conv = out·in·k² + out)."""

from __future__ import annotations

import re
import resource
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from netanatomy import spec
from netanatomy.cli.main import app
from netanatomy.errors import SpecError, UsageError
from netanatomy.frontends.spec import limits
from netanatomy.frontends.spec.refs import refs_outside_allowed

ROOT = Path(__file__).resolve().parents[3]
SECRET = "TOP-SECRET-VALUE"


def position_of(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based (line, column) of the ``occurrence``-th ``needle`` in ``text``."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024     # KiB on Linux


def bounded(run: Callable[[], Any], seconds: float = 2.0, megabytes: float = 500) -> Any:
    """Run ``run`` and check it stays within the time and memory budget (the growth of the
    process's peak resident memory); return what it raised (a NetanatomyError) or
    returned."""
    before, start = peak_rss_mb(), time.perf_counter()
    try:
        result = run()
    except (SpecError, UsageError) as error:
        result = error
    elapsed = time.perf_counter() - start
    assert elapsed < seconds, f"{elapsed:.2f} s"
    assert peak_rss_mb() - before < megabytes, f"{peak_rss_mb() - before:.0f} MB more"
    return result


def spec_error(text: str | Path, symbols: dict[str, Any] | None = None) -> SpecError:
    error = bounded(lambda: spec.analyze(text, symbols))
    assert isinstance(error, SpecError), error
    return error


def conv_spec(out: str) -> str:
    return f"input: [3, 8, 8]\nlayers:\n  - conv: {{out: {out}, k: 1}}\n"


# --- expressions ------------------------------------------------------------------------

@pytest.mark.parametrize("out, limit", [
    ("'9**9**9'", "MAX_EXPONENT"), ("'2**1000'", "MAX_EXPONENT"),
    ("'2**62'", "MAX_NUMBER_DIGITS"), ("'1e17*10'", "MAX_NUMBER_DIGITS"),
    ("'((F+1)**64)**64'", "MAX_EXPONENT"),
    ("'" + "1+" * 300 + "1'", "MAX_EXPRESSION_CHARS"),
    ("'" + "-" * 400 + "1'", "MAX_EXPRESSION_DEPTH"),
    ("9" * 5000, "MAX_NUMBER_DIGITS"), ("1000000000000000000", "MAX_NUMBER_DIGITS"),
])
def test_huge_expressions_stop_at_once_naming_the_limit(out: str, limit: str) -> None:
    text = conv_spec(out)
    error = spec_error(text)
    assert limit in str(error)
    assert (error.line, error.column) == position_of(text, out[:20])


@pytest.mark.parametrize("out, problem", [
    ("'8/0'", "divides by zero"), ("'F%0'", "divides by zero"),
    ("'F//(K-K)'", "divides by zero"), ("'(-8)**0.5'", "is not a real number"),
    ("'1e400'", "is not a finite number"), ("'0**-1'", "cannot be computed"),
    (".inf", "numbers in a spec are finite"), (".nan", "numbers in a spec are finite"),
    ("-.inf", "numbers in a spec are finite"),
])
def test_arithmetic_errors_are_located_spec_errors(out: str, problem: str) -> None:
    text = conv_spec(out)
    error = spec_error(text)
    assert problem in str(error)
    assert (error.line, error.column) == position_of(text, out)


def test_numbers_below_the_limits_still_count() -> None:
    report = spec.analyze(conv_spec("'2**10 + 10**3 - 2000'"))         # 24 channels
    assert report.totals.params == 24 * 3 * 1 * 1 + 24


def test_a_power_of_sums_is_not_simplified_for_minutes() -> None:
    text = conv_spec("'(F/(G+1)+H/(F+2)+G/(H+3))**4'")
    report = bounded(lambda: spec.analyze(text))
    assert not isinstance(report, Exception), report
    assert report.totals.params.free_symbols                            # a formula


@pytest.mark.parametrize("item, limit", [
    ("F=9**9**9", "MAX_EXPONENT"), ("F=2**1000", "MAX_EXPONENT"),
    ("F=" + "-" * 3000 + "1", "MAX_EXPRESSION_CHARS"), ("F=8/0", "divides by zero"),
    ("F=inf", "not a finite number"), ("F=nan", "not a finite number"),
])
def test_set_values_are_bounded_and_name_the_item(item: str, limit: str) -> None:
    error = bounded(lambda: spec.analyze(conv_spec("F"), spec.parse_assignments([item])))
    assert isinstance(error, UsageError) and limit in str(error)
    assert str(error).startswith(f"--set {item[:10]}")


def test_set_in_the_cli_exits_2_at_once() -> None:
    start = time.perf_counter()
    result = CliRunner().invoke(app, ["summary", "docs/examples/conv.yaml",
                                      "--set", "K=9**9**9"])
    assert result.exit_code == 2, result.output
    assert "MAX_EXPONENT" in result.output and time.perf_counter() - start < 2


# --- YAML -------------------------------------------------------------------------------

def laughs(levels: int) -> str:
    lines = ["input: [3, 8, 8]", "layers: [relu]", "blocks:", "  l0: &l0 [relu, relu]"]
    lines += [f"  l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 10) + "]"
              for n in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_billion_laughs_stops_while_composing() -> None:
    text = laughs(9)                                     # 2·10⁹ relus once expanded
    tracemalloc.start()
    try:
        error = spec_error(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20                             # stopped before it grew
    assert "MAX_YAML_NODES" in str(error)
    # expanded nodes of level n: s(0) = 3 (a list of two), s(n) = 1 + 10·s(n-1): the
    # first level past 100,000 is the one that is reported
    sizes = [3]
    while sizes[-1] <= limits.MAX_YAML_NODES:
        sizes.append(1 + 10 * sizes[-1])
    level = len(sizes) - 1
    assert (error.line, error.column) == position_of(text, f"&l{level} ")


def test_a_recursive_alias_is_an_error() -> None:
    text = "input: [3, 8, 8]\nlayers: &a [relu, *a]\n"
    error = spec_error(text)
    assert "recursive alias" in str(error)
    assert (error.line, error.column) == position_of(text, "*a")


@pytest.mark.parametrize("layers", [
    "[" * 500 + "]" * 500,
    "\n" + "".join("  " * (i + 1) + "- residual:\n" for i in range(200)) + "  " * 201 + "- relu",
])
def test_deep_nesting_is_an_error_not_a_recursion_error(layers: str) -> None:
    error = spec_error(f"input: [3, 8, 8]\nlayers: {layers}\n")
    assert "MAX_NESTING" in str(error)


def test_blocks_nesting_through_each_other_stop_at_the_layer_nesting_limit() -> None:
    blocks = "".join(f"  b{i}: [{{residual: [{{residual: [{{block: b{i + 1}}}]}}]}}]\n"
                     for i in range(31))
    error = spec_error(f"input: [3, 8, 8]\nblocks:\n{blocks}  b31: [relu]\n"
                       "layers: [{block: b0}]\n")
    assert "MAX_LAYER_NESTING" in str(error)


@pytest.mark.parametrize("value, problem", [
    ("!!python/object:os.system {}", "unsupported YAML tag '!!python/object:os.system'"),
    ("!foo 8", "unsupported YAML tag '!foo'"), ("!!binary aGk=", "unsupported YAML tag"),
    ("{<<: {a: 1}}", "merge keys"), ("{[1]: 2}", "mapping key must be a plain value"),
    ("'" + "x" * 10_001 + "'", "MAX_SCALAR_CHARS"),
])
def test_unsafe_or_unknown_yaml_is_a_located_error(value: str, problem: str) -> None:
    text = f"input: [3, 8, 8]\nlayers:\n  - conv: {{k: 1, out: {value}}}\n"
    error = spec_error(text)
    assert problem in str(error)
    assert error.line == 3


def test_symbols_as_a_list_is_a_located_error() -> None:
    error = spec_error("input: [3, 8, 8]\nsymbols: [F, 8]\nlayers: [relu]\n")
    assert error.line == 2 and "symbols" in str(error)


def test_a_spec_longer_than_the_limit_is_refused_before_parsing() -> None:
    text = "input: [3, 8, 8]\nlayers:\n" + "  - relu\n" * (limits.MAX_SPEC_CHARS // 9 + 1)
    error = spec_error(text)
    assert "MAX_SPEC_CHARS" in str(error) and (error.line, error.column) == (1, 1)


# --- expansion and build work -----------------------------------------------------------

def test_repeat_a_billion_times_is_refused() -> None:
    text = "input: [3, 8, 8]\nlayers:\n  - repeat: {n: 10**9, body: [relu]}\n"
    error = spec_error(text)
    assert "MAX_REPEAT" in str(error)
    assert (error.line, error.column) == position_of(text, "10**9")


def test_thirty_doublings_stop_at_the_layer_limit() -> None:
    blocks = "".join(f"  b{i + 1}: [{{block: b{i}}}, {{block: b{i}}}]\n" for i in range(30))
    error = spec_error(f"input: [3, 8, 8]\nblocks:\n  b0: [relu]\n{blocks}"
                       "layers: [{block: b30}]\n")
    assert "MAX_LAYERS" in str(error)


def test_thirty_nested_repeats_of_nothing_stop_at_the_layer_limit() -> None:
    layers = "[{repeat: {n: 2, body: " * 30 + "[]" + "}}]" * 30
    assert "MAX_LAYERS" in str(spec_error(f"input: [3, 8, 8]\nlayers: {layers}\n"))


def test_a_repeat_within_the_limits_counts_every_copy() -> None:
    report = spec.analyze("input: [3, 8, 8]\nlayers:\n"
                          "  - repeat: {n: 100, body: [{conv: {out: 3, k: 1}}]}\n")
    assert report.totals.params == 100 * (3 * 3 + 3)


def test_dense_and_recurrent_counts_are_bounded() -> None:
    dense = ("input: [3, 8, 8]\nlayers:\n"
             "  - dense: {n: 100000, growth: 4, body: [{conv: {out: growth, k: 1}}]}\n")
    assert "MAX_REPEAT" in str(spec_error(dense))
    lstm = "input: {sequence: [4, 8]}\nlayers:\n  - lstm: {hidden: 8, layers: 10**8}\n"
    assert "MAX_REPEAT" in str(spec_error(lstm))


def test_pedcc_with_a_million_classes_is_refused() -> None:
    text = "input: [16]\nlayers:\n  - pedcc: {classes: 10**6}\n"
    error = spec_error(text)
    assert "MAX_PEDCC_CLASSES" in str(error)
    assert (error.line, error.column) == position_of(text, "10**6")


def test_limits_are_read_when_checked_so_they_can_be_raised(monkeypatch: Any) -> None:
    monkeypatch.setattr(limits, "MAX_PEDCC_CLASSES", 10**6)
    report = spec.analyze("input: [16]\nlayers:\n  - pedcc: {classes: 10**6}\n")
    assert report.totals.frozen_params == 10**6 * 16


def test_a_long_chain_of_symbolic_strides_stops_at_the_symbolic_depth() -> None:
    text = ("input: [C, H, W]\nlayers:\n"
            "  - repeat: {n: 100, body: [{conv: {out: F, k: K, p: P, s: S}}]}\n")
    assert "MAX_SYMBOLIC_DEPTH" in str(spec_error(text))


# --- ref confinement --------------------------------------------------------------------

@pytest.fixture()
def folder(tmp_path: Path) -> Iterator[Path]:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "stem.yaml").write_text("layers: [{conv: {out: 4, k: 1}}]\n")
    (specs / "notes.yaml").write_text(f"- {SECRET}\n")
    (tmp_path / "x.yaml").write_text(f"layers: [relu]\n# {SECRET}\n")
    (specs / "escape.yaml").symlink_to(tmp_path / "x.yaml")
    yield specs


def net(folder: Path, target: str, input_: str = "[3, 8, 8]") -> Path:
    path = folder / "net.yaml"
    path.write_text(f"input: {input_}\nlayers:\n  - ref: {target}\n")
    return path


@pytest.mark.parametrize("target, problem", [
    ("/etc/passwd", "is not a spec file"), ("/proc/self/environ", "is not a spec file"),
    ("../x.yaml", "points outside the spec's folder"),
    ("escape.yaml", "points outside the spec's folder"),
    ("notes.yaml", "is not a spec (a mapping with 'layers:')"),
    ("missing.yaml", "not found"),
])
def test_ref_reads_only_spec_files_in_the_spec_folder(folder: Path, target: str,
                                                       problem: str) -> None:
    error = spec_error(net(folder, target))
    assert problem in str(error) and SECRET not in str(error)
    assert (error.line, error.column) == (3, 10)


def test_ref_inside_the_folder_and_into_the_examples_works(folder: Path) -> None:
    assert spec.analyze(net(folder, "stem.yaml")).totals.params == 4 * 3 + 4
    alexnet = Path(spec.example_path("alexnet"))
    input_ = next(line for line in alexnet.read_text().splitlines()
                  if line.startswith("input:")).partition(":")[2].partition("#")[0]
    inside = spec.analyze(net(folder, str(alexnet), input_.strip()))
    alone = spec.analyze(alexnet)
    assert inside.totals.params == alone.totals.params


def test_ref_outside_the_folder_needs_an_opt_in(folder: Path, monkeypatch: Any) -> None:
    with refs_outside_allowed():
        assert spec.analyze(net(folder, "../x.yaml")).totals.params == 0
    monkeypatch.setenv(limits.REF_OUTSIDE_ENV, "1")
    assert spec.analyze(net(folder, "escape.yaml")).totals.params == 0


def test_ref_errors_exit_2_in_the_cli(folder: Path) -> None:
    result = CliRunner().invoke(app, ["summary", str(net(folder, "/etc/passwd"))])
    assert result.exit_code == 2 and "root:" not in result.output


# --- documentation ----------------------------------------------------------------------

def test_every_limit_is_documented_with_its_value() -> None:
    document = (ROOT / "docs" / "spec-format.md").read_text(encoding="utf-8")
    section = document.split("## Limits", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `(MAX_\w+)` \| ([\d,_]+) \|", section, flags=re.MULTILINE))
    names = [name for name in limits.__all__ if name.startswith("MAX_")]
    assert sorted(rows) == sorted(names)
    for name in names:
        assert int(rows[name].replace(",", "").replace("_", "")) == getattr(limits, name)


def test_a_long_symbolic_network_stops_at_the_symbolic_limit_quickly() -> None:
    # 2200 dense iterations of 3 layers with a symbolic growth rate: summing thousands of
    # distinct sympy terms took 30 s; with numbers the same spec is analysed in full
    text = ("input: [c0, 8, 8]\nlayers:\n  - dense:\n      n: 2200\n      growth: k\n"
            "      body: [bn, relu, {conv: {out: growth, k: 3, p: 1, bias: false}}]\n")
    start = time.perf_counter()
    with pytest.raises(SpecError, match="MAX_SYMBOLIC_LAYERS"):
        spec.analyze(text)
    assert time.perf_counter() - start < 2
    report = spec.analyze(text.replace("n: 2200", "n: 30"), {"c0": 4, "k": 2})
    # conv i sees 4 + 2·i channels: Σ_i 3·3·(4 + 2i)·2 weights, + BN scale and shift
    assert report.totals.params == sum(9 * (4 + 2 * i) * 2 + 2 * (4 + 2 * i)
                                       for i in range(30))
