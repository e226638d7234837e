"""``netanatomy.inference``: capture a language model's prefill and decode forwards on meta
tensors and fold them (:mod:`netanatomy.analysis.inference`) into weights, KV cache,
activations, FLOPs and bytes per token, time on a device and what fits it.

Captures (all on meta, nothing allocated):

- prefill: ``input_ids`` of ``batch × prompt`` with an empty cache where ``forward``
  takes one (transformers checks for packed sequences, a data-dependent ``.item()``,
  when there is neither cache nor mask), and ``logits_to_keep=1`` where ``forward`` takes
  it (an engine samples from the last position only);
- decode: one new token per sequence with a past of ``prompt`` and of
  ``prompt + generate − 1`` tokens, a transformers ``DynamicCache`` filled with meta
  tensors of the shapes the prefill's attention shows (heads_kv × head_dim per layer).
  Every other step lies on the line between the two (decode costs are linear in the
  context), so two captures give every step exactly.

A model whose ``forward`` takes no cache (``cache`` / ``past_key_values``) is analysed for
the prefill only, and the report says so.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netanatomy.analysis import inference as fold
from netanatomy.analysis.roofline import Total
from netanatomy.errors import UsageError

__all__ = ["Inference", "inference"]

DEFAULT_USABLE = 0.9
"""Share of device memory the model may use: vLLM's ``gpu_memory_utilization`` default."""


@dataclass(frozen=True)
class Inference(fold.InferenceReport):
    """:class:`~netanatomy.analysis.inference.InferenceReport` with its outputs (the
    renderers of the ``inference`` command)."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (schema ``netanatomy.inference/1``) as Python data."""
        from netanatomy.render.inference import inference_document

        return inference_document(self)

    def render(self, fmt: str = "table", width: int | None = None) -> str:
        """The text in ``fmt`` (table, json or csv)."""
        from netanatomy.render.catalog import write

        return write("inference", fmt, self, width=width)

    def __str__(self) -> str:
        return self.render()


