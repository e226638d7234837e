"""Exposure bias: a seq2seq GRU trained with teacher forcing is as good at every position
when fed the truth, but free running compounds its departures from the data."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from netanatomy.lab.base import Check, Outcome, at_least, close, equal, experiment
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure
from netanatomy.layers.sequence import Seq2Seq


def noisy_orbits(successor: torch.Tensor, count: int, length: int, jump: float,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Source ``(count, 1)``: a start symbol ``a``; target ``(count, length)``: ``y_t =
    f(y_{t−1})`` (``y_0 = a``, ``f = successor``) except that with probability ``jump`` a
    step lands on a uniformly random symbol. Token ``0`` is the decoder's start token, so
    symbol ``s`` is token ``s + 1``."""
    symbols = successor.shape[0]
    current = torch.randint(0, symbols, (count,), generator=generator)
    source, steps = current + 1, []
    for _ in range(length):
        jumps = torch.rand(count, generator=generator) < jump
        landing = torch.randint(0, symbols, (count,), generator=generator)
        current = torch.where(jumps, landing, successor[current])
        steps.append(current + 1)
    return source[:, None], torch.stack(steps, dim=1)


def free_running_theory(length: int, jump: float, symbols: int) -> tuple[float, list[float]]:
    """Error of the Bayes decoder, which predicts ``f(previous)``. Teacher forced: the
    target is ``f(y_{t−1})`` with probability ``r = 1 − jump + jump/M``, so the error is
    ``1 − r`` at every position. Free running it predicts ``f^t(a)``: on track (c_t) the
    next target stays on track with probability r; off track it lands back with jump/M:
    ``c_t = r c_{t−1} + (jump/M)(1 − c_{t−1})``, ``c_0 = 1``; error ``1 − c_t``."""
    stay = 1 - jump + jump / symbols
    on_track, errors = 1.0, []
    for _ in range(length):
        on_track = stay * on_track + jump / symbols * (1 - on_track)
        errors.append(1 - on_track)
    return 1 - stay, errors


@experiment("seq2seq-exposure-bias", topic="generative",
            title="Seq2seq exposure bias: teacher forcing vs free running",
            claim="A GRU encoder–decoder trained with teacher forcing errs equally at every "
                  "position when fed the true prefix, but running free on its own outputs "
                  "it cannot recover once the data leave its trajectory: its error grows "
                  "with position as 1 − c_t, c_t = r·c_{t−1} + (p/M)(1 − c_{t−1}).",
            setting="M = 12 symbols, a random successor permutation f, jump probability "
                    "p = 0.1, 8 output steps; GRU 16 units, embedding 8; 100 Adam steps of "
                    "32 sequences; 4000 held-out sequences")
def seq2seq_exposure_bias(symbols: int = 12, length: int = 8, jump: float = 0.1,
                          hidden: int = 16, embedding: int = 8, steps: int = 100,
                          batch: int = 32, learning_rate: float = 1e-2, held_out: int = 4000,
                          seed: int = 0) -> Outcome:
    generator = torch.Generator().manual_seed(seed)
    successor = torch.randperm(symbols, generator=generator)
    model = Seq2Seq(symbols + 1, embedding, hidden)          # weights: runner's seed
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    losses = []
    for _ in range(steps):
        source, target = noisy_orbits(successor, batch, length, jump, generator)
        logits = model(source, target, teacher_forcing=True)
        loss = F.cross_entropy(logits.reshape(-1, symbols + 1), target.reshape(-1))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    source, target = noisy_orbits(successor, held_out, length, jump, generator)
    with torch.no_grad():
        forced = model(source, target, teacher_forcing=True).argmax(-1)
        free = model(source, target, teacher_forcing=False).argmax(-1)
    forced_wrong, free_wrong = forced != target, free != target
    checks = error_checks(forced, free, forced_wrong, free_wrong, length, jump, symbols)
    tf_theory, fr_theory = free_running_theory(length, jump, symbols)
    figure = draw(forced_wrong, free_wrong, tf_theory, fr_theory, steps)
    return Outcome(checks, figure, data={
        "teacher_forced_error": [round(float(v), 5) for v in forced_wrong.double().mean(0)],
        "free_running_error": [round(float(v), 5) for v in free_wrong.double().mean(0)],
        "teacher_forced_theory": tf_theory, "free_running_theory": fr_theory,
        "final_loss": losses[-1]})


def error_checks(forced: torch.Tensor, free: torch.Tensor, forced_wrong: torch.Tensor,
                 free_wrong: torch.Tensor, length: int, jump: float, symbols: int
                 ) -> list[Check]:
    count = forced.shape[0]
    tf_theory, fr_theory = free_running_theory(length, jump, symbols)
    pooled = float(forced_wrong.double().mean())
    pooled_se = math.sqrt(tf_theory * (1 - tf_theory) / forced_wrong.numel())
    # Same decoder inputs ⇒ same outputs: wherever teacher forcing was right at every
    # earlier position, free running fed itself the true prefix.
    clean_prefix = torch.cat([torch.ones(count, 1, dtype=torch.bool),
                              (~forced_wrong).cumprod(1)[:, :-1].bool()], dim=1)
    checks: list[Check] = [
        close("teacher-forced error, all positions", pooled, tf_theory, atol=5 * pooled_se,
              reason=f"5 binomial SE over {forced_wrong.numel()} predictions; theory "
                     "1 − r, r = 1 − p + p/M"),
        equal("free ≠ teacher-forced prediction after a correct prefix",
              int((clean_prefix & (forced != free)).sum()), 0,
              reason="identical decoder inputs give identical outputs"),
    ]
    measured = free_wrong.double().mean(0)
    for t in range(length):
        se = math.sqrt(fr_theory[t] * (1 - fr_theory[t]) / count)
        checks.append(close(f"free-running error at position {t + 1}", float(measured[t]),
                            fr_theory[t], atol=5 * se,
                            reason=f"5 binomial SE over {count} held-out sequences"))
    gap = (free_wrong.double() - forced_wrong.double())[:, -1]
    checks.append(at_least("free − teacher-forced error at the last position",
                           float(gap.mean()),
                           max(5 * float(gap.std()) / math.sqrt(count), 1 / count),
                           reason="exposure bias: above 5 paired SE of the difference (and "
                                  "at least one sequence)"))
    return checks


def draw(forced_wrong: torch.Tensor, free_wrong: torch.Tensor, tf_theory: float,
         fr_theory: list[float], steps: int) -> object:
    figure, (axis,) = new_figure(1, width=6.0, height=3.8)
    positions = list(range(1, forced_wrong.shape[1] + 1))
    count = forced_wrong.shape[0]
    for wrong, colour, marker, label in ((free_wrong, MEASURED, "o", "free running"),
                                         (forced_wrong, OTHER, "s", "teacher forcing")):
        rate = wrong.double().mean(0)
        axis.errorbar(positions, rate.tolist(),
                      yerr=(5 * (rate * (1 - rate) / count).sqrt()).tolist(),
                      fmt=marker + "-", color=colour, capsize=3,
                      label=f"{label}, measured (± 5 SE)")
    axis.plot(positions, fr_theory, "--", color=THEORY, label="theory 1 − c_t (free)")
    axis.axhline(tf_theory, color=THEORY, linestyle=":", label="theory 1 − r (forced)")
    axis.set_xlabel("output position t")
    axis.set_ylabel("error rate (argmax ≠ target)")
    axis.set_ylim(0, 1)
    axis.legend(fontsize=8, loc="upper left")
    axis.set_title(f"Exposure bias: free-running error compounds ({steps} training steps)",
                   fontsize=10)
    return figure
