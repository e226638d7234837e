"""What the static checks find: lints, weight-initialisation checks, and the lint report.
Plain frozen dataclasses (renderers turn them into text, JSON or CSV)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Lint:
    """A static finding: ``code`` (``NA001`` …), the layer path, what is wrong, the
    parameters it wastes (0 when none), and the fix."""

    code: str
    path: str
    message: str
    wasted_params: int
    fix: str
    severity: str = "warning"


@dataclass(frozen=True, slots=True)
class InitCheck:
    """A weight's standard deviation against the He and Xavier initialisations.

    ``activation`` is the nonlinearity its output reaches next (``None``: linear);
    ``expected`` the scheme that fits it; ``ratio`` = std / expected std; ``closest`` the
    scheme whose std is nearest (in log ratio); ``normalised`` when a normalisation layer
    comes before any activation (the scale of the weights then does not matter).
    """

    param: str
    fan_in: int
    fan_out: int
    std: float
    he_std: float
    xavier_std: float
    activation: str | None
    expected: str
    ratio: float
    closest: str
    normalised: bool
    flagged: bool


@dataclass(frozen=True)
class LintReport:
    """What ``netanatomy lint`` found: the lints, and notes on what was not checked."""

    lints: tuple[Lint, ...]
    notes: tuple[str, ...] = ()
