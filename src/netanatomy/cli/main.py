"""``netanatomy`` CLI: thin glue from options to the analyses and the renderer registry.

Every command declares its options with the shared aliases of :mod:`netanatomy.cli.common`,
is wrapped by :func:`~netanatomy.cli.common.handled` (format checked first against the
renderers it has, one error handler), and writes its result object through the registry.
Exit codes: 0 success; 1 analysis failed or ``--strict`` met uncounted ops (or lints); 2
bad usage (bad target, input, option or format). Tracebacks only with ``--debug``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from netanatomy.cli.common import (
    DEFAULT_TARGET,
    Debug,
    Depth,
    DeviceType,
    Format,
    Inputs,
    Output,
    Settings,
    Target,
    Width,
    check_module_path,
    handled,
    write_result,
)
from netanatomy.cli.targets import load_for_diagnosis, load_model, resolve_target
from netanatomy.errors import UsageError

app = typer.Typer(add_completion=False, no_args_is_help=False,
                  help="What a neural network costs, layer by layer, and how it is counted.")


@app.command()
@handled("summary")
def summary(
    target: Target = DEFAULT_TARGET,
    input: Inputs = [],  # noqa: B006
    depth: Depth = None,
    format: Format = "table",
    output: Output = None,
    device: Annotated[str, typer.Option(
        help="meta (nothing allocated), cpu or cuda (run for real).")] = "meta",
    train: Annotated[bool, typer.Option(
        "--train", help="Analyse the train-mode forward (dropout on, batch statistics).")]
    = False,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Exit 1 when an op has no rule (its cost unknown).")] = False,
    width: Width = None,
    set: Settings = [],  # noqa: B006
    explain: Annotated[bool, typer.Option(
        "--explain", help="For every layer: formula, values put in, result (csv: one row "
                          "per derivation step).")] = False,
    debug: Debug = False,
) -> None:
    """Per-layer params, MACs, FLOPs, memory and receptive field of a PyTorch model or a spec
    (default: zoo:resnet18)."""
    from netanatomy.render.results import SummaryResult

    report = analyse_target(target, input, set, device, train, strict)
    explanations = None
    if explain:
        from netanatomy.analysis.explain import explain as explain_graph

        explanations = tuple(explain_graph(report.graph))
    source = None
    if format == "html":
        from netanatomy.cli.report import report_source

        source = report_source(target, input, set)
    write_result("summary", format, SummaryResult(report, explanations, source), output, depth,
                 width)


def analyse_target(target: str, inputs: list[str], settings: list[str], device: str = "meta",
                   training: bool = False, strict: bool = False,
                   among: tuple[str, ...] = ()) -> Any:
    """A Report for a spec target (``*.yaml``, ``example:NAME``) or a PyTorch target;
    ``among``: the targets sharing the --set values (compare), each taking its own."""
    import netanatomy
    from netanatomy import spec

    if spec.is_spec_target(target):
        if inputs:
            raise UsageError("--input is for PyTorch targets; a spec declares its own input "
                             "(change it with --set on its symbols)")
        values = spec.parse_assignments(settings)
        if among:
            values = spec.shared_assignments(values, target, among)
        return spec.analyze(target, values)
    if settings:
        raise UsageError("--set is for spec targets (*.yaml, example:NAME)")
    model, resolved = resolve_target(target, inputs)
    return netanatomy.analyze(model, resolved, device=device, training=training, strict=strict)

@app.command()
@handled("rf")
def rf(
    target: Target = DEFAULT_TARGET,
    input: Inputs = [],  # noqa: B006
    depth: Depth = None,
    format: Format = "table",
    output: Output = None,
    plot: Annotated[Path | None, typer.Option(
        "--plot", help="Write a PNG of field size and stride against depth.")] = None,
    measure: Annotated[bool, typer.Option(
        "--measure", help="Check every shown layer by the gradient support of its central "
                          "output on a linearised copy of the model.")] = False,
    width: Width = None,
    set: Settings = [],  # noqa: B006
    memory_check: Annotated[bool, typer.Option(
        "--memory-check/--no-memory-check", help="With --measure: refuse, before "
        "allocating, a run estimated not to fit in free memory.")] = True,
    debug: Debug = False,
) -> None:
    """Receptive field of every layer: size, effective stride and padding per axis."""
    from netanatomy.render.catalog import find
    from netanatomy.render.results import FieldResult

    report = analyse_target(target, input, set)
    measured = None
    if measure:
        from netanatomy.diagnostics.measured_rf import measure_receptive_fields

        shown = report.tree(depth if depth is not None else find("rf", format).default_depth)
        spatial = [row.path for row in shown if row.rf is not None and row.calls > 0]
        model = load_model(target, set)
        from netanatomy.cli.progress import DelayedProgress

        with DelayedProgress("rf --measure: linearised forward", len(spatial)) as bar:
            measured = measure_receptive_fields(
                model, report.graph.inputs[0].shape, spatial, memory_check=memory_check,
                progress=lambda done, total: bar.update(
                    done, f"rf --measure: gradients of layer {min(done + 1, total)}/{total}"))
    if plot is not None:
        from netanatomy.render.plot import plot_receptive_field

        plot_receptive_field(report, plot, title=f"Receptive field of {target}")
        typer.echo(f"wrote {plot}", err=True)
    write_result("rf", format, FieldResult(report, measured), output, depth, width)


@app.command()
@handled("diagnose")
def diagnose(
    target: Annotated[str, typer.Argument(
        help="Model ('pkg.module:name', 'file.py:name', 'zoo:NAME') or a spec "
             "('file.yaml', 'example:NAME'), run for real.")] = DEFAULT_TARGET,
    input: Annotated[list[str], typer.Option(
        "--input", "-i", help="Synthetic batch SHAPE[:dtype], e.g. 8x3x64x64 "
                              "(repeatable).")] = [],  # noqa: B006
    data: Annotated[Path | None, typer.Option(
        "--data", help="A torch.save'd batch: x, (x, y) or {'x': …, 'y': …}.")] = None,
    loss: Annotated[str | None, typer.Option(
        "--loss", help="ce, mse or sum (default: ce for (N, C) logits, else mse).")] = None,
    steps: Annotated[int, typer.Option(
        "--steps", help="Passes; >1 runs SGD steps on a private copy in between.")] = 1,
    lr: Annotated[float, typer.Option("--lr", help="SGD learning rate for --steps.")] = 0.01,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    eval_mode: Annotated[bool, typer.Option(
        "--eval", help="Run in eval mode (running statistics, no dropout).")] = False,
    seed: Annotated[int, typer.Option(
        help="Seed of the model's build (zoo, spec, factory), the synthetic batch and "
             "dropout.")] = 0,
    erf_layer: Annotated[str | None, typer.Option(
        "--erf-layer", help="Layer path of the effective receptive field.")] = None,
    erf_fraction: Annotated[float, typer.Option(
        "--erf-fraction", help="Share of the gradient mass the ERF size holds.")] = 0.95,
    object_size: Annotated[int | None, typer.Option(
        "--object-size", help="Typical object size in input pixels (lint NA005).")] = None,
    depth: Depth = None,
    format: Format = "table",
    output: Output = None,
    plot: Annotated[Path | None, typer.Option(
        "--plot", help="PNG of gradient and activation statistics against depth; the "
                       "effective receptive field goes beside it (NAME-erf.png).")] = None,
    width: Width = None,
    set: Settings = [],  # noqa: B006
    memory_check: Annotated[bool, typer.Option(
        "--memory-check/--no-memory-check", help="Refuse, before allocating, a run "
        "estimated not to fit in free memory.")] = True,
    debug: Debug = False,
) -> None:
    """Run the model for real: activations, gradients, initialisation, spectra, lints."""
    report = run_diagnose(target, input, data, loss, steps, lr, device, not eval_mode,
                          seed, erf_layer, object_size, set, erf_fraction, memory_check)
    if plot is not None:
        write_diagnose_plots(report, plot, target)
    write_result("diagnose", format, report, output, depth, width)


def run_diagnose(target: str, inputs: list[str], data: Path | None, loss: str | None,
                 steps: int, lr: float, device: str, training: bool, seed: int,
                 erf_layer: str | None, object_size: int | None, settings: list[str],
                 erf_fraction: float = 0.95, memory_check: bool = True) -> Any:
    from netanatomy.analysis.lints import LintOptions
    from netanatomy.diagnostics.run import diagnose as run
    from netanatomy.frontends.torch.seeding import seeded

    if data is not None and inputs:
        raise UsageError("give --data or --input, not both")
    batch, target_tensor = None, None
    with seeded(seed):                  # the build is seeded: same seed, same weights
        if data is not None:
            from netanatomy.diagnostics.batch import load_batch

            model = load_model(target, settings)
            batch, target_tensor = load_batch(data, device)
        else:
            model, inputs = load_for_diagnosis(target, inputs, settings)
    check_module_path("--erf-layer", model, erf_layer)  # loaded, not yet run
    with progress_bar(steps) as advance:
        return run(model, batch, target=target_tensor, input_size=inputs or None,
                   loss_fn=loss, steps=steps, lr=lr, device=device, training=training,
                   seed=seed, erf_layer=erf_layer, erf_fraction=erf_fraction,
                   lint_options=LintOptions(object_size=object_size), progress=advance,
                   memory_check=memory_check)

def progress_bar(steps: int) -> Any:
    """A transient progress bar on stderr once a diagnosis runs over a second (terminals
    only): the passes, then the spectral norms and the effective receptive field."""
    import contextlib

    from netanatomy.cli.progress import DelayedProgress

    @contextlib.contextmanager
    def bar() -> Any:
        with DelayedProgress("diagnose: forward and backward", total=steps) as progress:

            def advance(step: int, total: int, value: float) -> None:
                progress.update(step, description=f"pass {step}/{total}: loss {value:.4g}")
                if step == total:
                    progress.phase("diagnose: σ max, initialisation, effective receptive "
                                   "field")

            yield advance

    return bar()

def write_diagnose_plots(report: Any, plot: Path, target: str) -> None:
    from netanatomy.render.diagnose_plot import plot_diagnostics, plot_effective_field

    plot_diagnostics(report, plot, title=f"Diagnostics of {target}")
    typer.echo(f"wrote {plot}", err=True)
    if report.erf is not None:
        erf_path = plot.with_name(f"{plot.stem}-erf{plot.suffix}")
        plot_effective_field(report.erf, erf_path, title=f"Effective receptive field of "
                                                         f"{report.erf.path}")
        typer.echo(f"wrote {erf_path}", err=True)

@app.command()
@handled("lint")
def lint(
    target: Annotated[str, typer.Argument(
        help="Model ('pkg.module:name', 'file.py:name', 'zoo:NAME') or a spec.")]
    = DEFAULT_TARGET,
    input: Inputs = [],  # noqa: B006
    batch_size: Annotated[int | None, typer.Option(
        "--batch-size", help="Training batch size for NA002 (default: the input's).")] = None,
    object_size: Annotated[int | None, typer.Option(
        "--object-size", help="Typical object size in input pixels (NA005).")] = None,
    format: Format = "table",
    output: Output = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when any lint fires.")]
    = False,
    set: Settings = [],  # noqa: B006
    debug: Debug = False,
) -> None:
    """Static checks with codes, the parameters wasted, and the fix (no real run)."""
    import netanatomy
    from netanatomy.analysis.findings import LintReport

    model, inputs = load_for_diagnosis(target, input, set)
    notes = []
    if any(p.is_meta for p in model.parameters()):
        notes.append("parameters on the meta device: initialisation not checked")
    first = inputs[0].rpartition("=")[2] if inputs else ""  # NAME=SHAPE: the shape
    if batch_size is None and first.split("x")[0].strip() == "1":
        notes.append("batch 1 is taken for an inference shape: NA002 (batch norm on a "
                     "small batch) needs the training batch, give --batch-size")
    lints = netanatomy.lint(model, inputs, batch_size=batch_size, object_size=object_size)
    write_result("lint", format, LintReport(tuple(lints), tuple(notes)), output)
    if strict and lints:
        raise typer.Exit(1)


@app.command()
@handled("compare")
def compare(
    first: Annotated[str, typer.Argument(help="First model or spec (the baseline).")],
    second: Annotated[str, typer.Argument(help="Second model or spec.")],
    input: Inputs = [],  # noqa: B006
    set: Settings = [],  # noqa: B006
    format: Format = "table",
    output: Output = None,
    debug: Debug = False,
) -> None:
    """Two models or specs side by side, with ratios (second / first)."""
    from netanatomy.analysis.compare import compare as compare_reports

    reports = [analyse_target(t, input, set, among=(first, second)) for t in (first, second)]
    write_result("compare", format, compare_reports([first, second], reports), output)


@app.command()
@handled("sweep")
def sweep(
    target: Annotated[str, typer.Argument(help="A spec file or example:NAME.")],
    vary: Annotated[list[str], typer.Option(
        "--vary", help="NAME=V1,V2,… (repeat for a grid), e.g. --vary alpha=1,0.75,0.5")],
    set: Settings = [],  # noqa: B006
    format: Format = "table",
    output: Output = None,
    debug: Debug = False,
) -> None:
    """Totals of a spec over a grid of symbol values (e.g. MobileNet's α and ρ)."""
    from netanatomy import spec
    from netanatomy.analysis.sweep import sweep as sweep_grid
    from netanatomy.frontends.spec import spec_graph

    if not spec.is_spec_target(target):
        raise UsageError("sweep takes a spec (*.yaml or example:NAME)")
    fixed = spec.parse_assignments(set)
    grid = parse_grid(vary, fixed.origins)
    loaded = spec.load(target)
    origins = {**fixed.origins, **grid.origins}
    result = sweep_grid(target, lambda values: spec_graph(loaded, spec.Assignments(
        values, origins)), fixed, grid)
    write_result("sweep", format, result, output)


def parse_grid(texts: list[str], fixed: dict[str, str] | None = None) -> Any:
    """``["alpha=1,0.75", "rho=1,0.5"]`` → ``{"alpha": [1, 0.75], "rho": [1, 0.5]}`` (an
    :class:`~netanatomy.spec.Assignments`: each name remembers its ``--vary`` item).

    Raises:
        UsageError: not NAME=V1,V2,…, or a name varied twice or also in ``fixed`` (the
        names given by --set, with their items).
    """
    from netanatomy.spec import Assignments, claim, number

    grid = Assignments()
    origins = dict(fixed or {})
    for text in texts:
        name, sep, values = (part.strip() for part in text.partition("="))
        items = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not name.isidentifier() or not items:
            raise UsageError(f"--vary {text}: expected NAME=V1,V2,…, e.g. --vary K=3,5")
        claim(origins, name, f"--vary {text}")
        grid.origins[name] = origins[name]
        grid[name] = [number(v, text) for v in items]
    return grid

@app.command()
@handled("attribute")
def attribute(
    target: Annotated[str | None, typer.Argument(
        help="Model ('pkg.module:name', 'file.py:name', 'zoo:NAME') returning (N, classes) "
             "scores; with --demo, default docs/examples/models.py:DigitsCNN.")] = None,
    image: Annotated[Path | None, typer.Option(
        "--image", help="An image file (PNG, JPEG, ...): shorter side resized to --size, "
                        "centre-cropped, ImageNet-normalised.")] = None,
    size: Annotated[int, typer.Option("--size", help="Image side in pixels.")] = 224,
    input: Inputs = [],  # noqa: B006
    method: Annotated[str, typer.Option(
        "--method", "-m", help="saliency, input_x_gradient, deconvnet, guided, gradcam, "
                               "guided_gradcam, integrated_gradients, occlusion, "
                               "deconvnet_projection, or all.")] = "guided",
    klass: Annotated[int | None, typer.Option(
        "--target", help="Class to explain (default: each sample's top class).")] = None,
    layer: Annotated[str | None, typer.Option(
        "--layer", help="Module path for gradcam, guided_gradcam, deconvnet_projection.")]
    = None,
    steps: Annotated[int | None, typer.Option(
        "--steps", help="Integrated-gradients steps (default 50).")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write a PNG grid: the input, then one overlay per method.")]
    = None,
    npy: Annotated[Path | None, typer.Option(
        "--npy", help="Save the maps as NAME-<method>.npy beside this name.")] = None,
    demo: Annotated[bool, typer.Option(
        "--demo", help="Train the digits CNN for a few seconds on scikit-learn's 8×8 "
                       "digits (a private copy), then explain held-out digits.")] = False,
    format: Format = "table",
    width: Width = None,
    debug: Debug = False,
) -> None:
    """Attribution maps: which input pixels drove the model's score, by method."""
    from netanatomy.cli.attribute import AttributeOptions, check_attribute_options, run_attribute

    options = AttributeOptions(target, image, size, input, method, klass, layer, steps, device,
                               output, npy, demo)
    check_attribute_options(options)
    write_result("attribute", format, run_attribute(options), None, None, width)

@app.command()
@handled("matrix")
def matrix(
    kind: Annotated[str, typer.Argument(
        help="conv1d, conv2d, conv-transpose1d, conv-transpose2d, avg-pool1d, avg-pool2d, "
             "max-pool1d, max-pool2d or dilated.")],
    size: Annotated[str | None, typer.Option(
        "--input", help="Input size, e.g. 3x3 (2-D) or 5 (1-D); default: the course's "
                        "setting of the kind.")] = None,
    kernel: Annotated[str | None, typer.Option(
        "--kernel", help="Kernel (window) size, e.g. 2x2 or 3.")] = None,
    stride: Annotated[str | None, typer.Option("--stride", help="Stride, e.g. 1 or 2x1 "
                                               "(pooling: the window).")] = None,
    padding: Annotated[str | None, typer.Option("--padding", help="Zero padding per side "
                                                "(default 0).")] = None,
    dilation: Annotated[str | None, typer.Option("--dilation", help="Dilation (default 1; "
                                                 "dilated: 2).")] = None,
    output_padding: Annotated[str | None, typer.Option(
        "--output-padding", help="Transposed conv: extra output rows/columns (below the "
                                 "stride or the dilation).")] = None,
    in_channels: Annotated[int | None, typer.Option("--in-channels")] = None,
    out_channels: Annotated[int | None, typer.Option("--out-channels")] = None,
    symbolic: Annotated[bool | None, typer.Option(
        "--symbolic/--numbers", help="Entries w_11 … (default) or numbers: the weights "
                                     "1, 2, 3 … or --weights.")] = None,
    weights: Annotated[str | None, typer.Option(
        "--weights", help="Kernel weights, row-major over (out, in, rows, columns), e.g. "
                          "1,2,3,4.")] = None,
    values: Annotated[str | None, typer.Option(
        "--values", help="Max pooling: the input, row-major (default: a seeded shuffle of "
                         "1 … N).")] = None,
    kronecker: Annotated[bool, typer.Option(
        "--kronecker", help="Dilated: show K, the selector S, K ⊗ S and the crop.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the check's random input "
                                      "(and of a max-pool input).")] = 0,
    format: Format = "table",
    output: Output = None,
    debug: Debug = False,
) -> None:
    """An operator as a matrix (conv as A, transposed conv as Aᵀ, pooling, the dilated
    kernel as K ⊗ S), checked against torch's op; -o FILE.npy writes the numeric matrix."""
    from netanatomy.cli.matrix import MatrixOptions, build_matrix, write_npy

    result = build_matrix(MatrixOptions(kind, size, kernel, stride, padding, dilation,
                                        output_padding, in_channels, out_channels, symbolic,
                                        weights, values, kronecker, seed))
    if output is not None and output.suffix.lower() == ".npy":
        write_npy(result, output)
        typer.echo(f"wrote {output}", err=True)
    else:
        write_result("matrix", format, result, output)
    if not result.check_passed:
        typer.echo(f"error: the {kind} matrix does not match torch's op", err=True)
        raise typer.Exit(1)


@app.command()
@handled("lab")
def lab(
    name: Annotated[str | None, typer.Argument(
        help="Experiment to run (leave out to list them, grouped by topic).")] = None,
    all: Annotated[bool, typer.Option("--all", help="Run every experiment.")] = False,
    topic: Annotated[str | None, typer.Option(
        "--topic", help="Run every experiment of this topic.")] = None,
    param: Annotated[list[str], typer.Option(
        "--param", "-p", help="Change a parameter of the experiment: KEY=VALUE (repeatable; "
                              "`netanatomy lab --format json` lists them).")] = [],  # noqa: B006
    out_dir: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Folder for the figures (NAME.png) and summary.json "
                               "(default: a netanatomy-lab folder in the temp directory).")]
    = None,
    format: Format = "table",
    width: Width = None,
    debug: Debug = False,
) -> None:
    """The lab: the course's derivations and claims, run and checked, a figure each (exit 1
    when a claim does not hold)."""
    from netanatomy.cli.lab import run_lab

    result = run_lab(name, all, topic, param, out_dir)
    write_result("lab", format, result, None, None, width)
    if not getattr(result, "passed", True):
        raise typer.Exit(1)


