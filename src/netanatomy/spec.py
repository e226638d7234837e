"""Architecture specs (YAML, numbers or symbols): analyse, explain, build, catalog.

>>> report = analyze("example:inception-3a")            # doctest: +SKIP
>>> model = build("example:resnet50")                    # doctest: +SKIP

A ``spec`` argument is a path to a ``.yaml`` file, ``example:NAME`` from the built-in
catalog, YAML text, or a loaded :class:`Spec`. ``symbols`` give values to names
(``{"K": 5, "F": 16}``); names left without a value stay symbolic and the numbers become
closed-form formulas. See ``docs/spec-format.md`` for the format.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from netanatomy.errors import UsageError
from netanatomy.frontends.spec import Spec, load_spec, spec_graph
from netanatomy.frontends.spec.symbols import Assignments
from netanatomy.report import Report

EXAMPLE_PREFIX = "example:"


def examples_folder() -> Path:
    """The folder of the built-in catalog."""
    return Path(str(resources.files("netanatomy") / "examples"))


def examples() -> dict[str, str]:
    """Catalog names and their one-line descriptions."""
    catalog = {}
    for path in sorted(examples_folder().glob("*.yaml")):
        description = ""
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("description:"):
                description = line.partition(":")[2].strip().strip("'\"")
                break
        catalog[path.stem] = description
    return catalog


def example_path(name: str) -> Path:
    """The file of catalog entry ``name``.

    Raises:
        UsageError: no such entry (the message lists them).
    """
    path = examples_folder() / f"{name}.yaml"
    if not path.is_file():
        raise UsageError(f"no example {name!r}; run 'netanatomy examples' for the list: "
                         + ", ".join(examples()))
    return path


def is_spec_target(target: str) -> bool:
    """True for ``example:NAME`` and ``*.yaml`` / ``*.yml`` targets."""
    return target.startswith(EXAMPLE_PREFIX) or target.endswith((".yaml", ".yml"))


def load(spec: str | Path | Spec) -> Spec:
    """Load a spec from a path, ``example:NAME``, YAML text, or pass a Spec through."""
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, str) and spec.startswith(EXAMPLE_PREFIX):
        return load_spec(example_path(spec[len(EXAMPLE_PREFIX):]))
    return load_spec(spec)


def analyze(spec: str | Path | Spec, symbols: Mapping[str, Any] | None = None) -> Report:
    """Analyse a spec: the same report (and JSON) as for a PyTorch model."""
    from netanatomy.analysis.summary import summarize

    return Report.of(summarize(spec_graph(load(spec), symbols)))


def explain(spec: str | Path | Spec, symbols: Mapping[str, Any] | None = None) -> str:
    """Every layer's formulas, the values put in, and the results, as text."""
    from netanatomy.analysis.explain import explain as explain_graph
    from netanatomy.render.explain import explanation_text

    return explanation_text(explain_graph(spec_graph(load(spec), symbols)))


def build(spec: str | Path | Spec, symbols: Mapping[str, Any] | None = None) -> Any:
    """A real ``nn.Module`` for the spec (every symbol needs a value), in eval mode."""
    from netanatomy.frontends.torch.spec_build import build_spec_module

    return build_spec_module(load(spec), symbols)


def input_shape(spec: str | Path | Spec, symbols: Mapping[str, Any] | None = None
                ) -> tuple[Any, ...]:
    """The batch-1 input shape of the spec (for running the built module)."""
    graph = spec_graph(load(spec), symbols)
    return tuple(graph.inputs[0].shape)


def input_dtype(spec: str | Path | Spec, symbols: Mapping[str, Any] | None = None) -> str:
    """``"float32"``, or ``"int64"`` for a spec whose input is token ids."""
    return str(spec_graph(load(spec), symbols).inputs[0].dtype)


def parse_assignments(texts: list[str], option: str = "--set") -> Assignments:
    """``["K=5,F=16", "alpha=0.5"]`` → ``{"K": 5, "F": 16, "alpha": 0.5}``, each value
    remembering its item (``--set K=5``) for messages.

    Raises:
        UsageError: an item is not ``NAME=VALUE``, or a name is given twice.
    """
    values = Assignments()
    for text in texts:
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, sep, raw = item.partition("=")
            name = name.strip()
            if not sep or not name.isidentifier() or not raw.strip():
                raise UsageError(f"{option} {item}: expected NAME=VALUE, e.g. K=5")
            claim(values.origins, name, f"{option} {item}")
            values[name] = number(raw.strip(), item)
    return values


def claim(origins: dict[str, str], name: str, origin: str) -> None:
    """Record that ``name`` is given at ``origin``; a second time is an error."""
    if name in origins:
        raise UsageError(f"{origin}: {name} is already given ({origins[name]}); give each "
                         "symbol once")
    origins[name] = origin


def number(raw: str, item: str) -> Any:
    """``"5"`` → 5, ``"0.5"`` → 0.5; anything else is kept as an expression (``2*F``)."""
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return raw  # an expression such as 2*F, evaluated by the spec front-end


def shared_assignments(values: Assignments, target: str, targets: tuple[str, ...]
                       ) -> Assignments:
    """The ``values`` for ``target`` out of ``--set`` values shared by several specs
    (``compare``): each name must be a symbol of at least one spec among ``targets``, and
    ``target`` gets those it uses.

    Raises:
        UsageError: a name that no spec among ``targets`` uses.
    """
    from netanatomy.frontends.spec.symbols import check_known

    names = {t: symbol_names(t) for t in targets if is_spec_target(t)}
    check_known(values, set().union(*names.values()),
                "the spec" if len(names) == 1 else "the specs")
    return Assignments({k: v for k, v in values.items() if k in names[target]}, values.origins)


def symbol_names(spec: str | Path | Spec) -> set[str]:
    """The symbols a spec declares or uses (the names ``--set`` and ``--vary`` accept)."""
    from netanatomy.frontends.spec.spec import symbol_names as names

    return names(load(spec))


__all__ = ["Assignments", "Spec", "analyze", "build", "example_path", "examples", "explain",
           "input_shape", "is_spec_target", "load", "parse_assignments", "symbol_names"]
