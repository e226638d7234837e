"""Parameters a token uses: the active parameters of a mixture-of-experts model.

Definition. An *expert weight* is a parameter that is the weight operand ``b`` of shape
``(E, K, N)`` of a ``grouped_matmul`` node in the forward layout (``a`` 2-D: the routed
rows), reached from ``b`` through views, reshapes and copies. Each token is routed to
``k`` of the ``E`` experts, where ``k`` = routed rows of ``a`` / tokens, and tokens = the
rows (all axes but the last) of the tensor the routed rows were gathered from: following
the first operand of ``a``'s producers inside the module that ran the product, the first
tensor with a different row count, or the tensor that enters that module (then ``k`` = 1).
Then

    active params per token = params − Σ_W |W| + Σ_W |W| · min(1, k_W / E_W),

summed over distinct expert weights W (the largest k of any product that uses W). For a
transformers MoE model this is non-expert params + top_k / num_experts × expert params
(router and shared experts included in the non-expert part). A model without expert
weights has every parameter active. Left out: expert biases added by a gather rather
than in the grouped product are counted as always active.
"""

from __future__ import annotations

from fractions import Fraction

from netanatomy.ir.graph import Graph, Node, TensorInfo
from netanatomy.symbolic import Dim, prod, to_fraction
from netanatomy.symbolic import total as total_of

FOLLOWED_KINDS = ("view", "reshape", "copy")
"""Kinds through which an operand is traced back to the parameter it comes from."""


def active_params(graph: Graph) -> Dim:
    """Parameters (buffers excluded) one token uses; see the module docstring."""
    total: Dim = total_of(p.numel for p in graph.params.values() if not p.is_buffer)
    producers: dict[int, Node] = {}
    for node in graph.nodes:  # the op that created each tensor (in-place ops come later)
        for tensor in node.outputs:
            producers.setdefault(tensor.id, node)
    fractions: dict[str, Fraction | int] = {}
    for node in graph.nodes:
        if node.kind != "grouped_matmul" or len(node.inputs[0].shape) != 2 \
                or len(node.inputs[1].shape) != 3:
            continue
        weight = parameter_of(node.inputs[1], producers)
        if weight is None or weight not in graph.params:
            continue
        routed = rows(node.inputs[0].shape)
        per_token = to_fraction(routed, tokens_of(node, producers))
        fraction = min(1, to_fraction(per_token, node.inputs[1].shape[0]))
        fractions[weight] = max(fraction, fractions.get(weight, 0))
    for name, fraction in fractions.items():
        numel = graph.params[name].numel
        share = to_fraction(numel * fraction.numerator, fraction.denominator)  # exact
        total = total - numel + share
    return total


def rows(shape: tuple[Dim, ...]) -> Dim:
    """Elements over the last axis (1 for a scalar)."""
    return prod(shape[:-1])


def parameter_of(tensor: TensorInfo, producers: dict[int, Node]) -> str | None:
    """The parameter ``tensor`` is, or is a view / reshape / copy of; None for others."""
    while tensor.param is None:
        producer = producers.get(tensor.id)
        if producer is None or producer.kind not in FOLLOWED_KINDS or not producer.inputs:
            return None
        tensor = producer.inputs[0]
    return tensor.param


def within(path: str, module: str) -> bool:
    """True when ``path`` is ``module`` or inside it."""
    return module == "" or path == module or path.startswith(module + ".")


def tokens_of(node: Node, producers: dict[int, Node]) -> Dim:
    """Rows of the tensor the routed rows of ``node`` were gathered from (see above)."""
    tensor = node.inputs[0]
    routed = rows(tensor.shape)
    while True:
        producer = producers.get(tensor.id)
        if producer is None or not producer.inputs or not within(producer.path, node.path):
            return routed
        source = producer.inputs[0]
        if rows(source.shape) != routed:
            return rows(source.shape)
        tensor = source
