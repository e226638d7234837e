"""Helpers for lab tests."""

from __future__ import annotations

from netanatomy import lab
from netanatomy.lab.base import LabResult


def check(result: LabResult, quantity_start: str) -> lab.Check:
    """The check of ``result`` whose quantity is ``quantity_start``, or else
    the one that starts with it."""
    found = ([c for c in result.checks if c.quantity == quantity_start]
             or [c for c in result.checks if c.quantity.startswith(quantity_start)])
    assert len(found) == 1, [c.quantity for c in result.checks]
    return found[0]
