"""The ``attribute`` command's glue: its option checks (before anything is loaded), the
input it explains (an image, a seeded random tensor, or the demo's held-out digits), and
the files it writes (PNG grid, ``.npy`` maps). Torch is reached only through the
attribution package and the torch front-end."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from netanatomy.cli.common import check_writable
from netanatomy.errors import UsageError

DEMO_SECONDS = 5.0
"""The demo's training budget (it usually needs about a second)."""


@dataclass(frozen=True)
class AttributeOptions:
    target: str | None
    image: Path | None
    size: int
    inputs: list[str]
    method: str
    klass: int | None
    layer: str | None
    steps: int | None
    device: str
    output: Path | None
    npy: Path | None
    demo: bool


def check_attribute_options(options: AttributeOptions) -> None:
    """Refuse, before running: no input or two kinds of input, several ``--input``, a
    size or target below its least value, and -o / --npy names of the wrong type.

    Raises:
        UsageError: naming the option and a fix.
    """
    given = [name for name, value in (("--image", options.image),
                                      ("--input", options.inputs)) if value]
    if options.demo and given:
        raise UsageError(f"--demo explains held-out 8×8 digits; leave out {given[0]}")
    if not options.demo and len(given) != 1:
        raise UsageError("give exactly one of --image PATH or --input SHAPE (e.g. --input "
                         "1x3x224x224), or --demo" if not given else
                         "give --image or --input, not both")
    if options.target is None and not options.demo:
        raise UsageError("attribute needs a TARGET model (or --demo for the digits CNN)")
    if len(options.inputs) > 1 or any("=" in text for text in options.inputs):
        raise UsageError("attribute explains one positional input: give one --input SHAPE")
    if options.size < 1:
        raise UsageError(f"--size must be at least 1, got {options.size}")
    if options.klass is not None and options.klass < 0:
        raise UsageError(f"--target must be a class index ≥ 0, got {options.klass}")
    if options.image is not None and not options.image.is_file():
        raise UsageError(f"--image {str(options.image)[:80]!r}: no such file")
    if options.output is not None:
        check_writable("-o/--output", options.output, suffix=".png")
    if options.npy is not None:
        check_writable("--npy", options.npy, suffix=".npy")


def explained_input(options: AttributeOptions) -> Any:
    """The tensor to explain: the image (resized, cropped, ImageNet-normalised) or a
    seeded standard-normal tensor of the ``--input`` shape."""
    if options.image is not None:
        from netanatomy.attribution.images import load_image

        return load_image(options.image, size=options.size)
    from netanatomy.frontends.torch.inputs import make_input, parse_input_args

    (spec,), _ = parse_input_args(options.inputs)
    if not spec.dtype.is_floating_point:
        raise UsageError(f"--input {options.inputs[0]!r}: attributions need a floating "
                         "input (gradients), e.g. 1x3x32x32:float32")
    return make_input(spec, "cpu")


def method_options(options: AttributeOptions) -> dict[str, Any]:
    extra: dict[str, Any] = {"target": options.klass, "layer": options.layer,
                             "device": options.device}
    if options.steps is not None:
        extra["steps"] = options.steps
    return extra


def run_attribute(options: AttributeOptions) -> Any:
    """Load the model, explain the input, write the files; the renderer's result."""
    from netanatomy.attribution.api import attribute
    from netanatomy.attribution.demo import DEMO_TARGET
    from netanatomy.cli.common import check_module_path
    from netanatomy.frontends.torch.seeding import seeded
    from netanatomy.frontends.torch.target import load_target
    from netanatomy.render.attribution import AttributeResult

    name = options.target or DEMO_TARGET
    with seeded(0):                       # a class or factory builds the same weights
        model = load_target(name)
    check_module_path("--layer", model, options.layer)
    demo = None
    if options.demo:
        found, x, demo = run_demo(model, options)
    else:
        x = explained_input(options)
        found = attribute(model, x, method=options.method, **method_options(options))
    results = found if isinstance(found, dict) else {found.method: found}
    write_files(results, x, options, name)
    return AttributeResult(name, tuple(x.shape), results, demo, inputs=x)


def run_demo(model: Any, options: AttributeOptions) -> tuple[Any, Any, dict[str, float]]:
    from netanatomy.attribution.api import attribute
    from netanatomy.attribution.demo import run_demo as demo

    extra = method_options(options)

    def explain(model: Any, x: Any, method: str) -> Any:
        settings = extra if method == options.method else {"device": options.device}
        return attribute(model, x, method=method, **settings)

    measured = demo(model, explain, methods=options.method, seconds=DEMO_SECONDS)
    numbers = {"accuracy": measured.trained.accuracy,
               "epochs": float(measured.trained.epochs),
               "seconds": measured.trained.seconds,
               "guided_fraction": measured.guided_fraction,
               "random_fraction": measured.random_fraction}
    return measured.attributions, measured.inputs, numbers


def write_files(results: dict[str, Any], x: Any, options: AttributeOptions,
                name: str) -> None:
    if options.output is not None:
        from netanatomy.render.attribution_plot import plot_attribution

        plot_attribution(results, x, options.output, title=f"Attributions of {name}")
        typer.echo(f"wrote {options.output}", err=True)
    if options.npy is not None:
        from netanatomy.render.attribution_plot import save_arrays

        for path in save_arrays(results, options.npy).values():
            typer.echo(f"wrote {path}", err=True)
