"""Spatial dropout (torch's Dropout2d) drops whole feature maps: each (sample, channel) map
is either all zero or the input map scaled by 1/(1 − p); element dropout drops pixels."""

from __future__ import annotations

import math

import torch
from torch import nn

from netanatomy.lab.base import Outcome, at_most, close, equal, experiment
from netanatomy.lab.figures import new_figure

F64 = torch.float64


def map_states(x: torch.Tensor, out: torch.Tensor, p: float) -> tuple[torch.Tensor, ...]:
    """Per map (sample, channel): all zero, all equal to x/(1 − p) (to float64 rounding),
    and mixed (neither)."""
    maps_in = x.flatten(2)
    maps_out = out.flatten(2)
    zero = (maps_out == 0).all(dim=-1)
    scaled = torch.isclose(maps_out, maps_in / (1 - p), rtol=1e-12, atol=0).all(dim=-1)
    return zero, scaled, ~(zero | scaled)


@experiment("spatial-dropout", topic="regularisation",
            title="Spatial dropout zeroes whole feature maps",
            claim="Dropout2d keeps or drops each (sample, channel) map as a whole: every map "
                  "is all zero or all scaled by 1/(1 − p), and a fraction p of the maps is "
                  "dropped; element dropout zeroes pixels independently, so it almost never "
                  "drops a whole map (probability p^(H·W)).",
            setting="p = 0.3 on a 64 × 32 × 8 × 8 batch of positive activations "
                    "(2048 maps), torch.nn.Dropout2d against torch.nn.Dropout")
def spatial_dropout(p: float = 0.3, batch: int = 64, channels: int = 32, size: int = 8,
                    dropout: str = "spatial", seed: int = 0) -> Outcome:
    """``dropout="element"`` puts element dropout where the claim expects spatial dropout
    (the failing premise)."""
    generator = torch.Generator().manual_seed(seed)
    x = 0.5 + torch.rand(batch, channels, size, size, generator=generator, dtype=F64)
    layer = nn.Dropout2d(p) if dropout == "spatial" else nn.Dropout(p)
    spatial = layer.train()(x)
    element = nn.Dropout(p).train()(x)
    maps = batch * channels
    zero, _, mixed = map_states(x, spatial, p)
    dropped = float(zero.double().mean())
    binomial_error = math.sqrt(p * (1 - p) / maps)
    element_zero, element_scaled, element_mixed = map_states(x, element, p)
    pixels = size * size
    whole = p**pixels + (1 - p) ** pixels                  # a map's pixels all alike
    pixel_error = math.sqrt(p * (1 - p) / element.numel())
    checks = [
        equal("maps neither all-zero nor all-scaled (spatial)", int(mixed.sum()), 0,
              reason="Dropout2d draws one Bernoulli per map"),
        close("fraction of maps dropped (spatial)", dropped, p, atol=5 * binomial_error,
              reason=f"5 binomial standard errors √(p(1−p)/{maps}) = {binomial_error:.3g}"),
        close("fraction of pixels dropped (element)", float((element == 0).double().mean()),
              p, atol=5 * pixel_error,
              reason=f"5 binomial standard errors over {element.numel()} pixels"),
        at_most("maps dropped or kept whole (element)",
                int((element_zero | element_scaled).sum()), maps * whole,
                atol=5 * math.sqrt(maps * whole * (1 - whole)) + 1,
                reason=f"expected count maps·(p^{pixels} + (1−p)^{pixels}) + 5 binomial "
                       "standard errors (+1 for the integer count)"),
    ]
    figure = draw(x, spatial, element, zero, p, dropout)
    return Outcome(checks, figure, data={
        "maps": maps, "dropped_fraction_spatial": dropped,
        "mixed_maps_spatial": int(mixed.sum()), "mixed_maps_element": int(element_mixed.sum()),
        "dropped_fraction_element_pixels": float((element == 0).double().mean())},
        notes=[f"{int(zero.sum())} of {maps} maps dropped whole; expected p·{maps} = "
               f"{p * maps:.1f}"])


def draw(x: torch.Tensor, spatial: torch.Tensor, element: torch.Tensor, zero: torch.Tensor,
         p: float, dropout: str) -> object:
    shown = 8
    figure, axes = new_figure(shown, 3, width=1.25, height=1.45)
    top = float((x[0, :shown] / (1 - p)).max())
    rows = (("input", x), (f"{'Dropout2d' if dropout == 'spatial' else 'Dropout'}", spatial),
            ("element Dropout", element))
    image = None
    for row, (label, tensor) in enumerate(rows):
        for channel in range(shown):
            axis = axes[row * shown + channel]
            image = axis.imshow(tensor[0, channel].numpy(), cmap="magma", vmin=0, vmax=top)
            axis.set_xticks([])
            axis.set_yticks([])
            if channel == 0:
                axis.set_ylabel(label, fontsize=8)
            if row == 0:
                axis.set_title(f"map {channel}", fontsize=8)
            if row == 1 and bool(zero[0, channel]):
                axis.set_title("dropped", fontsize=8, color="#d1242f")
    figure.colorbar(image, ax=axes, shrink=0.7, label="activation")
    figure.suptitle(f"Spatial dropout (p = {p:g}) zeroes whole maps; element dropout "
                    "zeroes pixels", fontsize=10)
    return figure
