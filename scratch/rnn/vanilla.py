"""The vanilla RNN: ``a⟨t⟩ = tanh(Waa a⟨t−1⟩ + Wax x⟨t⟩ + ba)``, and backprop through time.

Shapes (the course's): ``x (n_x, m, T_x)``, ``a0 (n_a, m)``, hidden states ``a (n_a, m, T_x)``,
``Wax (n_a, n_x)``, ``Waa (n_a, n_a)``, ``ba (n_a, 1)``.

Gradient convention: a backward takes ``da = ∂J/∂a`` (the gradient of the cost ``J`` with
respect to every hidden state, as the output layer hands it down) and returns ``∂J/∂·`` of
every input and parameter. Unlike the dense layer's per-example ``dZ`` there is no ``1/m`` here:
it is already inside ``da`` (the cost's gradient carries it), so the results are exactly what
autograd returns.

One step forward and its step back sit side by side (:func:`rnn_step`,
:func:`rnn_step_backward`); the course's cell (:func:`rnn_cell_forward`,
:func:`rnn_cell_backward`) is that step with its inputs checked, and the layer
(:func:`rnn_forward`, :func:`rnn_backward`) loops it over ``t`` — that loop *is* the concept;
there is no loop over examples. The backward's loop carries only what flows back through time
(``dz⟨t⟩``, ``da⟨t−1⟩``); the weights' gradients, sums over the steps, are one product each
after it (:func:`sum_over_steps`), as torch's autograd sums ``Wax``'s. The layer keeps the
steps side by side, ``(n, T_x, m)``: ``x⟨t⟩`` is ``xs[:, t]``, and ``(n, T_x·m)`` — every step's
columns — is the same memory, for those products over all steps.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p = {"Wax": rng.normal(size=(4, 3)), "Waa": rng.normal(size=(4, 4)), "ba": np.zeros((4, 1))}
    >>> x, a0 = rng.normal(size=(3, 5, 6)), np.zeros((4, 5))
    >>> a, cache = rnn_forward(x, a0, p)
    >>> a.shape, sorted(rnn_backward(np.ones_like(a), cache))
    ((4, 5, 6), ['dWaa', 'dWax', 'da0', 'da_total', 'dba', 'dx'])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from scratch._validate import as_float_array, check_shape

Params = Mapping[str, np.ndarray]


# --- input checks ----------------------------------------------------------------------------
def param(params: Params, name: str, dtype: np.dtype | None = None) -> np.ndarray:
    """``params[name]`` as a float array; a missing key is a ``ValueError`` naming the others."""
    if name not in params:
        raise ValueError(f"params: missing {name!r}; got {sorted(params)}")
    return as_float_array(name, params[name], dtype)


def check_rnn_params(params: Params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``Wax (n_a, n_x)``, ``Waa (n_a, n_a)``, ``ba (n_a, 1)``, all in ``Wax``'s dtype."""
    Wax = param(params, "Wax")
    check_shape("Wax", Wax, (None, None), "(n_a, n_x)")
    n_a = Wax.shape[0]
    Waa = param(params, "Waa", Wax.dtype)
    check_shape("Waa", Waa, (n_a, n_a), f"(n_a, n_a) with n_a = {n_a} from Wax {Wax.shape}")
    ba = param(params, "ba", Wax.dtype)
    check_shape("ba", ba, (n_a, 1), f"(n_a, 1) with n_a = {n_a} from Wax {Wax.shape}")
    return Wax, Waa, ba


