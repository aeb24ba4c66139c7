"""Whole sequence models: a recurrent layer (``"rnn"`` or ``"lstm"``) with a softmax output.

Many-to-many (a prediction at every step, e.g. a character language model)::

    ŷ⟨t⟩ = softmax(Wya a⟨t⟩ + by)        J = −1/(m T_x) Σ_t Σ_i Σ_k y_k⟨t⟩⁽ⁱ⁾ log ŷ_k⟨t⟩⁽ⁱ⁾

with one-hot ``Y (n_y, m, T_x)``; many-to-one (sequence classification from the last hidden
state) when ``Y`` is ``(n_y, m)``: ``ŷ = softmax(Wya a⟨T_x⟩ + by)``, ``J = −1/m Σ_i Σ_k y log ŷ``.
The output layer hands ``da⟨t⟩ = Wyaᵀ dz_y⟨t⟩`` with ``dz_y = (ŷ − y)/(m T_x)`` (or ``/m``, last
step only) to backprop through time. The LSTM's output weights are named ``Wy`` (the course's),
the vanilla RNN's ``Wya``; both start from ``a0 = 0`` (and ``c0 = 0``).

Gradient clipping, the course's cure for exploding gradients: :func:`clip_by_value` and
:func:`clip_by_global_norm` (the latter exactly ``torch.nn.utils.clip_grad_norm_``'s rule).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> params = initialize_parameters(3, 4, 2, "lstm", rng)
    >>> x, Y = rng.normal(size=(3, 5, 6)), np.eye(2)[:, rng.integers(0, 2, 5)]   # Y (n_y, m)
    >>> J, grads = propagate(params, x, Y, "lstm")
    >>> round(float(J), 4) > 0, sorted(grads)[:3], predict(params, x, "lstm").shape
    (True, ['dWc', 'dWf', 'dWi'], (5,))
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from scratch._validate import as_float_array, check_shape
from scratch.activations import softmax
from scratch.init import xavier
from scratch.rnn.lstm import (
    GATES,
    check_lstm_params,
    lstm_backward_steps,
    lstm_forward_steps,
    lstm_step,
    stack_gates,
)
from scratch.rnn.vanilla import (
    Params,
    backward_steps,
    check_rnn_params,
    check_sequence,
    forward_steps,
    param,
    rnn_step,
    sum_over_steps,
    to_steps,
)

CELLS = ("rnn", "lstm")
HEAD = {"rnn": ("Wya", "by"), "lstm": ("Wy", "by")}
"""The output layer's parameter names per cell type (the course's)."""


def _check_cell(cell: str) -> str:
    if cell not in CELLS:
        raise ValueError(f"cell: expected one of {CELLS}, got {cell!r}")
    return cell


def initialize_parameters(
    n_x: int,
    n_a: int,
    n_y: int,
    cell: str,
    rng: np.random.Generator,
    dtype: np.dtype = np.float64,
    forget_bias: float = 0.0,
) -> dict[str, np.ndarray]:
    """Xavier-normal weights, zero biases (``bf = forget_bias``, a common LSTM choice of 1).

    ``"rnn"``: ``Wax (n_a, n_x)``, ``Waa (n_a, n_a)``, ``ba``, ``Wya (n_y, n_a)``, ``by``.
    ``"lstm"``: ``W· (n_a, n_a + n_x)``, ``b· (n_a, 1)`` for ``· = f, i, c, o``, ``Wy``, ``by``.
    """
    _check_cell(cell)
    for name, n in (("n_x", n_x), ("n_a", n_a), ("n_y", n_y)):
        if int(n) != n or n < 1:
            raise ValueError(f"{name}: expected a positive integer, got {n!r}")
    zeros = lambda n: np.zeros((n, 1), dtype=dtype)  # noqa: E731
    if cell == "rnn":
        p = {"Wax": xavier((n_a, n_x), rng, dtype), "Waa": xavier((n_a, n_a), rng, dtype), "ba": zeros(n_a)}
    else:
        p = {}
        for g in GATES:
            p[f"W{g}"] = xavier((n_a, n_a + n_x), rng, dtype)
            p[f"b{g}"] = np.full((n_a, 1), forget_bias if g == "f" else 0.0, dtype=dtype)
    wy, by = HEAD[cell]
    p[wy], p[by] = xavier((n_y, n_a), rng, dtype), zeros(n_y)
    return p


def _head(params: Params, cell: str, n_a: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    wy, by = HEAD[cell]
    Wy = param(params, wy, dtype)
    check_shape(wy, Wy, (None, n_a), f"(n_y, n_a) with n_a = {n_a}")
    b = param(params, by, dtype)
    check_shape(by, b, (Wy.shape[0], 1), f"(n_y, 1) with n_y = {Wy.shape[0]} from {wy}")
    return Wy, b


def _layer_forward(params: Params, x: np.ndarray, cell: str):
    """Check and run the recurrent layer from zero states: ``(cache, Wy, by, x.shape)``; the
    cache's ``a (n_a, T_x + 1, m)`` holds ``a⟨t⟩ = a[:, t]``."""
    if _check_cell(cell) == "rnn":
        Wax, Waa, ba = check_rnn_params(params)
        n_a, n_x, dtype = Wax.shape[0], Wax.shape[1], Wax.dtype
    else:
        p, n_a, n_x = check_lstm_params(params)
        dtype = p["Wf"].dtype
    x = check_sequence(x, n_x, dtype)
    Wy, by = _head(params, cell, n_a, dtype)
    zeros = np.zeros((n_a, x.shape[1]), dtype=dtype)
    xs = to_steps(x)  # (n_x, T_x, m)
    cache = (
        forward_steps(xs, zeros, Wax, Waa, ba) if cell == "rnn" else lstm_forward_steps(xs, zeros, zeros, p)
    )
    return cache, Wy, by, x.shape


