"""Fuzzing the spec path: whatever a spec or a ``--set`` holds, ``spec.analyze`` gives a
report or a located error (``file:line:col`` or the ``--set`` item), in under 2 s and
500 MB — never another exception, never a RecursionError.

Specs are generated (random layer types from LAYER_TYPES with random options of random
YAML types, random expressions with huge exponents, divisions by zero, deep nesting,
aliases and tags) and mutated from the built-in examples; hypothesis runs derandomized so
that CI is deterministic. The hand-written cases of each limit are in
``test_spec_limits.py``.
"""

from __future__ import annotations

import re
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netanatomy import spec
from netanatomy.errors import SpecError, UsageError
from netanatomy.frontends.spec.builder import BLOCK_TYPES
from netanatomy.frontends.spec.layers import LAYER_TYPES

BUDGET_S = 2.0
MEMORY_BUDGET = 500 * 2**20
LOCATED = re.compile(r"^.+?:\d+:\d+: \S")
FUZZ = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def outcome(run: Callable[[], Any]) -> str:
    """Run ``run`` within the time budget: "report" or the located error's message.

    Any exception other than a located SpecError or a UsageError that names its place
    (``--set ...``, ``symbol ...`` or ``file:line:col``) fails the test, as does taking
    longer than the budget.
    """
    start = time.perf_counter()
    try:
        run()
        result = "report"
    except SpecError as error:
        assert LOCATED.match(str(error)), f"SpecError without a location: {error}"
        result = str(error)
    except UsageError as error:
        message = str(error)
        assert LOCATED.match(message) or message.startswith(("--set ", "symbol ")), \
            f"UsageError naming no place: {message}"
        result = message
    elapsed = time.perf_counter() - start
    assert elapsed < BUDGET_S, f"took {elapsed:.2f} s (budget {BUDGET_S} s): {result[:200]}"
    return result


# --- random YAML ------------------------------------------------------------------------

NAMES = ["F", "K", "H", "W", "S", "P", "growth", "alpha"]
OPERATORS = ["+", "-", "*", "/", "//", "%", "**"]
SPECIAL_EXPRESSIONS = [
    "9**9**9", "2**1000", "8/0", "F%0", "F//(K-K)", "10**18", "1e400", "(-8)**0.5",
    "0**-1", "(F+1)**64**2", "(F/(K+1)+H/(F+2)+K/(H+3))**4", "(" * 300 + "1" + ")" * 300,
    "-" * 600 + "1", "1+" * 300 + "1", "F" * 600, "__import__('os')", "F(2)", "a.b", "1j",
    "lambda: 1", "[1]", "", "9" * 40, "2**F", "F**0.5", "1/3", "224*0.857",
]


