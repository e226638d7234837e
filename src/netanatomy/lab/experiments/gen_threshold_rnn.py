"""A hand-designed RNN of step units solves "output 1 while the two input streams have agreed
so far" exactly — under the step convention it was designed for (1[z ≥ 1])."""

from __future__ import annotations

import itertools

import torch

from netanatomy.lab.base import Outcome, equal, experiment
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure
from netanatomy.layers.sequence import STEPS, ThresholdRNN

DESIGN_STEP = "ge1"
"""The convention the weights below were chosen for: a unit fires when z ≥ 1."""


def agreement_network(step: str, initial_state: tuple[float, float] = (1.0, 0.0)
                      ) -> ThresholdRNN:
    """Two hidden step units and one output, weights chosen by hand for ``1[z ≥ 1]``.

    ``ok = p + q`` is "agreed so far" (the output of the previous step; p and q never fire
    together). A unit fires when its weighted votes reach 1:

    * ``p = AND(a, b, ok)``: votes ¼·a + ¼·b + ½·p + ½·q — all three are needed to reach 1;
    * ``q = AND(NOR(a, b), ok)``: z = ok − a − b, which is 1 only for ok = 1, a = b = 0;
    * ``y = OR(p, q)``: z = p + q.

    ``h_0 = (p, q) = (1, 0)``: the empty prefix has agreed. All weights are dyadic, so z is
    exact in floating point. Under ``1[z > 0]`` the ¼/½ votes of ``p`` fire on any single
    vote: p becomes OR(a, b, ok), and the network outputs 1 for ever.
    """
    return ThresholdRNN(
        input_weight=torch.tensor([[0.25, 0.25], [-1.0, -1.0]]),
        hidden_weight=torch.tensor([[0.5, 0.5], [1.0, 1.0]]),
        bias=torch.tensor([0.0, 0.0]),
        output_weight=torch.tensor([[1.0, 1.0]]),
        output_bias=torch.tensor([0.0]),
        initial_state=torch.tensor(initial_state),
        step=step,
    )


def reference(a: int, b: int, length: int) -> list[int]:
    """Plain Python: bit t (from the most significant of ``length``) of the output is 1
    while streams ``a`` and ``b`` (integers read as bit strings) have agreed up to t."""
    out, agreed = [], True
    for t in range(length - 1, -1, -1):
        agreed = agreed and (a >> t) & 1 == (b >> t) & 1
        out.append(int(agreed))
    return out


def all_pairs(length: int) -> torch.Tensor:
    """Every pair of binary streams of ``length``, ``(4^length, length, 2)``: pair ``i`` is
    ``a = i // 2^length`` and ``b = i % 2^length``, most significant bit first."""
    index = torch.arange(4 ** length)[:, None]
    shifts = torch.arange(length - 1, -1, -1)[None]
    a = (index >> length >> shifts) & 1
    b = (index >> shifts) & 1
    return torch.stack([a, b], dim=-1).to(torch.float32)


