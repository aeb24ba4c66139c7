"""The LSTM: the course's gates on the concatenation ``[a⟨t−1⟩; x⟨t⟩]``, and backprop through time.

::

    Γf = σ(Wf [a⟨t−1⟩; x⟨t⟩] + bf)          forget gate            ft
    Γi = σ(Wi [a⟨t−1⟩; x⟨t⟩] + bi)          update (input) gate    it
    c̃⟨t⟩ = tanh(Wc [a⟨t−1⟩; x⟨t⟩] + bc)     candidate              cct
    Γo = σ(Wo [a⟨t−1⟩; x⟨t⟩] + bo)          output gate            ot
    c⟨t⟩ = Γf ⊙ c⟨t−1⟩ + Γi ⊙ c̃⟨t⟩                                  c_next
    a⟨t⟩ = Γo ⊙ tanh(c⟨t⟩)                                          a_next

Shapes: ``x (n_x, m, T_x)``, ``a0, c0 (n_a, m)``, ``a, c (n_a, m, T_x)``; every ``W· (n_a,
n_a + n_x)`` (the first ``n_a`` columns act on ``a⟨t−1⟩``, the rest on ``x⟨t⟩``), ``b· (n_a, 1)``.
The gradient convention is :mod:`scratch.rnn.vanilla`'s: backwards take ``∂J/∂a`` (and
``∂J/∂c`` of the last step) and return ``∂J/∂·`` of everything, no extra ``1/m``.

The four gates read the same ``[a⟨t−1⟩; x⟨t⟩]``, so their weights are stacked once,
``W = [Wf; Wi; Wo; Wc] (4 n_a, n_a + n_x)`` (:func:`stack_gates`; the three sigmoid gates
first), and each step computes all four pre-activations with one product
``W [a⟨t−1⟩; x⟨t⟩] + b``, then reads each gate's block of ``n_a`` rows. One step forward
(:func:`lstm_step`) and its step back (:func:`lstm_step_backward`) sit side by side; the
course's cell is that step with its inputs checked, and the layer loops it over ``t``; as in
:mod:`scratch.rnn.vanilla`, the weights' gradients are summed over the steps after the loop.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p = {f"{k}{g}": rng.normal(size=(4, 7) if k == "W" else (4, 1)) for g in "fico" for k in "Wb"}
    >>> a, c, cache = lstm_forward(rng.normal(size=(3, 5, 6)), np.zeros((4, 5)), np.zeros((4, 5)), p)
    >>> a.shape, c.shape, sorted(lstm_backward(np.ones_like(a), cache))[4:8]
    ((4, 5, 6), (4, 5, 6), ['da0', 'da_total', 'dbc', 'dbf'])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratch._validate import as_float_array, check_shape
from scratch.rnn.vanilla import (
    Params,
    check_sequence,
    check_state,
    from_steps,
    param,
    sum_over_steps,
    to_steps,
)

GATES = ("f", "i", "c", "o")
"""The course's gate names: forget, update (input), candidate, output."""
STACK = ("f", "i", "o", "c")
"""The order of the gates' blocks of rows in the stacked ``W``, ``b``: the three sigmoid gates
first, so that one ``σ`` computes them all, then the candidate's tanh."""


def check_lstm_params(params: Params) -> tuple[dict[str, np.ndarray], int, int]:
    """``W· (n_a, n_a + n_x)``, ``b· (n_a, 1)`` for the four gates; returns them, ``n_a``, ``n_x``."""
    Wf = param(params, "Wf")
    check_shape("Wf", Wf, (None, None), "(n_a, n_a + n_x)")
    n_a, n_x = Wf.shape[0], Wf.shape[1] - Wf.shape[0]
    if n_x < 1:
        raise ValueError(f"Wf: expected shape (n_a, n_a + n_x) with n_x >= 1, got {Wf.shape}")
    out = {}
    for g in GATES:
        out[f"W{g}"] = W = param(params, f"W{g}", Wf.dtype)
        check_shape(f"W{g}", W, (n_a, n_a + n_x), f"(n_a, n_a + n_x) like Wf {Wf.shape}")
        out[f"b{g}"] = b = param(params, f"b{g}", Wf.dtype)
        check_shape(f"b{g}", b, (n_a, 1), f"(n_a, 1) with n_a = {n_a} from Wf {Wf.shape}")
    return out, n_a, n_x