def check_sequence(x: Any, n_x: int, dtype: np.dtype, m_hint: int | None = None) -> np.ndarray:
    """``x (n_x, m, T_x)`` with ``T_x >= 1``; names the likely mix-up when ``x`` is torch's
    time-first ``(T_x, m, n_x)`` or batch-first ``(m, T_x, n_x)`` layout (``m_hint``, the
    batch size of ``a0``, tells the two apart)."""
    x = as_float_array("x", x, dtype)
    if x.ndim != 3 or x.shape[0] != n_x:
        hint = ""
        if x.ndim == 3 and x.shape[2] == n_x:
            if m_hint is not None and x.shape[1] == m_hint and x.shape[0] != m_hint:
                hint = (
                    "; it looks time-first (T_x, m, n_x), nn.RNN's default: convert with "
                    "torch_ref.layout.sequence_to_course"
                )
            else:
                hint = (
                    "; it looks batch-first (m, T_x, n_x): convert with "
                    "torch_ref.layout.batch_first_to_sequence"
                )
        elif x.ndim == 2:
            hint = "; got one time step (n_x, m): add the time axis, x[..., None]"
        raise ValueError(f"x: expected shape (n_x, m, T_x) = ({n_x}, *, T_x), got {x.shape}{hint}")
    if x.shape[2] == 0:
        raise ValueError(f"x: empty sequence (T_x = 0 time steps); shape {x.shape}")
    if x.shape[1] == 0:
        raise ValueError(f"x: empty batch (m = 0 examples); shape {x.shape}")
    return x


def check_state(name: str, a0: Any, n_a: int, m: int, dtype: np.dtype) -> np.ndarray:
    """An initial state ``a0`` (or ``c0``) of shape ``(n_a, m)``."""
    a0 = as_float_array(name, a0, dtype)
    check_shape(name, a0, (n_a, m), f"(n_a, m) with n_a = {n_a} from the weights and m = {m} from x")
    return a0


# --- the course's layout (n, m, T_x) <-> steps side by side (n, T_x, m) ------------------------
def to_steps(x: np.ndarray) -> np.ndarray:
    """``(n, m, T_x)`` -> ``(n, T_x, m)``, a contiguous copy: step ``t`` is ``xs[:, t] (n, m)``,
    and ``xs.reshape(n, T_x·m)`` (no copy) puts every step's columns side by side, for the
    products over all steps at once."""
    return np.ascontiguousarray(x.transpose(0, 2, 1))


def from_steps(xs: np.ndarray, writeable: bool = True) -> np.ndarray:
    """``(n, T_x, m)`` -> ``(n, m, T_x)``: a *view* of ``xs`` (no copy). ``writeable=False`` for
    a view of a cache (the forward's states), so that changing the returned array in place
    cannot change what the backward reads."""
    view = xs.transpose(0, 2, 1)
    view.flags.writeable = writeable
    return view


