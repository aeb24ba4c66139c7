"""The LSTM: the course's gates on the concatenation ``[a⟨t−1⟩; x⟨t⟩]``, and backprop through time.

::

    Γf = σ(Wf [a⟨t−1⟩; x⟨t⟩] + bf)          forget gate
    Γi = σ(Wi [a⟨t−1⟩; x⟨t⟩] + bi)          update (input) gate
    c̃⟨t⟩ = tanh(Wc [a⟨t−1⟩; x⟨t⟩] + bc)     candidate
    Γo = σ(Wo [a⟨t−1⟩; x⟨t⟩] + bo)          output gate
    c⟨t⟩ = Γf ⊙ c⟨t−1⟩ + Γi ⊙ c̃⟨t⟩
    a⟨t⟩ = Γo ⊙ tanh(c⟨t⟩)

Shapes: ``x (n_x, m, T_x)``, ``a0, c0 (n_a, m)``, ``a, c (n_a, m, T_x)``; every ``W· (n_a,
n_a + n_x)`` (the first ``n_a`` columns act on ``a⟨t−1⟩``, the rest on ``x⟨t⟩``), ``b· (n_a, 1)``.
The gradient convention is :mod:`scratch.rnn.vanilla`'s: backwards take ``∂J/∂a`` (and
``∂J/∂c`` of the last step) and return ``∂J/∂·`` of everything, no extra ``1/m``.

The cell is the course's formulas one step at a time; the layer runs the same equations with
the four gates stacked into one ``(4 n_a, n_a + n_x)`` matrix (order ``f, i, o, c̃``: the three
sigmoids are one block), so that each step is one product ``W [a⟨t−1⟩; x⟨t⟩]``; its backward
sums ``dW = Σ_t dz⟨t⟩ [a⟨t−1⟩; x⟨t⟩]ᵀ`` and computes ``dx`` with one product each after the loop.

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
from scratch.activations import sigmoid
from scratch.rnn.vanilla import (
    Params,
    check_sequence,
    check_state,
    from_blocks,
    param,
    to_blocks,
)

GATES = ("f", "i", "c", "o")
"""The course's gate names: forget, update (input), candidate, output."""
_STACK = ("f", "i", "o", "c")  # the layer's stacking order: three sigmoids, then tanh


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


# --- the cell: the course's formulas, one step --------------------------------------------------
def lstm_cell_forward(xt: np.ndarray, a_prev: np.ndarray, c_prev: np.ndarray, params: Params,
                      ) -> tuple[np.ndarray, np.ndarray, tuple]:
    """One step: returns ``a_next (n_a, m)``, ``c_next (n_a, m)`` and the cache."""
    p, n_a, n_x = check_lstm_params(params)
    xt = as_float_array("xt", xt, p["Wf"].dtype)
    check_shape("xt", xt, (n_x, None), "(n_x, m)")
    a_prev = check_state("a_prev", a_prev, n_a, xt.shape[1], xt.dtype)
    c_prev = check_state("c_prev", c_prev, n_a, xt.shape[1], xt.dtype)
    concat = np.concatenate([a_prev, xt], axis=0)  # (n_a + n_x, m)
    ft = sigmoid(p["Wf"] @ concat + p["bf"])  # Γf
    it = sigmoid(p["Wi"] @ concat + p["bi"])  # Γi
    cct = np.tanh(p["Wc"] @ concat + p["bc"])  # c̃⟨t⟩
    ot = sigmoid(p["Wo"] @ concat + p["bo"])  # Γo
    c_next = ft * c_prev + it * cct
    a_next = ot * np.tanh(c_next)
    return a_next, c_next, (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, concat, p)


