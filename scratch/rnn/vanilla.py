"""The vanilla RNN: ``a⟨t⟩ = tanh(Waa a⟨t−1⟩ + Wax x⟨t⟩ + ba)``, and backprop through time.

Shapes (the course's): ``x (n_x, m, T_x)``, ``a0 (n_a, m)``, hidden states ``a (n_a, m, T_x)``,
``Wax (n_a, n_x)``, ``Waa (n_a, n_a)``, ``ba (n_a, 1)``.

Gradient convention: a backward takes ``da = ∂J/∂a`` (the gradient of the cost ``J`` with
respect to every hidden state, as the output layer hands it down) and returns ``∂J/∂·`` of
every input and parameter. Unlike the dense layer's per-example ``dZ`` there is no ``1/m`` here:
it is already inside ``da`` (the cost's gradient carries it), so the results are exactly what
autograd returns.

The cell (:func:`rnn_cell_forward`, :func:`rnn_cell_backward`) is the course's formula for one
step. The layer (:func:`rnn_forward`, :func:`rnn_backward`) loops the same equations over ``t``
(that loop *is* the concept; there is no loop over examples) and takes out of the loop what
does not depend on ``t``: ``Wax x⟨t⟩ + ba`` for every step is one matrix product before it, and
``dWax = Σ_t dz⟨t⟩ x⟨t⟩ᵀ``, ``dWaa = Σ_t dz⟨t⟩ a⟨t−1⟩ᵀ``, ``dx`` are one product each after it.
Internally the steps sit side by side as column blocks, ``(n, T_x · m)``.

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
                hint = ("; it looks time-first (T_x, m, n_x), nn.RNN's default: convert with "
                        "torch_ref.layout.sequence_to_course")
            else:
                hint = ("; it looks batch-first (m, T_x, n_x): convert with "
                        "torch_ref.layout.batch_first_to_sequence")
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


# --- time-blocked columns: (n, m, T_x) <-> (n, T_x · m), step t in columns [t·m, (t+1)·m) ----
def to_blocks(x: np.ndarray) -> np.ndarray:
    """``(n, m, T_x)`` -> ``(n, T_x · m)`` with step ``t`` in the ``t``-th block of ``m`` columns."""
    n, m, T_x = x.shape
    return np.ascontiguousarray(x.transpose(0, 2, 1)).reshape(n, T_x * m)


def from_blocks(X2: np.ndarray, m: int, writeable: bool = True) -> np.ndarray:
    """``(n, T_x · m)`` -> ``(n, m, T_x)``: a *view* of ``X2`` (no copy; ``[:, :, t]`` is step
    ``t``'s block). ``writeable=False`` for a view of a cache (the forward's states), so that
    changing the returned array in place cannot change what the backward reads."""
    n = X2.shape[0]
    view = X2.reshape(n, -1, m).transpose(0, 2, 1)
    view.flags.writeable = writeable
    return view


# --- the cell: one step -----------------------------------------------------------------------
def rnn_cell_forward(xt: np.ndarray, a_prev: np.ndarray, params: Params,
                     ) -> tuple[np.ndarray, tuple]:
    """``a⟨t⟩ = tanh(Waa a⟨t−1⟩ + Wax x⟨t⟩ + ba)``; ``xt (n_x, m)``, ``a_prev (n_a, m)``.

    Returns ``a_next (n_a, m)`` and the cache ``(a_next, a_prev, xt, Wax, Waa)``.
    """
    Wax, Waa, ba = check_rnn_params(params)
    xt = as_float_array("xt", xt, Wax.dtype)
    check_shape("xt", xt, (Wax.shape[1], None), "(n_x, m)")
    a_prev = check_state("a_prev", a_prev, Wax.shape[0], xt.shape[1], Wax.dtype)
    a_next = np.tanh(Waa @ a_prev + Wax @ xt + ba)  # (n_a, m)
    return a_next, (a_next, a_prev, xt, Wax, Waa)


def rnn_cell_backward(da_next: np.ndarray, cache: tuple) -> dict[str, np.ndarray]:
    """One step back: ``dz = da⟨t⟩ ⊙ (1 − a⟨t⟩²)``, ``dxt = Waxᵀ dz``, ``da_prev = Waaᵀ dz``,
    ``dWax = dz xtᵀ``, ``dWaa = dz a_prevᵀ``, ``dba = Σ_i dz``."""
    a_next, a_prev, xt, Wax, Waa = cache
    da_next = as_float_array("da_next", da_next, Wax.dtype)
    check_shape("da_next", da_next, a_next.shape, "(n_a, m)")
    dz = da_next * (1 - a_next * a_next)  # (n_a, m), tanh' = 1 − tanh²
    return {"dxt": Wax.T @ dz, "da_prev": Waa.T @ dz, "dWax": dz @ xt.T, "dWaa": dz @ a_prev.T,
            "dba": np.sum(dz, axis=1, keepdims=True)}


# --- the layer: the cell looped over t ---------------------------------------------------------
def rnn_forward(x: np.ndarray, a0: np.ndarray, params: Params) -> tuple[np.ndarray, dict]:
    """Hidden states ``a (n_a, m, T_x)`` for ``t = 1 … T_x`` from ``x (n_x, m, T_x)`` and
    ``a0 (n_a, m)``, and the cache :func:`rnn_backward` needs. ``a`` is a read-only view of the
    cache's states (``a.copy()`` to change it)."""
    Wax, Waa, ba = check_rnn_params(params)
    x = check_sequence(x, Wax.shape[1], Wax.dtype, np.shape(a0)[1] if np.ndim(a0) == 2 else None)
    a0 = check_state("a0", a0, Wax.shape[0], x.shape[1], Wax.dtype)
    cache = forward_blocks(to_blocks(x), a0, Wax, Waa, ba)
    return from_blocks(cache["A2"][:, x.shape[1]:], x.shape[1], writeable=False), cache


