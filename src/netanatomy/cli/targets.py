"""Loading a command's target: a PyTorch model (``module:function``, ``zoo:NAME``, a file)
with its input shapes, or a spec (``*.yaml``, ``example:NAME``) built with its ``--set``
values. Shared by the commands of :mod:`netanatomy.cli.main` and their glue modules."""

from __future__ import annotations

from typing import Any

from netanatomy.errors import UsageError


def resolve_target(target: str, inputs: list[str]) -> tuple[Any, list[str]]:
    """Load the model, and the zoo's default input when none is given."""
    from netanatomy.frontends.torch.target import load_target
    from netanatomy.frontends.torch.zoo import ZOO

    model = load_target(target)
    if not inputs:
        name = target.partition(":")[2]
        if target.startswith("zoo:") and name in ZOO:
            return model, [ZOO[name].default_input]
        raise UsageError(f"--input is required for {target!r}: give the input shape, e.g. "
                         "--input 1x3x224x224 (or 1x128:int64 for token ids); repeat it for "
                         "several inputs")
    return model, inputs


def load_model(target: str, settings: list[str]) -> Any:
    """The nn.Module of a target: a spec is built (with its --set values), a PyTorch
    target loaded."""
    from netanatomy import spec
    from netanatomy.frontends.torch.target import load_target

    if spec.is_spec_target(target):
        return spec.build(target, spec.parse_assignments(settings))
    if settings:
        raise UsageError("--set is for spec targets (*.yaml, example:NAME)")
    return load_target(target)


def load_for_diagnosis(target: str, inputs: list[str],
                       settings: list[str]) -> tuple[Any, list[str]]:
    """The model to run for real (a spec is built) and the input shapes (a spec's own
    input with batch 8 unless --input is given)."""
    from netanatomy import spec

    if not spec.is_spec_target(target):
        if settings:
            raise UsageError("--set is for spec targets (*.yaml, example:NAME)")
        return resolve_target(target, inputs)
    model = load_model(target, settings)
    if not inputs:
        assignments = spec.parse_assignments(settings)
        shape = spec.input_shape(target, assignments)[1:]
        dtype = spec.input_dtype(target, assignments)
        inputs = ["x".join(map(str, (8, *shape))) + f":{dtype}"]
    return model, inputs
