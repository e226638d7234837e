"""PixelCNN masked convolutions: a type-A layer then type-B layers make each output depend
only on raster-earlier pixels, and the stack's dependency set misses a wedge of them above
and to the right of the pixel (the blind spot of van den Oord et al. 2016)."""

from __future__ import annotations

import re

import torch
from torch import nn

import netanatomy
from netanatomy.errors import UsageError
from netanatomy.lab.base import Outcome, at_least, equal, experiment
from netanatomy.lab.figures import new_figure
from netanatomy.layers import MaskedConv2d

F64 = torch.float64
Offsets = set[tuple[int, int]]


def raster_taps(kernel: int, mask_type: str) -> Offsets:
    """Kernel offsets (dy, dx) the raster rule allows: rows above, or the same row to the
    left; type B also the centre (written from the definition, not from the layer's mask)."""
    r = (kernel - 1) // 2
    return {(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)
            if dy < 0 or (dy == 0 and dx < 0) or (mask_type == "B" and (dy, dx) == (0, 0))}


def minkowski(first: Offsets, second: Offsets) -> Offsets:
    return {(a + c, b + d) for a, b in first for c, d in second}


def predicted_support(kernel: int, depth: int) -> Offsets:
    """Offsets a type-A layer then depth − 1 type-B layers can reach (set arithmetic)."""
    reach = raster_taps(kernel, "A")
    for _ in range(depth - 1):
        reach = minkowski(reach, raster_taps(kernel, "B"))
    return reach


def raster_earlier(radius: int) -> Offsets:
    """Every raster-earlier offset inside the stack's bounding field (side 2·radius + 1)."""
    return {(dy, dx) for dy in range(-radius, 1) for dx in range(-radius, radius + 1)
            if dy < 0 or dx < 0}


def masked_stack(kernel: int, depth: int, channels: int, mask: str, seed: int) -> nn.Sequential:
    """Type A then type B masked convs ('same' padding), weights uniform in [0.5, 1.5) and
    biases 0: no cancellation, so the gradient's support is the dependency set. ``mask=none``
    sets every mask to 1 (plain convs: the failing premise)."""
    if mask not in ("pixelcnn", "none"):
        raise UsageError(f"lab masked-conv-blind-spot: mask={mask!r} is not pixelcnn or none")
    layers: list[nn.Module] = [MaskedConv2d(1, channels, kernel, "A")]
    layers += [MaskedConv2d(channels, channels, kernel, "B") for _ in range(depth - 1)]
    generator = torch.Generator().manual_seed(seed)
    model = nn.Sequential(*layers).double()
    with torch.no_grad():
        for layer in layers:
            assert isinstance(layer, MaskedConv2d) and layer.bias is not None
            layer.weight.copy_(0.5 + torch.rand(layer.weight.shape, generator=generator,
                                                dtype=F64))
            layer.bias.zero_()
            if mask == "none":
                layer.mask.fill_(1.0)
    return model


def gradient_support(model: nn.Module, size: int) -> Offsets:
    """Offsets from the centre where d(centre output, summed over channels)/d input ≠ 0."""
    x = (0.5 + torch.rand(1, 1, size, size, generator=torch.Generator().manual_seed(1),
                          dtype=F64)).requires_grad_(True)
    centre = size // 2
    (gradient,) = torch.autograd.grad(model(x)[0, :, centre, centre].sum(), x)
    rows, cols = torch.nonzero(gradient[0, 0], as_tuple=True)
    return {(int(r) - centre, int(c) - centre) for r, c in zip(rows, cols)}


def lint_blind_count(model: nn.Module, size: int) -> int:
    """The count netanatomy's NA006 lint reports (0 when it does not fire)."""
    for lint in netanatomy.lint(model, (1, 1, size, size), dtype=F64):
        if lint.code == "NA006":
            found = re.search(r"never sees (\d+) raster", lint.message)
            return int(found.group(1)) if found else -1
    return 0


@experiment("masked-conv-blind-spot", topic="fields",
            title="Masked convolutions: raster-causal, with a blind spot",
            claim="In a PixelCNN stack (one type-A masked conv, then type-B ones) the output "
                  "at a pixel depends only on raster-earlier pixels; the dependency set is "
                  "the Minkowski sum of the layers' tap sets and misses a growing wedge of "
                  "raster-earlier pixels above-right of the pixel (the blind spot).",
            setting="3 × 3 masked convs, type A then 3 × type B, 2 channels, 'same' padding, "
                    "positive weights, 17 × 17 input; gradient of the centre output")