def reference_table(length: int) -> torch.Tensor:
    """:func:`reference` for every pair of :func:`all_pairs`, ``(4^length, length)``."""
    size = 2 ** length
    return torch.tensor([reference(i // size, i % size, length) for i in range(4 ** length)],
                        dtype=torch.float32)


def wrong_sequences(network: ThresholdRNN, inputs: torch.Tensor, expected: torch.Tensor
                    ) -> int:
    """How many input sequences get at least one output bit wrong."""
    return int((network(inputs)[..., 0] != expected).any(dim=1).sum())


def gate_table(step: str) -> dict[str, list[int]]:
    """One step of each hidden unit over all (a, b, ok) ∈ {0,1}³ (ok as the state (ok, 0))."""
    units: dict[str, list[int]] = {"p": [], "q": []}
    for a, b, ok in itertools.product((0, 1), repeat=3):
        network = agreement_network(step, initial_state=(float(ok), 0.0))
        p, q = network.states(torch.tensor([[[a, b]]], dtype=torch.float32))[0, 0].tolist()
        units["p"].append(int(p))
        units["q"].append(int(q))
    return units


@experiment("threshold-rnn-logic", topic="generative",
            title="A hand-made threshold RNN: 'agreed so far', exactly",
            claim="An Elman RNN of step units with hand-set weights — p = AND(a, b, ok), "
                  "q = AND(NOR(a, b), ok), y = OR(p, q), ok = the previous output — outputs 1 "
                  "exactly while two binary streams have agreed so far; the weights assume "
                  "the step 1[z ≥ 1], and under 1[z > 0] they fail.",
            setting="every pair of binary streams of length 1…8 (87 380 sequences) against "
                    "a plain-Python reference; design convention ge1")
def threshold_rnn_logic(step: str = DESIGN_STEP, max_length: int = 8) -> Outcome:
    if step not in STEPS:
        raise ValueError(f"step is one of {', '.join(STEPS)}, got {step!r}")
    other = "gt0" if step == "ge1" else "ge1"
    network, contrast = agreement_network(step), agreement_network(other)
    lengths = list(range(1, max_length + 1))
    tables = [(all_pairs(n), reference_table(n)) for n in lengths]
    wrong = [wrong_sequences(network, *table) for table in tables]
    wrong_other = [wrong_sequences(contrast, *table) for table in tables]
    rows = list(itertools.product((0, 1), repeat=3))
    gates = gate_table(step)
    checks = [
        equal("p = AND(a, b, ok) over (a, b, ok) ∈ {0,1}³", gates["p"],
              [int(a and b and ok) for a, b, ok in rows], reason="truth table"),
        equal("q = AND(NOR(a, b), ok) over {0,1}³", gates["q"],
              [int(not a and not b and ok) for a, b, ok in rows], reason="truth table"),
        equal(f"wrong sequences, lengths 1…{max_length} (step={step})", sum(wrong), 0,
              reason=f"exhaustive: all {sum(4 ** n for n in lengths)} input pairs"),
    ]
    figure = draw(network, lengths, wrong, wrong_other, step, other)
    notes = [f"design convention: {DESIGN_STEP} (1[z ≥ 1]); this run: {step}",
             f"under {other} the same weights get {sum(wrong_other)} of "
             f"{sum(4 ** n for n in lengths)} sequences wrong"]
    return Outcome(checks, figure, notes=notes, data={
        "lengths": lengths, "wrong": wrong, "wrong_other_convention": wrong_other,
        "step": step, "other_step": other,
        "sequences": [4 ** n for n in lengths]})


def draw(network: ThresholdRNN, lengths: list[int], wrong: list[int], wrong_other: list[int],
         step: str, other: str) -> object:
    figure, (table, accuracy) = new_figure(2, width=4.8)
    length = 3
    inputs = all_pairs(length)
    outputs = network(inputs)[..., 0]
    expected = reference_table(length)
    grid = torch.cat([inputs[..., 0], inputs[..., 1], expected, outputs], dim=1)
    image = table.imshow(grid.numpy(), aspect="auto", cmap="Greys", interpolation="nearest")
    table.set_xticks(range(4 * length), [f"{name}{t + 1}" for name in ("a", "b", "ref ", "y ")
                                         for t in range(length)], fontsize=6, rotation=90)
    table.set_ylabel(f"input pair (all {4 ** length} of length {length})")
    table.set_title(f"streams, reference and network output (step={step})", fontsize=9)
    for edge in range(1, 4):
        table.axvline(edge * length - 0.5, color=THEORY, linewidth=1.5)
    figure.colorbar(image, ax=table, ticks=[0, 1], label="bit")
    sequences = [4 ** n for n in lengths]
    accuracy.plot(lengths, [1 - w / s for w, s in zip(wrong, sequences, strict=True)], "o-",
                  color=MEASURED, label=f"step={step} (this run)")
    accuracy.plot(lengths, [1 - w / s for w, s in zip(wrong_other, sequences, strict=True)],
                  "s--", color=OTHER, label=f"step={other}")
    accuracy.plot(lengths, [0.5 ** n for n in lengths], ":", color=THEORY,
                  label="2⁻ⁿ: only always-agreeing pairs right")
    accuracy.set_xlabel("sequence length n")
    accuracy.set_ylabel("fraction of input pairs answered exactly")
    accuracy.set_yscale("log")
    accuracy.legend(fontsize=7)
    accuracy.set_title("Exact under 1[z ≥ 1]; under 1[z > 0] the ¼-votes fire", fontsize=9)
    return figure