def _log_softmax(Z: np.ndarray) -> np.ndarray:
    """``log softmax`` down each column of ``Z (n_y, …)`` (the max subtracted first)."""
    shifted = Z - Z.max(axis=0, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=0, keepdims=True))


def propagate(
    params: Params,
    x: np.ndarray,
    Y: np.ndarray,
    cell: str = "rnn",
) -> tuple[np.floating, dict[str, np.ndarray]]:
    """Cost ``J`` and ``∂J/∂θ`` of every parameter (keyed ``"d<name>"``), through time.

    ``Y (n_y, m, T_x)`` one-hot: a prediction at every step; ``Y (n_y, m)``: classification
    from the last hidden state.
    """
    cache, Wy, by, (n_x, m, T_x) = _layer_forward(params, x, cell)
    a = cache["a"][:, 1:]  # a⟨1⟩ … a⟨T_x⟩ (n_a, T_x, m)
    n_a, n_y = a.shape[0], Wy.shape[0]
    Y = as_float_array("Y", Y, a.dtype)
    last_only = Y.ndim == 2
    if last_only:
        check_shape("Y", Y, (n_y, m), "(n_y, m) for a label per sequence")
        Ys, A_out = Y[:, None], a[:, -1:]  # (n_y, 1, m), a⟨T_x⟩ (n_a, 1, m)
    else:
        check_shape("Y", Y, (n_y, m, T_x), "(n_y, m, T_x) for a label per step, or (n_y, m)")
        Ys, A_out = to_steps(Y), a  # (n_y, T_x, m), a⟨1⟩ … a⟨T_x⟩ (n_a, T_x, m)
    steps = Ys.shape[1]  # 1, or T_x
    count = steps * m  # m, or m·T_x
    Z = (Wy @ A_out.reshape(n_a, -1) + by).reshape(n_y, steps, m)  # logits; ŷ = softmax down each column
    J = -np.sum(Ys * _log_softmax(Z)) / count
    dZ = (softmax(Z) - Ys) / count  # dz_y = (ŷ − y)/count, (n_y, steps, m)
    grads = {
        f"d{HEAD[cell][0]}": sum_over_steps(dZ, A_out),  # Σ_t dz_y⟨t⟩ a⟨t⟩ᵀ
        f"d{HEAD[cell][1]}": np.sum(dZ, axis=(1, 2))[:, None],
    }
    das = np.zeros_like(a)  # ∂J/∂a⟨t⟩ through the output layer, (n_a, T_x, m)
    das[:, T_x - steps :] = (Wy.T @ dZ.reshape(n_y, -1)).reshape(n_a, steps, m)  # the last step, or all
    layer = backward_steps(das, cache) if cell == "rnn" else lstm_backward_steps(das, cache)
    for k, v in layer.items():
        if k not in ("dxs", "da0", "dc0", "da_totals"):
            grads[k] = v
    return J, grads