@app.command()
@handled("devices")
def devices(
    format: Format = "table",
    output: Output = None,
    width: Width = None,
    debug: Debug = False,
) -> None:
    """List the hardware table: memory, bandwidth and dense peaks per dtype, with the
    datasheet each comes from (docs/hardware.md)."""
    from netanatomy.hardware import devices as table

    write_result("devices", format, table(), output, None, width)


@app.command()
@handled("profile")
def profile(
    target: Target = DEFAULT_TARGET,
    input: Inputs = [],  # noqa: B006
    device: Annotated[str, typer.Option(help="cpu or cuda[:N]: calibrated and run on.")]
    = "cpu",
    repeats: Annotated[int, typer.Option(
        "--repeats", help="Timed forwards; the median is reported.")] = 10,
    warmup: Annotated[int, typer.Option(
        "--warmup", help="Untimed forwards before the timed ones.")] = 2,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic batch (and of "
                                      "a target's build).")] = 0,
    depth: Depth = None,
    format: Format = "table",
    output: Output = None,
    width: Width = None,
    debug: Debug = False,
) -> None:
    """Predicted (roofline on the calibrated machine) vs measured forward time per module,
    and peak memory (docs/profile.md)."""
    from netanatomy.cli.profile import run_profile

    result = run_profile(target, input, device, repeats, warmup, seed)
    write_result("profile", format, result, output, depth, width)


