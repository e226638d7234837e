"""The one registry: duplicates and unknown metrics are refused, every kind is costed."""

from __future__ import annotations

import pytest

import netanatomy.rules.registry as registry
from netanatomy.errors import NetanatomyError, RuleError
from netanatomy.rules import METRICS, formula, get_formula, has_rule, known_kinds


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> dict:
    """A copy of the registry, so registering in a test leaves the real one untouched."""
    copy = {kind: dict(by_metric) for kind, by_metric in registry._FORMULAS.items()}
    monkeypatch.setattr(registry, "_FORMULAS", copy)
    return copy


def test_metrics_are_the_documented_six() -> None:
    assert METRICS == ("output_shapes", "params", "macs", "elementwise_flops", "bytes", "rf")


def test_duplicate_registration_raises(scratch_registry) -> None:
    original = get_formula("conv", "macs")
    with pytest.raises(RuleError, match="conv"):
        formula("conv", "macs")(lambda inputs, outputs, attrs: 0)
    assert get_formula("conv", "macs") is original


def test_duplicate_within_one_decorator_raises(scratch_registry) -> None:
    with pytest.raises(RuleError):
        formula(("test_kind_twice", "test_kind_twice"), "macs")(lambda i, o, a: 0)


def test_refused_registration_leaves_the_registry_unchanged(scratch_registry) -> None:
    with pytest.raises(RuleError):
        formula(("test_kind_fresh", "conv"), "macs")(lambda i, o, a: 0)
    assert not has_rule("test_kind_fresh")


def test_unknown_metric_is_refused_at_registration(scratch_registry) -> None:
    with pytest.raises(RuleError, match="flops"):
        formula("test_kind", "flops")
    assert not has_rule("test_kind")


def test_unknown_metric_is_refused_at_lookup() -> None:
    with pytest.raises(RuleError):
        get_formula("conv", "mac")


def test_rule_error_is_a_netanatomy_error() -> None:
    assert issubclass(RuleError, NetanatomyError)


def test_registration_returns_the_function_and_registers_it(scratch_registry) -> None:
    def test_kind_macs(inputs, outputs, attrs):
        return 7

    assert formula(("test_kind_a", "test_kind_b"), "macs")(test_kind_macs) is test_kind_macs
    assert get_formula("test_kind_a", "macs") is test_kind_macs
    assert get_formula("test_kind_b", "macs") is test_kind_macs
    assert get_formula("test_kind_a", "rf") is None        # not given: unknown, not 0
    assert has_rule("test_kind_a") and "test_kind_b" in registry.known_kinds()


def test_missing_kind_has_no_rule() -> None:
    assert not has_rule("no_such_kind")
    assert get_formula("no_such_kind", "macs") is None


def test_known_kinds_are_sorted_and_are_the_listed_kinds() -> None:
    from netanatomy.ir.kinds import KINDS

    kinds = known_kinds()
    assert list(kinds) == sorted(kinds)
    assert set(kinds) == set(KINDS)          # ir/kinds.py is the one list


@pytest.mark.parametrize("kind", known_kinds())
def test_every_kind_has_costs(kind) -> None:
    assert callable(get_formula(kind, "macs"))
    assert callable(get_formula(kind, "elementwise_flops"))


def test_window_ops_have_rf_formulas() -> None:
    for kind in ("conv", "conv_transpose", "pool", "adaptive_pool", "upsample", "sample",
                 "pad"):
        assert callable(get_formula(kind, "rf")), kind