def predict_proba(
    params: Params,
    x: np.ndarray,
    cell: str = "rnn",
    last_only: bool = True,
) -> np.ndarray:
    """``ŷ`` at the last step ``(n_y, m)``, or at every step ``(n_y, m, T_x)``."""
    cache, Wy, by, (_, m, T_x) = _layer_forward(params, x, cell)
    if last_only:
        return softmax(Wy @ cache["a"][:, -1] + by)
    a = cache["a"][:, 1:]  # a⟨1⟩ … a⟨T_x⟩ (n_a, T_x, m)
    Z = (Wy @ a.reshape(a.shape[0], -1) + by).reshape(-1, T_x, m)  # (n_y, T_x, m)
    return np.ascontiguousarray(softmax(Z).transpose(0, 2, 1))  # ŷ (n_y, m, T_x)


def predict(params: Params, x: np.ndarray, cell: str = "rnn") -> np.ndarray:
    """The class of each sequence from its last hidden state, ``(m,)`` int64."""
    return np.argmax(predict_proba(params, x, cell), axis=0)


def sample(params: Params, first: int, uniforms: np.ndarray, cell: str = "rnn") -> np.ndarray:
    """Generate ``len(uniforms)`` symbols after ``first``, feeding each back as one-hot input.

    At each step ``p = ŷ⟨t⟩`` and the next symbol is the first ``k`` with
    ``Σ_{j<=k} p_j > u⟨t⟩`` (inverse-CDF sampling): the same uniforms ``u ∈ [0, 1)`` give the
    same symbols on any side that computes the same ``p``.
    """
    uniforms = as_float_array("uniforms", uniforms)
    check_shape("uniforms", uniforms, (None,), "(n_steps,)")
    if _check_cell(cell) == "rnn":
        Wax, Waa, ba = check_rnn_params(params)
        n_a, n_x, dtype = Wax.shape[0], Wax.shape[1], Wax.dtype
    else:
        p, n_a, n_x = check_lstm_params(params)
        dtype = p["Wf"].dtype
        W, b = stack_gates(p)
    Wy, by = _head(params, cell, n_a, dtype)
    if not 0 <= int(first) < n_x:
        raise ValueError(f"first: expected a symbol index in [0, {n_x - 1}], got {first!r}")
    a, c = np.zeros((n_a, 1), dtype=dtype), np.zeros((n_a, 1), dtype=dtype)
    out, symbol = [], int(first)
    for u in uniforms:
        x2 = np.zeros((n_x, 1), dtype=dtype)
        x2[symbol] = 1
        if cell == "rnn":
            a = rnn_step(x2, a, Wax, Waa, ba)
        else:
            a, c, _ = lstm_step(x2, a, c, W, b)
        cdf = np.cumsum(softmax(Wy @ a + by)[:, 0])
        symbol = min(int(np.searchsorted(cdf, u, side="right")), n_x - 1)
        out.append(symbol)
    return np.asarray(out, dtype=np.int64)


# --- gradient clipping ---------------------------------------------------------------------------
def clip_by_value(grads: Mapping[str, np.ndarray], max_value: float) -> dict[str, np.ndarray]:
    """Every entry clipped to ``[−max_value, max_value]`` (the course's ``np.clip``)."""
    if not (math.isfinite(max_value) and max_value > 0):
        raise ValueError(f"max_value: expected a positive finite number, got {max_value!r}")
    return {k: np.clip(g, -max_value, max_value) for k, g in grads.items()}


def clip_by_global_norm(
    grads: Mapping[str, np.ndarray],
    max_norm: float,
) -> tuple[dict[str, np.ndarray], float]:
    """Rescale all gradients together when ``‖g‖ = √(Σ_p Σ dp²) > max_norm``::

        g := g · min(1, max_norm / (‖g‖ + 1e-6))

    (the ``1e-6`` is ``torch.nn.utils.clip_grad_norm_``'s). Returns the gradients and ``‖g‖``.
    """
    if not (math.isfinite(max_norm) and max_norm > 0):
        raise ValueError(f"max_norm: expected a positive finite number, got {max_norm!r}")
    dtype = next(iter(grads.values())).dtype
    total = np.sqrt(sum(np.sum(g * g) for g in grads.values()))
    scale = min(dtype.type(1), dtype.type(max_norm) / (total + dtype.type(1e-6)))
    return {k: g * scale for k, g in grads.items()}, float(total)
