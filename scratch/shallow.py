"""The shallow (one-hidden-layer) network of the notes, with exactly their formulas.

Forward prop, binary output (``n_y = 1``)::

    Z1 = W1 X + b1          (n_h, m)
    A1 = g1(Z1)             (n_h, m)     g1: any hidden activation of scratch.activations
    Z2 = W2 A1 + b2         (1, m)
    A2 = σ(Z2) = Ŷ          (1, m)

Backward prop (``dZ`` per example, ``dW``/``db`` gradients of the cost ``J = 1/m Σ L``)::

    dZ2 = A2 − Y
    dW2 = 1/m dZ2 A1ᵀ       db2 = 1/m np.sum(dZ2, axis=1, keepdims=True)
    dZ1 = W2ᵀ dZ2 * g1'(Z1)
    dW1 = 1/m dZ1 Xᵀ        db1 = 1/m np.sum(dZ1, axis=1, keepdims=True)

The cost is the cross-entropy computed from the logit ``Z2`` (finite when ``σ`` saturates).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.standard_normal((2, 5)), np.array([[0, 1, 1, 0, 1]])
    >>> params = initialize_parameters(2, 4, 1, rng)
    >>> cost, grads = propagate(params, X, Y, "tanh")
    >>> round(float(cost), 4), sorted(grads)
    (0.6931, ['dW1', 'dW2', 'db1', 'db2'])
"""

from __future__ import annotations

import numpy as np

from scratch._validate import (
    as_float_array,
    check_binary_labels,
    check_examples,
    check_params,
    check_shape,
)
from scratch.activations import get_activation, sigmoid
from scratch.gd import Params, gradient_descent
from scratch.init import initialize_parameters as _initialize
from scratch.losses import bce_with_logits, binary_cross_entropy

Cache = dict[str, np.ndarray]


def initialize_parameters(
    n_x: int,
    n_h: int,
    n_y: int,
    rng: np.random.Generator,
    initializer: str = "random",
    dtype: np.dtype = np.float64,
) -> Params:
    """``W1 (n_h, n_x)``, ``b1 (n_h, 1)``, ``W2 (n_y, n_h)``, ``b2 (n_y, 1)``.

    The default is the notes' ``randn · 0.01`` with zero biases (see :mod:`scratch.init`).
    """
    return _initialize([n_x, n_h, n_y], rng, initializer, dtype)


def _check_params(params: Params) -> Params:
    """``W1 (n_h, n_x)``, ``b1 (n_h, 1)``, ``W2 (n_y, n_h)``, ``b2 (n_y, 1)``, one dtype
    (:func:`scratch._validate.check_params` with two layers)."""
    return check_params(params, num_layers=2)[0]


def _check_X(X: np.ndarray, p: Params) -> np.ndarray:
    X = as_float_array("X", X, p["W1"].dtype)
    check_shape("X", X, (p["W1"].shape[1], None), "(n_x, m)")
    if X.shape[1] == 0:
        raise ValueError(f"X: empty batch (m = 0 examples); shape {X.shape}")
    return X


def _check_Y(Y: np.ndarray, X: np.ndarray, p: Params) -> np.ndarray:
    Y = as_float_array("Y", Y, X.dtype)
    check_shape("Y", Y, (p["W2"].shape[0], None), "(n_y, m)")
    check_examples(X, Y)
    check_binary_labels("Y", Y)
    return Y


def forward_propagation(
    X: np.ndarray,
    params: Params,
    activation: str = "tanh",
) -> tuple[np.ndarray, Cache]:
    """``A2 = σ(W2 g1(W1 X + b1) + b2)``; returns ``A2 (n_y, m)`` and ``{Z1, A1, Z2, A2}``."""
    g1, _ = get_activation(activation)
    p = _check_params(params)
    X = _check_X(X, p)
    Z1 = p["W1"] @ X + p["b1"]  # (n_h, m)
    A1 = g1(Z1)  # (n_h, m)
    Z2 = p["W2"] @ A1 + p["b2"]  # (n_y, m)
    A2 = sigmoid(Z2)  # (n_y, m)
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def cost_from_logits(Z2: np.ndarray, Y: np.ndarray) -> np.floating:
    """``J = −1/m Σ [y log a2 + (1 − y) log(1 − a2)]``, from the logits ``Z2`` (stays finite
    where ``a2`` saturates to 0 or 1)."""
    return bce_with_logits(Z2, Y)