def stack_gates(p: Params) -> tuple[np.ndarray, np.ndarray]:
    """``W = [Wf; Wi; Wo; Wc] (4 n_a, n_a + n_x)`` and ``b = [bf; bi; bo; bc] (4 n_a, 1)``
    (:data:`STACK`'s order)."""
    return np.concatenate([p[f"W{g}"] for g in STACK]), np.concatenate([p[f"b{g}"] for g in STACK])


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``σ(z) = 1 / (1 + e^{−z})``; below about −88 (float32; −709 in float64) ``e^{−z}``
    overflows to ``inf`` and ``σ`` to its limit 0, without a warning."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-z))


# --- one step, forward and back -------------------------------------------------------------------
def lstm_step(
    xt: np.ndarray,
    a_prev: np.ndarray,
    c_prev: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, tuple]:
    """One step (no checks), ``W``, ``b`` from :func:`stack_gates`: ``xt (n_x, m)``,
    ``a_prev, c_prev (n_a, m)`` -> ``a_next, c_next (n_a, m)`` and what the step back needs."""
    n_a = a_prev.shape[0]
    concat = np.concatenate([a_prev, xt])  # [a⟨t−1⟩; x⟨t⟩] (n_a + n_x, m)
    gates = W @ concat + b  # (4 n_a, m): the four gates' pre-activations, blocks f, i, o, c̃
    ft, it, ot = np.split(sigmoid(gates[: 3 * n_a]), 3)  # Γf, Γi, Γo = σ(W· [a⟨t−1⟩; x⟨t⟩] + b·)
    cct = np.tanh(gates[3 * n_a :])  # c̃⟨t⟩ = tanh(Wc [a⟨t−1⟩; x⟨t⟩] + bc)
    c_next = ft * c_prev + it * cct  # c⟨t⟩ = Γf ⊙ c⟨t−1⟩ + Γi ⊙ c̃⟨t⟩
    tanh_c = np.tanh(c_next)
    a_next = ot * tanh_c  # a⟨t⟩ = Γo ⊙ tanh(c⟨t⟩)
    return a_next, c_next, (concat, ft, it, cct, ot, c_prev, tanh_c)


def lstm_step_backward(
    da_next: np.ndarray,
    dc_next: np.ndarray,
    step: tuple,
    W: np.ndarray,
) -> dict[str, np.ndarray]:
    """The step back (no checks) from ``da_next = ∂J/∂a⟨t⟩`` and ``dc_next = ∂J/∂c⟨t⟩`` (everything
    that reaches them; ``step`` is :func:`lstm_step`'s third result)::

        dΓo = da ⊙ tanh(c)                       dc = dc_next + da ⊙ Γo ⊙ (1 − tanh²(c))
        dΓf = dc ⊙ c_prev   dΓi = dc ⊙ c̃     dc̃ = dc ⊙ Γi      dc_prev = dc ⊙ Γf
        dz· = dΓ· ⊙ Γ·(1 − Γ·) for the sigmoids, dz_c = dc̃ ⊙ (1 − c̃²)
        da_prev = Waᵀ dz      (Wa = W[:, :n_a], the columns acting on a⟨t−1⟩)

    with ``dz = [dz_f; dz_i; dz_o; dz_c] (4 n_a, m)`` stacked like ``W``; returns ``dz``,
    ``da_prev`` and ``dc_prev``, what flows back through time. The rest of the step's
    gradients follow from ``dz``: ``dxt = Wxᵀ dz`` (``Wx = W[:, n_a:]``),
    ``dW = dz [a_prev; xt]ᵀ``, ``db = Σ_i dz``.
    """
    concat, ft, it, cct, ot, c_prev, tanh_c = step
    n_a = ft.shape[0]
    dot = da_next * tanh_c  # dΓo
    dc = dc_next + da_next * ot * (1 - tanh_c * tanh_c)  # ∂J/∂c⟨t⟩, through a⟨t⟩ too
    dft, dit, dcct = dc * c_prev, dc * cct, dc * it  # dΓf, dΓi, dc̃
    dz = np.concatenate(
        [
            dft * ft * (1 - ft),
            dit * it * (1 - it),
            dot * ot * (1 - ot),  # σ' = σ(1 − σ)
            dcct * (1 - cct * cct),  # tanh' = 1 − tanh²
        ]
    )
    return {"dz": dz, "da_prev": W[:, :n_a].T @ dz, "dc_prev": dc * ft}


