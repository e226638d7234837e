"""Sequence models: a seq2seq encoder–decoder, skip-gram with negative sampling, and an RNN
of threshold (step) units.

:class:`Seq2Seq` encodes a token sequence with a GRU (or tanh RNN) into its last state and
decodes from it, either with teacher forcing (the decoder reads the true previous token)
or free running (it reads its own greedy prediction). :class:`SkipGram` scores a centre
word against its context word and ``K`` negatives:
``L = −log σ(u_o·v_c) − Σ_k log σ(−u_k·v_c)``. :class:`ThresholdRNN` is an Elman RNN whose
units are steps, with the convention stated (``ge1``: ``1[z ≥ 1]``; ``gt0``: ``1[z > 0]``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["STEPS", "Seq2Seq", "SkipGram", "ThresholdRNN", "step"]

STEPS = ("ge1", "gt0")
"""Step conventions: ``ge1`` is ``1[z ≥ 1]``, ``gt0`` is ``1[z > 0]``."""


class Seq2Seq(nn.Module):
    """Encoder–decoder over tokens ``0 … vocab_size − 1``; ``start_token`` opens decoding.

    Parameters: two embeddings ``2·V·E``, two recurrent layers (GRU: ``3·(E·H + H·H + 2H)``
    each; RNN: a third of that) and the readout ``H·V + V``. Per sample and step the
    recurrent MACs are ``3·H·(E + H)`` (GRU) and the readout ``H·V``.
    """

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int,
                 cell: str = "gru", start_token: int = 0) -> None:
        super().__init__()
        if cell not in ("gru", "rnn"):
            raise ValueError(f"Seq2Seq: cell is 'gru' or 'rnn', got {cell!r}")
        if not 0 <= start_token < vocab_size:
            raise ValueError(f"Seq2Seq: start_token {start_token} outside the vocabulary "
                             f"0…{vocab_size - 1}")
        recurrent = nn.GRU if cell == "gru" else nn.RNN
        self.start_token = start_token
        self.source_embedding = nn.Embedding(vocab_size, embedding_dim)
        self.target_embedding = nn.Embedding(vocab_size, embedding_dim)
        self.encoder = recurrent(embedding_dim, hidden_size, batch_first=True)
        self.decoder = recurrent(embedding_dim, hidden_size, batch_first=True)
        self.readout = nn.Linear(hidden_size, vocab_size)

    def forward(self, source: torch.Tensor, target: torch.Tensor | None = None,
                teacher_forcing: bool = True, length: int | None = None) -> torch.Tensor:
        """Logits ``(N, T, V)`` for ``source`` ``(N, S)`` (int64).

        ``teacher_forcing`` with ``target`` ``(N, T)``: the decoder reads
        ``start, target[:, :-1]``. Otherwise (or without ``target``) it runs free, reading
        its own argmax, for ``length`` steps (default: ``target``'s, else the source's).
        """
        _, state = self.encoder(self.source_embedding(source))
        start = torch.full_like(source[:, :1], self.start_token)
        if teacher_forcing and target is not None:
            inputs = torch.cat([start, target[:, :-1]], dim=1)
            output, _ = self.decoder(self.target_embedding(inputs), state)
            return self.readout(output)
        steps = length or (target.shape[1] if target is not None else source.shape[1])
        token, logits = start, []
        for _ in range(steps):
            output, state = self.decoder(self.target_embedding(token), state)
            logits.append(self.readout(output))
            token = logits[-1].argmax(-1)
        return torch.cat(logits, dim=1)


class SkipGram(nn.Module):
    """Skip-gram with negative sampling (Mikolov et al. 2013): input embeddings ``v``
    (centre words) and output embeddings ``u`` (context words), ``V·d`` each (one table
    when ``tied``).

    ``forward(centre (N,), context (N,), negatives (N, K))`` returns the loss per pair
    ``−log σ(u_o·v_c) − Σ_k log σ(−u_k·v_c)``, ``(N,)``; the scores are one batched
    matrix product, ``N·(K + 1)·d`` MACs.
    """

    def __init__(self, vocab_size: int, dim: int, tied: bool = False) -> None:
        super().__init__()
        self.input_embeddings = nn.Embedding(vocab_size, dim)
        self.output_embeddings = (self.input_embeddings if tied
                                  else nn.Embedding(vocab_size, dim))

    def scores(self, centre: torch.Tensor, context: torch.Tensor,
               negatives: torch.Tensor) -> torch.Tensor:
        """``(N, K + 1)``: ``u_o·v_c`` then ``u_k·v_c`` for each negative."""
        words = torch.cat([context[:, None], negatives], dim=1)
        outputs = self.output_embeddings(words)                      # (N, K+1, d)
        return torch.bmm(outputs, self.input_embeddings(centre)[:, :, None])[..., 0]

    def forward(self, centre: torch.Tensor, context: torch.Tensor,
                negatives: torch.Tensor) -> torch.Tensor:
        scores = self.scores(centre, context, negatives)
        return -F.logsigmoid(scores[:, 0]) - F.logsigmoid(-scores[:, 1:]).sum(1)


def step(z: torch.Tensor, convention: str) -> torch.Tensor:
    """The step function of ``convention`` (``ge1``: ``1[z ≥ 1]``, ``gt0``: ``1[z > 0]``),
    in ``z``'s dtype."""
    if convention == "ge1":
        return (z >= 1).to(z.dtype)
    if convention == "gt0":
        return (z > 0).to(z.dtype)
    raise ValueError(f"step convention is one of {', '.join(STEPS)}, got {convention!r}")