@app.command()
@handled("inference")
def inference(
    target: Target = DEFAULT_TARGET,
    prompt: Annotated[int, typer.Option("--prompt", help="Prompt tokens per sequence.")]
    = 2048,
    generate: Annotated[int, typer.Option("--generate", help="Tokens generated per "
                                          "sequence.")] = 256,
    batch: Annotated[int, typer.Option("--batch", help="Sequences served together.")] = 1,
    kv_dtype: Annotated[str | None, typer.Option(
        "--kv-dtype", help="KV-cache element type: fp8, int8, fp16, bf16 or fp32 (default: "
                           "the model's).")] = None,
    device_type: DeviceType = None,
    window: Annotated[str | None, typer.Option(
        "--window", help="Sliding window in tokens, one for all layers or a comma list per "
                         "layer ('none' for full); default: the model config's.")] = None,
    usable: Annotated[float, typer.Option(
        "--usable", help="Share of device memory usable (vLLM's default 0.9).")] = 0.9,
    format: Format = "table",
    output: Output = None,
    width: Width = None,
    debug: Debug = False,
) -> None:
    """Weights, KV cache, activations, prefill and decode FLOPs/bytes per token, time on a
    device and the largest batch/context that fits (docs/inference.md)."""
    from netanatomy.cli.inference import run_inference

    result = run_inference(target, prompt, generate, batch, kv_dtype, device_type, window,
                           usable)
    write_result("inference", format, result, output, None, width)


