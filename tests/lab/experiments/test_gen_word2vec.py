"""word2vec-sgns: gradients in closed form vs autograd; tied tables and a topic-free corpus
fail."""

from __future__ import annotations

import math
from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_gradients_and_neighbours(lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("word2vec-sgns")
    assert result.passed
    assert result.data["chance"] == 4 / 19               # (w − 1)/(V − 1), 4 topics × 5
    assert result.data["purity"] == 1.0
    # before training the scores are near 0: loss ≈ (K + 1)·log 2 with K = 5
    assert abs(result.data["losses"][0] - 6 * math.log(2)) < 0.2
    assert check(result, "max |∂L/∂v").measured < 1e-13


def test_tied_tables_break_the_separate_gradient_formulas() -> None:
    result = lab.run("word2vec-sgns", tied=True)
    assert result.verdict == "fail"
    assert not check(result, "max |∂L/∂v").passed


def test_a_corpus_without_topics_has_no_topic_neighbours() -> None:
    result = lab.run("word2vec-sgns", corpus="uniform")
    assert result.verdict == "fail"
    assert not check(result, "nearest neighbour").passed
