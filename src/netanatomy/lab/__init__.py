"""The lab: the course's derivations and claims, run on small models and shown.

>>> from netanatomy import lab
>>> result = lab.run("sigmoid-saturation")      # doctest: +SKIP
>>> result.verdict, result.checks[0].quantity    # doctest: +SKIP

``run(name, **params)`` returns a :class:`LabResult` (verdict, checks with measured and
expected values and tolerances, a matplotlib figure, its data); ``run_many`` runs several
and can write a PNG each and ``summary.json``; ``catalogue()`` lists the catalogue.
"""

from __future__ import annotations

from netanatomy.lab.base import (
    TOPICS,
    Check,
    Experiment,
    LabListing,
    LabResult,
    LabRun,
    Outcome,
    at_least,
    at_most,
    close,
    equal,
    experiment,
)
from netanatomy.lab.runner import find, load, run, run_many


def catalogue() -> dict[str, Experiment]:
    """Every experiment by name, in topic order."""
    return load()


__all__ = ["TOPICS", "Check", "Experiment", "LabListing", "LabResult", "LabRun", "Outcome",
           "at_least", "at_most", "close", "equal", "catalogue", "experiment", "find",
           "run", "run_many"]