@app.command()
@handled("training")
def training(
    target: Target = DEFAULT_TARGET,
    input: Inputs = [],  # noqa: B006
    optimizer: Annotated[str, typer.Option(
        "--optimizer", help="sgd, sgd-momentum, adam, adamw, adagrad, rmsprop, adamax, "
                            "nadam, radam, adadelta or none.")] = "adamw",
    device: Annotated[str, typer.Option(
        help="meta (nothing allocated), cpu or cuda (run the step for real).")] = "meta",
    device_type: DeviceType = None,
    peak_dtype: Annotated[str | None, typer.Option(
        "--peak-dtype", help="Which peak of --device-type: bf16, fp16, tf32, fp32, … "
                             "(default: --precision's compute dtype, bf16 or "
                             "fp16; for fp32 the parameters' dtype).")] = None,
    convention: Annotated[str, typer.Option(
        "--convention", help="Model-FLOPs convention beside the counts: palm, kaplan, gpt3, "
                             "chinchilla, megatron, torchtitan (docs/model-flops.md).")]
    = "palm",
    shard: Annotated[str, typer.Option(
        "--shard", help="Data-parallel sharding for the memory per device: none, zero1, "
                        "zero2, zero3 or fsdp.")] = "none",
    dp: Annotated[int | None, typer.Option(
        "--dp", help="Data-parallel degree (devices each running this batch; default 1).")]
    = None,
    gpus: Annotated[int | None, typer.Option(
        "--gpus", help="Devices in all = dp × tp (give it, --dp, or both).")] = None,
    tp: Annotated[int, typer.Option(
        "--tp", help="Tensor-parallel degree (Megatron: column/row-parallel linears, "
                     "vocab-parallel embedding and head found from the graph).")] = 1,
    sequence_parallel: Annotated[bool, typer.Option(
        "--sequence-parallel", help="With --tp: norms, dropouts and saved linear inputs "
                                    "split over the sequence too.")] = False,
    precision: Annotated[str, typer.Option(
        "--precision", help="fp32 (as the model is), bf16, fp16, bf16-mixed or fp16-mixed "
                            "(half-precision model with fp32 master weights, gradients and "
                            "optimizer state).")] = "fp32",
    checkpoint: Annotated[str, typer.Option(
        "--checkpoint", help="Activation checkpointing what-if: none, blocks (every "
                             "repeated block) or auto (fewest blocks for --memory-budget)."
                             )] = "none",
    memory_budget: Annotated[float | None, typer.Option(
        "--memory-budget", help="GiB per device for --checkpoint auto (default: the "
                                "--device-type's memory).")] = None,
    depth: Depth = None,
    format: Format = "table",
    output: Output = None,
    width: Width = None,
    debug: Debug = False,
) -> None:
    """One training step (forward, loss, backward, optimizer step) captured on meta: FLOPs by
    phase and module, input vs weight gradients, memory over time by category and its peak."""
    import netanatomy

    if isinstance(tp, int) and tp >= 1 and gpus is not None:
        if dp is not None and dp * tp != gpus:
            raise UsageError(f"--dp {dp} and --gpus {gpus} disagree: devices = dp × tp = "
                             f"{dp} × {tp} = {dp * tp}; give --gpus {dp * tp}, or one of them")
        if dp is None and gpus % tp:
            raise UsageError(f"--gpus {gpus} is not a multiple of --tp {tp} (devices = dp × "
                             "tp); give a --gpus that --tp divides")
        dp = gpus // tp if dp is None else dp
    dp = dp if dp is not None else 1
    model, inputs = resolve_target(target, input)
    report = netanatomy.training(model, inputs, optimizer=optimizer, device=device,
                                 device_type=device_type, peak_dtype=peak_dtype,
                                 convention=convention, shard=shard, dp=dp,
                                 checkpoint=checkpoint, memory_budget_gib=memory_budget,
                                 precision=precision, tp=tp,
                                 sequence_parallel=sequence_parallel)
    write_result("training", format, report, output, depth, width)


