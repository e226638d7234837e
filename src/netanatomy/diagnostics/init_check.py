"""Each weight's standard deviation against He and Xavier initialisation, for the
nonlinearity its output actually meets (found on the captured graph, so functional
activations count too)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from netanatomy.analysis.dataflow import DataFlow, activation_family, activation_name
from netanatomy.analysis.findings import InitCheck

TOLERANCE = 2.0
"""A std off by more than this factor from the expected one is flagged."""


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """torch's convention: fan_in = shape[1]·kernel area (C_in/groups·k² for a conv),
    fan_out = shape[0]·kernel area."""
    receptive = math.prod(shape[2:]) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def scheme_stds(fan_in: int, fan_out: int) -> dict[str, float]:
    """Std of each scheme: He sqrt(2/fan_in), Xavier sqrt(2/(fan_in+fan_out)), and torch's
    default for Linear/Conv, kaiming_uniform(a=√5) = U(±1/sqrt(fan_in)): 1/sqrt(3·fan_in)."""
    return {"he": math.sqrt(2 / fan_in), "xavier": math.sqrt(2 / (fan_in + fan_out)),
            "torch-default": 1 / math.sqrt(3 * fan_in)}


def closest_scheme(std: float, stds: dict[str, float], numel: int = 10**6) -> str:
    """The scheme whose std is nearest in log ratio; torch's default when within the
    sampling error of a std from ``numel`` values: 4 standard errors of log(std), whose SE
    is sqrt(0.5/n) for normal and sqrt(0.2/n) for uniform weights (at least 5 %)."""
    tolerance = max(math.log(1.05), 4 * math.sqrt(0.5 / max(numel, 1)))
    if abs(math.log(max(std, 1e-30) / stds["torch-default"])) < tolerance:
        return "torch-default"
    return min(("he", "xavier"), key=lambda s: abs(math.log(max(std, 1e-30) / stds[s])))


def check_weight(name: str, weight: torch.Tensor, activation: str | None, family: str,
                 normalised: bool, is_output: bool = False) -> InitCheck:
    """He is expected before the ReLU family, Xavier otherwise; flagged when off by more
    than TOLERANCE, unless a normalisation follows or the layer is the model's output
    (whose scale is often chosen small on purpose)."""
    fan_in, fan_out = fans(tuple(weight.shape))
    std = float(weight.detach().double().std())
    stds = scheme_stds(fan_in, fan_out)
    he, xavier = stds["he"], stds["xavier"]
    expected = "he" if family == "relu" else "xavier"
    ratio = std / stds[expected]
    closest = closest_scheme(std, stds, weight.numel())
    flagged = not normalised and not is_output and not (1 / TOLERANCE <= ratio <= TOLERANCE)
    return InitCheck(name, fan_in, fan_out, std, he, xavier, activation, expected, ratio,
                     closest, normalised, flagged)


def init_checks(flow: DataFlow, params: Mapping[str, torch.Tensor]) -> tuple[InitCheck, ...]:
    """One check per weight (a ``*weight`` parameter of rank ≥ 2 of a conv or linear node)
    with real values; parameters on the meta device are skipped."""
    checks: dict[str, InitCheck] = {}
    for node in flow.graph.nodes:
        if node.kind not in ("conv", "conv_transpose", "matmul"):
            continue
        name = flow.weight_of(node)
        weight = params.get(name or "")
        if name is None or weight is None or weight.is_meta or weight.dim() < 2 \
                or not name.endswith("weight") or name in checks:
            continue
        met = flow.meets(node)
        activation = activation_name(met.node) if met.kind == "activation" and met.node \
            else None
        family = activation_family(met.node) if activation and met.node else "linear"
        checks[name] = check_weight(name, weight, activation, family, met.kind == "norm",
                                    met.kind == "output")
    return tuple(checks.values())