def lstm_cell_backward(da_next: np.ndarray, dc_next: np.ndarray, cache: tuple,
                       ) -> dict[str, np.ndarray]:
    """One step back from ``∂J/∂a⟨t⟩`` and ``∂J/∂c⟨t⟩`` (everything that reaches them)::

        dΓo = da ⊙ tanh(c)                       dc = dc_next + da ⊙ Γo ⊙ (1 − tanh²(c))
        dΓf = dc ⊙ c_prev   dΓi = dc ⊙ c̃     dc̃ = dc ⊙ Γi      dc_prev = dc ⊙ Γf
        dz· = dΓ· ⊙ Γ·(1 − Γ·) for the sigmoids, dz_c = dc̃ ⊙ (1 − c̃²)
        dW· = dz· [a_prev; xt]ᵀ   db· = Σ_i dz·   [da_prev; dxt] = Σ_· W·ᵀ dz·
    """
    a_next, c_next, a_prev, c_prev, ft, it, cct, ot, concat, p = cache
    n_a = a_next.shape[0]
    da_next = as_float_array("da_next", da_next, a_next.dtype)
    check_shape("da_next", da_next, a_next.shape, "(n_a, m)")
    dc_next = as_float_array("dc_next", dc_next, a_next.dtype)
    check_shape("dc_next", dc_next, a_next.shape, "(n_a, m)")
    tc = np.tanh(c_next)
    dc = dc_next + da_next * ot * (1 - tc * tc)
    dz = {"o": da_next * tc * ot * (1 - ot), "f": dc * c_prev * ft * (1 - ft),
          "i": dc * cct * it * (1 - it), "c": dc * it * (1 - cct * cct)}
    grads = {}
    dconcat = np.zeros_like(concat)
    for g in GATES:
        grads[f"dW{g}"] = dz[g] @ concat.T
        grads[f"db{g}"] = np.sum(dz[g], axis=1, keepdims=True)
        dconcat += p[f"W{g}"].T @ dz[g]
    grads["da_prev"], grads["dxt"] = dconcat[:n_a], dconcat[n_a:]
    grads["dc_prev"] = dc * ft
    return grads


# --- the layer: the same equations looped over t --------------------------------------------------
def _sigmoid_(Z: np.ndarray) -> None:
    """``σ(z) = 1 / (1 + e^{−z})`` in place. Where ``z`` is below about −88 (float32; −709 in
    float64) ``e^{−z}`` overflows to ``inf`` and ``σ`` to its limit 0: call it under
    ``np.errstate(over="ignore")``."""
    np.negative(Z, out=Z)
    np.exp(Z, out=Z)
    Z += 1
    np.reciprocal(Z, out=Z)


def lstm_forward(x: np.ndarray, a0: np.ndarray, c0: np.ndarray, params: Params,
                 ) -> tuple[np.ndarray, np.ndarray, dict]:
    """Hidden and cell states ``a, c (n_a, m, T_x)`` from ``x (n_x, m, T_x)``, ``a0``, ``c0``;
    both are read-only views of the cache's states (``.copy()`` to change them)."""
    p, n_a, n_x = check_lstm_params(params)
    x = check_sequence(x, n_x, p["Wf"].dtype, np.shape(a0)[1] if np.ndim(a0) == 2 else None)
    m = x.shape[1]
    a0 = check_state("a0", a0, n_a, m, x.dtype)
    c0 = check_state("c0", c0, n_a, m, x.dtype)
    cache = lstm_forward_blocks(to_blocks(x), a0, c0, p)
    return (from_blocks(cache["A2"][:, m:], m, writeable=False),
            from_blocks(cache["C2"][:, m:], m, writeable=False), cache)