def compute_cost(A2: np.ndarray, Y: np.ndarray) -> float:
    """The course's ``compute_cost(A2, Y)``: ``J = −1/m Σ [y log a2 + (1 − y) log(1 − a2)]`` from
    the activations, as a Python float (``inf`` where ``a2`` saturated to the wrong label — the
    reason :func:`cost_from_logits` exists)."""
    return float(binary_cross_entropy(A2, Y))


def backward_from_output(
    dZ2: np.ndarray, params: Params, cache: Cache, X: np.ndarray, activation: str = "tanh"
) -> Params:
    """Backprop a per-example ``dZ2 (n_y, m)`` through the network.

    Returns ``dW1, db1, dW2, db2`` (gradients of the cost, the ``1/m`` included) and the
    per-example ``dA1 (n_h, m)`` and ``dX (n_x, m)``.
    """
    _, g1_prime = get_activation(activation)
    p = _check_params(params)
    X = _check_X(X, p)
    dZ2 = as_float_array("dZ2", dZ2, X.dtype)
    check_shape("dZ2", dZ2, cache["Z2"].shape, "(n_y, m)")
    m = X.shape[1]
    dW2 = (dZ2 @ cache["A1"].T) / m  # (n_y, n_h)
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m  # (n_y, 1)
    dA1 = p["W2"].T @ dZ2  # (n_h, m)
    dZ1 = dA1 * g1_prime(cache["Z1"])  # (n_h, m)
    dW1 = (dZ1 @ X.T) / m  # (n_h, n_x)
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m  # (n_h, 1)
    dX = p["W1"].T @ dZ1  # (n_x, m)
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2, "dA1": dA1, "dX": dX}


def backward_propagation(
    params: Params, cache: Cache, X: np.ndarray, Y: np.ndarray, activation: str = "tanh"
) -> Params:
    """The notes' backward prop, starting from ``dZ2 = A2 − Y``; returns ``dW1, db1, dW2, db2``."""
    p = _check_params(params)
    Y = _check_Y(Y, _check_X(X, p), p)
    dZ2 = cache["A2"] - Y  # (n_y, m)
    grads = backward_from_output(dZ2, p, cache, X, activation)
    return {k: grads[k] for k in ("dW1", "db1", "dW2", "db2")}


def propagate(
    params: Params,
    X: np.ndarray,
    Y: np.ndarray,
    activation: str = "tanh",
) -> tuple[np.floating, Params]:
    """Forward, cost and backward in one call: ``(J, {dW1, db1, dW2, db2})``."""
    p = _check_params(params)
    Y = _check_Y(Y, _check_X(X, p), p)
    _, cache = forward_propagation(X, p, activation)
    return cost_from_logits(cache["Z2"], Y), backward_propagation(p, cache, X, Y, activation)


def predict(params: Params, X: np.ndarray, activation: str = "tanh") -> np.ndarray:
    """Class labels ``1[A2 > ½]`` as ``(n_y, m)`` integers."""
    A2, _ = forward_propagation(X, params, activation)
    return (A2 > 0.5).astype(np.int64)


def train(
    params: Params,
    X: np.ndarray,
    Y: np.ndarray,
    num_iterations: int,
    learning_rate: float,
    activation: str = "tanh",
) -> tuple[Params, list[float]]:
    """Full-batch gradient descent; returns the trained parameters and the cost history.

    Stops with ``FloatingPointError`` naming the iteration if the cost becomes NaN/Inf.
    """
    get_activation(activation)
    p = _check_params(params)
    _check_Y(Y, _check_X(X, p), p)

    return gradient_descent(p, lambda q: propagate(q, X, Y, activation), learning_rate, num_iterations)
