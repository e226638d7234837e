"""The result of a diagnostic run: per-layer statistics, a verdict, lints and the effective
receptive field. Plain frozen dataclasses; renderers turn them into a table, JSON or plots."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netanatomy.analysis.findings import InitCheck, Lint

__all__ = ["CONVENTIONS", "DiagnoseReport", "EffectiveField", "InitCheck", "LayerDiagnostics",
           "Lint", "ParamStats", "StepRecord", "Verdict"]

CONVENTIONS: Mapping[str, str] = {
    "activations": "statistics of each module's first output tensor over the whole batch "
                   "(last call when a module runs several times)",
    "dead_fraction": "ReLU family (ReLU, ReLU6, LeakyReLU, PReLU, ELU, SELU, CELU, GELU, "
                     "SiLU, Mish, Hardswish): fraction of units (output positions, batch axis "
                     "excluded) never positive over the batch",
    "saturated_fraction": "Sigmoid/Hardsigmoid: outputs < 0.01 or > 0.99; Tanh/Hardtanh: "
                          "|output| > 0.99 (derivative below ~2-4 % of its maximum)",
    "grad_norm": "L2 norm of each parameter's gradient of the loss (mean over the batch)",
    "grad_to_weight": "grad_norm / L2 norm of the parameter",
    "gain": "||dL/d input|| / ||dL/d output|| of a module (first tensor of each), from "
            "full backward hooks",
    "verdict": "end-to-end gain from the last layer's output back to the first layer "
               "(its input when that has a gradient): vanishing below 1e-3, exploding above "
               "1e3 or when a gradient is not finite, else healthy",
    "init": "weight std against He sqrt(2/fan_in) when the next nonlinearity is of the ReLU "
            "family and Xavier sqrt(2/(fan_in+fan_out)) otherwise; fan_in = C_in/groups x "
            "kernel area, fan_out = C_out x kernel area (torch's convention); flagged when "
            "off by more than 2x and no normalisation layer follows",
    "sigma_max": "largest singular value of the layer's linear map: exact (matrix 2-norm) "
                 "for Linear, Lanczos-accelerated power iteration on the convolution "
                 "operator at the layer's input size (stride, padding and dilation "
                 "included) for convs",
    "bound": "product over the layers of a plain chain of sigma_max and of each "
             "activation's largest derivative (ReLU 1, tanh 1, sigmoid 1/4): an upper bound "
             "on the end-to-end gain; not applicable to branched graphs or normalisation",
    "erf": "effective receptive field (Luo et al. 2016): mean |d central output / d input| "
           "over batch and channels, in eval mode (batch statistics would couple every "
           "position); size = smallest centred window per axis holding the given fraction "
           "of that mass",
}


@dataclass(frozen=True, slots=True)
class ParamStats:
    """One parameter tensor after the backward pass (``grad_norm`` None: no gradient)."""

    name: str
    shape: tuple[int, ...]
    weight_norm: float
    grad_norm: float | None
    grad_to_weight: float | None


@dataclass(frozen=True, slots=True)
class LayerDiagnostics:
    """One module (same ``path`` as in ``summary``); ``None`` where a statistic does not
    apply (no tensor output, not an activation, never reached by the gradient)."""

    path: str
    type: str
    depth: int
    calls: int
    output_shape: tuple[int, ...] | None
    act_mean: float | None
    act_std: float | None
    dead_fraction: float | None
    saturated_fraction: float | None
    grad_output_norm: float | None
    grad_input_norm: float | None
    gain: float | None
    params: tuple[ParamStats, ...] = ()
    init: InitCheck | None = None
    sigma_max: float | None = None
    sigma_method: str | None = None

    @property
    def name(self) -> str:
        return self.path.rpartition(".")[2] if self.path else "<root>"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Model-level gradient verdict: ``status`` is ``"vanishing"``, ``"exploding"``,
    ``"healthy"`` or ``"unknown"``; ``gain`` the measured end-to-end gain from ``to_path``'s
    output back to ``from_path``; ``bound`` the product bound where it applies."""

    status: str
    gain: float | None
    bound: float | None
    bound_applies: bool
    from_path: str | None
    to_path: str | None
    responsible: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class EffectiveField:
    """Effective receptive field of the central output of layer ``path``.

    ``heatmap`` is the mean |gradient| per input position (rows × columns for 2-D inputs;
    one row for 1-D), normalised to sum 1; ``size`` per spatial axis holds ``fraction`` of
    the mass; ``theoretical`` is the computed field's size per axis (``None`` when global
    or unknown); ``output_position`` the central output position used.
    """

    path: str
    fraction: float
    size: tuple[int, ...]
    output_position: tuple[int, ...]
    theoretical: tuple[int, ...] | None
    heatmap: Any = field(repr=False, compare=False, default=None)


@dataclass(frozen=True)
class StepRecord:
    """One training step of a multi-step run: loss and the gradient norm per parameter."""

    step: int
    loss: float
    grad_norms: Mapping[str, float]


@dataclass(frozen=True)
class DiagnoseReport:
    """Everything ``diagnose`` measured; ``layers`` in definition order, root first."""

    layers: tuple[LayerDiagnostics, ...]
    verdict: Verdict
    lints: tuple[Lint, ...]
    loss: float
    loss_name: str
    input_shapes: tuple[tuple[int, ...], ...]
    device: str
    training: bool
    seed: int
    steps: tuple[StepRecord, ...] = ()
    erf: EffectiveField | None = None
    notes: tuple[str, ...] = ()
    conventions: Mapping[str, str] = field(default_factory=lambda: dict(CONVENTIONS))

    def layer(self, path: str) -> LayerDiagnostics:
        """The row of module ``path`` (``""`` for the root).

        Raises:
            KeyError: no module has that path (the message lists close matches).
        """
        for row in self.layers:
            if row.path == path:
                return row
        import difflib

        close = difflib.get_close_matches(path, [row.path for row in self.layers], n=3)
        raise KeyError(f"no layer {path!r}" + (f"; did you mean {', '.join(close)}?"
                                                if close else ""))

    def lints_with(self, code: str) -> tuple[Lint, ...]:
        return tuple(lint for lint in self.lints if lint.code == code)

    def to_dict(self, depth: int | None = None) -> dict[str, Any]:
        """The ``netanatomy.diagnose/1`` JSON document as Python data."""
        from netanatomy.render.diagnose_json import diagnose_document

        return diagnose_document(self, depth)

    def to_json(self, depth: int | None = None) -> str:
        """The JSON document as text."""
        return self._write("json", depth=depth)

    def to_csv(self, depth: int | None = None) -> str:
        """One CSV row per layer."""
        return self._write("csv", depth=depth)

    def render(self, depth: int | None = 3, width: int | None = None) -> str:
        """The terminal table as plain text."""
        return self._write("table", depth=depth, width=width)

    def _write(self, fmt: str, **options: Any) -> str:
        from netanatomy.render.catalog import write

        return write("diagnose", fmt, self, **options)

    def __str__(self) -> str:
        return self.render()
