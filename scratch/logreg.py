"""Logistic regression as a neural network: ``ŷ = σ(wᵀ x + b)``, in both of the notes' forms.

Shapes: ``X (n_x, m)`` (examples are columns), ``Y (1, m)`` with labels 0/1,
``w (n_x, 1)``, ``b (1, 1)``. The cost is the cross-entropy ``J = 1/m Σ L(a⁽ⁱ⁾, y⁽ⁱ⁾)``,
computed from the logit ``z`` so that it stays finite when ``σ(z)`` saturates.

- :func:`cost_and_grads_loop` — the notes' per-example ``for i in range(m)`` accumulating
  ``dw += x⁽ⁱ⁾ dz⁽ⁱ⁾``, then dividing by ``m``;
- :func:`cost_and_grads` — the vectorized form ``Z = wᵀX + b``, ``dZ = A − Y``,
  ``dw = 1/m X dZᵀ``, ``db = 1/m Σ dZ``.

Both take a parameter dict and return ``(J, grads)``, the interface every model of dlparity
shares. The course's own names keep the course's signatures: :func:`initialize_with_zeros`
``(dim) -> (w, b)``, :func:`propagate` ``(w, b, X, Y) -> (grads, cost)``, :func:`predict`
``(w, b, X)``.

Example:
    >>> import numpy as np
    >>> X = np.array([[1.0, -2.0, 3.0], [0.5, 0.0, -1.0]]); Y = np.array([[1, 0, 1]])
    >>> w, b = initialize_with_zeros(2)
    >>> grads, cost = propagate(w, b, X, Y)
    >>> round(cost, 6), grads["dw"].ravel().round(4).tolist()  # 1/m X (A − Y)ᵀ, A = ½
    (0.693147, [-1.0, 0.0833])
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from scratch._validate import as_float_array, check_binary_labels, check_examples, check_shape
from scratch.activations import sigmoid
from scratch.gd import Params, gradient_descent
from scratch.losses import bce_with_logits


def zero_params(n_x: int, dtype: np.dtype = np.float64) -> Params:
    """``w = 0 (n_x, 1)``, ``b = 0 (1, 1)`` — zeros are fine for logistic regression."""
    if int(n_x) != n_x or n_x < 1:
        raise ValueError(f"n_x: expected a positive integer, got {n_x!r}")
    return {"w": np.zeros((int(n_x), 1), dtype=dtype), "b": np.zeros((1, 1), dtype=dtype)}


def _check(params: Params, X: np.ndarray, Y: np.ndarray | None = None):
    """Validate ``w (n_x, 1)``, ``b (1, 1)``, ``X (n_x, m)`` and ``Y (1, m)`` labels 0/1."""
    w = as_float_array("w", params["w"])
    check_shape("w", w, (None, 1), "(n_x, 1)")
    b = as_float_array("b", params["b"], w.dtype)
    check_shape("b", b, (1, 1), "(1, 1)")
    X = as_float_array("X", X, w.dtype)
    check_shape("X", X, (w.shape[0], None), "(n_x, m)")
    if Y is None:
        return w, b, X, None
    Y = as_float_array("Y", Y, w.dtype)
    check_shape("Y", Y, (1, None), "(1, m)")
    check_examples(X, Y)
    check_binary_labels("Y", Y)
    return w, b, X, Y


def cost_and_grads_loop(params: Params, X: np.ndarray, Y: np.ndarray) -> tuple[np.floating, Params]:
    """Cost and gradients with the notes' loop over the ``m`` training examples.

    ::

        for i in range(m):
            z⁽ⁱ⁾ = wᵀ x⁽ⁱ⁾ + b;  a⁽ⁱ⁾ = σ(z⁽ⁱ⁾)
            J += L(a⁽ⁱ⁾, y⁽ⁱ⁾);  dz = a⁽ⁱ⁾ − y⁽ⁱ⁾
            dw += x⁽ⁱ⁾ dz;  db += dz
        J /= m;  dw /= m;  db /= m
    """
    w, b, X, Y = _check(params, X, Y)
    m = X.shape[1]
    J = w.dtype.type(0)
    dw = np.zeros_like(w)  # (n_x, 1), in the parameters' dtype
    db = np.zeros_like(b)  # (1, 1)
    for i in range(m):
        x_i = X[:, i : i + 1]  # (n_x, 1)
        z_i = w.T @ x_i + b  # (1, 1)
        a_i = sigmoid(z_i)
        J += bce_with_logits(z_i, Y[:, i : i + 1])  # L(a⁽ⁱ⁾, y⁽ⁱ⁾), from the logit
        dz = a_i - Y[:, i : i + 1]  # (1, 1)
        dw += x_i * dz
        db += dz
    return J / m, {"dw": dw / m, "db": db / m}


def cost_and_grads(params: Params, X: np.ndarray, Y: np.ndarray) -> tuple[np.floating, Params]:
    """Vectorized cost and gradients: ``Z = wᵀX + b``, ``A = σ(Z)``, ``dZ = A − Y``,
    ``dw = 1/m X dZᵀ``, ``db = 1/m Σ dZ``. Returns ``J`` and ``{"dw": (n_x, 1), "db": (1, 1)}``.
    """
    w, b, X, Y = _check(params, X, Y)
    m = X.shape[1]
    Z = w.T @ X + b  # (1, m)
    A = sigmoid(Z)  # (1, m)
    J = bce_with_logits(Z, Y)
    dZ = A - Y  # (1, m)
    dw = (X @ dZ.T) / m  # (n_x, 1)
    db = np.sum(dZ, axis=1, keepdims=True) / m  # (1, 1)
    return J, {"dw": dw, "db": db}


def predict_proba(params: Params, X: np.ndarray) -> np.ndarray:
    """``A = σ(wᵀX + b)``, shape ``(1, m)``."""
    w, b, X, _ = _check(params, X)
    return sigmoid(w.T @ X + b)


def predict_labels(params: Params, X: np.ndarray) -> np.ndarray:
    """Class labels ``1[σ(wᵀX + b) > ½]`` as ``(1, m)`` integers."""
    return (predict_proba(params, X) > 0.5).astype(np.int64)


# --- the course's own names and signatures (a learner reading this file finds what they wrote) ---
def initialize_with_zeros(dim: int) -> tuple[np.ndarray, float]:
    """The course's ``w = np.zeros((dim, 1))``, ``b = 0.0``: a tuple, like the assignment."""
    params = zero_params(dim)
    return params["w"], 0.0