def masked_conv_blind_spot(kernel: int = 3, depth: int = 4, channels: int = 2, size: int = 17,
                           mask: str = "pixelcnn", seed: int = 0) -> Outcome:
    """``mask="none"`` uses unmasked convs (the failing premise)."""
    radius = depth * ((kernel - 1) // 2)
    if size < 2 * radius + 3:
        raise UsageError(f"lab masked-conv-blind-spot: size={size} is smaller than the "
                         f"field {2 * radius + 1} plus a border; use size ≥ {2 * radius + 3}")
    model = masked_stack(kernel, depth, channels, mask, seed)
    seen = gradient_support(model, size)
    first_seen = gradient_support(model[:1], size)
    predicted = predicted_support(kernel, depth)
    earlier = raster_earlier(radius)
    blind = earlier - seen
    predicted_blind = earlier - predicted
    field = netanatomy.analyze(model, (1, 1, size, size), dtype=F64).layer(str(depth - 1)).rf
    checks = [
        equal("pixels seen that are not raster-earlier", len(seen - earlier), 0,
              reason="causality: exact (a support, no tolerance)"),
        equal("type A alone: seen offsets = its raster taps",
              sorted(first_seen) == sorted(raster_taps(kernel, "A")), True),
        equal("gradient support vs Minkowski sum of tap sets (differences)",
              len(seen ^ predicted), 0, reason="set arithmetic on the raster rule"),
        equal("blind-spot pixels (raster-earlier, in the field, unseen)", len(blind),
              len(predicted_blind), reason="count from the set arithmetic"),
        at_least("blind-spot pixels", len(blind), 1,
                 reason="a stack of ≥ 2 masked layers misses the upper-right wedge"),
        equal("netanatomy rf size of the stack (bounding field)",
              None if field is None else tuple(field.size),
              (2 * radius + 1, 2 * radius + 1), reason="1 + depth·(k − 1) per axis"),
        equal("netanatomy lint NA006 blind-spot count", lint_blind_count(model, size),
              len(predicted_blind), reason="the lint's own set arithmetic on the masks"),
    ]
    figure = draw([(first_seen, (kernel - 1) // 2, "one type-A layer"),
                   (seen, radius, f"type A + {depth - 1} × type B")], radius, size, len(blind))
    return Outcome(checks, figure, data={
        "field_side": 2 * radius + 1, "raster_earlier_in_field": len(earlier),
        "seen": len(seen), "blind_spot": len(blind),
        "blind_offsets": sorted([list(o) for o in blind])[:60]},
        notes=[f"of {len(earlier)} raster-earlier pixels in the {2 * radius + 1}² field, the "
               f"stack sees {len(seen & earlier)} and misses {len(blind)}"])


def draw(panels: list[tuple[Offsets, int, str]], radius: int, size: int,
         blind_count: int) -> object:
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    colours = ["#f6f8fa", "#d1242f", "#1f6feb", "#000000"]
    names = ["raster-later or outside the field", "blind spot (earlier, unseen)",
             "seen (gradient ≠ 0)", "the output pixel"]
    figure, axes = new_figure(2, 1, width=4.2, height=3.4)
    centre = size // 2
    rows = slice(centre - radius - 1, centre + 3)
    columns = slice(centre - radius - 1, centre + radius + 2)
    for axis, (seen, reach, title) in zip(axes, panels):
        codes = torch.zeros(size, size)
        for dy, dx in raster_earlier(reach):
            codes[centre + dy, centre + dx] = 1
        for dy, dx in seen:
            codes[centre + dy, centre + dx] = 2
        codes[centre, centre] = 3 if (0, 0) not in seen else 2
        axis.imshow(codes[rows, columns].numpy(), cmap=ListedColormap(colours), vmin=-0.5,
                    vmax=3.5)
        axis.set_xticks(range(0, 2 * radius + 3, 2),
                        [str(t - radius - 1) for t in range(0, 2 * radius + 3, 2)])
        axis.set_yticks(range(radius + 4), [str(t - radius - 1) for t in range(radius + 4)])
        axis.set_xlabel("column offset dx (pixels)")
        axis.set_ylabel("row offset dy (pixels)")
        axis.set_title(title, fontsize=10)
    figure.legend(handles=[Patch(color=c, label=n) for c, n in zip(colours, names)],
                  loc="outside lower center", ncols=2, fontsize=8)
    figure.suptitle(f"Centre pixel's dependencies: causal, with {blind_count} blind-spot "
                    "pixels", fontsize=10)
    return figure
