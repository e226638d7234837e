"""The ``report`` command's glue: the HTML report of a target, with the sections asked for
by ``--include`` (lint, training, inference) run with their defaults.

Output: ``-o FILE`` writes the page there; without it the page goes to stdout when stdout
is a file or a pipe, and is refused on a terminal (a megabyte of HTML is not for reading
there). ``netanatomy summary --format html`` writes the same page (without sections).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from netanatomy.errors import UsageError

INCLUDES = ("lint", "training", "inference")
"""What ``--include`` can add to the report, in the order they run."""


def parse_include(text: str | None) -> tuple[str, ...]:
    """``"lint,training"`` → ``("lint", "training")`` (known names only, each once).

    Raises:
        UsageError: a name not in :data:`INCLUDES`.
    """
    if not text:
        return ()
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in INCLUDES]
    if unknown:
        raise UsageError(f"--include {text!r}: {', '.join(map(repr, unknown))} is not a "
                         f"section; give a comma list of {', '.join(INCLUDES)}")
    return tuple(name for name in INCLUDES if name in names)


def report_source(target: str, inputs: list[str], settings: list[str]) -> dict[str, Any]:
    """The payload's ``source``: what was analysed, as the user named it."""
    from netanatomy import spec

    if spec.is_spec_target(target):
        values = spec.parse_assignments(settings)
        return {"kind": "spec", "target": target, "inputs": [],
                "settings": {str(k): str(v) for k, v in values.items()}}
    if not inputs and target.startswith("zoo:"):
        from netanatomy.frontends.torch.zoo import ZOO

        entry = ZOO.get(target.partition(":")[2])
        inputs = [entry.default_input] if entry is not None else []
    return {"kind": "torch", "target": target, "inputs": list(inputs), "settings": {}}


def check_output(output: Path | None) -> None:
    """Refuse to write the page on a terminal.

    Raises:
        UsageError: no ``-o`` and stdout is a terminal.
    """
    if output is None and sys.stdout.isatty():
        raise UsageError("report writes an HTML file: give -o FILE.html (or redirect stdout "
                         "to a file)")


def document(command: str, result: Any) -> Any:
    """``result``'s JSON document, as ``--format json`` of ``command`` writes it."""
    from netanatomy.render.catalog import write

    return json.loads(write(command, "json", result, indent=None))


def lint_section(target: str, inputs: list[str], settings: list[str],
                 device_type: str | None = None) -> Any:
    import netanatomy
    from netanatomy.analysis.findings import LintReport
    from netanatomy.cli.targets import load_for_diagnosis

    model, inputs = load_for_diagnosis(target, inputs, settings)
    return document("lint", LintReport(tuple(netanatomy.lint(model, inputs)), ()))


def training_section(target: str, inputs: list[str], settings: list[str],
                     device_type: str | None = None) -> Any:
    """The training defaults (``netanatomy training TARGET [--device-type X]``)."""
    import netanatomy
    from netanatomy.cli.targets import load_for_diagnosis

    model, inputs = load_for_diagnosis(target, inputs, settings)
    return document("training", netanatomy.training(model, inputs, device_type=device_type))


def inference_section(target: str, inputs: list[str], settings: list[str],
                      device_type: str | None = None) -> Any:
    """The inference defaults (``netanatomy inference TARGET [--device-type X]``)."""
    from netanatomy.inference_api import inference

    return document("inference", inference(target, device_type=device_type))


def check_inference(include: tuple[str, ...], target: str, graph: Any) -> None:
    """``--include inference`` needs a language model: attention whose keys and values an
    engine caches (found in the graph already analysed).

    Raises:
        UsageError: a spec, or a model without attention.
    """
    from netanatomy import spec
    from netanatomy.analysis.inference import attention_sites

    if "inference" not in include:
        return
    if spec.is_spec_target(target) or not attention_sites(graph, 1):
        raise UsageError(f"--include inference: {target!r} has no attention that keeps a KV "
                         "cache (inference is for language models); leave it out")


SECTION_BUILDERS = {"lint": lint_section, "training": training_section,
                    "inference": inference_section}


def sections_of(include: tuple[str, ...], target: str, inputs: list[str],
                settings: list[str], graph: Any, device_type: str | None = None
                ) -> dict[str, Any]:
    """The JSON document of every included section, by name (``graph``: the target's,
    analysed already; ``device_type``: the roofline device of training and inference).

    Raises:
        UsageError: inference asked for a model without attention; ``device_type``
            without training or inference to use it, or not in the hardware table.
    """
    check_inference(include, target, graph)
    if device_type is not None:
        if not {"training", "inference"} & set(include):
            raise UsageError("--device-type is for the training and inference sections: "
                             "add --include training (or inference), or leave it out")
        from netanatomy.hardware import device

        device(device_type)                      # an unknown device fails before any run
    return {name: SECTION_BUILDERS[name](target, inputs, settings, device_type)
            for name in include}
