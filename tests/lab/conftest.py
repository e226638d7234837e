"""Lab tests share one run of each experiment at its defaults (running it is the slow part)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

from netanatomy import lab
from netanatomy.lab.base import LabResult


@functools.cache
def default_result(name: str) -> LabResult:
    return lab.run(name)


@pytest.fixture
def lab_default() -> Callable[[str], LabResult]:
    """``lab_default(name)``: the experiment's result at its defaults (run once per session)."""
    return default_result