@st.composite
def expressions(draw: st.DrawFn, depth: int = 4) -> str:
    """Random arithmetic on names and numbers, now and then a pathological one."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(SPECIAL_EXPRESSIONS))
    if depth == 0 or draw(st.booleans()):
        return draw(st.one_of(st.sampled_from(NAMES), st.integers(0, 300).map(str),
                              st.sampled_from(["0.5", "1e-5", "3.7", "64", "1e17"])))
    operator = draw(st.sampled_from(OPERATORS))
    left, right = draw(expressions(depth - 1)), draw(expressions(depth - 1))
    text = f"({left}){operator}({right})" if draw(st.booleans()) else f"{left}{operator}{right}"
    return f"-{text}" if draw(st.integers(0, 5)) == 0 else text


def quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


LEAF_TOKENS = [
    "0", "1", "-3", "7", "64", "300", "1000000000", "1000000000000000000", "9" * 30,
    "0.5", "1e-5", "1e308", "1e400", ".inf", "-.inf", ".nan", "true", "false", "yes", "'no'",
    "null", "~", "same", "valid", "A", "B", "nearest", "bilinear", "relu", "conv",
    "2001-02-03", "2001-02-30", "!foo 3", "!!python/object:os.system {}", "!!binary aGk=",
    "!!set {a}", "!!str 3", "!!int '3'", "!!float '1e999'", "'x'", "''", "{}", "[]",
    "[1, 2]", "[3, 3]", "{a: 1}", "[[1]]",
]


GOOD_TOKENS = ["1", "2", "3", "4", "8", "16", "F", "K", "'2*F'", "'F//2'", "true", "false",
               "same", "0.5"]


def leaves() -> st.SearchStrategy[str]:
    """Option values: half of them plausible, half of them anything."""
    nasty = st.one_of(st.sampled_from(LEAF_TOKENS), expressions().map(quoted),
                      st.integers(-10**20, 10**20).map(str))
    return st.one_of(st.sampled_from(GOOD_TOKENS), nasty)


def flow_map(items: dict[str, str]) -> str:
    return "{" + ", ".join(f"{key}: {value}" for key, value in items.items()) + "}"


def flow_list(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


@st.composite
def layer_lists(draw: st.DrawFn, depth: int = 2) -> str:
    return flow_list(draw(st.lists(layers(depth), max_size=4)))


@st.composite
def layers(draw: st.DrawFn, depth: int = 2) -> str:
    """One layer: a random type with random options, or a block with random contents."""
    kinds = sorted(LAYER_TYPES) + list(BLOCK_TYPES) * (3 if depth else 0) + ["rleu", "1"]
    kind = draw(st.sampled_from(kinds))
    if kind in BLOCK_TYPES:
        return flow_map({kind: draw(block_options(kind, depth - 1))})
    schema = [key for key in LAYER_TYPES[kind].options] if kind in LAYER_TYPES else []
    keys = draw(st.lists(st.sampled_from(schema + ["name", "junk"]), max_size=5, unique=True))
    if not keys and draw(st.booleans()):
        return kind
    shape = draw(st.integers(0, 9))
    if shape == 0:
        return flow_map({kind: draw(leaves())})  # a scalar where the options belong
    return flow_map({kind: flow_map({key: draw(leaves()) for key in keys})})


@st.composite
def block_options(draw: st.DrawFn, kind: str, depth: int) -> str:
    body = draw(layer_lists(depth)) if depth > 0 else "[relu]"
    count = draw(st.one_of(st.sampled_from(["2", "3", "0", "10**9", "'2*F'", "K"]), leaves()))
    if kind == "repeat":
        return flow_map({"n": count, "body": body})
    if kind == "dense":
        return flow_map({"n": count, "growth": draw(leaves()), "body": body})
    if kind == "residual":
        return body if draw(st.booleans()) else flow_map({"body": body, "shortcut": body})
    if kind == "branch":
        return flow_list([body, draw(layer_lists(max(depth, 0)))])
    if kind == "block":
        use = draw(st.sampled_from(["stage", "missing", "[stage]", "7"]))
        return use if draw(st.booleans()) else flow_map({"use": use, "with": draw(leaves())})
    return draw(st.sampled_from(["stem.yaml", "../outside.yaml", "/etc/passwd", "nope.yaml",
                                 "/proc/self/environ", "secret.txt", "self.yaml", "7"]))


def nested(inner: str, levels: int) -> str:
    """``inner`` inside ``levels`` residual blocks."""
    return "[{residual: " * levels + inner + "}]" * levels


def laughs(levels: int, copies: int) -> str:
    """Blocks whose aliases expand to copies**levels items ("billion laughs")."""
    lines = ["  l0: &l0 [relu, relu]"]
    for level in range(1, levels + 1):
        lines.append(f"  l{level}: &l{level} " + flow_list([f"*l{level - 1}"] * copies))
    return "\n".join(lines)


@st.composite
def spec_texts(draw: st.DrawFn) -> str:
    """A whole spec: input, symbols, blocks, layers, with now and then deep nesting,
    aliases that expand exponentially, or a wrong type at the top level."""
    inputs = ["[3, 16, 16]", "[C, H, W]", "[8]", "{tokens: 8}", "{sequence: [4, 8]}",
              "[3, 32, 32]", "[4, 8]", "[2, 8, 8, 8]"]
    input_ = draw(st.sampled_from(inputs) if draw(st.integers(0, 5)) else leaves())
    good_symbols = st.dictionaries(st.sampled_from(NAMES), st.sampled_from(GOOD_TOKENS[:6]),
                                   max_size=3)
    any_symbols = st.dictionaries(st.sampled_from(NAMES),
                                  st.one_of(expressions().map(quoted), leaves()), max_size=4)
    symbols = draw(st.one_of(good_symbols.map(flow_map), any_symbols.map(flow_map),
                             st.sampled_from(["[F, 8]", "8", "null"])) if draw(
        st.integers(0, 3)) == 0 else good_symbols.map(flow_map))
    body = draw(layer_lists())
    extra = draw(st.integers(0, 19))
    if extra == 0:
        body = nested(body, draw(st.integers(1, 150)))
    lines = [f"input: {input_}", f"symbols: {symbols}", "blocks:",
             f"  stage: {draw(layer_lists(1))}"]
    if extra == 1:
        lines.append(laughs(draw(st.integers(1, 12)), draw(st.integers(2, 10))))
    lines.append(f"layers: {body}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def spec_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a spec to ``ref``, and files next to and outside it that a ref
    must not read or echo."""
    root = tmp_path_factory.mktemp("fuzz")
    folder = root / "specs"
    folder.mkdir()
    (folder / "stem.yaml").write_text("symbols: {H: 2*W, W: 8}\nlayers: [relu]\n")
    (folder / "self.yaml").write_text("layers: [{ref: self.yaml}]\n")
    (folder / "secret.txt").write_text("TOP-SECRET-VALUE\n")
    (root / "outside.yaml").write_text("layers: [relu]\nsecret: TOP-SECRET-VALUE\n")
    return folder