def inference(model: Any, prompt: int = 2048, generate: int = 256, batch: int = 1, *,
              kv_dtype: str | None = None, device_type: str | None = None,
              window: int | Sequence[int | None] | None = None, dtype: str | None = None,
              usable_fraction: float = DEFAULT_USABLE) -> Inference:
    """What serving ``model`` costs (module doc).

    Args:
        model: an ``nn.Module`` taking token ids (``input_ids``), or a target string.
        prompt, generate, batch: tokens per prompt, tokens generated, sequences.
        kv_dtype: cache element type (fp8, int8, fp16, bf16, fp32); default the model's.
        device_type: a hardware-table key (``netanatomy devices``) for the roofline times
            and the fit; None: neither.
        window: sliding window in tokens for every layer, or one per cached layer (None:
            full); default: the model config's (``layer_types``/``sliding_window``).
        dtype: the roofline peak to use (default: the parameters' dtype).
        usable_fraction: share of the device's memory available (default 0.9).

    Raises:
        UsageError: bad arguments, or a model in which no attention is found.
    """
    from netanatomy.api import analyze_inputs, check_model

    for name, value in (("prompt", prompt), ("generate", generate), ("batch", batch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UsageError(f"{name} must be a positive integer, got {value!r}")
    if isinstance(model, str):
        from netanatomy.frontends.torch.target import load_target

        model = load_target(model)
    check_model(model, "inference")
    accepted = forward_parameters(model)
    notes: list[str] = []
    empty = empty_cache(accepted)
    prefill_graph = capture_tokens(model, accepted, batch, prompt, empty, analyze_inputs)
    if prefill_graph.capture.device != "meta":
        notes.append(f"the prefill ran on {prefill_graph.capture.device}, not meta: "
                     + "; ".join(prefill_graph.capture.notes))
    sites = fold.attention_sites(prefill_graph, batch)
    if not sites:
        raise UsageError(f"no attention found in {type(model).__name__}'s forward: "
                         "inference() sizes a KV cache from attention ops")
    windows, window_note = resolve_window(model, window)
    notes += [window_note] if window_note else []
    layers, skipped = fold.kv_layers(sites, prompt, windows)
    notes += skipped
    itemsize = fold.kv_itemsize(kv_dtype, layers)
    kv_name = kv_dtype or layers[0].dtype
    first, last, decode_note = decode_phases(model, accepted, layers, batch, prompt, generate,
                                             analyze_inputs)
    notes += [decode_note] if decode_note else []
    prefill = fold.phase_cost(prefill_graph, batch * prompt, prompt)
    report = fold.InferenceReport(
        model=type(model).__name__, dtype=layers[0].dtype, batch=batch, prompt=prompt,
        generate=generate, kv_dtype=kv_name, kv_itemsize=itemsize, layers=layers,
        weight_bytes=fold.weight_bytes(prefill_graph),
        activation_bytes=fold.activation_peak(
            prefill_graph, (i for found in sites for i in found.cached_ids)), prefill=prefill,
        decode_first=None, decode_last=None, decode_flops=None, device=None, fit=None,
        notes=tuple(notes), config_check=config_check(model, layers))
    done = with_device(report, prefill_graph, first, last, device_type, dtype,
                       usable_fraction)
    return Inference(**{f.name: getattr(done, f.name) for f in dataclasses.fields(done)})


def forward_parameters(model: Any) -> frozenset[str]:
    try:
        return frozenset(inspect.signature(model.forward).parameters)
    except (TypeError, ValueError):
        return frozenset()


def empty_cache(accepted: frozenset[str]) -> Any:
    """An empty transformers ``DynamicCache`` when ``forward`` takes a cache (None
    otherwise, or without transformers)."""
    if not {"cache", "past_key_values"} & accepted:
        return None
    try:
        from transformers import DynamicCache
    except ImportError:
        return None
    return DynamicCache()


def capture_tokens(model: Any, accepted: frozenset[str], batch: int, length: int,
                   cache: Any, analyze_inputs: Any) -> Any:
    """The graph of one forward on token ids: ``input_ids=`` where ``forward`` names it,
    else the first positional input."""
    inputs = token_inputs(accepted, batch, length, cache)
    if "input_ids" in accepted:
        return analyze_inputs(model, (), inputs, "meta").graph
    ids = inputs.pop("input_ids")
    return analyze_inputs(model, (ids,), inputs, "meta").graph


def token_inputs(accepted: frozenset[str], batch: int, length: int,
                 cache: Any) -> dict[str, Any]:
    """Keyword inputs of one forward: token ids, and the cache switches it takes."""
    import torch

    inputs: dict[str, Any] = {"input_ids": torch.zeros(batch, length, dtype=torch.long,
                                                       device="meta")}
    if "use_cache" in accepted:
        inputs["use_cache"] = cache is not None
    if "logits_to_keep" in accepted:
        inputs["logits_to_keep"] = 1
    if cache is not None:
        inputs["cache" if "cache" in accepted else "past_key_values"] = cache
    return inputs


def resolve_window(model: Any, window: int | Sequence[int | None] | None,
                   ) -> tuple[int | Sequence[int | None] | None, str | None]:
    """The caller's window, else the config's (transformers: ``layer_types`` with
    ``sliding_attention`` layers, or one ``sliding_window`` for all), with a note."""
    if window is not None:
        return window, None
    config = getattr(model, "config", None)
    size = getattr(config, "sliding_window", None)
    if not isinstance(size, int) or size < 1 or getattr(config, "use_sliding_window",
                                                        True) is False:
        return None, None
    kinds = getattr(config, "layer_types", None)
    if kinds:
        return ([size if kind == "sliding_attention" else None for kind in kinds],
                f"sliding window {size} from config.layer_types")
    return size, f"sliding window {size} (every layer) from config.sliding_window"


def config_check(model: Any, layers: Sequence[fold.KVLayer]) -> tuple[str, ...]:
    """Where the graph's cache disagrees with the model config (empty: it agrees, or
    there is no config)."""
    config = getattr(model, "config", None)
    if config is None:
        return ()
    found: list[str] = []
    heads = getattr(config, "num_attention_heads", None)
    kv = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or (
        getattr(config, "hidden_size", 0) // heads if heads else None)
    count = getattr(config, "num_hidden_layers", None)
    self_layers = [layer for layer in layers if layer.kind == "self"]
    if count is not None and len(self_layers) != count:
        found.append(f"{len(self_layers)} cached self-attention layers, config "
                     f"num_hidden_layers {count}")
    for layer in self_layers:
        if kv is not None and layer.heads_kv != kv:
            found.append(f"{layer.path}: {layer.heads_kv} kv heads, config {kv}")
        if head_dim is not None and layer.head_dim != head_dim:
            found.append(f"{layer.path}: head_dim {layer.head_dim}, config {head_dim}")
    return tuple(found)


def filled_cache(layers: Sequence[fold.KVLayer], batch: int, past: int) -> Any:
    """A transformers ``DynamicCache`` holding ``past`` tokens per layer, on meta."""
    import torch
    from transformers import DynamicCache

    cache = DynamicCache()
    for layer in layers:
        heads = layer.heads_kv or 0
        value_heads = layer.v_elements // layer.value_dim
        k = torch.empty(batch, heads, past, layer.head_dim, device="meta",
                        dtype=getattr(torch, layer.dtype))
        v = torch.empty(batch, value_heads, past, layer.value_dim, device="meta",
                        dtype=getattr(torch, layer.dtype))
        cache.update(k, v, layer.index)
    return cache


def decode_phases(model: Any, accepted: frozenset[str], layers: Sequence[fold.KVLayer],
                  batch: int, prompt: int, generate: int, analyze_inputs: Any,
                  ) -> tuple[Any, Any, str | None]:
    """The decode graphs with a past of prompt and prompt + generate − 1 tokens (or a
    note saying why there are none)."""
    if not {"cache", "past_key_values"} & accepted:
        return None, None, (f"{type(model).__name__}.forward takes no cache (cache / "
                            "past_key_values): prefill only, no decode costs")
    if any(layer.kind != "self" or layer.heads_kv is None for layer in layers):
        return None, None, ("decode is captured for self-attention caches of whole heads "
                            "only (transformers DynamicCache): prefill only")
    try:
        import transformers  # noqa: F401
    except ImportError:
        return None, None, "transformers is not installed: no decode capture, prefill only"
    graphs = []
    for past in (prompt, prompt + max(generate - 1, 1)):
        cache = filled_cache(layers, batch, past)
        graphs.append(capture_tokens(model, accepted, batch, 1, cache, analyze_inputs))
    return graphs[0], graphs[1], None


def with_device(report: fold.InferenceReport, prefill_graph: Any, first: Any, last: Any,
                device_type: str | None, dtype: str | None,
                usable_fraction: float) -> fold.InferenceReport:
    """The decode costs and, with a device, the roofline times and the fit."""
    from dataclasses import replace

    from netanatomy.analysis.roofline import roofline
    from netanatomy.analysis.roofline_modules import combine, module_rooflines
    from netanatomy.hardware import device as find_device

    chosen = None if device_type is None else find_device(device_type)
    times: list[Total | None] = [None, None, None]
    rows = None
    if chosen is not None:
        lines = [None if g is None else roofline(g, chosen, dtype or report.dtype)
                 for g in (prefill_graph, first, last)]
        times = [None if line is None else line.time_s for line in lines]
        rows = combine(*(None if line is None else module_rooflines(line, graph, phase)
                         for line, graph, phase in ((lines[0], prefill_graph, "prefill"),
                                                    (lines[1], first, "decode"))))
    prefill = replace(report.prefill, time_s=times[0])
    decode_first = decode_last = decode_flops = None
    steps = report.generate - 1
    if first is not None and last is not None:
        b, p = report.batch, report.prompt
        a = fold.phase_cost(first, b, p + 1, times[1])
        z = fold.phase_cost(last, b, p + max(report.generate - 1, 1) + 1, times[2])
        decode_first = a
        decode_last = fold.interpolate(a, z, p + max(steps, 1))
        decode_flops = fold.decode_steps_flops(a, z, steps)
    device_time, fitted = None, None
    if chosen is not None:
        device_time = device_estimate(report, chosen, dtype, prefill, decode_first,
                                      decode_last, steps)
        if chosen.memory_bytes is None:
            report = replace(report, notes=(*report.notes, f"{chosen.key} has no fixed "
                                            "memory (a CPU): no fit"))
        else:
            fitted = fold.fit(report.layers, report.kv_itemsize, report.weight_bytes,
                              report.activation_bytes, chosen.memory_bytes, report.batch,
                              report.context, usable_fraction, chosen.key)
    return replace(report, prefill=prefill, decode_first=decode_first,
                   decode_last=decode_last, decode_flops=decode_flops, device=device_time,
                   fit=fitted, roofline=rows)


def device_estimate(report: fold.InferenceReport, chosen: Any, dtype: str | None,
                    prefill: fold.PhaseCost, first: fold.PhaseCost | None,
                    last: fold.PhaseCost | None, steps: int) -> fold.DeviceTime:
    from netanatomy.hardware import dtype_key

    key = dtype_key(dtype or report.dtype)

    def floor(phase: fold.PhaseCost | None) -> float | None:
        if phase is None:
            return None
        kv = fold.kv_bytes(report.layers, report.batch, phase.context, report.kv_itemsize)
        return (report.weight_bytes + kv) / chosen.bandwidth

    generate_s = None
    if prefill.time_s is not None and prefill.time_s.value is not None:
        decode_total = 0.0
        status = prefill.time_s.status
        if first is not None and last is not None and first.time_s and last.time_s:
            if first.time_s.value is None or last.time_s.value is None:
                status = "unknown"
            else:
                decode_total = steps * (first.time_s.value + last.time_s.value) / 2
        generate_s = Total(prefill.time_s.value + decode_total, status)
    return fold.DeviceTime(chosen.key, chosen.name, key, chosen.peak_flops(key),
                           chosen.bandwidth, prefill.time_s or Total(None, "unknown"),
                           None if first is None else first.time_s,
                           None if last is None else last.time_s, floor(first), floor(last),
                           generate_s)