def sum_over_steps(dzs: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """``Σ_t dz⟨t⟩ input⟨t⟩ᵀ`` for ``dzs (n, T_x, m)`` and ``inputs (k, T_x, m)``: a weight's
    gradient summed over every step and example, one ``(n, T_x·m) @ (T_x·m, k)`` product."""
    n, k = dzs.shape[0], inputs.shape[0]
    return dzs.reshape(n, -1) @ inputs.reshape(k, -1).T  # (n, k)


# --- one step, forward and back ----------------------------------------------------------------
def rnn_step(
    xt: np.ndarray, a_prev: np.ndarray, Wax: np.ndarray, Waa: np.ndarray, ba: np.ndarray
) -> np.ndarray:
    """``a⟨t⟩ = tanh(Waa a⟨t−1⟩ + Wax x⟨t⟩ + ba)`` (no checks): ``xt (n_x, m)``,
    ``a_prev (n_a, m)`` -> ``a_next (n_a, m)``. The sum is taken in torch's order (``Wax x⟨t⟩ +
    ba`` first), so that float32 rounds the same on both sides and long trajectories agree."""
    return np.tanh(Waa @ a_prev + (Wax @ xt + ba))  # (n_a, m); x⟨t⟩'s term and ba first, as torch


def rnn_step_backward(
    da_next: np.ndarray,
    a_next: np.ndarray,
    Waa: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The step back through time (no checks), from ``da_next = ∂J/∂a⟨t⟩`` (everything that
    reaches it): ``dz = da⟨t⟩ ⊙ (1 − a⟨t⟩²)`` (tanh' = 1 − tanh²) and ``da_prev = Waaᵀ dz``,
    both ``(n_a, m)``. The rest of the step's gradients follow from ``dz``: ``dxt = Waxᵀ dz``,
    ``dWax = dz xtᵀ``, ``dWaa = dz a_prevᵀ``, ``dba = Σ_i dz``."""
    dz = da_next * (1 - a_next * a_next)  # (n_a, m)
    return dz, Waa.T @ dz


# --- the cell: the step with its inputs checked (the course's functions) -----------------------
def rnn_cell_forward(
    xt: np.ndarray,
    a_prev: np.ndarray,
    params: Params,
) -> tuple[np.ndarray, tuple]:
    """``a⟨t⟩ = tanh(Waa a⟨t−1⟩ + Wax x⟨t⟩ + ba)``; ``xt (n_x, m)``, ``a_prev (n_a, m)``.

    Returns ``a_next (n_a, m)`` and the cache ``(a_next, a_prev, xt, Wax, Waa)``.
    """
    Wax, Waa, ba = check_rnn_params(params)
    xt = as_float_array("xt", xt, Wax.dtype)
    check_shape("xt", xt, (Wax.shape[1], None), "(n_x, m)")
    a_prev = check_state("a_prev", a_prev, Wax.shape[0], xt.shape[1], Wax.dtype)
    a_next = rnn_step(xt, a_prev, Wax, Waa, ba)  # (n_a, m)
    return a_next, (a_next, a_prev, xt, Wax, Waa)


def rnn_cell_backward(da_next: np.ndarray, cache: tuple) -> dict[str, np.ndarray]:
    """One step back: ``dz = da⟨t⟩ ⊙ (1 − a⟨t⟩²)``, ``dxt = Waxᵀ dz``, ``da_prev = Waaᵀ dz``,
    ``dWax = dz xtᵀ``, ``dWaa = dz a_prevᵀ``, ``dba = Σ_i dz`` (:func:`rnn_step_backward`)."""
    a_next, a_prev, xt, Wax, Waa = cache
    da_next = as_float_array("da_next", da_next, Wax.dtype)
    check_shape("da_next", da_next, a_next.shape, "(n_a, m)")
    dz, da_prev = rnn_step_backward(da_next, a_next, Waa)  # (n_a, m)
    return {
        "dxt": Wax.T @ dz,
        "da_prev": da_prev,
        "dWax": dz @ xt.T,
        "dWaa": dz @ a_prev.T,
        "dba": np.sum(dz, axis=1, keepdims=True),
    }


# --- the layer: the step looped over t ----------------------------------------------------------
def rnn_forward(x: np.ndarray, a0: np.ndarray, params: Params) -> tuple[np.ndarray, dict]:
    """Hidden states ``a (n_a, m, T_x)`` for ``t = 1 … T_x`` from ``x (n_x, m, T_x)`` and
    ``a0 (n_a, m)``, and the cache :func:`rnn_backward` needs. ``a`` is a read-only view of the
    cache's states (``a.copy()`` to change it)."""
    Wax, Waa, ba = check_rnn_params(params)
    x = check_sequence(x, Wax.shape[1], Wax.dtype, np.shape(a0)[1] if np.ndim(a0) == 2 else None)
    a0 = check_state("a0", a0, Wax.shape[0], x.shape[1], Wax.dtype)
    cache = forward_steps(to_steps(x), a0, Wax, Waa, ba)
    return from_steps(cache["a"][:, 1:], writeable=False), cache


def forward_steps(
    xs: np.ndarray, a0: np.ndarray, Wax: np.ndarray, Waa: np.ndarray, ba: np.ndarray
) -> dict[str, Any]:
    """The layer on steps side by side (checked inputs): ``xs (n_x, T_x, m)`` -> the cache,
    whose ``a (n_a, T_x + 1, m)`` holds ``a⟨t⟩ = a[:, t]`` for ``t = 0 … T_x``."""
    T_x, (n_a, m) = xs.shape[1], a0.shape
    a = np.empty((n_a, T_x + 1, m), dtype=Wax.dtype)
    a[:, 0] = a0
    for t in range(1, T_x + 1):
        a[:, t] = rnn_step(xs[:, t - 1], a[:, t - 1], Wax, Waa, ba)  # a⟨t⟩ from x⟨t⟩, a⟨t−1⟩
    return {"xs": xs, "a": a, "Wax": Wax, "Waa": Waa}


def rnn_backward(da: np.ndarray, cache: dict) -> dict[str, np.ndarray]:
    """Backprop through time from ``da = ∂J/∂a (n_a, m, T_x)`` (the part of the cost's gradient
    that reaches each hidden state directly, e.g. through the output layer; zeros except the
    last step for sequence classification).

    Going back from ``t = T_x``: ``da_total⟨t⟩ = da⟨t⟩ + da_prev⟨t+1⟩`` (every path through
    time: directly, and through ``a⟨t+1⟩``), then :func:`rnn_step_backward` gives ``dz⟨t⟩``
    and ``da_prev⟨t⟩ = Waaᵀ dz⟨t⟩``; ``da0`` is the first step's ``da_prev``. After the loop,
    every step at once: ``dx⟨t⟩ = Waxᵀ dz⟨t⟩``, ``dWax = Σ_t dz⟨t⟩ x⟨t⟩ᵀ``,
    ``dWaa = Σ_t dz⟨t⟩ a⟨t−1⟩ᵀ``, ``dba = Σ_t Σ_i dz⟨t⟩``.

    Returns ``dx (n_x, m, T_x)``, ``da0 (n_a, m)``, ``dWax``, ``dWaa``, ``dba`` and
    ``da_total (n_a, m, T_x)`` = ``∂J/∂a⟨t⟩`` through all later steps (vanishing/exploding
    gradients show in its norm against ``t``).
    """
    a = cache["a"]
    n_a, T_x, m = a.shape[0], a.shape[1] - 1, a.shape[2]
    da = as_float_array("da", da, a.dtype)
    check_shape("da", da, (n_a, m, T_x), "(n_a, m, T_x) like a")
    grads = backward_steps(to_steps(da), cache)
    grads["dx"] = from_steps(grads.pop("dxs"))
    grads["da_total"] = from_steps(grads.pop("da_totals"))
    return grads


def backward_steps(das: np.ndarray, cache: dict) -> dict[str, np.ndarray]:
    """BPTT on steps side by side: ``das (n_a, T_x, m)`` = ``∂J/∂a⟨t⟩`` from outside the layer
    (step ``t`` in ``das[:, t − 1]``)."""
    xs, a, Wax, Waa = cache["xs"], cache["a"], cache["Wax"], cache["Waa"]
    n_a, T_x, m = das.shape
    dzs, da_totals = np.empty_like(das), np.empty_like(das)  # dz⟨t⟩, da_total⟨t⟩ (n_a, T_x, m)
    da_prev = np.zeros((n_a, m), dtype=das.dtype)  # ∂J/∂a⟨T_x⟩ through a later step: none
    for t in range(T_x, 0, -1):  # column t − 1 holds step t
        da_totals[:, t - 1] = das[:, t - 1] + da_prev  # da_total⟨t⟩
        dzs[:, t - 1], da_prev = rnn_step_backward(da_totals[:, t - 1], a[:, t], Waa)
    dxs = (Wax.T @ dzs.reshape(n_a, -1)).reshape(xs.shape)  # dx⟨t⟩ = Waxᵀ dz⟨t⟩, every t
    return {
        "dWax": sum_over_steps(dzs, xs),
        "dWaa": sum_over_steps(dzs, a[:, :-1]),  # a⟨t−1⟩
        "dba": np.sum(dzs, axis=(1, 2))[:, None],
        "dxs": dxs,
        "da0": da_prev,
        "da_totals": da_totals,
    }
