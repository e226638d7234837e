"""Spec semantics that used to give wrong numbers: layer names, booleans, symbol order,
fractional sizes, and values only ``spec.build`` (torch) rejected. Expected numbers are
hand formulas; acceptance of deconv/softmax settings is checked against torch itself."""

from __future__ import annotations

import json
import random
import string
import textwrap
from typing import Any

import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from netanatomy import spec
from netanatomy.cli.main import app
from netanatomy.errors import SpecError, UsageError
from netanatomy.frontends.spec import LAYER_TYPES, load_spec, spec_graph
from netanatomy.frontends.spec.spec import resolve_symbols

runner = CliRunner()
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def analyse(text: str, symbols: dict[str, Any] | None = None) -> Any:
    return spec.analyze(textwrap.dedent(text).strip() + "\n", symbols)


def located(text: str, symbols: dict[str, Any] | None = None) -> SpecError:
    with pytest.raises(SpecError) as caught:
        analyse(text, symbols)
    return caught.value


def conv_params(c_in: int, c_out: int, k: int, bias: bool = True) -> int:
    return c_out * c_in * k * k + (c_out if bias else 0)


# ----------------------------------------------------------------------------- names

def test_two_named_convs_keep_both_parameter_sets() -> None:
    report = analyse("""
        input: [3, 8, 8]
        layers:
          - conv: {out: 8, k: 3, name: a}
          - conv: {out: 8, k: 1, name: b}
        """)
    assert report.totals.params == conv_params(3, 8, 3) + conv_params(8, 8, 1) == 296


def test_a_duplicate_name_is_refused_at_the_second_name() -> None:
    error = located("""
        input: [3, 8, 8]
        layers:
          - conv: {out: 8, k: 3, name: a}
          - conv: {out: 8, k: 1, name: a}
        """)
    assert (error.line, error.column) == (4, 32)
    assert "'a' is already used by layers[0] (conv)" in str(error)


@pytest.mark.parametrize(("name", "message"), [
    ("''", "is empty"), ("a.b", "contains '.'"), ("'a b'", "contains '.' or a space"),
    ("true", "must be a string"), ("[a]", "must be a string"),
])
def test_names_are_single_path_segments(name: str, message: str) -> None:
    error = located(f"""
        input: [3, 8, 8]
        layers:
          - conv: {{out: 8, k: 3, name: {name}}}
        """)
    assert message in str(error) and error.line == 3


def test_a_name_that_takes_a_siblings_index_is_refused() -> None:
    error = located("""
        input: [3, 8, 8]
        layers:
          - conv: {out: 8, k: 3, name: 1}
          - relu
        """)
    assert "module path '1' is already used" in str(error) and error.line == 4


def test_names_repeat_across_copies_of_a_block() -> None:
    report = analyse("""
        input: [4, 8, 8]
        layers:
          - repeat: {n: 3, body: [{conv: {out: 4, k: 3, p: 1, name: c}}, relu]}
          - residual: [{conv: {out: 4, k: 1, name: c}}]
        """)
    assert report.totals.params == 3 * conv_params(4, 4, 3) + conv_params(4, 4, 1)
    assert {row.path for row in report.tree(3)} >= {"0.0.c", "0.2.c", "1.body.c"}


# -------------------------------------------------------------------------- booleans

def test_false_bias_drops_the_bias() -> None:
    report = analyse("""
        input: [3, 8, 8]
        layers:
          - conv: {out: 8, k: 3, bias: false}
        """)
    assert report.totals.params == conv_params(3, 8, 3, bias=False)