class ThresholdRNN(nn.Module):
    """Elman RNN of step units with fixed, hand-set weights:
    ``h_t = step(W_x x_t + W_h h_{t−1} + b)``, ``y_t = step(W_y h_t + c)``, ``h_0`` given.

    The weights are frozen parameters (``requires_grad=False``; a step has no useful
    gradient). ``forward`` maps ``(N, T, I)`` to ``(N, T, O)`` in {0, 1}.
    """

    def __init__(self, input_weight: torch.Tensor, hidden_weight: torch.Tensor,
                 bias: torch.Tensor, output_weight: torch.Tensor, output_bias: torch.Tensor,
                 initial_state: torch.Tensor, step: str = "ge1") -> None:
        super().__init__()
        if step not in STEPS:
            raise ValueError(f"ThresholdRNN: step is one of {', '.join(STEPS)}, got {step!r}")
        hidden = hidden_weight.shape[0]
        shapes = {"input_weight": (input_weight.shape[0], hidden),
                  "hidden_weight": (hidden_weight.shape[1], hidden),
                  "bias": (bias.shape[0], hidden), "initial_state": (initial_state.shape[0],
                                                                     hidden),
                  "output_weight": (output_weight.shape[1], hidden)}
        for name, (size, wanted) in shapes.items():
            if size != wanted:
                raise ValueError(f"ThresholdRNN: {name} has {size} hidden units, "
                                 f"hidden_weight has {wanted}")
        self.step = step

        def frozen(tensor: torch.Tensor) -> nn.Parameter:
            return nn.Parameter(tensor.detach().clone(), requires_grad=False)

        self.input_weight = frozen(input_weight)
        self.hidden_weight = frozen(hidden_weight)
        self.bias = frozen(bias)
        self.output_weight = frozen(output_weight)
        self.output_bias = frozen(output_bias)
        self.initial_state = frozen(initial_state)

    def states(self, x: torch.Tensor) -> torch.Tensor:
        """The hidden units ``(N, T, H)``."""
        state = self.initial_state.expand(x.shape[0], -1)
        states = []
        for t in range(x.shape[1]):
            z = x[:, t] @ self.input_weight.T + state @ self.hidden_weight.T + self.bias
            state = step(z, self.step)
            states.append(state)
        return torch.stack(states, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return step(self.states(x) @ self.output_weight.T + self.output_bias, self.step)
