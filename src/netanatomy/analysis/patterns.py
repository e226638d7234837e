"""Lints about which input positions a stack of convolutions can see: PixelCNN blind spots
(NA006) and the gridding holes of dilated stacks (NA007). Both compose the taps of
successive layers exactly (Minkowski sums of tap offsets), without running the model."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from netanatomy.analysis.dataflow import DataFlow, passes_to_nonlinearity
from netanatomy.analysis.findings import Lint
from netanatomy.ir.graph import Node


def through_layers(node: Node) -> bool:
    """What a conv's output may pass before the next conv of the same stack."""
    return passes_to_nonlinearity(node) and node.kind not in ("concat", "upsample",
                                                               "adaptive_pool", "pool",
                                                               "reduction") \
        or node.kind in ("activation", "norm")


def next_windows(flow: DataFlow, node: Node) -> list[Node]:
    """The convs and pools that read ``node``'s output through pointwise layers."""
    return [n for n in flow.downstream(node, through_layers) if n.kind in ("conv", "pool")]


def single_predecessors(flow: DataFlow, kinds: tuple[str, ...]) -> dict[int, Node]:
    """Window node index → its unique predecessor window (stacks only, no merges)."""
    successors: dict[int, list[Node]] = {}
    incoming: dict[int, list[Node]] = {}
    for node in flow.graph.nodes:
        if node.kind in kinds:
            successors[node.index] = [n for n in next_windows(flow, node) if n.kind in kinds]
            for later in successors[node.index]:
                incoming.setdefault(later.index, []).append(node)
    return {index: nodes[0] for index, nodes in incoming.items()
            if len(nodes) == 1 and len(successors[nodes[0].index]) == 1}


Offsets = set[tuple[int, int]]


def minkowski(first: Offsets, second: Offsets) -> Offsets:
    return {(a + c, b + d) for a, b in first for c, d in second}


# --- NA006: masked convolutions ----------------------------------------------------------

def mask_of(flow: DataFlow, node: Node, modules: Mapping[str, Any]) -> Any:
    """The mask tensor of a conv whose weight is ``weight * mask`` (a buffer), or None."""
    producer = flow.producer.get(node.inputs[1].id)
    if producer is None or producer.kind != "elementwise":
        return None
    for tensor in producer.inputs:
        info = flow.graph.params.get(tensor.param or "")
        if info is not None and info.is_buffer:
            module = modules.get(info.owner)
            value = getattr(module, info.name.rpartition(".")[2], None)
            if value is not None and not getattr(value, "is_meta", True):
                return value
    return None