@app.command()
@handled()
def playground(
    spec: Annotated[Path | None, typer.Argument(
        help="SPEC.yaml the page starts with (default: a built-in example); ref: in the "
             "page reads only inside its folder.", show_default=False)] = None,
    set: Settings = [],  # noqa: B006
    port: Annotated[int, typer.Option("--port", help="Port (0: any free one).")] = 8765,
    host: Annotated[str, typer.Option(
        "--host", help="Interface; anything but 127.0.0.1/localhost needs --allow-remote."
    )] = "127.0.0.1",
    allow_remote: Annotated[bool, typer.Option(
        "--allow-remote", help="Allow a --host other machines can reach (no "
                               "authentication: anyone who reaches it can use it).")] = False,
    open_browser: Annotated[bool, typer.Option(
        "--open/--no-open", help="Open the page in the default browser.")] = True,
    time_limit: Annotated[float, typer.Option(
        "--time-limit", help="Seconds one analysis may take before it is stopped.")] = 10.0,
    debug: Debug = False,
) -> None:
    """A local page to edit a spec and see its costs, graph and derivations as you type
    (127.0.0.1 only; Ctrl-C stops it; docs/playground.md)."""
    from netanatomy.cli.playground import run_playground

    run_playground(spec, set, host, port, allow_remote, open_browser, time_limit)


