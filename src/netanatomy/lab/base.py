"""What a lab experiment is and what it returns, with no torch in sight.

An experiment is a function registered with :func:`experiment`; its keyword parameters
(with defaults: the course's worked setting) are what a user may change. It returns an
:class:`Outcome`: the :class:`Check` objects comparing what it measured with what theory
says, the figure, and the numbers behind the figure. The lab runner
(:mod:`netanatomy.lab.runner`) seeds and guards the run and wraps it in a
:class:`LabResult`.

A check decides its own verdict from the numbers it was given (never a flag set by the
experiment), so an entry whose claim does not hold fails::

    >>> close("σ'(0)", 0.25, 0.25, atol=1e-12, reason="exact in float64").passed
    True
    >>> at_most("gain", 1.3, 1.0, reason="product bound").passed
    False
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from netanatomy.errors import UsageError

TOPICS: dict[str, str] = {
    "matrices": "Operator matrices: convolution, transposed convolution, pooling, dilation",
    "backprop": "Backprop derivations checked against autograd",
    "normalisation": "Batch, group, instance and layer normalisation",
    "initialisation": "Initialisation and activations",
    "depth": "Depth: residual paths, spectral norms, clipping, LSTM vs RNN",
    "regularisation": "Dropout and its closed forms",
    "efficient": "Efficient architectures, counted by netanatomy's own analyses",
    "fields": "Receptive fields: masked, dilated, effective",
    "generative": "Generative and sequence models: VAE, contractive AE, seq2seq, word2vec, "
                  "threshold RNN",
}
"""Topic key → title, in the order the lab lists them (docs/lab/<key>.md is its page)."""

Number = int | float


@dataclass(frozen=True)
class Check:
    """One comparison of a measured value with what theory says.

    ``relation``: ``close`` (|measured − expected| ≤ atol + rtol·|expected|), ``at_most``
    (measured ≤ expected + atol), ``at_least`` (measured ≥ expected − atol) or ``equal``
    (exact; ints, strings, tuples). ``reason`` says where the tolerance comes from (float
    rounding, a Monte-Carlo standard error, ε of a normalisation …).
    """

    quantity: str
    measured: Any
    expected: Any
    relation: str
    reason: str
    rtol: float = 0.0
    atol: float = 0.0

    @property
    def passed(self) -> bool:
        if self.relation == "equal":
            return bool(self.measured == self.expected)
        measured, expected = float(self.measured), float(self.expected)
        if math.isnan(measured) or math.isnan(expected):
            return False
        if self.relation == "close":
            return abs(measured - expected) <= self.atol + self.rtol * abs(expected)
        if self.relation == "at_most":
            return measured <= expected + self.atol
        if self.relation == "at_least":
            return measured >= expected - self.atol
        raise ValueError(f"unknown relation {self.relation!r}")

    @property
    def tolerance(self) -> str:
        """The tolerance in words, e.g. ``±1e-06 + 1e-05·|expected|`` or ``exact``."""
        if self.relation == "equal" or (self.rtol == 0 and self.atol == 0):
            return "exact"
        parts = [f"{self.atol:.3g}"] if self.atol else []
        parts += [f"{self.rtol:.3g}·|expected|"] if self.rtol else []
        return "±" + " + ".join(parts)

    @property
    def symbol(self) -> str:
        return {"close": "≈", "at_most": "≤", "at_least": "≥", "equal": "="}[self.relation]


def close(quantity: str, measured: Number, expected: Number, *, reason: str,
          rtol: float = 0.0, atol: float = 0.0) -> Check:
    """``measured ≈ expected`` within ``atol + rtol·|expected|``."""
    if rtol < 0 or atol < 0:
        raise ValueError("tolerances are not negative")
    return Check(quantity, float(measured), float(expected), "close", reason, rtol, atol)


def at_most(quantity: str, measured: Number, bound: Number, *, reason: str,
            atol: float = 0.0) -> Check:
    """``measured ≤ bound (+ atol)``."""
    return Check(quantity, float(measured), float(bound), "at_most", reason, 0.0, atol)


def at_least(quantity: str, measured: Number, bound: Number, *, reason: str,
             atol: float = 0.0) -> Check:
    """``measured ≥ bound (− atol)``."""
    return Check(quantity, float(measured), float(bound), "at_least", reason, 0.0, atol)


def equal(quantity: str, measured: Any, expected: Any, *, reason: str = "exact") -> Check:
    """``measured == expected`` exactly (counts, shapes, truth tables)."""
    return Check(quantity, measured, expected, "equal", reason)


@dataclass(frozen=True)
class Outcome:
    """What an experiment function returns: its checks (at least one), a matplotlib
    ``Figure`` (built with ``matplotlib.figure.Figure``, never pyplot), the numbers the
    figure shows (JSON-able: numbers, strings, lists, dicts) and notes for the reader."""

    checks: Sequence[Check]
    figure: Any
    data: Mapping[str, Any] = field(default_factory=dict)
    notes: Sequence[str] = ()


@dataclass(frozen=True)
class Experiment:
    """A registered experiment: ``name`` (kebab-case, the CLI's), its topic key, a title,
    the claim in one sentence, the course setting its defaults reproduce, and the
    function with its parameters' defaults."""

    name: str
    topic: str
    title: str
    claim: str
    function: Callable[..., Outcome]
    setting: str = ""

    @property
    def defaults(self) -> dict[str, Any]:
        """Parameter → default value, in signature order."""
        return {name: parameter.default
                for name, parameter in inspect.signature(self.function).parameters.items()}

    def bind(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The full parameter set: defaults updated by ``params``, each value converted to
        the type of its default (so CLI strings work).

        Raises:
            UsageError: an unknown parameter (the message lists the known ones), or a value
            that does not convert.
        """
        defaults = self.defaults
        unknown = sorted(set(params) - set(defaults))
        if unknown:
            known = ", ".join(f"{k}={v!r}" for k, v in defaults.items()) or "none"
            raise UsageError(f"lab {self.name}: no parameter {unknown[0]!r}; it takes {known}")
        bound = dict(defaults)
        for key, value in params.items():
            bound[key] = convert(self.name, key, value, defaults[key])
        return bound


def convert(experiment_name: str, key: str, value: Any, default: Any) -> Any:
    """``value`` as the type of ``default`` (bool from yes/no/true/false/1/0; tuples of
    ints from ``3,4`` or ``3x4``); values of the right type pass unchanged."""
    kind = type(default)
    try:
        if isinstance(value, kind) and not (kind is float and isinstance(value, bool)):
            return value
        if kind is bool:
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if kind is tuple:
            items = str(value).replace("x", ",").split(",") if isinstance(value, str) else value
            return tuple(type(default[0])(item) for item in items) if default else tuple(items)
        if kind is float and isinstance(value, int):
            return float(value)
        if kind in (int, float, str):
            result = kind(value)
            if kind is float and not math.isfinite(result):
                raise ValueError(value)
            return result
    except (TypeError, ValueError):
        pass
    raise UsageError(f"lab {experiment_name}: {key}={value!r} is not a {kind.__name__} "
                     f"(default {default!r})")


_EXPERIMENTS: dict[str, Experiment] = {}


def experiment(name: str, *, topic: str, title: str, claim: str, setting: str = ""
               ) -> Callable[[Callable[..., Outcome]], Callable[..., Outcome]]:
    """Decorator: register ``function(**params) -> Outcome`` as lab experiment ``name``.
    Every parameter needs a default (the course's setting).

    Raises:
        ValueError: a duplicate name, an unknown topic, or a parameter without default.
    """

    def register(function: Callable[..., Outcome]) -> Callable[..., Outcome]:
        if name in _EXPERIMENTS:
            raise ValueError(f"lab experiment {name!r} is registered twice")
        if topic not in TOPICS:
            raise ValueError(f"lab experiment {name!r}: unknown topic {topic!r}")
        for parameter in inspect.signature(function).parameters.values():
            if parameter.default is inspect.Parameter.empty:
                raise ValueError(f"lab experiment {name!r}: parameter {parameter.name!r} "
                                 "needs a default")
        _EXPERIMENTS[name] = Experiment(name, topic, title, claim, function, setting)
        return function

    return register


def registered() -> dict[str, Experiment]:
    """Every registered experiment by name, grouped by topic (in :data:`TOPICS` order)."""
    order = list(TOPICS)
    return dict(sorted(_EXPERIMENTS.items(), key=lambda item: (order.index(item[1].topic),
                                                               item[0])))


@dataclass(frozen=True)
class LabResult:
    """One run: the experiment, the parameters it ran with, its checks, figure (a
    matplotlib Figure), the figure's data, notes, the seconds it took and, once saved,
    the figure's path. ``verdict`` is ``pass`` when every check passed."""

    experiment: Experiment
    params: Mapping[str, Any]
    checks: tuple[Check, ...]
    figure: Any
    data: Mapping[str, Any]
    notes: tuple[str, ...]
    seconds: float
    figure_path: str | None = None

    @property
    def name(self) -> str:
        return self.experiment.name

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "fail"

    def save_figure(self, path: Any, dpi: int = 110) -> str:
        """Write the figure as PNG to ``path``; returns the path as text."""
        self.figure.savefig(path, dpi=dpi, format="png")
        return str(path)


@dataclass(frozen=True)
class LabRun:
    """Several results (``lab --all`` or a topic) and where their files went."""

    results: tuple[LabResult, ...]
    folder: str | None = None

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results)


@dataclass(frozen=True)
class LabListing:
    """The catalogue as ``netanatomy lab`` lists it."""

    experiments: tuple[Experiment, ...]
