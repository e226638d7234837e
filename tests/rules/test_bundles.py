"""Every op kind of ir/kinds.py has one complete rule bundle, and only listed kinds have one."""

from __future__ import annotations

import pytest

from netanatomy.ir.kinds import GROUPS, KINDS, UNKNOWN, kinds_in
from netanatomy.rules import METRICS, has_rule, known_kinds, rule_for


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_gives_every_metric_and_a_convention(kind: str) -> None:
    bundle = rule_for(kind)
    assert bundle.missing() == (), f"{kind} lacks {bundle.missing()}"
    assert bundle.convention, f"{kind} states no convention"


def test_only_listed_kinds_have_rules() -> None:
    assert set(known_kinds()) <= set(KINDS), set(known_kinds()) - set(KINDS)


def test_unknown_has_no_rule() -> None:
    assert not has_rule(UNKNOWN) and UNKNOWN not in KINDS


def test_every_kind_is_in_one_group() -> None:
    grouped = [name for group in GROUPS for name in kinds_in(group)]
    assert sorted(grouped) == sorted(KINDS)


def test_metrics_are_six() -> None:
    assert len(METRICS) == 6