@app.command()
@handled("report")
def report(
    target: Target = DEFAULT_TARGET,
    input: Inputs = [],  # noqa: B006
    set: Settings = [],  # noqa: B006
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the page to this file (without it: stdout, when that "
                               "is not a terminal).")] = None,
    explain: Annotated[bool, typer.Option(
        "--explain", help="Put every layer's derivation in the page (always for "
                          "specs).")] = False,
    include: Annotated[str | None, typer.Option(
        "--include", help="Comma list of sections to add, run with their defaults: lint, "
                          "training, inference (language models).")] = None,
    device_type: DeviceType = None,
    debug: Debug = False,
) -> None:
    """One self-contained HTML file: the graph with repeated blocks collapsed, the sortable
    table, plots and the derivations (docs/report.md)."""
    from netanatomy.cli.report import check_output, parse_include, report_source, sections_of
    from netanatomy.render.results import ReportResult

    included = parse_include(include)
    check_output(output)
    analysed = analyse_target(target, input, set)
    explanations = None
    if explain:
        from netanatomy.analysis.explain import explain as explain_graph

        explanations = tuple(explain_graph(analysed.graph))
    sections = sections_of(included, target, input, set, analysed.graph, device_type)
    write_result("summary", "html", ReportResult(analysed, explanations,
                                                 report_source(target, input, set),
                                                 sections), output)


