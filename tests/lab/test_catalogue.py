"""Every experiment of the lab: passes at its defaults, has a failing-premise test, a
figure, JSON-able data, and a section with its figure on its topic's docs page."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from netanatomy import lab
from netanatomy.lab.base import TOPICS, LabResult
from netanatomy.render.catalog import write

ROOT = Path(__file__).resolve().parents[2]
NAMES = list(lab.catalogue())
TESTS = "\n".join(path.read_text(encoding="utf-8")
                  for path in (ROOT / "tests" / "lab" / "experiments").glob("test_*.py"))


def test_every_topic_has_experiments_and_a_page() -> None:
    by_topic = {entry.topic for entry in lab.catalogue().values()}
    assert by_topic == set(TOPICS)
    for topic in TOPICS:
        assert (ROOT / "docs" / "lab" / f"{topic}.md").is_file(), topic


@pytest.mark.parametrize("name", NAMES)
def test_the_experiment_holds_at_its_defaults(name: str,
                                              lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default(name)
    failed = [(c.quantity, c.measured, c.expected) for c in result.checks if not c.passed]
    assert result.passed, failed
    assert all(c.reason.strip() for c in result.checks)
    json.dumps(json.loads(write("lab", "json", result)))         # the document is JSON
    png = io.BytesIO()
    result.figure.savefig(png, format="png", dpi=60)
    assert png.getvalue()[:4] == b"\x89PNG" and len(png.getvalue()) > 5_000  # drawn


@pytest.mark.parametrize("name", NAMES)
def test_the_experiment_has_a_test_where_its_claim_fails(name: str) -> None:
    # a lab entry that can never fail is a defect: some test runs it off its premise
    runs = re.findall(rf"lab\.run\(\s*[\"']{re.escape(name)}[\"'][^)]*\)[^\n]*", TESTS)
    assert runs, f"no test runs {name!r} with changed parameters"
    assert "fail" in TESTS.split(f'"{name}"', 1)[1] or any("fail" in run for run in runs)


@pytest.mark.parametrize("name", NAMES)
def test_the_topic_page_documents_the_experiment_with_its_figure(name: str) -> None:
    entry = lab.catalogue()[name]
    page = (ROOT / "docs" / "lab" / f"{entry.topic}.md").read_text(encoding="utf-8")
    assert f"netanatomy lab {name}" in page
    assert f"(figures/{name}.png)" in page
    figure = ROOT / "docs" / "lab" / "figures" / f"{name}.png"
    assert figure.is_file() and figure.stat().st_size < 200_000
