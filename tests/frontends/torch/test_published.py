"""Real third-party models against published figures, hand formulas and a second method.

Sources: torchvision's model documentation (params, and "GFLOPS" that are in fact GMACs):
ResNet-18 11,689,512 / 1.81; ResNet-50 25,557,032 / 4.09; ViT-B/16 86,567,656 / 17.56;
DenseNet-121 7,978,856 / 2.83; EfficientNet-B0 5,288,548 / 0.39. GPT-2 small: 124,439,808
parameters with the LM head tied to the token embedding (Radford et al. 2019; the Hugging
Face model card's 124M). Llama-2-70B: shapes from its published config.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import netanatomy
from netanatomy.frontends.torch.zoo import build

transformers = pytest.importorskip("transformers")


def gmacs(report: netanatomy.Report) -> float:
    return round(report.totals.macs / 1e9, 2)


@pytest.mark.parametrize("name, params, published_gmacs", [
    ("resnet18", 11_689_512, 1.81),
    ("resnet50", 25_557_032, 4.09),
])
def test_zoo_resnets_match_torchvision(name: str, params: int, published_gmacs: float) -> None:
    report = netanatomy.analyze(build(name), (1, 3, 224, 224))
    assert report.totals.params == params
    assert gmacs(report) == published_gmacs
    assert not report.uncounted


def module_hook_macs(model: nn.Module, x: torch.Tensor) -> int:
    """A second method: MACs of every Conv2d/Linear from module hooks on a real CPU run."""
    total = 0

    def count(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kernel = module.kernel_size[0] * module.kernel_size[1]
            total += output.numel() * (module.in_channels // module.groups) * kernel
        elif isinstance(module, nn.Linear):
            total += output.numel() * module.in_features

    handles = [m.register_forward_hook(count) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model.eval()(x)
    for handle in handles:
        handle.remove()
    return total


def test_resnet50_macs_equal_a_module_hook_count_on_cpu() -> None:
    model = build("resnet50")
    x = torch.randn(2, 3, 64, 64)
    assert netanatomy.analyze(model, (2, 3, 64, 64)).totals.macs == module_hook_macs(model, x)


def test_transformers_resnet50() -> None:
    model = transformers.ResNetForImageClassification(transformers.ResNetConfig(num_labels=1000))
    report = netanatomy.analyze(model, (1, 3, 224, 224))
    assert report.totals.params == 25_557_032
    assert gmacs(report) == 4.09
    assert report.totals.macs == netanatomy.analyze(build("resnet50"), (1, 3, 224, 224)).totals.macs


def test_transformers_vit_base() -> None:
    model = transformers.ViTForImageClassification(transformers.ViTConfig(num_labels=1000))
    report = netanatomy.analyze(model, (1, 3, 224, 224))
    assert report.totals.params == 86_567_656
    assert gmacs(report) == 17.56


def test_gpt2_tied_embedding_counted_once() -> None:
    with torch.device("meta"):
        model = transformers.GPT2LMHeadModel(transformers.GPT2Config())
    report = netanatomy.analyze(model, ["1x128:int64"])
    vocab, width = 50257, 768
    assert report.totals.params == 124_439_808
    assert report.totals.shared_params == vocab * width
    naive = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
    assert naive == 124_439_808 + vocab * width              # what double counting would give
    assert report.layer("lm_head").shared_params == vocab * width
    assert report.layer("lm_head").macs == 128 * width * vocab


def llama_params(hidden: int, inter: int, layers: int, heads: int, kv_heads: int,
                 vocab: int) -> int:
    """Hand formula: embeddings, per layer q/k/v/o + gated MLP + 2 RMSNorms, final norm, head."""
    head_dim = hidden // heads
    attention = hidden * hidden * 2 + 2 * hidden * kv_heads * head_dim
    mlp = 3 * hidden * inter
    return vocab * hidden * 2 + layers * (attention + mlp + 2 * hidden) + hidden


def llama_macs(seq: int, hidden: int, inter: int, layers: int, heads: int, kv_heads: int,
               vocab: int) -> int:
    """Hand formula: projections, QKᵀ and PV over all heads (dense), MLP, LM head."""
    head_dim = hidden // heads
    projections = seq * (2 * hidden * hidden + 2 * hidden * kv_heads * head_dim)
    attention = heads * seq * seq * 2 * head_dim
    mlp = seq * 3 * hidden * inter
    return layers * (projections + attention + mlp) + seq * hidden * vocab


def test_small_llama_matches_hand_formulas() -> None:
    shape = dict(hidden=64, inter=176, layers=2, heads=8, kv_heads=2, vocab=1000)
    config = transformers.LlamaConfig(
        hidden_size=shape["hidden"], intermediate_size=shape["inter"],
        num_hidden_layers=shape["layers"], num_attention_heads=shape["heads"],
        num_key_value_heads=shape["kv_heads"], vocab_size=shape["vocab"])
    report = netanatomy.analyze(transformers.LlamaForCausalLM(config), ["1x32:int64"])
    assert report.totals.params == llama_params(**shape)
    assert report.totals.macs == llama_macs(32, **shape)
    assert not report.uncounted


def test_llama_70b_on_meta_matches_config_and_flop_counter() -> None:
    shape = dict(hidden=8192, inter=28672, layers=80, heads=64, kv_heads=8, vocab=32000)
    config = transformers.LlamaConfig(
        hidden_size=shape["hidden"], intermediate_size=shape["inter"],
        num_hidden_layers=shape["layers"], num_attention_heads=shape["heads"],
        num_key_value_heads=shape["kv_heads"], vocab_size=shape["vocab"])
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(config)
    report = netanatomy.analyze(model, ["1x2048:int64"])
    assert report.totals.params == llama_params(**shape) == 68_976_648_192
    assert report.totals.macs == llama_macs(2048, **shape)
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 2048, dtype=torch.long, device="meta"))
    assert report.totals.flops == counter.get_total_flops()


def test_efficientnet_b0() -> None:
    efficientnet = pytest.importorskip("efficientnet_pytorch")
    model = efficientnet.EfficientNet.from_name("efficientnet-b0")
    report = netanatomy.analyze(model, (1, 3, 224, 224))
    assert report.totals.params == 5_288_548
    assert gmacs(report) == 0.39


def test_monai_densenet121() -> None:
    nets = pytest.importorskip("monai.networks.nets")
    model = nets.DenseNet121(spatial_dims=2, in_channels=3, out_channels=1000)
    report = netanatomy.analyze(model, (1, 3, 224, 224))
    assert report.totals.params == 7_978_856
    assert gmacs(report) == 2.83


def test_monai_3d_unet_counts_every_conv() -> None:
    nets = pytest.importorskip("monai.networks.nets")
    model = nets.UNet(spatial_dims=3, in_channels=1, out_channels=2, channels=(8, 16, 32),
                      strides=(2, 2), num_res_units=1)
    report = netanatomy.analyze(model, (1, 1, 16, 16, 16))
    assert not report.uncounted
    assert report.layer("").output_shape == (1, 2, 16, 16, 16)
    brute = sum(p.numel() for p in model.parameters())
    assert report.totals.params == brute                       # no sharing in this model