def unstack_gates(dW: np.ndarray, db: np.ndarray) -> dict[str, np.ndarray]:
    """``dWf, dbf, …, dWo, dbo`` from the stacked ``dW (4 n_a, n_a + n_x)``, ``db (4 n_a, 1)``."""
    n_a = dW.shape[0] // 4
    out = {}
    for k, g in enumerate(STACK):
        out[f"dW{g}"], out[f"db{g}"] = dW[k * n_a : (k + 1) * n_a], db[k * n_a : (k + 1) * n_a]
    return out


# --- the cell: the step with its inputs checked (the course's functions) ---------------------------
def lstm_cell_forward(
    xt: np.ndarray,
    a_prev: np.ndarray,
    c_prev: np.ndarray,
    params: Params,
) -> tuple[np.ndarray, np.ndarray, tuple]:
    """One step: returns ``a_next (n_a, m)``, ``c_next (n_a, m)`` and the cache."""
    p, n_a, n_x = check_lstm_params(params)
    xt = as_float_array("xt", xt, p["Wf"].dtype)
    check_shape("xt", xt, (n_x, None), "(n_x, m)")
    a_prev = check_state("a_prev", a_prev, n_a, xt.shape[1], xt.dtype)
    c_prev = check_state("c_prev", c_prev, n_a, xt.shape[1], xt.dtype)
    W, b = stack_gates(p)
    a_next, c_next, step = lstm_step(xt, a_prev, c_prev, W, b)
    return a_next, c_next, (a_next, c_next, step, W)


def lstm_cell_backward(
    da_next: np.ndarray,
    dc_next: np.ndarray,
    cache: tuple,
) -> dict[str, np.ndarray]:
    """One step back from ``∂J/∂a⟨t⟩`` and ``∂J/∂c⟨t⟩`` (:func:`lstm_step_backward`): returns
    ``da_prev``, ``dxt``, ``dc_prev`` and ``dW·``, ``db·`` of the four gates."""
    a_next, c_next, step, W = cache
    da_next = as_float_array("da_next", da_next, a_next.dtype)
    check_shape("da_next", da_next, a_next.shape, "(n_a, m)")
    dc_next = as_float_array("dc_next", dc_next, a_next.dtype)
    check_shape("dc_next", dc_next, a_next.shape, "(n_a, m)")
    grads = lstm_step_backward(da_next, dc_next, step, W)
    dz, concat, n_a = grads.pop("dz"), step[0], a_next.shape[0]
    return {
        **unstack_gates(dz @ concat.T, np.sum(dz, axis=1, keepdims=True)),
        "dxt": W[:, n_a:].T @ dz,
        **grads,
    }