def mask_taps(mask: Any) -> set[tuple[int, int]]:
    """Offsets (dy, dx) from the kernel centre of the taps that any channel pair keeps. The
    centre is tap (k − 1) // 2 per axis, the one 'same' padding aligns with the output pixel
    (as :func:`netanatomy.layers.conv.pixelcnn_mask` defines it; the middle for odd k)."""
    support = (mask.reshape(-1, *mask.shape[-2:]) != 0).any(dim=0)
    height, width = support.shape
    return {(i - (height - 1) // 2, j - (width - 1) // 2) for i in range(height)
            for j in range(width) if bool(support[i, j])}


def blind_spot(reachable: set[tuple[int, int]]) -> list[tuple[int, int]]:
    """Raster-earlier offsets inside the bounding box of ``reachable`` that it misses."""
    rows = [dy for dy, _ in reachable]
    cols = [dx for _, dx in reachable]
    return [(dy, dx) for dy in range(min(rows), 1) for dx in range(min(cols), max(cols) + 1)
            if (dy < 0 or dx < 0) and (dy, dx) not in reachable]


def masked_conv_lints(flow: DataFlow, modules: Mapping[str, Any]) -> Iterator[Lint]:
    """NA006 at the end of each stack of masked convs whose field has a blind spot."""
    masks = {node.index: mask_of(flow, node, modules) for node in flow.graph.nodes
             if node.kind == "conv"}
    masked = {index: mask for index, mask in masks.items() if mask is not None}
    if not masked:
        return
    before = single_predecessors(flow, ("conv",))
    reachable: dict[int, set[tuple[int, int]]] = {}
    layers: dict[int, int] = {}
    nodes = {node.index: node for node in flow.graph.nodes}
    for index in sorted(masked):
        previous = before.get(index)
        start = reachable.get(previous.index) if previous is not None else None
        taps = mask_taps(masked[index])
        if previous is not None and start is not None:
            reachable[index] = minkowski(start, taps)
            layers[index] = layers.get(previous.index, 0) + 1
        else:
            reachable[index], layers[index] = taps, 1
    ends = [i for i in masked if not any(p is not None and p.index == i and j in masked
                                         for j, p in before.items())]
    for index in ends:
        missing = blind_spot(reachable[index])
        if missing:
            yield Lint("NA006", nodes[index].path, f"the stack of {layers[index]} masked "
                       f"convs ending here never sees {len(missing)} raster-earlier "
                       f"pixels inside its field, e.g. offset (dy, dx) = {missing[0]} "
                       "(the blind spot grows up and to the right)", 0,
                       "use gated PixelCNN's vertical and horizontal stacks (van den Oord "
                       "et al. 2016) to cover the blind spot")


# --- NA007: dilated stacks ---------------------------------------------------------------

def window_geometry(node: Node) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(kernel, stride, dilation) per spatial axis of a conv or pool node (ints)."""
    if node.kind == "conv":
        kernel = tuple(int(k) for k in node.inputs[1].shape[2:])
    else:
        kernel = tuple(int(k) for k in node.attrs["kernel"])
    return (kernel, tuple(int(s) for s in node.attrs["stride"]),
            tuple(int(d) for d in node.attrs["dilation"]))


def gridding_lints(flow: DataFlow) -> Iterator[Lint]:
    """NA007 at the end of each conv/pool stack with a dilation > 1 whose composed taps
    leave holes inside the field on some axis."""
    before = single_predecessors(flow, ("conv", "pool"))
    offsets: dict[int, list[set[int]]] = {}
    jumps: dict[int, list[int]] = {}
    dilated: dict[int, tuple[int, ...]] = {}
    windows = [n for n in flow.graph.nodes if n.kind in ("conv", "pool")]
    for node in windows:
        try:
            kernel, stride, dilation = window_geometry(node)
        except (TypeError, ValueError, KeyError):
            continue
        previous = before.get(node.index)
        if previous is None or previous.index not in offsets:
            start, jump = [{0} for _ in kernel], [1] * len(kernel)
            history: tuple[int, ...] = ()
        else:
            start, jump = offsets[previous.index], jumps[previous.index]
            history = dilated[previous.index]
        offsets[node.index] = [{a + j * d * t for a in axis for t in range(k)}
                               for axis, j, k, d in zip(start, jump, kernel, dilation)]
        jumps[node.index] = [j * s for j, s in zip(jump, stride)]
        dilated[node.index] = (*history, max(dilation))
    successors = {p.index for p in before.values()}
    for node in windows:
        if node.index in successors or node.index not in offsets:
            continue
        if max(dilated[node.index], default=1) <= 1:
            continue
        holes = [(max(axis) - min(axis) + 1, len(axis)) for axis in offsets[node.index]]
        if any(span > seen for span, seen in holes):
            span, seen = next((span, seen) for span, seen in holes if span > seen)
            yield Lint("NA007", node.path, f"the stack of {len(dilated[node.index])} "
                       f"windows ending here (dilations {dilated[node.index]}) spans "
                       f"{span} positions per axis but samples only {seen} of them: "
                       "gridding holes", 0,
                       "use dilations without a common factor, e.g. 1, 2, 5 (hybrid "
                       "dilated convolution, Wang et al. 2018)")
