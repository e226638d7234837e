"""Running lab experiments: parameters bound and converted, torch, NumPy and Python seeded
(seed 0), torch on one thread (the models are tiny: faster, and the same sums on every
machine), every piece of global state put back afterwards, timed, the figure saved."""

from __future__ import annotations

import importlib
import pkgutil
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from netanatomy.errors import UsageError
from netanatomy.lab.base import Experiment, LabResult, LabRun, Outcome, registered

SEED = 0
"""The seed every run starts from (experiments draw their own generators from it)."""

_LOADED = False


def load() -> dict[str, Experiment]:
    """Import every module of :mod:`netanatomy.lab.experiments` (one file per experiment
    or small family) once, and return the registry."""
    global _LOADED
    if not _LOADED:
        from netanatomy.lab import experiments

        for module in pkgutil.iter_modules(experiments.__path__):
            importlib.import_module(f"{experiments.__name__}.{module.name}")
        _LOADED = True
    return registered()


def find(name: str) -> Experiment:
    """The experiment called ``name``.

    Raises:
        UsageError: no such experiment (close names suggested).
    """
    import difflib

    catalogue = load()
    if name in catalogue:
        return catalogue[name]
    close = difflib.get_close_matches(name, list(catalogue), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `netanatomy lab` lists them"
    raise UsageError(f"no lab experiment {name!r}{hint}")


def run(name: str, **params: Any) -> LabResult:
    """Run experiment ``name`` with ``params`` (strings are converted to the defaults'
    types); the global RNGs, grad mode, default dtype and thread count are as before."""
    return run_experiment(find(name), params)


def run_experiment(chosen: Experiment, params: Mapping[str, Any]) -> LabResult:
    import random

    import numpy as np
    import torch

    from netanatomy.frontends.torch.guard import globals_preserved

    bound = chosen.bind(params)
    started = time.perf_counter()
    with globals_preserved():
        torch.set_num_threads(1)  # tiny models: one thread is faster, and sums repeatable
        torch.manual_seed(SEED)
        np.random.seed(SEED)
        random.seed(SEED)
        outcome = chosen.function(**bound)
    seconds = time.perf_counter() - started
    if not isinstance(outcome, Outcome) or not outcome.checks:
        raise TypeError(f"lab experiment {chosen.name!r} returned no checks")
    return LabResult(chosen, bound, tuple(outcome.checks), outcome.figure, dict(outcome.data),
                     tuple(outcome.notes), seconds)


def run_many(names: Iterable[str] | None = None, topic: str | None = None,
             folder: str | Path | None = None) -> LabRun:
    """Run the named experiments (default: all, or those of ``topic``) with their
    defaults; with ``folder``, write ``NAME.png`` for each and ``summary.json``."""
    catalogue = load()
    if topic is not None:
        from netanatomy.lab.base import TOPICS

        if topic not in TOPICS:
            raise UsageError(f"no lab topic {topic!r}; topics: {', '.join(TOPICS)}")
    chosen = ([find(name) for name in names] if names is not None else
              [entry for entry in catalogue.values() if topic in (None, entry.topic)])
    target = Path(folder) if folder is not None else None
    if target is not None:
        target.mkdir(parents=True, exist_ok=True)
    results = []
    for entry in chosen:
        result = run_experiment(entry, {})
        if target is not None:
            result = saved(result, target)
        results.append(result)
    lab_run = LabRun(tuple(results), str(target) if target is not None else None)
    if target is not None:
        from netanatomy.render.catalog import write

        (target / "summary.json").write_text(write("lab", "json", lab_run), encoding="utf-8")
    return lab_run


def saved(result: LabResult, folder: Path) -> LabResult:
    """``result`` with its figure written to ``folder/NAME.png``."""
    from dataclasses import replace

    path = result.save_figure(folder / f"{result.name}.png")
    return replace(result, figure_path=path)