BOOLEAN_CASES: dict[str, tuple[str, str]] = {
    # layer type: (input, the layer's required options)
    "conv": ("[3, 8, 8]", "out: 4, k: 3"), "dwconv": ("[3, 8, 8]", "k: 3"),
    "sepconv": ("[3, 8, 8]", "out: 4, k: 3"), "deconv": ("[3, 8, 8]", "out: 4, k: 3"),
    "maskedconv": ("[3, 8, 8]", "type: A, out: 4, k: 3"),
    "deformconv": ("[3, 8, 8]", "out: 4, k: 3"), "maxpool": ("[3, 8, 8]", "k: 2"),
    "avgpool": ("[3, 8, 8]", "k: 2"), "in": ("[3, 8, 8]", ""), "prelu": ("[3, 8, 8]", ""),
    "fc": ("[6]", "out: 4"), "rnn": ("{sequence: [5, 6]}", "hidden: 4"),
    "lstm": ("{sequence: [5, 6]}", "hidden: 4"), "gru": ("{sequence: [5, 6]}", "hidden: 4"),
}
BOOLEAN_OPTIONS = [(kind, key) for kind, layer_type in LAYER_TYPES.items()
                   for key, default in layer_type.options.items() if isinstance(default, bool)]


def test_every_boolean_option_has_a_case() -> None:
    assert {kind for kind, _ in BOOLEAN_OPTIONS} == set(BOOLEAN_CASES)


def boolean_spec(kind: str, key: str, value: str) -> str:
    shape, required = BOOLEAN_CASES[kind]
    options = ", ".join(filter(None, [required, f"{key}: {value}"]))
    return f"input: {shape}\nlayers:\n  - {kind}: {{{options}}}\n"


QUOTED = st.one_of(
    st.sampled_from(["false", "False", "no", "off", "true", "yes", "on", "0", "1", "n", ""]),
    st.text(alphabet=string.ascii_letters + string.digits + " -_.,!?'\"", max_size=8))


@FAST
@given(st.sampled_from(BOOLEAN_OPTIONS), QUOTED, st.booleans())
def test_quoted_booleans_are_refused_for_every_boolean_option(option: tuple[str, str],
                                                              text: str, single: bool) -> None:
    kind, key = option
    quoted = f"'{text}'" if single and "'" not in text else json.dumps(text)
    source = boolean_spec(kind, key, quoted)
    with pytest.raises(SpecError) as caught:
        spec.analyze(source)
    error = caught.value
    assert f"'{key}' must be true or false" in str(error) and "write true or false" in error.hint
    line = source.splitlines()[2]
    assert (error.line, error.column) == (3, line.index(f"{key}: ") + len(key) + 3)


@pytest.mark.parametrize(("kind", "key"), BOOLEAN_OPTIONS)
def test_yaml_booleans_are_accepted(kind: str, key: str) -> None:
    for value in ("true", "false", "yes", "no"):   # YAML 1.1 booleans, unquoted
        spec.analyze(boolean_spec(kind, key, value))


# --------------------------------------------------------------------------- symbols

def test_symbols_resolve_whatever_the_order_written() -> None:
    report = analyse("""
        input: [3, 8, 8]
        symbols: {H: 2*W, W: 8}
        layers:
          - conv: {out: H, k: 3}
        """)
    assert report.totals.params == conv_params(3, 16, 3)


def test_set_values_resolve_whatever_the_order_written() -> None:
    values = spec.parse_assignments(["H=W*2,W=8"])
    report = analyse("""
        input: [3, 8, 8]
        layers:
          - conv: {out: H, k: 3}
        """, values)
    assert report.totals.params == conv_params(3, 16, 3)


def test_a_cycle_in_the_spec_is_located_and_named() -> None:
    error = located("""
        input: [3, 8, 8]
        symbols:
          A: B
          B: A
        layers:
          - conv: {out: A, k: 3}
        """)
    assert "symbols A, B depend on each other" in str(error) and error.line == 3


def test_symbols_of_a_referenced_file_resolve_in_order_too(tmp_path: Any) -> None:
    (tmp_path / "stem.yaml").write_text("input: [3, 8, 8]\nsymbols: {H: 2*W, W: 8}\n"
                                        "layers:\n  - conv: {out: H, k: 3}\n")
    (tmp_path / "net.yaml").write_text("input: [3, 8, 8]\nlayers:\n  - ref: stem.yaml\n")
    assert spec.analyze(tmp_path / "net.yaml").totals.params == conv_params(3, 16, 3)
    assert spec.analyze(tmp_path / "net.yaml", {"W": 4}).totals.params == conv_params(3, 8, 3)