@app.command()
def examples() -> None:
    """List the built-in spec catalog (targets 'example:NAME')."""
    from netanatomy import spec

    for name, description in spec.examples().items():
        typer.echo(f"example:{name:<24} {description}")


@app.command("spec-layers")
def spec_layers() -> None:
    """List the spec layer types, their options and defaults."""
    from netanatomy.frontends.spec.builder import BLOCK_TYPES
    from netanatomy.frontends.spec.context import REQUIRED
    from netanatomy.frontends.spec.layers import LAYER_TYPES

    for name, layer_type in LAYER_TYPES.items():
        options = ", ".join(key if default is REQUIRED else f"{key}={default}"
                            for key, default in layer_type.options.items() if key != "name")
        typer.echo(f"{name:<16} {{{options}}}  — {layer_type.summary}")
    typer.echo("blocks: " + ", ".join(BLOCK_TYPES) + " (see docs/spec-format.md)")


@app.command()
def zoo() -> None:
    """List the built-in models (targets 'zoo:NAME')."""
    from netanatomy.frontends.torch.zoo import ZOO

    for name, entry in sorted(ZOO.items()):
        typer.echo(f"zoo:{name:<10} {entry.default_input:<14} {entry.description}")


def print_version(value: bool) -> None:
    if value:
        import netanatomy

        typer.echo(netanatomy.__version__)
        raise typer.Exit(0)


@app.callback()
def root(version: Annotated[bool, typer.Option(
        "--version", help="Print the version.", is_eager=True, callback=print_version)]
        = False) -> None:
    """netanatomy: what a neural network costs and how it behaves, layer by layer."""


def main() -> None:
    """Console-script entry point."""
    app()