def propagate(w: np.ndarray, b: float, X: np.ndarray, Y: np.ndarray) -> tuple[Params, float]:
    """The course's ``propagate(w, b, X, Y) -> (grads, cost)``: :func:`cost_and_grads` with the
    course's argument list and return order (``grads = {"dw": (n_x, 1), "db": float}``)."""
    J, grads = cost_and_grads(
        {"w": np.asarray(w), "b": np.reshape(np.asarray(b, dtype=np.asarray(w).dtype), (1, 1))}, X, Y
    )
    return {"dw": grads["dw"], "db": float(grads["db"][0, 0])}, float(J)


def predict(w: np.ndarray, b: float, X: np.ndarray) -> np.ndarray:
    """The course's ``predict(w, b, X)``: ``Y_prediction (1, m)`` of floats 0. and 1."""
    w = np.asarray(w)
    return predict_labels({"w": w, "b": np.reshape(np.asarray(b, dtype=w.dtype), (1, 1))}, X).astype(w.dtype)


def train(
    params: Params,
    X: np.ndarray,
    Y: np.ndarray,
    num_iterations: int,
    learning_rate: float,
    form: Literal["vectorized", "loop"] = "vectorized",
) -> tuple[Params, list[float]]:
    """Gradient descent on ``J(w, b)``; returns the trained parameters and the cost history."""
    forms = {"vectorized": cost_and_grads, "loop": cost_and_grads_loop}
    if form not in forms:
        raise ValueError(f"form: expected one of {sorted(forms)}, got {form!r}")
    step = forms[form]
    _check(params, X, Y)
    return gradient_descent(params, lambda p: step(p, X, Y), learning_rate, num_iterations)
