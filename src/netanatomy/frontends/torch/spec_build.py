"""Building a real ``nn.Module`` from a spec, with the same module paths, parameter names
and ops as the spec's own analysis (so analysing either gives the same numbers)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from netanatomy import layers
from netanatomy.errors import SpecError
from netanatomy.frontends.spec.spec import Spec, spec_context
from netanatomy.symbolic import is_concrete


def dims(rank: int, base: str) -> Any:
    return getattr(nn, f"{base}{rank}d")


def conv_module(s: Mapping[str, Any]) -> nn.Module:
    rank = len(s["kernel"])
    padding = s["padding"]
    symmetric = all(before == after for before, after in padding)
    strided = any(stride != 1 for stride in s["stride"])
    common = dict(stride=s["stride"], dilation=s["dilation"], groups=s["groups"], bias=s["bias"])
    if symmetric:
        return dims(rank, "Conv")(s["in_channels"], s["out_channels"], s["kernel"],
                                  padding=tuple(p for p, _ in padding), **common)
    if not strided:
        return dims(rank, "Conv")(s["in_channels"], s["out_channels"], s["kernel"],
                                  padding="same", **common)
    same = getattr(layers, f"SameConv{rank}d")
    return same(s["in_channels"], s["out_channels"], s["kernel"], **common)


def deformconv_module(s: Mapping[str, Any], children: dict[str, nn.Module]) -> nn.Module:
    return layers.DeformConv2d(s["in_channels"], s["out_channels"], s["kernel"],
                               stride=s["stride"], padding=s["padding"],
                               dilation=s["dilation"], bias=s["bias"])


def sepconv_module(s: Mapping[str, Any], children: dict[str, nn.Module]) -> nn.Module:
    dw, pw = children["dw"], children["pw"]
    module = getattr(layers, f"SeparableConv{s['rank']}d")(
        dw.in_channels, pw.out_channels, dw.kernel_size, bias=pw.bias is not None)
    module.dw, module.pw = dw, pw
    return module


def activation_module(s: Mapping[str, Any]) -> nn.Module:
    if s["type"] == "LeakyReLU":
        return nn.LeakyReLU(s["slope"])
    return getattr(nn, s["type"])()


def dropout_module(s: Mapping[str, Any]) -> nn.Module:
    if s["type"] == "GaussianDropout":
        return layers.GaussianDropout(s["p"])
    return getattr(nn, s["type"])(s["p"])


FACTORIES: dict[str, Callable[[Mapping[str, Any]], nn.Module]] = {
    "conv": conv_module,
    "deconv": lambda s: dims(len(s["kernel"]), "ConvTranspose")(
        s["in_channels"], s["out_channels"], s["kernel"], stride=s["stride"],
        padding=s["padding"], output_padding=s["output_padding"], groups=s["groups"],
        bias=s["bias"], dilation=s["dilation"]),
    "maskedconv": lambda s: layers.MaskedConv2d(
        s["in_channels"], s["out_channels"], s["kernel"], s["mask_type"],
        padding=s["padding"], bias=s["bias"]),
    "pool": lambda s: (dims(s["rank"], "MaxPool")(s["kernel"], s["stride"], s["padding"],
                                                  ceil_mode=s["ceil_mode"])
                       if s["mode"] == "max" else
                       dims(s["rank"], "AvgPool")(s["kernel"], s["stride"], s["padding"],
                                                  ceil_mode=s["ceil_mode"])),
    "globalavgpool": lambda s: dims(s["rank"], "AdaptiveAvgPool")(1),
    "adaptiveavgpool": lambda s: dims(s["rank"], "AdaptiveAvgPool")(tuple(s["size"])),
    "crop": lambda s: layers.Crop(tuple(s["starts"]), tuple(s["sizes"])),
    "upsample": lambda s: nn.Upsample(scale_factor=s["scale"], mode=s["mode"]),
    "bn": lambda s: dims(s["rank"], "BatchNorm")(s["channels"], eps=s["eps"]),
    "gn": lambda s: nn.GroupNorm(s["groups"], s["channels"]),
    "in": lambda s: dims(s["rank"], "InstanceNorm")(s["channels"], affine=s["affine"]),
    "ln": lambda s: nn.LayerNorm(list(s["shape"])),
    "activation": activation_module,
    "prelu": lambda s: nn.PReLU(s["count"]),
    "softmax": lambda s: nn.Softmax(dim=s["dim"]),
    "dropout": dropout_module,
    "flatten": lambda s: nn.Flatten(),
    "fc": lambda s: nn.Linear(s["in_features"], s["out_features"], bias=s["bias"]),
    "pedcc": lambda s: layers.PEDCCHead(s["in_features"], s["classes"]),
    "embedding": lambda s: nn.Embedding(s["vocab"], s["dim"]),
    "recurrent": lambda s: getattr(layers, s["type"])(
        s["input_size"], s["hidden_size"], s["num_layers"], bias=s["bias"],
        bidirectional=s["bidirectional"]),
}


def container_module(factory: str, children: dict[str, nn.Module]) -> nn.Module:
    if factory == "residual":
        return layers.Residual(children["body"], children.get("shortcut"))
    module: nn.Module = {"sequential": nn.Sequential, "branch": layers.Branch,
                         "dense": layers.DenseBlock, "network": layers.SpecNetwork}[factory]()
    for name, child in children.items():
        module.add_module(name, child)
    return module


def build_spec_module(spec: Spec, overrides: Mapping[str, Any] | None = None) -> nn.Module:
    """The nn.Module of ``spec`` (all symbols must have values), in eval mode.

    Raises:
        SpecError: a symbol has no value, or the spec is invalid.
    """
    ctx, graph = spec_context(spec, overrides)
    unresolved = sorted({str(size) for module in graph.modules for shape in module.output_shapes
                         for size in shape if not is_concrete(size)})
    if unresolved or not all(is_concrete(p.numel) for p in graph.params.values()):
        raise SpecError(f"cannot build a module while sizes are symbolic ({', '.join(unresolved)})",
                        source=spec.source, line=1, column=1,
                        hint="give every symbol a value with 'symbols:' or --set")
    children: dict[str, list[str]] = {}
    for path in ctx.modules:
        if path:
            children.setdefault(path.rpartition(".")[0], []).append(path)

    def make(path: str) -> nn.Module:
        built = {child.rpartition(".")[2]: make(child) for child in children.get(path, [])}
        factory, settings = ctx.records[path]
        if factory == "sepconv":
            return sepconv_module(settings, built)
        if factory == "deformconv":
            return deformconv_module(settings, built)
        if factory in FACTORIES:
            return FACTORIES[factory](settings)
        return container_module(factory, built)

    return make("").eval()
