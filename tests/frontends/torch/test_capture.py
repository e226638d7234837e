"""The aten-level capture: attribution, functional ops, parameters, safety, fallbacks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import netanatomy
from netanatomy.errors import CaptureError, UncountedOpsError, UsageError
from tests.opaque_ops import OP_NAME, mystery


class Functional(nn.Module):
    """Functional ops only: the costs live in code, not in submodules."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(20, 20, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self.proj(x).view(2, 4, 5, 4).transpose(1, 2)       # (2, 5, 4, 4): B, H, L, E
        attn = F.scaled_dot_product_attention(q, q, q)            # (2, 5, 4, 4)
        scores = torch.matmul(q, q.transpose(-1, -2))             # (2, 5, 4, 4)
        image = F.interpolate(scores, scale_factor=2, mode="nearest")
        return attn.sum() + image.sum() + (x + x).sum()


def test_functional_ops_are_counted_and_attributed() -> None:
    report = netanatomy.analyze(Functional(), (2, 4, 20))
    kinds = {node.kind for node in report.graph.nodes}
    assert {"matmul", "upsample", "elementwise", "reduction"} <= kinds
    proj_macs = 2 * 4 * 20 * 20                       # (2·4) rows × 20 in × 20 out
    # attention: B·H·L·S·(E + Ev) = 2·5·4·4·(4 + 4); matmul: 2·5·4·4 outputs × K=4
    attention_macs = 2 * 5 * 4 * 4 * (4 + 4)
    matmul_macs = 2 * 5 * 4 * 4 * 4
    assert report.totals.macs == proj_macs + attention_macs + matmul_macs
    assert report.layer("proj").macs == proj_macs
    root_only = [n for n in report.graph.nodes if n.path == "" and n.kind == "matmul"]
    assert root_only, "the functional matmul must be attributed to the root module"


def test_shared_module_counts_every_call() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(10, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.fc(x))

    report = netanatomy.analyze(Twice(), (3, 10))
    row = report.layer("fc")
    assert row.calls == 2
    assert row.macs == 2 * (3 * 10 * 10)              # two calls of a 10→10 layer on 3 rows
    assert report.totals.params == 10 * 10 + 10       # weights counted once


def test_tied_parameters_counted_once_and_reported_shared() -> None:
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(100, 8)
            self.head = nn.Linear(8, 100, bias=False)
            self.head.weight = self.embed.weight

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.head(self.embed(ids))

    report = netanatomy.analyze(Tied(), ["2x5:int64"])
    assert report.totals.params == 100 * 8
    assert report.totals.shared_params == 100 * 8
    assert report.layer("embed").params == 100 * 8
    assert report.layer("head").params == 0
    assert report.layer("head").shared_params == 100 * 8
    assert report.layer("head").macs == 2 * 5 * 8 * 100


def test_trainable_frozen_and_buffers_apart() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    model[0].weight.requires_grad_(False)
    report = netanatomy.analyze(model, (2, 4))
    assert report.totals.frozen_params == 4 * 3
    assert report.totals.trainable_params == 3 + 3 + 3       # linear bias, BN γ and β
    assert report.totals.buffers == 3 + 3 + 1                # running mean, var, batches seen
    assert report.totals.params == 4 * 3 + 3 + 3 + 3


def test_meta_allocates_nothing_for_a_huge_model() -> None:
    with torch.device("meta"):
        huge = nn.Sequential(nn.Linear(100_000, 100_000), nn.Linear(100_000, 10))
    report = netanatomy.analyze(huge, (1, 100_000))
    assert report.totals.params == 100_000 * 100_000 + 100_000 + 100_000 * 10 + 10
    assert report.totals.param_bytes == 4 * report.totals.params   # 40 GB never allocated


def test_user_model_is_left_unchanged(mlp: nn.Module) -> None:
    before = {name: t.clone() for name, t in mlp.state_dict().items()}
    mlp.train()
    mlp.act.eval()
    netanatomy.analyze(mlp, (2, 8))
    assert mlp.training and not mlp.act.training and mlp.fc1.training
    for module in mlp.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks
    for name, tensor in mlp.state_dict().items():
        assert tensor.device.type == "cpu"
        assert torch.equal(tensor, before[name])


