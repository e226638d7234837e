"""Seq2seq (teacher forcing vs free running), skip-gram with negative sampling and the
threshold RNN: behaviour against hand computations, counts against hand formulas."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

import netanatomy
from netanatomy.layers import Seq2Seq, SkipGram, ThresholdRNN
from netanatomy.layers.sequence import step

F64 = torch.float64


def test_free_running_is_teacher_forcing_on_its_own_predictions() -> None:
    torch.manual_seed(0)
    model = Seq2Seq(6, 4, 8).double()
    source = torch.randint(1, 6, (3, 5))
    free = model(source, teacher_forcing=False, length=4)
    predicted = free.argmax(-1)
    assert free.shape == (3, 4, 6)
    assert_close(model(source, predicted, teacher_forcing=True), free)


def test_teacher_forcing_reads_the_true_previous_token() -> None:
    torch.manual_seed(1)
    model = Seq2Seq(5, 3, 6, cell="rnn").double()
    source = torch.randint(0, 5, (2, 4))
    target = torch.randint(0, 5, (2, 3))
    forced = model(source, target)
    changed = target.clone()
    changed[:, 1] = (changed[:, 1] + 1) % 5
    again = model(source, changed)
    assert_close(again[:, :2], forced[:, :2])            # positions 0, 1 read start, t₀
    assert not torch.allclose(again[:, 2], forced[:, 2])  # position 2 reads t₁


def test_seq2seq_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="cell"):
        Seq2Seq(5, 3, 4, cell="lstm")
    with pytest.raises(ValueError, match="start_token"):
        Seq2Seq(5, 3, 4, start_token=5)


@pytest.mark.parametrize("cell, gates", [("gru", 3), ("rnn", 1)])
def test_seq2seq_counts(cell: str, gates: int) -> None:
    vocab, embed, hidden, batch, source_len, target_len = 7, 5, 8, 2, 6, 4
    model = Seq2Seq(vocab, embed, hidden, cell=cell)
    recurrent = gates * (embed * hidden + hidden * hidden + 2 * hidden)  # W_ih, W_hh, 2 biases
    params = 2 * vocab * embed + 2 * recurrent + hidden * vocab + vocab
    step_macs = gates * hidden * (embed + hidden)       # one recurrent step, one sample
    forced = netanatomy.analyze(model, [f"{batch}x{source_len}:int64",
                                        f"{batch}x{target_len}:int64"])
    assert forced.totals.params == params == sum(p.numel() for p in model.parameters())
    assert forced.totals.macs == batch * ((source_len + target_len) * step_macs
                                          + target_len * hidden * vocab)
    free = netanatomy.analyze(model, f"{batch}x{source_len}:int64")   # decodes source_len
    assert free.totals.macs == batch * source_len * (2 * step_macs + hidden * vocab)


def test_skipgram_loss_is_binary_cross_entropy_of_the_scores() -> None:
    torch.manual_seed(0)
    model = SkipGram(10, 4).double()
    centre, context = torch.tensor([1, 2, 3]), torch.tensor([4, 5, 1])
    negatives = torch.tensor([[7, 8], [9, 0], [2, 2]])
    v = model.input_embeddings.weight[centre]
    u_o = model.output_embeddings.weight[context]
    u_k = model.output_embeddings.weight[negatives]
    scores = torch.cat([(u_o * v).sum(-1, keepdim=True), (u_k * v[:, None]).sum(-1)], 1)
    labels = torch.zeros_like(scores)
    labels[:, 0] = 1                                   # the context word is the positive
    reference = F.binary_cross_entropy_with_logits(scores, labels, reduction="none").sum(1)
    assert_close(model(centre, context, negatives), reference)


def test_tied_skipgram_has_one_table() -> None:
    model = SkipGram(10, 4, tied=True)
    assert model.input_embeddings is model.output_embeddings
    assert sum(p.numel() for p in model.parameters()) == 10 * 4


def test_skipgram_counts() -> None:
    vocab, dim, batch, negatives = 20, 6, 8, 5
    model = SkipGram(vocab, dim)
    report = netanatomy.analyze(model, [f"{batch}:int64", f"{batch}:int64",
                                        f"{batch}x{negatives}:int64"])
    assert report.totals.params == 2 * vocab * dim == sum(p.numel() for p in model.parameters())
    assert report.totals.macs == batch * (negatives + 1) * dim   # one dot product per score


def test_step_conventions_differ_only_strictly_between_zero_and_one() -> None:
    z = torch.tensor([-1.0, 0.0, 0.5, 1.0, 2.0])
    assert step(z, "ge1").tolist() == [0, 0, 0, 1, 1]
    assert step(z, "gt0").tolist() == [0, 0, 1, 1, 1]
    with pytest.raises(ValueError, match="ge1"):
        step(z, "ge0")


def or_network(convention: str) -> ThresholdRNN:
    """One unit remembering whether input 1 was ever on: h_t = step(x_t + h_{t−1})."""
    one = torch.ones(1, 1)
    return ThresholdRNN(one, one, torch.zeros(1), one, torch.zeros(1), torch.zeros(1),
                        step=convention)


@pytest.mark.parametrize("convention", ["ge1", "gt0"])
def test_threshold_rnn_latches(convention: str) -> None:
    x = torch.tensor([[[0.0], [1.0], [0.0], [0.0]]])
    assert or_network(convention)(x)[0, :, 0].tolist() == [0, 1, 1, 1]


def test_threshold_rnn_checks_shapes_and_convention() -> None:
    one = torch.ones(1, 1)
    with pytest.raises(ValueError, match="hidden units"):
        ThresholdRNN(torch.ones(2, 1), one, torch.zeros(1), one, torch.zeros(1), torch.zeros(1))
    with pytest.raises(ValueError, match="step"):
        ThresholdRNN(one, one, torch.zeros(1), one, torch.zeros(1), torch.zeros(1), step="ge0")


def test_threshold_rnn_counts() -> None:
    batch, steps, inputs, hidden, outputs = 3, 5, 2, 4, 1
    model = ThresholdRNN(torch.ones(hidden, inputs), torch.ones(hidden, hidden),
                         torch.zeros(hidden), torch.ones(outputs, hidden), torch.zeros(outputs),
                         torch.zeros(hidden))
    report = netanatomy.analyze(model, (batch, steps, inputs))
    assert report.totals.params == sum(p.numel() for p in model.parameters()) == (
        hidden * inputs + hidden * hidden + hidden + outputs * hidden + outputs + hidden)
    assert report.totals.trainable_params == 0                  # hand-set, frozen
    # per sample and step: W_x x (H·I), W_h h (H·H), W_y h (O·H)
    assert report.totals.macs == batch * steps * (hidden * inputs + hidden * hidden
                                                  + outputs * hidden)