CONV = "docs/examples/conv.yaml"


@pytest.mark.parametrize(("arguments", "message"), [
    (["--set", "K=F,F=K"], "--set K=F: symbols K, F depend on each other"),
    (["--set", "K=3", "--set", "K=5"], "--set K=5: K is already given (--set K=3)"),
    (["--set", "K=3,K=5"], "--set K=5: K is already given"),
    (["--set", "Q=3"], "--set Q=3: the spec has no symbol 'Q' (symbols: D, F, H, K, W)"),
    (["--set", "k=3"], "did you mean K?"),
    (["--set", "KK=3"], "did you mean K?"),
])
def test_set_errors_point_at_the_command_line(arguments: list[str], message: str) -> None:
    result = runner.invoke(app, ["summary", CONV, *arguments])
    assert result.exit_code == 2
    assert message in result.output, result.output


@pytest.mark.parametrize(("arguments", "message"), [
    (["--vary", "Q=1,2"], "--vary Q=1,2: the spec has no symbol 'Q'"),
    (["--vary", "K=1,3", "--vary", "K=5"], "--vary K=5: K is already given (--vary K=1,3)"),
    (["--vary", "K=3,5", "--set", "K=3"], "--vary K=3,5: K is already given (--set K=3)"),
    (["--vary", "K=1.5,2.5", "--set", "F=4,D=3,H=8,W=8"],
     "'k' must be a whole number, found 1.5 (k: K, K from --vary K=1.5,2.5)"),
])
def test_vary_errors_point_at_the_command_line(arguments: list[str], message: str) -> None:
    result = runner.invoke(app, ["sweep", CONV, *arguments])
    assert result.exit_code == 2
    assert message in result.output, result.output