def lstm_forward_blocks(X2: np.ndarray, a0: np.ndarray, c0: np.ndarray,
                        p: dict[str, np.ndarray]) -> dict[str, Any]:
    """The layer on time-blocked columns (validated inputs): ``X2 (n_x, T_x·m)``.

    Each step's equations run on contiguous ``(·, m)`` blocks — the concatenation
    ``[a⟨t−1⟩; x⟨t⟩]``, the gates ``G[t]`` (kept for the backward, ``G (T_x, 4 n_a, m)``), the
    cell state — since a step's block of time-blocked columns is ``n`` rows of only ``m``
    numbers, ``T_x·m`` apart; ``a⟨t⟩``, ``c⟨t⟩`` are then copied into their columns of ``A2``,
    ``C2``.
    """
    n_a, m = a0.shape
    T_x = X2.shape[1] // m
    W = np.concatenate([p[f"W{g}"] for g in _STACK])  # (4 n_a, n_a + n_x), rows f, i, o, c̃
    b = np.repeat(np.concatenate([p[f"b{g}"] for g in _STACK]), m, axis=1)  # (4 n_a, m): b per example
    G = np.empty((T_x, 4 * n_a, m), dtype=X2.dtype)  # Γf, Γi, Γo, c̃⟨t⟩ of every step
    A2 = np.empty((n_a, (T_x + 1) * m), dtype=X2.dtype)  # a⟨0⟩ … a⟨T_x⟩
    C2 = np.empty_like(A2)  # c⟨0⟩ … c⟨T_x⟩
    TC = np.empty((T_x, n_a, m), dtype=X2.dtype)  # tanh(c⟨t⟩)
    A2[:, :m], C2[:, :m] = a0, c0
    concat = np.empty((n_a + X2.shape[0], m), dtype=X2.dtype)  # [a⟨t−1⟩; x⟨t⟩]
    a, c, i_cc = concat[:n_a], np.array(c0, order="C"), np.empty((n_a, m), dtype=X2.dtype)
    a[:] = a0
    with np.errstate(over="ignore"):  # σ's e^{−z} may overflow: σ → 0, its limit
        for t in range(T_x):
            concat[n_a:] = X2[:, t * m:(t + 1) * m]  # x⟨t⟩
            g = np.matmul(W, concat, out=G[t])  # (4 n_a, m)
            g += b  # W [a⟨t−1⟩; x⟨t⟩] + b for the four gates at once
            _sigmoid_(g[:3 * n_a])  # Γf, Γi, Γo
            np.tanh(g[3 * n_a:], out=g[3 * n_a:])  # c̃⟨t⟩
            f, i, o, cc = g[:n_a], g[n_a:2 * n_a], g[2 * n_a:3 * n_a], g[3 * n_a:]
            c *= f
            c += np.multiply(i, cc, out=i_cc)  # c⟨t⟩ = Γf ⊙ c⟨t−1⟩ + Γi ⊙ c̃⟨t⟩
            np.tanh(c, out=TC[t])
            np.multiply(o, TC[t], out=a)  # a⟨t⟩ = Γo ⊙ tanh(c⟨t⟩), next step's a⟨t−1⟩
            nxt = slice((t + 1) * m, (t + 2) * m)
            A2[:, nxt], C2[:, nxt] = a, c
    Wa, Wx = np.ascontiguousarray(W[:, :n_a]), np.ascontiguousarray(W[:, n_a:])  # for the backward
    return {"X2": X2, "A2": A2, "C2": C2, "TC": TC, "G": G, "Wa": Wa, "Wx": Wx, "m": m}


