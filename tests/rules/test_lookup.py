"""Embedding-bag and scatter-add rules: explicit loops that count their operations, torch's
numerics and shapes, hand formulas for bytes, and symbols."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from netanatomy.rules import NO_FIELD, Mixes
from tests.rules.helpers import assert_symbolic_agrees, evaluate, rule, symbols

# --- embedding_bag ------------------------------------------------------------------------

INDICES = [1, 2, 4, 5, 4, 3, 2, 9, 0, 7]
OFFSETS = [0, 4, 4, 7]                                   # bags of 4, 0, 3 and 3 indices


def brute_embedding_bag(weight: np.ndarray, indices: list[int], offsets: list[int], mode: str,
                        per_sample_weights: np.ndarray | None) -> tuple[np.ndarray, int]:
    """nn.EmbeddingBag by its definition, one gathered element at a time; returns (output,
    operations: a combine per gathered element, a weight multiply per gathered element, a
    divide per output element of a mean bag)."""
    ends = [*offsets[1:], len(indices)]
    out = np.zeros((len(offsets), weight.shape[1]))
    operations = 0
    for bag, (start, end) in enumerate(zip(offsets, ends)):
        acc = np.full(weight.shape[1], -np.inf if mode == "max" else 0.0)
        for position in range(start, end):
            for d in range(weight.shape[1]):
                value = weight[indices[position], d]
                if per_sample_weights is not None:
                    value = value * per_sample_weights[position]
                    operations += 1
                acc[d] = max(acc[d], value) if mode == "max" else acc[d] + value
                operations += 1
        if mode == "mean":
            acc = acc / max(end - start, 1)
            operations += weight.shape[1]
        out[bag] = np.where(np.isinf(acc), 0.0, acc)      # an empty max bag is 0 in torch
    return out, operations


@pytest.mark.parametrize("mode, weighted", [("sum", False), ("mean", False), ("max", False),
                                            ("sum", True)])
def test_embedding_bag_flops_equal_the_operations_of_a_loop(mode, weighted) -> None:
    torch.manual_seed(0)
    weight = torch.randn(10, 3, dtype=torch.float64)
    indices, offsets = torch.tensor(INDICES), torch.tensor(OFFSETS)
    psw = torch.randn(len(INDICES), dtype=torch.float64) if weighted else None
    expected = F.embedding_bag(indices, weight, offsets, mode=mode, per_sample_weights=psw)
    out, operations = brute_embedding_bag(weight.numpy(), INDICES, OFFSETS, mode,
                                          None if psw is None else psw.numpy())
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-12)
    inputs = ((10, 3), (len(INDICES),), (len(OFFSETS),)) + (((len(INDICES),),) if weighted
                                                            else ())
    outputs, macs, flops = evaluate("embedding_bag", inputs, {"mode": mode})
    assert outputs == (tuple(expected.shape),)
    assert macs == 0
    assert flops == operations


def test_embedding_bag_include_last_offset_drops_one_bag() -> None:
    weight, indices = torch.randn(10, 3), torch.tensor(INDICES)
    offsets = torch.tensor([*OFFSETS, len(INDICES)])
    expected = F.embedding_bag(indices, weight, offsets, mode="sum", include_last_offset=True)
    outputs, _, flops = evaluate("embedding_bag", ((10, 3), (10,), (5,)),
                                 {"mode": "sum", "include_last_offset": True})
    assert outputs == (tuple(expected.shape),) == ((4, 3),)
    assert flops == 10 * 3                                   # one add per gathered element


def test_embedding_bag_params_bytes_and_transfer() -> None:
    inputs, outputs = ((1000, 16), (40,), (8,), (40,)), ((8, 16),)
    assert rule("embedding_bag", "params")(inputs, {"mode": "sum"}) == 1000 * 16   # table
    traffic = rule("embedding_bag", "bytes")(inputs, outputs, {"mode": "sum"},
                                             ((4, 8, 8, 4), (4,)))
    # indices (int64) + offsets (int64) + per-sample weights + the 40 gathered rows + output;
    # the 1000-row table is not read whole
    assert traffic == 40 * 8 + 8 * 8 + 40 * 4 + 40 * 16 * 4 + 8 * 16 * 4
    assert rule("embedding_bag", "rf")(inputs, outputs, {"mode": "sum"}) == NO_FIELD


@pytest.mark.parametrize("attrs, weighted", [({"mode": "mean"}, False), ({"mode": "max"}, False),
                                             ({"mode": "sum"}, True),
                                             ({"mode": "sum", "include_last_offset": True},
                                              False)])
def test_embedding_bag_symbolic_agrees_with_integers(attrs, weighted) -> None:
    v, d, n, b = symbols("V D N B")
    inputs = ((v, d), (n,), (b,)) + (((n,),) if weighted else ())
    values = {v: 100, d: 8, n: 12, b: 4}
    assert_symbolic_agrees("embedding_bag", inputs, attrs, values)
    symbolic = rule("embedding_bag", "bytes")(inputs, ((b, d),), attrs, ((4, 8, 8, 4), (4,)))
    concrete = rule("embedding_bag", "bytes")(((100, 8), (12,), (4,)) + (((12,),) if weighted
                                                                         else ()),
                                              ((4, 8),), attrs, ((4, 8, 8, 4), (4,)))
    assert symbolic.subs(values) == concrete


# --- scatter_add --------------------------------------------------------------------------


def brute_index_add(target: np.ndarray, index: list[int], source: np.ndarray
                    ) -> tuple[np.ndarray, int]:
    """index_add along dim 0: out[index[j]] += source[j], additions counted."""
    out, additions = target.copy(), 0
    for j, row in enumerate(index):
        for c in range(source.shape[1]):
            out[row, c] += source[j, c]
            additions += 1
    return out, additions


def brute_scatter_add(target: np.ndarray, index: np.ndarray, source: np.ndarray
                      ) -> tuple[np.ndarray, int]:
    """scatter_add along dim 0: out[index[i, j], j] += source[i, j] for every index entry
    (source may be larger than index: the rest is never read)."""
    out, additions = target.copy(), 0
    for i in range(index.shape[0]):
        for j in range(index.shape[1]):
            out[index[i, j], j] += source[i, j]
            additions += 1
    return out, additions


def test_index_add_counts_one_add_per_source_element() -> None:
    torch.manual_seed(1)
    target, source = torch.randn(5, 3, dtype=torch.float64), torch.randn(4, 3,
                                                                          dtype=torch.float64)
    index = [0, 4, 2, 0]
    expected = target.index_add(0, torch.tensor(index), source)
    out, additions = brute_index_add(target.numpy(), index, source.numpy())
    np.testing.assert_allclose(out, expected.numpy())
    outputs, macs, flops = evaluate("scatter_add", ((5, 3), (4,), (4, 3)),
                                    {"dim": 0, "added": "source"})
    assert outputs == (tuple(expected.shape),)
    assert (macs, flops) == (0, additions)


def test_scatter_add_counts_one_add_per_index_entry() -> None:
    torch.manual_seed(2)
    target, source = torch.randn(5, 3, dtype=torch.float64), torch.randn(4, 3,
                                                                          dtype=torch.float64)
    index = torch.tensor([[0, 1, 2], [4, 0, 1]])
    expected = target.scatter_add(0, index, source)
    out, additions = brute_scatter_add(target.numpy(), index.numpy(), source.numpy())
    np.testing.assert_allclose(out, expected.numpy())
    inputs = ((5, 3), (2, 3), (4, 3))
    outputs, macs, flops = evaluate("scatter_add", inputs, {"dim": 0, "added": "index"})
    assert outputs == (tuple(expected.shape),)
    assert (macs, flops) == (0, additions) == (0, 2 * 3)
    traffic = rule("scatter_add", "bytes")(inputs, outputs, {"dim": 0, "added": "index"},
                                           ((4, 8, 4), (4,)))
    # target read, index read, the 2·3 source elements used read, output written
    assert traffic == 5 * 3 * 4 + 2 * 3 * 8 + 2 * 3 * 4 + 5 * 3 * 4


def test_scatter_reduce_mean_adds_a_divide_per_output() -> None:
    outputs, _, flops = evaluate("scatter_add", ((5, 3), (2, 3), (2, 3)),
                                 {"dim": 0, "added": "index", "reduce": "mean"})
    assert flops == 2 * 3 + 5 * 3


def brute_histc(values: np.ndarray, bins: int, low: float, high: float
                ) -> tuple[np.ndarray, int]:
    """torch.histc by its definition: a one added into the bin of each element in range."""
    counts, binned = np.zeros(bins), 0
    for value in values:
        if low <= value <= high:
            counts[min(int((value - low) * bins / (high - low)), bins - 1)] += 1
        binned += 1                    # every element is binned; out of range adds nothing
    return counts, binned


def test_histc_is_a_scatter_add_of_ones() -> None:
    torch.manual_seed(3)
    x = torch.randn(100, dtype=torch.float64)
    expected = torch.histc(x, bins=10, min=-1, max=1)
    counts, binned = brute_histc(x.numpy(), 10, -1.0, 1.0)
    np.testing.assert_allclose(counts, expected.numpy())
    outputs, macs, flops = evaluate("scatter_add", ((100,),), {"bins": 10, "added": "input"})
    assert outputs == (tuple(expected.shape),)
    assert (macs, flops) == (0, binned)
    _, _, from_data = evaluate("scatter_add", ((100,),),
                               {"bins": 10, "added": "input", "data_range": True})
    assert from_data == 100 + 100                  # + the min/max over the data
    assert rule("scatter_add", "rf")(((100,),), outputs, {"bins": 10}) == NO_FIELD
    traffic = rule("scatter_add", "bytes")(((100,),), outputs, {"bins": 10, "added": "input"},
                                           ((4,), (4,)))
    assert traffic == 100 * 4 + 10 * 4


def test_scatter_add_params_and_transfer() -> None:
    inputs = ((5, 3), (4,), (4, 3))
    assert rule("scatter_add", "params")(inputs, {"dim": 0}) == 0
    assert rule("scatter_add", "rf")(inputs, ((5, 3),), {"dim": 1}) == Mixes(((2, (1,)),))


@pytest.mark.parametrize("attrs, operands", [
    ({"dim": 0, "added": "source"}, "TARGET INDEX SOURCE"),
    ({"dim": 0, "added": "index", "reduce": "mean"}, "TARGET TARGET SOURCE"),
    ({"bins": 7, "added": "input", "data_range": True}, "SOURCE"),
])
def test_scatter_add_symbolic_agrees_with_integers(attrs, operands) -> None:
    n, k, c = symbols("N K C")
    shapes = {"TARGET": (n, c), "INDEX": (k,), "SOURCE": (k, c)}
    inputs = tuple(shapes[name] for name in operands.split())
    values = {n: 6, k: 4, c: 3}
    assert_symbolic_agrees("scatter_add", inputs, attrs, values)
    sizes = ((4,) * len(inputs), (4,))
    out = rule("scatter_add", "output_shapes")(inputs, attrs)
    symbolic = rule("scatter_add", "bytes")(inputs, out, attrs, sizes)
    concrete_inputs = tuple(tuple(values[d] for d in shape) for shape in inputs)
    concrete_out = rule("scatter_add", "output_shapes")(concrete_inputs, attrs)
    assert symbolic.subs(values) == rule("scatter_add", "bytes")(concrete_inputs, concrete_out,
                                                                 attrs, sizes)
