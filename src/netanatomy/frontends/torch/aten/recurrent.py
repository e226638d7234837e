"""Fused recurrent kernels → ``recurrent``.

On the CPU, ``nn.LSTM`` (without ``proj_size``) runs each layer and direction as one
``aten.mkldnn_rnn_layer`` call (oneDNN); on meta, and for GRU and RNN, the same layers run
as ``addmm`` and cell arithmetic that are counted op by op. One call is one layer of one
direction, so it becomes one ``recurrent`` node with ``num_layers=1`` and
``bidirectional=False``, whose closed form (:mod:`netanatomy.rules.recurrent`) equals the
op-by-op count of the meta path.
"""

from __future__ import annotations

from netanatomy.frontends.torch.aten.registry import AtenCall, Emit, aten

MKLDNN_MODES = {0: "rnn_relu", 1: "rnn_tanh", 2: "lstm", 3: "gru"}
"""``mode`` of ``mkldnn_rnn_layer``: ideep's ``rnn_kind`` enum."""


@aten("mkldnn_rnn_layer")
def adapt_mkldnn_rnn_layer(call: AtenCall) -> Emit:
    """(input, w_ih, w_hh, b_ih, b_hh, hx, cx, reverse, batch_sizes, mode, hidden_size,
    num_layers, has_biases, bidirectional, batch_first, train): one layer, one direction.
    Without biases, the two bias slots hold dummy tensors and are ignored."""
    x, weight_ih = call.args[0], call.args[1]
    attrs = {"mode": MKLDNN_MODES[int(call.arg(9, "mode"))],
             "input_size": int(weight_ih.shape[1]), "hidden_size": int(call.arg(10, "hidden_size")),
             "num_layers": 1, "bidirectional": False, "bias": bool(call.arg(12, "has_biases")),
             "proj_size": 0, "batch_first": bool(call.arg(14, "batch_first")),
             "reverse": bool(call.arg(7, "reverse"))}
    return Emit("recurrent", (call.info(x),), attrs)
