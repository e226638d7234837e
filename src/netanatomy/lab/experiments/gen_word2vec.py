"""Skip-gram with negative sampling: the loss and its gradients in closed form against
autograd, and a few SGD steps on a toy corpus pulling co-occurring words together."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from netanatomy.lab.base import Check, Outcome, at_least, at_most, close, experiment
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure
from netanatomy.layers.sequence import SkipGram

F64 = torch.float64
CORPORA = ("topics", "uniform")


def toy_corpus(topics: int, words_per_topic: int, sentences: int, length: int, corpus: str,
               generator: torch.Generator) -> torch.Tensor:
    """``(sentences, length)`` word ids. ``topics``: each sentence draws its words from one
    topic (words ``t·w … t·w + w − 1``); ``uniform``: from the whole vocabulary."""
    vocab = topics * words_per_topic
    if corpus == "uniform":
        return torch.randint(0, vocab, (sentences, length), generator=generator)
    topic = torch.randint(0, topics, (sentences, 1), generator=generator)
    return topic * words_per_topic + torch.randint(0, words_per_topic, (sentences, length),
                                                   generator=generator)


def skipgram_pairs(corpus: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(centre, context) for every word and every neighbour within ``window``."""
    centres, contexts = [], []
    for offset in range(1, window + 1):
        for a, b in ((corpus[:, :-offset], corpus[:, offset:]),
                     (corpus[:, offset:], corpus[:, :-offset])):
            centres.append(a.reshape(-1))
            contexts.append(b.reshape(-1))
    return torch.cat(centres), torch.cat(contexts)