@FUZZ
@given(text=spec_texts())
def test_random_specs_give_a_report_or_a_located_error(text: str, spec_dir: Path) -> None:
    path = spec_dir / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    message = outcome(lambda: spec.analyze(path))
    assert "TOP-SECRET-VALUE" not in message


EXAMPLES = {path.stem: path.read_text(encoding="utf-8")
            for path in sorted(spec.examples_folder().glob("*.yaml"))}
SCALAR = re.compile(r"(?<=[:\[,] )[^\s,\]\}\{\[#]+|(?<=\[)[^\s,\]\}\{\[#]+")


@st.composite
def mutated_examples(draw: st.DrawFn) -> str:
    """A built-in example with one to three of its scalars replaced by random values."""
    text = EXAMPLES[draw(st.sampled_from(sorted(EXAMPLES)))]
    for _ in range(draw(st.integers(1, 3))):
        spots = [match.span() for match in SCALAR.finditer(text)]
        start, end = draw(st.sampled_from(spots))
        text = text[:start] + draw(leaves()) + text[end:]
    return text


@FUZZ
@given(text=mutated_examples())
def test_mutated_examples_give_a_report_or_a_located_error(text: str) -> None:
    outcome(lambda: spec.analyze(text))


SYMBOLIC = """\
input: [D, H, W]
symbols: {K: 3}
layers:
  - conv: {out: F, k: K, p: 1}
  - repeat: {n: N, body: [{conv: {out: F, k: K, s: S, p: same}}, relu]}
  - globalavgpool
  - flatten
  - fc: {out: 10}
"""


@st.composite
def assignments(draw: st.DrawFn) -> list[str]:
    """``--set`` arguments: NAME=VALUE items, some malformed."""
    names = st.sampled_from(["F", "K", "H", "W", "D", "N", "S", "X", "", "1a", "F G"])
    values = st.one_of(expressions(), st.sampled_from(["inf", "nan", "-1", "0", "1e400", ""]),
                       st.integers(-10**30, 10**30).map(str))
    items = draw(st.lists(st.tuples(names, values), min_size=1, max_size=5))
    separator = draw(st.sampled_from(["=", "=", "=", ":", "=="]))
    return [",".join(f"{name}{separator}{value}" for name, value in items)]


@FUZZ
@given(settings_=assignments())
def test_random_set_values_give_a_report_or_an_error_naming_the_item(
        settings_: list[str]) -> None:
    outcome(lambda: spec.analyze(SYMBOLIC, spec.parse_assignments(settings_)))


@settings(max_examples=12, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=spec_texts())
def test_random_specs_stay_within_the_memory_budget(text: str) -> None:
    tracemalloc.start()
    try:
        try:
            spec.analyze(text)
        except (SpecError, UsageError):
            pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BUDGET, f"peak {peak / 2**20:.0f} MB"
