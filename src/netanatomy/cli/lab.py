"""The ``lab`` command's glue: which experiments to run, their ``--param`` values, and
where the figures go. Torch is reached only through :mod:`netanatomy.lab`."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from netanatomy.errors import UsageError


def parse_params(texts: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` texts as a dict (values are converted by the experiment).

    Raises:
        UsageError: a text without ``=`` or a key given twice.
    """
    params: dict[str, str] = {}
    for text in texts:
        key, sep, value = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--param {text!r}: give KEY=VALUE, e.g. --param alpha=2")
        if key in params:
            raise UsageError(f"--param {key} is given twice")
        params[key] = value.strip()
    return params


def figure_folder(out_dir: Path | None) -> Path:
    """``out_dir``, or ``<temp>/netanatomy-lab``; refused when it is a file."""
    folder = out_dir if out_dir is not None else Path(tempfile.gettempdir()) / "netanatomy-lab"
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"-o/--output {str(folder)!r} is a file; give a folder for the "
                         "figures")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"-o/--output {str(folder)!r} cannot be created: {error}") from None
    return folder


def run_lab(name: str | None, run_all: bool, topic: str | None, param_texts: list[str],
            out_dir: Path | None) -> Any:
    """The listing (nothing chosen), one result (``name``) with its figure saved, or a run
    of all / one topic with a figure each and ``summary.json``."""
    from netanatomy import lab
    from netanatomy.lab.base import LabListing
    from netanatomy.lab.runner import saved

    chosen = [flag for flag, given in (("NAME", name is not None), ("--all", run_all),
                                       ("--topic", topic is not None)) if given]
    if len(chosen) > 1:
        raise UsageError(f"give one of NAME, --all or --topic, not {' and '.join(chosen)}")
    params = parse_params(param_texts)
    if params and name is None:
        raise UsageError("--param changes one experiment: give its NAME")
    if not chosen:
        if out_dir is not None:
            raise UsageError("-o/--output is for runs: give NAME, --all or --topic")
        return LabListing(tuple(lab.catalogue().values()))
    if name is not None:
        result = lab.run(name, **params)
        return saved(result, figure_folder(out_dir))
    return lab.run_many(topic=topic, folder=figure_folder(out_dir))