def forward_blocks(X2: np.ndarray, a0: np.ndarray, Wax: np.ndarray, Waa: np.ndarray,
                   ba: np.ndarray) -> dict[str, Any]:
    """The layer on time-blocked columns: ``X2 (n_x, T_x·m)`` -> ``A2 (n_a, (T_x+1)·m)``,
    block 0 holding ``a0`` (validated inputs; no checks here)."""
    n_a, m = a0.shape
    T_x = X2.shape[1] // m
    A2 = np.empty((n_a, (T_x + 1) * m), dtype=Wax.dtype)  # a⟨0⟩ … a⟨T_x⟩
    A2[:, :m] = a0
    Z = np.matmul(Wax, X2, out=A2[:, m:])  # (n_a, T_x·m): Wax x⟨t⟩ for every t at once, in
    Z += ba  # the columns a⟨t⟩ will take: step t reads its block before writing a⟨t⟩ there
    a, z = np.array(a0, order="C"), np.empty((n_a, m), dtype=Wax.dtype)  # the step's contiguous blocks
    for t in range(T_x):
        np.matmul(Waa, a, out=z)  # Waa a⟨t−1⟩
        z += Z[:, t * m:(t + 1) * m]  # + Wax x⟨t⟩ + ba
        np.tanh(z, out=a)  # a⟨t⟩
        A2[:, (t + 1) * m:(t + 2) * m] = a
    return {"X2": X2, "A2": A2, "Wax": Wax, "Waa": Waa, "m": m}


def rnn_backward(da: np.ndarray, cache: dict) -> dict[str, np.ndarray]:
    """Backprop through time from ``da = ∂J/∂a (n_a, m, T_x)`` (the part of the cost's gradient
    that reaches each hidden state directly, e.g. through the output layer; zeros except the
    last step for sequence classification).

    Going back from ``t = T_x``: ``da_total⟨t⟩ = da⟨t⟩ + Waaᵀ dz⟨t+1⟩`` (every path through
    time), ``dz⟨t⟩ = da_total⟨t⟩ ⊙ (1 − a⟨t⟩²)``; then ``dWax = Σ_t dz⟨t⟩ x⟨t⟩ᵀ``,
    ``dWaa = Σ_t dz⟨t⟩ a⟨t−1⟩ᵀ``, ``dba = Σ_t Σ_i dz⟨t⟩``, ``dx⟨t⟩ = Waxᵀ dz⟨t⟩``,
    ``da0 = Waaᵀ dz⟨1⟩``.

    Returns ``dx (n_x, m, T_x)``, ``da0 (n_a, m)``, ``dWax``, ``dWaa``, ``dba`` and
    ``da_total (n_a, m, T_x)`` = ``∂J/∂a⟨t⟩`` through all later steps (vanishing/exploding
    gradients show in its norm against ``t``).
    """
    m, A2 = cache["m"], cache["A2"]
    da = as_float_array("da", da, A2.dtype)
    check_shape("da", da, (A2.shape[0], m, A2.shape[1] // m - 1), "(n_a, m, T_x) like a")
    grads = backward_blocks(to_blocks(da), cache)
    grads["dx"] = from_blocks(grads.pop("dX2"), m)
    grads["da_total"] = from_blocks(grads.pop("dA2_total"), m)
    return grads


def backward_blocks(dA2: np.ndarray, cache: dict) -> dict[str, np.ndarray]:
    """BPTT on time-blocked columns; ``dA2 (n_a, T_x·m)`` is consumed (overwritten)."""
    X2, A2, Wax, Waa, m = cache["X2"], cache["A2"], cache["Wax"], cache["Waa"], cache["m"]
    T_x = X2.shape[1] // m
    dZ = np.square(A2[:, m:])  # (n_a, T_x·m): a⟨t⟩² for every t
    np.subtract(1, dZ, out=dZ)  # tanh'(z⟨t⟩) = 1 − a⟨t⟩², becomes dz⟨t⟩ below
    da_next = np.zeros_like(A2[:, :m])  # Waaᵀ dz⟨t+1⟩, zero after the last step
    Waa_T = np.ascontiguousarray(Waa.T)
    for t in reversed(range(T_x)):
        cols = slice(t * m, (t + 1) * m)
        dA2[:, cols] += da_next  # da_total⟨t⟩
        dZ[:, cols] *= dA2[:, cols]  # dz⟨t⟩ = da_total⟨t⟩ ⊙ (1 − a⟨t⟩²)
        np.matmul(Waa_T, dZ[:, cols], out=da_next)  # (n_a, m)
    return {"dX2": Wax.T @ dZ, "da0": da_next, "dWax": dZ @ X2.T,
            "dWaa": dZ @ A2[:, :T_x * m].T, "dba": np.sum(dZ, axis=1, keepdims=True),
            "dA2_total": dA2}
