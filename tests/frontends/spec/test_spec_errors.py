"""Malformed specs: one message with file:line:column, the layer's path, expected vs found,
and a hint — never a traceback or a wrong number."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netanatomy
from netanatomy import spec
from netanatomy.errors import NetanatomyError, SpecError

CASES = [
    ("unknown layer", """
        input: [3, 8, 8]
        layers:
          - conv: {out: 4, k: 3}
          - rleu
        """, (4, 5), "unknown layer type 'rleu'", "did you mean relu"),
    ("unknown option", """
        input: [3, 8, 8]
        layers:
          - conv: {out: 4, kernel: 3}
        """, (3, 28), "unknown option 'kernel' for 'conv'", "'conv' takes"),
    ("missing option", """
        input: [3, 8, 8]
        layers:
          - conv: {k: 3}
        """, (3, 11), "'conv' needs option 'out'", "e.g. conv"),
    ("bad value", """
        input: [3, 8, 8]
        layers:
          - conv: {out: -4, k: 3}
        """, (3, 17), "'out' must be positive, found -4", ""),
    ("code is never run", """
        input: [3, 8, 8]
        layers:
          - conv: {out: "__import__('os').system('true')", k: 3}
        """, (3, 17), "only numbers, names and", "use numbers"),
    ("kernel larger than input", """
        input: [3, 8, 8]
        layers:
          - conv: {out: 4, k: 9}
        """, (3, 11), "has a non-positive size", "kernel is larger"),
    ("channel mismatch at a merge", """
        input: [3, 8, 8]
        layers:
          - residual:
              - conv: {out: 8, k: 3, p: 1}
        """, (4, 7), "residual body gives (8, 8, 8) but the shortcut gives (3, 8, 8)",
     "add a 'shortcut:'"),
    ("shape mismatch in a branch", """
        input: [3, 8, 8]
        layers:
          - branch:
              - [{conv: {out: 4, k: 1}}]
              - [{conv: {out: 4, k: 3}}]
        """, (4, 7), "branch paths end in different shapes", "equal spatial sizes"),
    ("groups do not divide", """
        input: [6, 8, 8]
        layers:
          - conv: {out: 4, k: 3, groups: 4}
        """, (3, 34), "input channels (6) is not divisible by groups (4)", "groups must"),
    ("fc on an image", """
        input: [3, 8, 8]
        layers:
          - fc: {out: 10}
        """, (3, 9), "fc needs a flat input", "add 'flatten'"),
    ("wrong number of per-axis values", """
        input: [3, 8, 8]
        layers:
          - conv: {out: 4, k: [3, 3, 3]}
        """, (3, 23), "'k' has 3 values but the input has 2 spatial axes", "give one value"),
    ("invalid yaml", """
        input: [3, 8, 8
        layers: []
        """, None, "invalid YAML", "indentation"),
    ("unknown top-level key", """
        input: [3, 8, 8]
        layerz: []
        """, (2, 9), "unknown top-level key 'layerz'", "allowed"),
]


@pytest.mark.parametrize("name, text, position, message, hint", CASES,
                         ids=[case[0] for case in CASES])
def test_errors_are_located_and_explained(name: str, text: str, position: tuple[int, int] | None,
                                          message: str, hint: str) -> None:
    with pytest.raises(SpecError) as caught:
        spec.analyze(textwrap.dedent(text).strip() + "\n")
    error = caught.value
    assert message in str(error)
    assert hint in str(error)
    assert str(error).startswith("<spec>:")
    if position is not None:
        assert (error.line, error.column) == position, str(error)


def test_error_names_the_layer_path(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "net.yaml"
    path.write_text("input: [3, 8, 8]\nlayers:\n  - branch:\n      - [relu]\n"
                    "      - [{conv: {out: 4, k: 3, p: 1}}, {maxpool: {k: 2, s: -2}}]\n")
    with pytest.raises(SpecError) as caught:
        spec.analyze(path)
    text = str(caught.value)
    assert text.startswith(f"{path}:5:")
    assert "layers[0] (branch)[1][1] (maxpool)" in text
    assert "'s' must be positive, found -2" in text


LAYER_LINES = st.sampled_from([
    "- conv: {out: 4, k: 3, p: 1}", "- relu", "- bn", "- maxpool: {k: 2}",
    "- dwconv: {k: 3, p: same}", "- sepconv: {out: 6, k: 3, p: 1}",
    "- residual: [{dwconv: {k: 3, p: 1}}]", "- upsample: {scale: 2}",
    "- avgpool: {k: 3, s: 1, p: 1}", "- gn: {groups: 2}", "- deconv: {out: 4, k: 2, s: 2}",
])
BROKEN_LINES = st.sampled_from([
    "- conv: {out: 4}", "- conv: {out: 4, k: 99}", "- nosuchlayer", "- conv: {out: x y, k: 3}",
    "- maxpool: {k: 2, p: 5}", "- fc: {out: 3}", "- residual: [{conv: {out: 5, k: 3, p: 1}}]",
    "- conv: {out: 4, k: 3, groups: 3}", "- conv: [1, 2]",
])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LAYER_LINES, min_size=1, max_size=6))
def test_random_valid_specs_analyse(lines: list[str]) -> None:
    text = "input: [4, 16, 16]\nlayers:\n" + "\n".join("  " + line for line in lines) + "\n"
    try:
        report = spec.analyze(text)
    except SpecError as error:   # only shrinking below 1 pixel may legitimately fail
        assert "non-positive size" in str(error)
        return
    # against torch: the built module's parameters, and its MACs counted by the torch
    # front-end on the aten ops it runs (not by the spec's layer formulas)
    model = spec.build(text)
    assert report.totals.params == sum(p.numel() for p in model.parameters())
    captured = netanatomy.analyze(model, (1, 4, 16, 16))
    assert report.totals.macs == captured.totals.macs


@settings(max_examples=40, deadline=None)
@given(st.lists(LAYER_LINES, max_size=3), BROKEN_LINES, st.lists(LAYER_LINES, max_size=2))
def test_random_invalid_specs_fail_with_our_error(before: list[str], broken: str,
                                                  after: list[str]) -> None:
    lines = before + [broken] + after
    text = "input: [4, 16, 16]\nlayers:\n" + "\n".join("  " + line for line in lines) + "\n"
    with pytest.raises(NetanatomyError):
        spec.analyze(text)