def closed_form_gradients(model: SkipGram, centre: torch.Tensor, context: torch.Tensor,
                          negatives: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """∂(Σ loss)/∂V and ∂(Σ loss)/∂U for untied tables, by the formulas
    ∂/∂v_c = (σ(u_o·v_c) − 1) u_o + Σ_k σ(u_k·v_c) u_k, ∂/∂u_o = (σ(u_o·v_c) − 1) v_c,
    ∂/∂u_k = σ(u_k·v_c) v_c, accumulated over repeated words."""
    v_table = model.input_embeddings.weight.detach()
    u_table = model.output_embeddings.weight.detach()
    v, u_o, u_k = v_table[centre], u_table[context], u_table[negatives]
    positive = torch.sigmoid((u_o * v).sum(-1, keepdim=True)) - 1           # (N, 1)
    negative = torch.sigmoid((u_k * v[:, None]).sum(-1))                    # (N, K)
    grad_v = positive * u_o + (negative[..., None] * u_k).sum(1)
    grad_v_table = torch.zeros_like(v_table).index_add_(0, centre, grad_v)
    grad_u_table = torch.zeros_like(u_table).index_add_(0, context, positive * v)
    grad_u_table.index_add_(0, negatives.reshape(-1),
                            (negative[..., None] * v[:, None]).reshape(-1, v.shape[1]))
    return grad_v_table, grad_u_table


@experiment("word2vec-sgns", topic="generative",
            title="word2vec: skip-gram with negative sampling",
            claim="The SGNS loss −log σ(u_o·v_c) − Σ_k log σ(−u_k·v_c) has gradients "
                  "(σ(u_o·v_c) − 1)u_o + Σ_k σ(u_k·v_c)u_k for v_c, (σ(u_o·v_c) − 1)v_c for "
                  "u_o and σ(u_k·v_c)v_c for u_k; SGD on them puts words that co-occur next "
                  "to each other.",
            setting="4 topics × 5 words, 400 sentences of 8 words, window 2, 5 uniform "
                    "negatives, d = 8, 300 SGD steps of 256 pairs")
def word2vec_sgns(topics: int = 4, words_per_topic: int = 5, dim: int = 8,
                  negatives: int = 5, window: int = 2, steps: int = 300, batch: int = 256,
                  learning_rate: float = 0.5, corpus: str = "topics", tied: bool = False,
                  seed: int = 0) -> Outcome:
    if corpus not in CORPORA:
        raise ValueError(f"corpus is one of {', '.join(CORPORA)}, got {corpus!r}")
    generator = torch.Generator().manual_seed(seed)
    vocab = topics * words_per_topic
    centres, contexts = skipgram_pairs(
        toy_corpus(topics, words_per_topic, 400, 8, corpus, generator), window)
    model = SkipGram(vocab, dim, tied=tied).double()
    with torch.no_grad():
        for table in {id(t): t for t in (model.input_embeddings, model.output_embeddings)
                      }.values():
            table.weight.normal_(0.0, 0.3, generator=generator)
    checks = gradient_checks(model, centres[:batch], contexts[:batch],
                             torch.randint(0, vocab, (batch, negatives), generator=generator))
    losses = train(model, centres, contexts, vocab, negatives, steps, batch, learning_rate,
                   generator)
    purity, chance, margin = neighbour_purity(model, words_per_topic)
    checks += [
        at_most("mean loss, last 20 steps vs first 20", sum(losses[-20:]) / 20,
                sum(losses[:20]) / 20, reason="SGD lowers the loss (a strict decrease)"),
        at_least("nearest neighbour in the same topic (fraction of words)", purity,
                 chance + margin,
                 reason=f"chance {chance:.3f} + 5 binomial SE over {vocab} words"),
    ]
    figure = draw(losses, model, topics, words_per_topic, negatives, purity, chance + margin)
    return Outcome(checks, figure, data={"losses": [round(v, 5) for v in losses[::10]],
                                         "purity": purity, "chance": chance})


def gradient_checks(model: SkipGram, centre: torch.Tensor, context: torch.Tensor,
                    negatives: torch.Tensor) -> list[Check]:
    loss = model(centre, context, negatives)
    scores = model.scores(centre, context, negatives)
    labels = torch.zeros_like(scores)
    labels[:, 0] = 1
    reference = F.binary_cross_entropy_with_logits(scores, labels, reduction="none").sum(1)
    tables = [model.input_embeddings.weight, model.output_embeddings.weight]
    autograd = torch.autograd.grad(loss.sum(), tables, allow_unused=True)
    closed = closed_form_gradients(model, centre, context, negatives)
    eps = torch.finfo(F64).eps
    scale = max(float(c.abs().max()) for c in closed)
    atol = 8 * centre.shape[0] * eps * scale           # index_add of N terms, two orders
    checks = [close("Σ loss: layer vs binary cross-entropy of the scores",
                    float(loss.detach().sum()), float(reference.detach().sum()), rtol=1e-13,
                    reason="float64: log σ(s) written two ways")]
    for name, ours, theirs in zip(("v (input table)", "u (output table)"), closed, autograd,
                                  strict=True):
        checks.append(close(f"max |∂L/∂{name}: closed form − autograd|",
                            float((ours - theirs).abs().max()), 0.0, atol=atol,
                            reason=f"float64: 8·N·ε·max|g| with N={centre.shape[0]} pairs "
                                   "accumulated per word"))
    return checks


def train(model: SkipGram, centres: torch.Tensor, contexts: torch.Tensor, vocab: int,
          negatives: int, steps: int, batch: int, learning_rate: float,
          generator: torch.Generator) -> list[float]:
    optimiser = torch.optim.SGD(model.parameters(), lr=learning_rate)
    losses = []
    for _ in range(steps):
        pick = torch.randint(0, centres.shape[0], (batch,), generator=generator)
        noise = torch.randint(0, vocab, (batch, negatives), generator=generator)
        loss = model(centres[pick], contexts[pick], noise).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    return losses


def neighbour_purity(model: SkipGram, words_per_topic: int) -> tuple[float, float, float]:
    """Fraction of words whose cosine-nearest other word (input embeddings) is in their
    topic; chance (w − 1)/(V − 1); 5 binomial standard errors of chance over V words."""
    vectors = F.normalize(model.input_embeddings.weight.detach(), dim=1)
    cosine = vectors @ vectors.T
    cosine.fill_diagonal_(-2.0)
    vocab = vectors.shape[0]
    topic = torch.arange(vocab) // words_per_topic
    purity = float((topic[cosine.argmax(1)] == topic).double().mean())
    chance = (words_per_topic - 1) / (vocab - 1)
    return purity, chance, 5 * math.sqrt(chance * (1 - chance) / vocab)


def draw(losses: list[float], model: SkipGram, topics: int, words_per_topic: int,
         negatives: int, purity: float, bound: float) -> object:
    figure, (left, right) = new_figure(2, width=4.6)
    left.plot(range(1, len(losses) + 1), losses, color=MEASURED, label="batch mean loss")
    left.axhline((negatives + 1) * math.log(2), color=OTHER, linestyle=":",
                 label=f"(K+1)·log 2 = {(negatives + 1) * math.log(2):.2f}: all scores 0")
    left.set_xlabel("SGD step")
    left.set_ylabel("SGNS loss per pair  [nats]")
    left.legend(fontsize=7)
    left.set_title("Training lowers the SGNS loss", fontsize=9)
    vectors = model.input_embeddings.weight.detach()
    centred = vectors - vectors.mean(0)
    _, _, basis = torch.linalg.svd(centred, full_matrices=False)
    points = centred @ basis[:2].T
    colours = ["#1f6feb", "#d1242f", "#1a7f37", "#8250df", "#bf8700", "#6e7781"]
    for t in range(topics):
        block = points[t * words_per_topic:(t + 1) * words_per_topic]
        right.scatter(block[:, 0].tolist(), block[:, 1].tolist(), color=colours[t % len(colours)],
                      label=f"topic {t}")
    right.set_xlabel("principal component 1")
    right.set_ylabel("principal component 2")
    right.legend(fontsize=7)
    right.set_title(f"Nearest neighbour in own topic: {purity:.0%} (≥ {bound:.0%})",
                    fontsize=9, color=THEORY if purity < bound else "black")
    return figure