def test_compare_takes_each_specs_own_symbols() -> None:
    result = runner.invoke(app, ["compare", CONV, "example:mobilenet-v1", "--set",
                                 "alpha=0.5,K=3,F=8,D=3,H=8,W=8", "-f", "json"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["compare", CONV, "example:mobilenet-v1", "--set", "beta=1"])
    assert result.exit_code == 2 and "the specs have no symbol 'beta'" in result.output


def test_the_api_refuses_unknown_symbols_too() -> None:
    with pytest.raises(UsageError, match="symbol Q=3: the spec has no symbol 'Q'"):
        spec.analyze(CONV, {"Q": 3})


@st.composite
def dags(draw: Any) -> tuple[list[int], list[list[int]], list[int]]:
    """Symbol i = constant_i + the sum of the symbols it uses (all of smaller index), and
    the order the symbols are written in."""
    count = draw(st.integers(1, 7))
    constants = draw(st.lists(st.integers(1, 9), min_size=count, max_size=count))
    uses = [draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []
            for i in range(count)]
    order = draw(st.permutations(range(count)))
    return constants, uses, list(order)


def topological_values(constants: list[int], uses: list[list[int]]) -> list[int]:
    values: list[int] = []
    for constant, used in zip(constants, uses):       # index order is topological
        values.append(constant + sum(values[j] for j in used))
    return values


def expression(constant: int, used: list[int]) -> str:
    return " + ".join([str(constant), *(f"S{j}" for j in used)])


@FAST
@given(dags(), st.integers(0, 2**16))
def test_random_symbol_graphs_resolve_like_a_topological_evaluation(
        dag: tuple[list[int], list[list[int]], list[int]], seed: int) -> None:
    constants, uses, order = dag
    outside = {i for i in order if random.Random(seed + i).random() < 0.3}
    lines = [f"  S{i}: {expression(constants[i], uses[i])}" for i in order if i not in outside]
    total = " + ".join(f"S{i}" for i in range(len(constants)))
    text = ("input: [4]\nsymbols:\n" + ("\n".join(lines) if lines else "  {}") + "\n"
            f"layers:\n  - fc: {{out: {total}}}\n").replace("symbols:\n  {}", "symbols: {}")
    overrides = spec.Assignments({f"S{i}": expression(constants[i], uses[i])
                                  for i in order if i in outside})
    expected = topological_values(constants, uses)
    loaded = load_spec(text)
    assert resolve_symbols(loaded, overrides) == {f"S{i}": v for i, v in enumerate(expected)}
    graph = spec_graph(loaded, overrides)
    assert sum(p.numel for p in graph.params.values()) == sum(expected) * 4 + sum(expected)


@FAST
@given(st.integers(1, 4), st.integers(0, 3), st.permutations(range(7)))
def test_random_cycles_are_refused_naming_their_members(length: int, extra: int,
                                                       shuffle: list[int]) -> None:
    # C0 → C1 → … → C0, plus acyclic symbols E that use cycle members
    members = [f"C{i}" for i in range(length)]
    entries = {name: f"{members[(i + 1) % length]} + 1" for i, name in enumerate(members)}
    entries |= {f"E{j}": f"{members[j % length]} * 2" for j in range(extra)}
    names = sorted(entries, key=lambda n: shuffle[sorted(entries).index(n) % 7])
    text = ("input: [4]\nsymbols:\n" + "\n".join(f"  {n}: {entries[n]}" for n in names)
            + "\nlayers:\n  - relu\n")
    with pytest.raises(SpecError) as caught:
        spec.analyze(text)
    message = str(caught.value)
    assert f"symbols {', '.join(sorted(members, key=names.index))} depend on each other" \
        in message
    assert 3 <= caught.value.line <= 2 + len(names)
    assert text.splitlines()[caught.value.line - 1].strip().split(":")[0] in members


# -------------------------------------------------------------------------- integers

def test_a_fractional_set_value_is_refused_where_an_integer_is_meant() -> None:
    result = runner.invoke(app, ["summary", CONV, "--set", "K=2.5,F=4,D=3,H=8,W=8"])
    assert result.exit_code == 2
    assert "conv.yaml:5:23: 'k' must be a whole number, found 2.5 (k: K, K from --set " \
           "K=2.5)" in result.output


@pytest.mark.parametrize(("value", "message"), [
    ("2.5", "'k' must be a whole number, found 2.5"),
    ("F/2", "'k' must be a whole number, found 2.5 (k: F/2)"),
])
def test_fractions_that_are_not_multipliers_are_refused(value: str, message: str) -> None:
    error = located(f"""
        input: [3, 8, 8]
        symbols: {{F: 5}}
        layers:
          - conv: {{out: 4, k: {value}}}
        """)
    assert message in str(error) and (error.line, error.column) == (4, 23)


@pytest.mark.parametrize(("alpha", "channels"), [
    (0.3, 10),          # 32 · 0.3 = 9.6 → 10
    (33 / 64, 17),      # 32 · 33/64 = 16.5 → 17 (half up; Python's round gives 16)
    (0.25, 8),          # exact: no rounding
])
def test_multipliers_round_half_up_and_say_so(alpha: float, channels: int) -> None:
    report = analyse("""
        input: [3, 8, 8]
        layers:
          - conv: {out: 32*alpha, k: 3}
        """, {"alpha": alpha})
    assert report.totals.params == conv_params(3, channels, 3)
    rounded = [note for note in report.graph.capture.notes if note.startswith("rounded")]
    if (32 * alpha).is_integer():
        assert rounded == []
    else:
        assert rounded == [f"rounded 32*alpha = {32 * alpha:.10g} → {channels} at "
                           "layers[0] (conv) 'out'"]


def test_mobilenet_resolution_multiplier_rounds_without_a_note() -> None:
    # 224 · (192/224) is 191.99999999999997 in floats: float noise, not a rounding
    report = spec.analyze("example:mobilenet-v1", {"rho": 192 / 224})
    assert report.graph.inputs[0].shape == (1, 3, 192, 192)
    assert not any(n.startswith("rounded") for n in report.graph.capture.notes)


INTEGER_CASES = [
    # (input, layer line with {v} for the value, option, a valid integer value)
    ("[4, 8, 8]", "conv: {{out: {v}, k: 3}}", "out", 6),
    ("[4, 8, 8]", "conv: {{out: 4, k: {v}}}", "k", 3),
    ("[4, 8, 8]", "conv: {{out: 4, k: 3, s: {v}}}", "s", 2),
    ("[4, 8, 8]", "conv: {{out: 4, k: 3, p: {v}}}", "p", 1),
    ("[4, 8, 8]", "conv: {{out: 4, k: 3, d: {v}}}", "d", 2),
    ("[4, 8, 8]", "conv: {{out: 4, k: 3, groups: {v}}}", "groups", 2),
    ("[4, 8, 8]", "dwconv: {{k: 3, multiplier: {v}}}", "multiplier", 2),
    ("[4, 8, 8]", "deconv: {{out: 4, k: 3, s: 2, output_padding: {v}}}", "output_padding", 1),
    ("[4, 8, 8]", "maxpool: {{k: {v}}}", "k", 2),
    ("[4, 8, 8]", "avgpool: {{k: 3, s: {v}}}", "s", 2),
    ("[4, 8, 8]", "adaptiveavgpool: {{size: {v}}}", "size", 3),
    ("[4, 8, 8]", "crop: {{amount: {v}}}", "amount", 2),
    ("[4, 8, 8]", "gn: {{groups: {v}}}", "groups", 2),
    ("[6]", "fc: {{out: {v}}}", "out", 5),
    ("[6]", "pedcc: {{classes: {v}}}", "classes", 5),
    ("{tokens: 7}", "embedding: {{vocab: {v}, dim: 4}}", "vocab", 11),
    ("{sequence: [5, 6]}", "lstm: {{hidden: {v}}}", "hidden", 4),
    ("{sequence: [5, 6]}", "gru: {{hidden: 4, layers: {v}}}", "layers", 2),
    ("[4, 8, 8]", "softmax: {{dim: {v}}}", "dim", 2),
    ("[4, 8, 8]", "repeat: {{n: {v}, body: [{{conv: {{out: 4, k: 1}}}}]}}", "n", 2),
    ("[4, 8, 8]", "dense: {{n: 2, growth: {v}, body: [{{conv: {{out: growth, k: 1}}}}]}}",
     "growth", 3),
]


def integer_spec(case: tuple[str, str, str, int], value: Any) -> str:
    shape, line, _, _ = case
    return f"input: {shape}\nlayers:\n  - {line.format(v=value)}\n"


@FAST
@given(st.sampled_from(INTEGER_CASES),
       # floats within 1e-9 of a whole number are taken as it (frontends/spec/values.py)
       st.floats(0.01, 64, allow_nan=False).filter(lambda v: abs(v - round(v)) > 1e-6))
def test_non_integers_are_refused_for_integer_options(case: tuple[str, str, str, int],
                                                       value: float) -> None:
    with pytest.raises(SpecError) as caught:
        spec.analyze(integer_spec(case, repr(value)))
    assert f"'{case[2]}' must be a whole number, found {value:.10g}" in str(caught.value)
    assert caught.value.line == 3


@pytest.mark.parametrize("case", INTEGER_CASES, ids=[f"{c[1].split(':')[0]}-{c[2]}"
                                                     for c in INTEGER_CASES])
def test_integer_valued_floats_count_as_the_integer(case: tuple[str, str, str, int]) -> None:
    whole, as_float = (spec.analyze(integer_spec(case, v)) for v in (case[3], f"{case[3]}.0"))
    assert as_float.totals.params == whole.totals.params
    assert as_float.totals.macs == whole.totals.macs
    assert as_float.graph.outputs[0].shape == whole.graph.outputs[0].shape


def test_fractional_input_sizes_are_refused() -> None:
    error = located("""
        input: [3, 22.5, 8]
        layers: [relu]
        """)
    assert "'input' must be a whole number, found 22.5" in str(error)


# ------------------------------------------------- values only spec.build used to reject

@pytest.mark.parametrize(("out", "accepted"), [
    ('"-F"', False), ('"-2*F"', False), ('"1 - F"', False), ('"F - 10"', True), ("F", True),
])
def test_symbolic_counts_that_sympy_proves_non_positive_are_refused(out: str,
                                                                   accepted: bool) -> None:
    text = f"input: [3, 8, 8]\nlayers:\n  - conv: {{out: {out}, k: 3}}\n"
    if accepted:
        F = sympy.Symbol("F", positive=True, integer=True)
        params = spec.analyze(text).totals.params
        expected = sympy.sympify(out.strip('"'), locals={"F": F})
        assert sympy.simplify(params - (expected * 27 + expected)) == 0
        return
    with pytest.raises(SpecError, match="'out' must be positive, found .* for every value"):
        spec.analyze(text)


def test_an_empty_input_is_refused() -> None:
    for shape in ("[]", "{tokens: []}"):
        error = located(f"input: {shape}\nlayers: [relu]\n")
        assert "the input has no sizes" in str(error) and error.line == 1


def test_a_non_numeric_slope_is_refused() -> None:
    error = located("input: [3, 8, 8]\nlayers:\n  - leakyrelu: {slope: abc}\n")
    assert "'slope' must be a number, found 'abc'" in str(error)
    assert (error.line, error.column) == (3, 24)
    spec.analyze("input: [3, 8, 8]\nlayers:\n  - leakyrelu: {slope: -0.2}\n")


def torch_accepts(build: Any) -> bool:
    try:
        build()
    except (RuntimeError, IndexError, ValueError):
        return False
    return True


@pytest.mark.parametrize("dim", range(-5, 5))
def test_softmax_dims_match_torch(dim: int) -> None:
    torch = pytest.importorskip("torch")
    accepted = torch_accepts(lambda: torch.softmax(torch.zeros(1, 3, 4, 4), dim))
    text = f"input: [3, 4, 4]\nlayers:\n  - softmax: {{dim: {dim}}}\n"
    if accepted:
        spec.analyze(text)
    else:
        with pytest.raises(SpecError, match=f"'dim' {dim} is out of range"):
            spec.analyze(text)


@pytest.mark.parametrize(("padding", "stride", "dilation"),
                         [(p, s, d) for p in range(3) for s in (1, 2) for d in (1, 2)])
def test_deconv_output_padding_matches_torch(padding: int, stride: int, dilation: int) -> None:
    torch = pytest.importorskip("torch")
    layer = torch.nn.ConvTranspose2d(2, 2, 3, stride=stride, dilation=dilation,
                                     output_padding=padding)
    accepted = torch_accepts(lambda: layer(torch.zeros(1, 2, 5, 5)))
    text = (f"input: [2, 5, 5]\nlayers:\n  - deconv: {{out: 2, k: 3, s: {stride}, "
            f"d: {dilation}, output_padding: {padding}}}\n")
    if accepted:
        spec.analyze(text)
    else:
        with pytest.raises(SpecError, match="'output_padding' .* must be smaller"):
            spec.analyze(text)


def test_symbolic_output_padding_is_refused_when_provably_too_large() -> None:
    error = located("""
        input: [2, 5, 5]
        layers:
          - deconv: {out: 2, k: 3, s: S, output_padding: S}
        """)
    assert "'output_padding' S must be smaller than the stride (S)" in str(error)
    analyse("""
        input: [2, 5, 5]
        layers:
          - deconv: {out: 2, k: 3, s: S, output_padding: S - 1}
        """)
