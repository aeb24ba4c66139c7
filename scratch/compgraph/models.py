"""Models written on the engine, in the course layout (``X (n_x, m)``, ``W[l] (n[l], n[l-1])``):
an L-layer sigmoid-output MLP and logistic regression, with no hand-written derivative.

Their torch references are ``torch_ref.deep.DeepNetwork(dims, activation, "sigmoid")`` and
``torch_ref.logreg.LogisticRegression``; the hand-written backprop they must equal is
``scratch.deep``/``scratch.shallow`` and ``scratch.logreg``.

Example:
    >>> import numpy as np
    >>> params = {"W1": np.ones((2, 3)), "b1": np.zeros((2, 1)), "W2": np.ones((1, 2)),
    ...           "b2": np.zeros((1, 1))}
    >>> J, grads = mlp_propagate(params, np.zeros((3, 4)), np.array([[0.0, 1.0, 1.0, 0.0]]))
    >>> round(float(J), 6), sorted(grads)
    (0.693147, ['dW1', 'dW2', 'db1', 'db2'])
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scratch._validate import check_params
from scratch.compgraph.engine import Tensor


def binary_cross_entropy(A: Tensor, Y: Tensor) -> Tensor:
    """The notes' cost ``J = −1/m Σ [y log a + (1 − y) log(1 − a)]`` (``A, Y (1, m)``), so that
    backward applies ``∂L/∂a = −y/a + (1 − y)/(1 − a)`` then ``∂a/∂z = a(1 − a)``."""
    return -(Y * A.log() + (1 - Y) * (1 - A).log()).mean()


ACTIVATIONS = {"sigmoid": Tensor.sigmoid, "tanh": Tensor.tanh, "relu": Tensor.relu}


def mlp_forward(params: dict[str, Tensor], X: Tensor, activation: str = "tanh") -> Tensor:
    """``Z[l] = W[l] A[l−1] + b[l]``, ``A[l] = g(Z[l])`` for hidden layers, ``A[L] = σ(Z[L])``."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {sorted(ACTIVATIONS)}, got {activation!r}")
    _, L = check_params({k: t.data for k, t in params.items()}, finite=False)  # keys, shapes
    A = X  # (n_x, m)
    for k in range(1, L + 1):
        Z = params[f"W{k}"] @ A + params[f"b{k}"]  # (n[k], m)
        A = Z.sigmoid() if k == L else ACTIVATIONS[activation](Z)
    return A  # (n[L], m)


def _propagate(
    forward: Callable[[dict[str, Tensor], Tensor], Tensor],
    params: dict[str, np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
) -> tuple[np.floating, dict[str, np.ndarray]]:
    tensors = {k: Tensor(v, k) for k, v in params.items()}
    dtype = next(iter(tensors.values())).dtype
    Xt = Tensor(X, "X", requires_grad=False)
    Yt = Tensor(np.asarray(Y, dtype=dtype), "Y", requires_grad=False)  # labels may arrive as ints
    J = binary_cross_entropy(forward(tensors, Xt), Yt)
    J.backward()
    return J.data[()], {f"d{k}": t.grad for k, t in tensors.items()}


def mlp_propagate(
    params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray, activation: str = "tanh"
) -> tuple[np.floating, dict[str, np.ndarray]]:
    """Cost and ``{"dW1": …, "db1": …}`` of an L-layer sigmoid-output MLP, by the engine."""
    return _propagate(lambda p, X_: mlp_forward(p, X_, activation), params, X, Y)


def logreg_propagate(
    params: dict[str, np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
) -> tuple[np.floating, dict[str, np.ndarray]]:
    """Logistic regression ``A = σ(wᵀX + b)`` on the engine: ``J`` and ``{"dw", "db"}`` — the
    same contract as :func:`scratch.logreg.cost_and_grads`, with no hand-written derivative."""
    return _propagate(lambda p, X_: (p["w"].T @ X_ + p["b"]).sigmoid(), params, X, Y)