# --- the layer: the step looped over t --------------------------------------------------------------
def lstm_forward(
    x: np.ndarray,
    a0: np.ndarray,
    c0: np.ndarray,
    params: Params,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Hidden and cell states ``a, c (n_a, m, T_x)`` from ``x (n_x, m, T_x)``, ``a0``, ``c0``;
    both are read-only views of the cache's states (``.copy()`` to change them)."""
    p, n_a, n_x = check_lstm_params(params)
    x = check_sequence(x, n_x, p["Wf"].dtype, np.shape(a0)[1] if np.ndim(a0) == 2 else None)
    m = x.shape[1]
    a0 = check_state("a0", a0, n_a, m, x.dtype)
    c0 = check_state("c0", c0, n_a, m, x.dtype)
    cache = lstm_forward_steps(to_steps(x), a0, c0, p)
    return (
        from_steps(cache["a"][:, 1:], writeable=False),
        from_steps(cache["c"][:, 1:], writeable=False),
        cache,
    )


def lstm_forward_steps(xs: np.ndarray, a0: np.ndarray, c0: np.ndarray, p: Params) -> dict[str, Any]:
    """The layer on steps side by side (checked inputs): ``xs (n_x, T_x, m)`` -> the cache, whose
    ``a, c (n_a, T_x + 1, m)`` hold ``a⟨t⟩ = a[:, t]``, ``c⟨t⟩ = c[:, t]`` for ``t = 0 … T_x``."""
    T_x, (n_a, m) = xs.shape[1], a0.shape
    W, b = stack_gates(p)  # once, outside the loop
    a, c = np.empty((n_a, T_x + 1, m), dtype=W.dtype), np.empty((n_a, T_x + 1, m), dtype=W.dtype)
    a[:, 0], c[:, 0] = a0, c0
    steps = []  # what each step back needs
    for t in range(1, T_x + 1):
        a[:, t], c[:, t], step = lstm_step(xs[:, t - 1], a[:, t - 1], c[:, t - 1], W, b)
        steps.append(step)
    return {"xs": xs, "a": a, "c": c, "steps": steps, "W": W}


def lstm_backward(
    da: np.ndarray,
    cache: dict,
    dc_last: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Backprop through time from ``da = ∂J/∂a (n_a, m, T_x)`` (and ``dc_last = ∂J/∂c⟨T_x⟩``,
    default 0): :func:`lstm_step_backward` at every step, going back from ``t = T_x``, with
    ``da_total⟨t⟩ = da⟨t⟩ + da_prev⟨t+1⟩`` and ``dc_prev⟨t+1⟩`` flowing into step ``t``; then,
    every step at once, ``dx⟨t⟩ = Wxᵀ dz⟨t⟩``, ``dW = Σ_t dz⟨t⟩ [a⟨t−1⟩; x⟨t⟩]ᵀ`` and
    ``db = Σ_t Σ_i dz⟨t⟩``.

    Returns ``dx (n_x, m, T_x)``, ``da0``, ``dc0 (n_a, m)``, ``dW·``, ``db·`` for the four gates
    and ``da_total (n_a, m, T_x)`` = ``∂J/∂a⟨t⟩`` through all later steps.
    """
    a = cache["a"]
    n_a, T_x, m = a.shape[0], a.shape[1] - 1, a.shape[2]
    da = as_float_array("da", da, a.dtype)
    check_shape("da", da, (n_a, m, T_x), "(n_a, m, T_x) like a")
    if dc_last is not None:
        dc_last = as_float_array("dc_last", dc_last, a.dtype)
        check_shape("dc_last", dc_last, (n_a, m), "(n_a, m)")
    grads = lstm_backward_steps(to_steps(da), cache, dc_last)
    grads["dx"] = from_steps(grads.pop("dxs"))
    grads["da_total"] = from_steps(grads.pop("da_totals"))
    return grads


def lstm_backward_steps(
    das: np.ndarray,
    cache: dict,
    dc_last: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """BPTT on steps side by side: ``das (n_a, T_x, m)`` = ``∂J/∂a⟨t⟩`` from outside the layer
    (step ``t`` in ``das[:, t − 1]``)."""
    xs, a, steps, W = cache["xs"], cache["a"], cache["steps"], cache["W"]
    n_a, T_x, m = das.shape
    da_totals = np.empty_like(das)
    dzs = np.empty((W.shape[0], T_x, m), dtype=W.dtype)  # dz⟨t⟩ of the four gates
    da_prev = np.zeros((n_a, m), dtype=W.dtype)  # ∂J/∂a⟨T_x⟩ through a later step: none
    dc_prev = np.zeros((n_a, m), dtype=W.dtype) if dc_last is None else dc_last
    for t in range(T_x, 0, -1):  # column t − 1 holds step t
        da_totals[:, t - 1] = das[:, t - 1] + da_prev  # da_total⟨t⟩
        step = lstm_step_backward(da_totals[:, t - 1], dc_prev, steps[t - 1], W)
        dzs[:, t - 1], da_prev, dc_prev = step["dz"], step["da_prev"], step["dc_prev"]
    concats = np.concatenate([a[:, :-1], xs])  # [a⟨t−1⟩; x⟨t⟩] of every step, (n_a + n_x, T_x, m)
    dW, db = sum_over_steps(dzs, concats), np.sum(dzs, axis=(1, 2))[:, None]
    dxs = (W[:, n_a:].T @ dzs.reshape(len(W), -1)).reshape(xs.shape)  # dx⟨t⟩ = Wxᵀ dz⟨t⟩, every t
    return {**unstack_gates(dW, db), "dxs": dxs, "da0": da_prev, "dc0": dc_prev, "da_totals": da_totals}
