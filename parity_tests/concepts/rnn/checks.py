"""Forward, gradient and finite-difference checks of ``rnn`` (both cells).

- the layer's hidden states at every step (``nn.RNN``/``nn.LSTM``'s output sequence), its last
  states ``h_n`` (``c_n``) and the LSTM's cell state at every step;
- backprop through time: a random upstream ``G`` on every hidden state, gradients of ``x``,
  ``a0`` (``c0``) and every parameter;
- the model (:func:`.common.sequence_model`, one ``registry.Model`` per cell and label kind):
  its probabilities, and its cost from every step's prediction or from the last step only
  (sequence classification) with the gradient of every parameter, derived by ``register_model``;
- the same backwards against central differences of the scratch forward (float64);
- gradient clipping by value and by global norm against ``torch.nn.utils``.
"""

from __future__ import annotations

import numpy as np
import torch

from parity_tests.compare import compare, group_result
from parity_tests.devices import check_device, parity_mode
from parity_tests.registry import (
    ParityCheck,
    register,
    register_finite_differences,
    register_forward,
    register_gradient,
    register_model,
    seed_for,
)
from parity_tests.tolerances import tolerance
from scratch import rnn as S
from torch_ref.layout import numpy_dtype, to_numpy, to_tensor

from .common import (
    SEQUENCE,
    T,
    core_names,
    layer_layouts,
    make_inputs,
    sequence_model,
    torch_layer,
)


def layer_forward(cell: str):
    """Scratch: ``{a, a_last[, c, c_last]}`` of the layer, course layout."""

    def fn(x, a0, c0=None, **params):
        if cell == "rnn":
            a, _ = S.rnn_forward(x, a0, params)
            return {"a": a, "a_last": a[:, :, -1]}
        a, c, _ = S.lstm_forward(x, a0, c0, params)
        return {"a": a, "a_last": a[:, :, -1], "c": c, "c_last": c[:, :, -1]}

    return fn


def layer_vjp(cell: str):
    """Scratch BPTT from a random ``G = ∂J/∂a`` on every hidden state."""

    def fn(G, x, a0, c0=None, **params):
        if cell == "rnn":
            return S.rnn_backward(G, S.rnn_forward(x, a0, params)[1])
        return S.lstm_backward(G, S.lstm_forward(x, a0, c0, params)[2])

    return fn


def layer_hidden(cell: str):
    forward = layer_forward(cell)
    return lambda **kw: forward(**kw)["a"]


LAYER_OUTPUTS = {"a": SEQUENCE, "c": SEQUENCE, "a_last": T.STATE, "c_last": T.STATE}
"""How each output of :func:`layer_forward` converts from torch's layout."""


def bptt_wrt(cell: str) -> list[str]:
    """What backprop through the layer differentiates: ``x``, the initial state(s), the weights."""
    return ["x", "a0", *(["c0"] if cell == "lstm" else []), *core_names(cell)]


for _cell in S.CELLS:
    _wrt = bptt_wrt(_cell)
    register_forward(
        "rnn",
        f"{_cell}-layer",
        layer_forward(_cell),
        torch_layer(_cell, "all"),
        make_inputs(_cell),
        layouts=layer_layouts(_cell),
        output_layout=LAYER_OUTPUTS,
    )
    register_gradient(
        "rnn",
        f"{_cell}-bptt",
        layer_vjp(_cell),
        torch_layer(_cell),
        make_inputs(_cell),
        wrt=_wrt,
        layouts=layer_layouts(_cell),
        output_layout=SEQUENCE,
        vjp=True,
    )
    register_finite_differences(
        "rnn", f"{_cell}-bptt", layer_hidden(_cell), layer_vjp(_cell), make_inputs(_cell), wrt=_wrt, vjp=True
    )
    for _labels in ("steps", "last"):  # the model: one declaration per cell and label kind
        register_model(
            "rnn",
            f"{_cell}-output-{_labels}",
            sequence_model(_cell, many_to_one=_labels == "last"),
            make_inputs(_cell, _labels),
            cost_case=f"{_cell}-cost-{_labels}",
        )


# --- gradient clipping ---------------------------------------------------------------------------
def clipping_check(device: str, dtype: str):
    """``clip_by_value``/``clip_by_global_norm`` vs ``clip_grad_value_``/``clip_grad_norm_`` on
    gradients whose global norm lies above and below the threshold (so both branches run)."""
    check_device(device)
    np_dtype = numpy_dtype(dtype)
    rng = np.random.default_rng(seed_for("rnn", "clipping"))
    records = []
    for scale, label in ((3.0, "above"), (0.05, "below")):
        grads = {
            k: (rng.standard_normal(s) * scale).astype(np_dtype)
            for k, s in (("dWax", (4, 3)), ("dWaa", (4, 4)), ("dba", (4, 1)))
        }
        max_norm, max_value = 2.5, 0.7
        by_norm, total = S.clip_by_global_norm(grads, max_norm)
        by_value = S.clip_by_value(grads, max_value)
        with parity_mode():
            params = [torch.nn.Parameter(to_tensor(g, device, dtype)) for g in grads.values()]
            for p in params:
                p.grad = p.detach().clone()
            t_total = torch.nn.utils.clip_grad_norm_(params, max_norm)
            t_norm = [to_numpy(p.grad) for p in params]
            for p in params:
                p.grad = p.detach().clone()
            torch.nn.utils.clip_grad_value_(params, max_value)
            t_value = [to_numpy(p.grad) for p in params]
        tol = tolerance(dtype, "forward")
        records.append(compare(f"norm-{label}", total, to_numpy(t_total), tol))
        for k, tn, tv in zip(grads, t_norm, t_value):
            records.append(compare(f"{k}-by-norm-{label}", by_norm[k], tn, tol))
            records.append(compare(f"{k}-by-value-{label}", by_value[k], tv, tol))
    return group_result("rnn", "clipping", "forward", device, dtype, records)


register(ParityCheck("rnn", "clipping", "forward", clipping_check))