def lstm_backward(da: np.ndarray, cache: dict, dc_last: np.ndarray | None = None,
                  ) -> dict[str, np.ndarray]:
    """Backprop through time from ``da = ∂J/∂a (n_a, m, T_x)`` (and ``dc_last = ∂J/∂c⟨T_x⟩``,
    default 0): the cell's backward at every step, going back from ``t = T_x``, with the
    hidden and cell gradients of step ``t`` flowing into step ``t − 1``.

    Returns ``dx (n_x, m, T_x)``, ``da0``, ``dc0 (n_a, m)``, ``dW·``, ``db·`` for the four gates
    and ``da_total (n_a, m, T_x)`` = ``∂J/∂a⟨t⟩`` through all later steps.
    """
    m, A2 = cache["m"], cache["A2"]
    n_a = A2.shape[0]
    da = as_float_array("da", da, A2.dtype)
    check_shape("da", da, (n_a, m, A2.shape[1] // m - 1), "(n_a, m, T_x) like a")
    if dc_last is not None:
        dc_last = as_float_array("dc_last", dc_last, A2.dtype)
        check_shape("dc_last", dc_last, (n_a, m), "(n_a, m)")
    grads = lstm_backward_blocks(to_blocks(da), cache, dc_last)
    grads["dx"] = from_blocks(grads.pop("dX2"), m)
    grads["da_total"] = from_blocks(grads.pop("dA2_total"), m)
    return grads


def lstm_backward_blocks(dA2: np.ndarray, cache: dict, dc_last: np.ndarray | None = None,
                         ) -> dict[str, np.ndarray]:
    """BPTT on time-blocked columns; ``dA2 (n_a, T_x·m)`` is consumed (overwritten). Each step's
    equations run on contiguous ``(·, m)`` blocks; its ``dz`` of the four gates is then copied
    into its columns of ``dG``, for the products over all steps after the loop."""
    X2, A2, C2, TC, G, Wa, Wx, m = (cache[k] for k in ("X2", "A2", "C2", "TC", "G", "Wa", "Wx", "m"))
    n_a = A2.shape[0]
    T_x = X2.shape[1] // m
    dG = np.empty((4 * n_a, T_x * m), dtype=A2.dtype)  # dz of every gate at every step
    Wa_T = np.ascontiguousarray(Wa.T)  # (n_a, 4 n_a)
    da_next = np.zeros((n_a, m), dtype=A2.dtype)  # Waᵀ dz⟨t+1⟩
    dc = np.zeros((n_a, m), dtype=A2.dtype) if dc_last is None else np.array(dc_last, order="C")
    dg, da, tmp = (np.empty((k * n_a, m), dtype=A2.dtype) for k in (4, 1, 1))  # this step's blocks
    for t in reversed(range(T_x)):
        cols = slice(t * m, (t + 1) * m)
        g, tc = G[t], TC[t]
        f, i, o, cc = g[:n_a], g[n_a:2 * n_a], g[2 * n_a:3 * n_a], g[3 * n_a:]
        da_t = dA2[:, cols]
        da_t += da_next  # da_total⟨t⟩
        da[:] = da_t
        np.multiply(da, tc, out=dg[2 * n_a:3 * n_a])  # dΓo = da ⊙ tanh(c)
        np.multiply(tc, tc, out=tmp)
        np.subtract(1, tmp, out=tmp)
        tmp *= o
        tmp *= da
        dc += tmp  # dc⟨t⟩ = dc_next + da ⊙ Γo ⊙ (1 − tanh²(c))
        np.multiply(dc, C2[:, cols], out=dg[:n_a])  # dΓf = dc ⊙ c⟨t−1⟩
        np.multiply(dc, cc, out=dg[n_a:2 * n_a])  # dΓi = dc ⊙ c̃
        np.multiply(dc, i, out=dg[3 * n_a:])  # dc̃ = dc ⊙ Γi
        dc *= f  # dc⟨t−1⟩ = dc ⊙ Γf
        sig = g[:3 * n_a]
        dg[:3 * n_a] *= sig
        dg[:3 * n_a] *= 1 - sig  # σ' = σ(1 − σ)
        np.multiply(cc, cc, out=tmp)
        np.subtract(1, tmp, out=tmp)
        dg[3 * n_a:] *= tmp  # tanh' = 1 − c̃²
        np.matmul(Wa_T, dg, out=da_next)  # Waᵀ dz⟨t⟩
        dG[:, cols] = dg
    dW = np.concatenate([dG @ A2[:, :T_x * m].T, dG @ X2.T], axis=1)  # dz [a⟨t−1⟩; x⟨t⟩]ᵀ, (4 n_a, n_a + n_x)
    db = dG @ np.ones((T_x * m, 1), dtype=A2.dtype)  # Σ over steps and examples, as a product
    grads = {"dX2": Wx.T @ dG, "da0": da_next, "dc0": dc, "dA2_total": dA2}
    for k, gate in enumerate(_STACK):
        grads[f"dW{gate}"] = dW[k * n_a:(k + 1) * n_a]
        grads[f"db{gate}"] = db[k * n_a:(k + 1) * n_a]
    return grads