class SwapsItsWeight(nn.Module):
    """A forward that swaps a parameter's data and writes into a buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.register_buffer("count", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.fc.weight.data = self.fc.weight.data.double()[:2]
        self.count.add_(1)
        return x.double() @ self.fc.weight.t()


def test_a_meta_model_is_left_unchanged_when_its_forward_swaps_data() -> None:
    # meta parameters are captured directly (no stand-ins); the guard puts a swapped
    # ``.data`` back, and the buffer, which has a stand-in, keeps its version
    with torch.device("meta"):
        model = SwapsItsWeight()
    weight, versions = model.fc.weight, model.count._version
    report = netanatomy.analyze(model, (3, 4))
    assert model.fc.weight is weight and weight.is_meta
    assert weight.dtype == torch.float32 and weight.shape == (4, 4)
    assert model.count._version == versions
    assert report.totals.macs == 3 * 4 * 2                   # the forward's own 2 outputs


def test_eval_by_default_and_train_mode_on_request() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    eval_ops = {n.kind for n in netanatomy.analyze(model, (2, 4)).graph.nodes}
    train_report = netanatomy.analyze(model, (2, 4), training=True)
    assert "elementwise" not in eval_ops                      # dropout is a no-op in eval
    assert train_report.capture.training
    assert any(n.path == "1" and n.kind == "elementwise" for n in train_report.graph.nodes)


def test_saved_activations_for_backward(mlp: nn.Module) -> None:
    report = netanatomy.analyze(mlp, (2, 8))
    # fc1 keeps its input x (for the weight gradient): 2·8 floats; ReLU keeps its output,
    # which fc2 also keeps as its input (one storage): 2·16 floats. Parameters excluded.
    assert report.totals.saved_activation_bytes == 4 * (2 * 8 + 2 * 16)
    params = 8 * 16 + 16 + 16 * 4 + 4
    assert report.totals.training_bytes == 4 * params * 4 + report.totals.saved_activation_bytes


def test_dtype_aware_bytes() -> None:
    model = nn.Linear(10, 10).to(torch.float16)
    report = netanatomy.analyze(model, (3, 10), dtype=torch.float16)
    assert report.totals.param_bytes == 2 * (10 * 10 + 10)
    assert report.layer("").output_bytes == 2 * 3 * 10


def test_keyword_example_inputs() -> None:
    class Keyword(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, *, features: torch.Tensor) -> torch.Tensor:
            return self.fc(features)

    report = netanatomy.analyze(Keyword(), example_inputs={"features": torch.zeros(5, 3)})
    assert report.totals.macs == 5 * 3 * 2


def test_data_dependent_model_falls_back_to_cpu_and_says_so() -> None:
    class DataDependent(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.fc(x)
            return y * 2 if y.sum() > -1e9 else y

    report = netanatomy.analyze(DataDependent(), (2, 4))
    assert report.capture.device == "cpu"
    assert any("meta" in note for note in report.capture.notes)
    assert report.totals.macs == 2 * 4 * 4


def test_shape_error_names_layer_and_shapes() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(100, 10))
    with pytest.raises(CaptureError) as caught:
        netanatomy.analyze(model, (1, 3, 8, 8))
    message = str(caught.value)
    assert "layer '2'" in message and "Linear" in message
    assert "in_features=100" in message and "1x288" in message     # expected vs actual


def test_bad_arguments_are_usage_errors(mlp: nn.Module) -> None:
    with pytest.raises(UsageError):
        netanatomy.analyze(mlp)
    with pytest.raises(UsageError):
        netanatomy.analyze(mlp, (2, 8), example_inputs=torch.zeros(2, 8))
    with pytest.raises(UsageError):
        netanatomy.analyze("not a model", (2, 8))
    with pytest.raises(UsageError):
        netanatomy.analyze(mlp, [(2, -8)])


class Opaque(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return mystery(x) * 2


def test_unknown_ops_are_reported_by_name_never_zero() -> None:
    report = netanatomy.analyze(Opaque(), (2, 5))
    assert [(u.op, u.count) for u in report.uncounted] == [(OP_NAME, 1)]
    assert report.totals.status == "partial"
    assert report.layer("").status == "partial"
    with pytest.raises(UncountedOpsError, match="netanatomy_opaque.mystery"):
        netanatomy.analyze(Opaque(), (2, 5), strict=True)


def test_conv_variants_match_hand_formulas() -> None:
    model = nn.Sequential(
        nn.Conv2d(8, 8, 3, padding=1, groups=8),            # depthwise
        nn.Conv2d(8, 16, 1),                                # pointwise
        nn.ConvTranspose2d(16, 4, 3, stride=2, padding=1, output_padding=1),
        nn.Conv2d(4, 4, 3, padding="same", dilation=2),
    )
    report = netanatomy.analyze(model, (1, 8, 10, 10))
    assert report.layer("0").macs == 8 * 10 * 10 * 1 * 3 * 3       # C·H·W·(C_in/g)·k²
    assert report.layer("1").macs == 16 * 10 * 10 * 8              # C_out·H·W·C_in
    assert report.layer("2").output_shape == (1, 4, 20, 20)         # (10−1)·2 − 2 + 3 + 1
    assert report.layer("2").macs == 16 * 10 * 10 * 4 * 3 * 3       # from input positions
    assert report.layer("3").output_shape == (1, 4, 20, 20)
    assert report.layer("3").macs == 4 * 20 * 20 * 4 * 3 * 3


def test_recurrent_layers_count_all_layers_and_directions() -> None:
    lstm = nn.LSTM(8, 16, num_layers=2, bidirectional=True)
    report = netanatomy.analyze(lstm, (5, 3, 8))
    steps, batch, gates, hidden = 5, 3, 4, 16
    layer0 = gates * hidden * (8 + hidden)                  # per direction
    layer1 = gates * hidden * (2 * hidden + hidden)         # input is both directions
    assert report.totals.macs == steps * batch * 2 * (layer0 + layer1)
