"""Structured data (regression): predict a number — the notes' "House $ given" features.

Two models, both trained with the course's squared error ``J = 1/m Σ_i ½ (ŷ⁽ⁱ⁾ − y⁽ⁱ⁾)²``
(:func:`scratch.losses.squared_error`) by gradient descent (:func:`scratch.gd.gd_update`):

- **linear regression** ``Ŷ = W X + b`` — one dense layer with no activation;
  params ``{"W": (n_y, n_x), "b": (n_y, 1)}``;
- **MLP regressor** — hidden layers ``Z[l] = W[l] A[l-1] + b[l]``, ``A[l] = g(Z[l])`` and a
  *linear* output ``Ŷ = Z[L] = W[L] A[L-1] + b[L]``; params ``{"W1", "b1", ..., "WL", "bL"}``.

Shapes (examples are columns): ``X (n_x, m)``, ``Y, Ŷ (n_y, m)``. With a linear output and the
½ in ``L``, the per-example gradient at the output is simply ``dZ[L] = Ŷ − Y`` (the notes'
``dz = a − y``), and :func:`scratch.dense.dense_backward` applies the ``1/m`` to ``dW``, ``db``.

Linear regression is also solved in closed form (:func:`least_squares`): the cost is a convex
quadratic whose minimum solves the normal equations; gradient descent must converge to it.

Example:
    >>> import numpy as np
    >>> X = np.array([[0.0, 1.0, 2.0, 3.0]]); Y = 2 * X + 1          # y = 2x + 1 exactly
    >>> {k: v.round(6).tolist() for k, v in least_squares(X, Y).items()}
    {'W': [[2.0]], 'b': [[1.0]]}
    >>> params, costs = train_linear(initialize_linear(1), X, Y, 2000, 0.1)
    >>> params["W"].round(4).tolist(), params["b"].round(4).tolist()
    ([[2.0]], [[1.0]])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from scratch._validate import as_float_array, check_examples, check_learning_rate, check_shape
from scratch.activations import get_activation
from scratch.dense import DenseCache, check_layer, dense_backward, dense_forward
from scratch.gd import Params, gradient_descent, gradient_norm  # noqa: F401 (re-exported)
from scratch.losses import squared_error

MLPCache = list[tuple[DenseCache, np.ndarray]]
"""Per layer ``l = 1..L``: the dense cache ``(A[l-1], W[l], b[l])`` and ``Z[l]``."""


# --- initialization --------------------------------------------------------------------------
def initialize_linear(n_x: int, n_y: int = 1, dtype: np.dtype = np.float64) -> Params:
    """``W = 0 (n_y, n_x)``, ``b = 0 (n_y, 1)``: the cost is convex, zeros are a fine start."""
    for name, n in (("n_x", n_x), ("n_y", n_y)):
        if int(n) != n or n < 1:
            raise ValueError(f"{name}: expected a positive integer, got {n!r}")
    return {"W": np.zeros((int(n_y), int(n_x)), dtype=dtype),  # (n_y, n_x)
            "b": np.zeros((int(n_y), 1), dtype=dtype)}  # (n_y, 1)


def _check_layer_dims(layer_dims: Sequence[int]) -> list[int]:
    dims = list(layer_dims)
    if len(dims) < 3 or any(int(n) != n or n < 1 for n in dims):
        raise ValueError(
            f"layer_dims: expected [n_x, n[1], ..., n_y] with at least one hidden layer and "
            f"positive sizes, got {dims!r} (no hidden layer is linear regression)"
        )
    return [int(n) for n in dims]


def initialize_mlp(layer_dims: Sequence[int], rng: np.random.Generator,
                   dtype: np.dtype = np.float64, scale: float | None = None) -> Params:
    """``W[l] = randn(n[l], n[l-1]) · s``, ``b[l] = 0 (n[l], 1)`` for ``l = 1..L``.

    ``layer_dims = [n_x, n[1], ..., n_y]``. The notes' ``s = 0.01`` (pass ``scale=0.01``) keeps
    a sigmoid network out of saturation, but shrinks a linear output by ``0.01`` per layer and
    learns slowly; by default ``s = √(1 / n[l-1])`` keeps every layer's output of unit size.
    """
    dims = _check_layer_dims(layer_dims)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a np.random.Generator, got {type(rng).__name__}")
    params: Params = {}
    for layer in range(1, len(dims)):
        s = np.sqrt(1.0 / dims[layer - 1]) if scale is None else float(scale)
        params[f"W{layer}"] = (rng.standard_normal((dims[layer], dims[layer - 1])) * s).astype(dtype)
        params[f"b{layer}"] = np.zeros((dims[layer], 1), dtype=dtype)
    return params


def num_layers(params: Mapping[str, np.ndarray]) -> int:
    """``L`` for MLP parameters ``{"W1", "b1", ..., "WL", "bL"}`` (checks none is missing)."""
    L = sum(1 for k in params if k.startswith("W") and k[1:].isdigit())
    expected = {f"{p}{layer}" for layer in range(1, L + 1) for p in ("W", "b")}
    if L == 0 or set(params) != expected:
        raise ValueError(
            f"params: expected keys W1, b1, ..., WL, bL; got {sorted(params)}"
            + (" (linear regression's W, b go to the linear_* functions)" if "W" in params else "")
        )
    return L


# --- linear regression -----------------------------------------------------------------------
def _check_targets(X: np.ndarray, Y: np.ndarray, n_y: int) -> np.ndarray:
    """``Y (n_y, m)`` in ``X``'s dtype, with as many examples as ``X``."""
    Y = as_float_array("Y", Y, X.dtype)
    check_shape("Y", Y, (n_y, None), "(n_y, m)")
    check_examples(X, Y)
    return Y


def _check_input(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """``X (n_x, m)`` in ``W``'s dtype with ``n_x`` = the first layer's input size."""
    W = as_float_array("W", W)
    check_shape("W", W, (None, None), "(n[l], n[l-1])")
    X = as_float_array("X", X, W.dtype)
    check_shape("X", X, (W.shape[1], None), "(n_x, m)")
    if X.shape[1] == 0:
        raise ValueError(f"X: empty batch (m = 0 examples); shape {X.shape}")
    return X


def linear_forward(params: Params, X: np.ndarray) -> tuple[np.ndarray, DenseCache]:
    """``Ŷ = W X + b``: ``Ŷ (n_y, m)`` and the dense cache ``(X, W, b)``."""
    if set(params) != {"W", "b"}:
        raise ValueError(
            f"params: expected keys ['W', 'b'] of linear regression, got {sorted(params)}"
        )
    X = _check_input(X, params["W"])
    return dense_forward(X, params["W"], params["b"])


def linear_propagate(params: Params, X: np.ndarray, Y: np.ndarray) -> tuple[np.floating, Params]:
    """Cost and gradients of linear regression::

        Ŷ = W X + b                  (n_y, m)
        J = 1/m Σ ½ (ŷ − y)²
        dZ = Ŷ − Y                   (n_y, m), per example
        dW = 1/m dZ Xᵀ,  db = 1/m Σ_i dZ

    Returns ``J`` and ``{"dW": (n_y, n_x), "db": (n_y, 1)}`` (``{}`` if ``J`` overflowed).
    """
    Y_hat, cache = linear_forward(params, X)  # (n_y, m)
    Y = _check_targets(cache[0], Y, Y_hat.shape[0])
    J = _cost(Y_hat, Y)
    if not np.isfinite(J):
        return J, {}  # diverged: no gradient to take (gradient_descent names the iteration)
    dZ = Y_hat - Y  # (n_y, m)
    _, dW, db = dense_backward(dZ, cache)
    return J, {"dW": dW, "db": db}


def least_squares(X: np.ndarray, Y: np.ndarray) -> Params:
    """The exact minimizer of linear regression's ``J``, independent of gradient descent.

    Append a row of ones to ``X`` so the bias becomes one more weight: ``X̃ = [X; 1] (n_x+1, m)``,
    ``Θ = [W b] (n_y, n_x+1)`` and ``Ŷ = Θ X̃``. ``J = 1/(2m) ||Θ X̃ − Y||²`` is minimal where
    ``∂J/∂Θ = 1/m (Θ X̃ − Y) X̃ᵀ = 0`` — the normal equations ``Θ X̃ X̃ᵀ = Y X̃ᵀ``. Rather than
    inverting ``X̃ X̃ᵀ`` (which squares the condition number), ``np.linalg.lstsq`` solves the
    transposed system ``X̃ᵀ Θᵀ ≈ Yᵀ`` by an SVD; when ``X̃`` has dependent rows it returns the
    minimum-norm minimizer. Computed in ``X``'s dtype. Returns ``{"W": (n_y, n_x), "b": (n_y, 1)}``.
    """
    X = as_float_array("X", X)
    check_shape("X", X, (None, None), "(n_x, m)")
    n_x, m = X.shape
    Y = as_float_array("Y", Y, X.dtype)
    check_shape("Y", Y, (None, None), "(n_y, m)")
    check_examples(X, Y)
    X_aug = np.vstack([X, np.ones((1, m), dtype=X.dtype)])  # (n_x + 1, m)
    Theta_T = np.linalg.lstsq(X_aug.T, Y.T, rcond=None)[0]  # (n_x + 1, n_y)
    Theta = Theta_T.T  # (n_y, n_x + 1) = [W b]
    return {"W": np.ascontiguousarray(Theta[:, :n_x]), "b": np.ascontiguousarray(Theta[:, n_x:])}


# --- MLP regressor ---------------------------------------------------------------------------
def mlp_forward(params: Params, X: np.ndarray,
                activation: str = "relu") -> tuple[np.ndarray, MLPCache]:
    """``A[0] = X``; ``Z[l] = W[l] A[l-1] + b[l]``, ``A[l] = g(Z[l])`` for ``l < L``; ``Ŷ = Z[L]``.

    The output layer is linear (no activation): a regressor predicts any real number.
    Returns ``Ŷ (n_y, m)`` and the caches for :func:`mlp_backward`.
    """
    L = num_layers(params)
    g, _ = get_activation(activation)
    A = _check_input(X, params["W1"])  # A[0] = X, (n_x, m)
    caches: MLPCache = []
    for layer in range(1, L + 1):
        A_prev, W, b = check_layer(A, params[f"W{layer}"], params[f"b{layer}"], layer=f"[{layer}]")
        Z, cache = dense_forward(A_prev, W, b)  # (n[l], m)
        caches.append((cache, Z))
        A = g(Z) if layer < L else Z  # (n[l], m); the output Ŷ = Z[L] is linear
    return A, caches


def mlp_backward(Y_hat: np.ndarray, Y: np.ndarray, caches: MLPCache,
                 activation: str = "relu") -> Params:
    """Backprop of ``J = 1/m Σ ½ (ŷ − y)²`` through the network::

        dZ[L] = Ŷ − Y                                      (n_y, m), per example
        dA[l-1], dW[l], db[l] = dense_backward(dZ[l])      dW = 1/m dZ A[l-1]ᵀ, db = 1/m Σ dZ
        dZ[l-1] = dA[l-1] * g'(Z[l-1])                     for hidden layers

    Returns ``{"dW1", "db1", ..., "dWL", "dbL"}``, each the shape of its parameter.
    """
    _, g_prime = get_activation(activation)
    X = caches[0][0][0]  # A[0], from layer 1's dense cache
    Y = _check_targets(X, Y, Y_hat.shape[0])
    grads: Params = {}
    dZ = Y_hat - Y  # (n_y, m)
    for layer in range(len(caches), 0, -1):
        cache, _ = caches[layer - 1]
        dA_prev, grads[f"dW{layer}"], grads[f"db{layer}"] = dense_backward(dZ, cache)
        if layer > 1:
            dZ = dA_prev * g_prime(caches[layer - 2][1])  # (n[l-1], m)
    return grads


def mlp_propagate(params: Params, X: np.ndarray, Y: np.ndarray,
                  activation: str = "relu") -> tuple[np.floating, Params]:
    """``J`` and every ``dW[l]``, ``db[l]`` of the MLP regressor (forward, then backward).

    The gradients are ``{}`` if ``J`` overflowed (a diverging run; see :func:`scratch.gd.gradient_descent`).
    """
    Y_hat, caches = mlp_forward(params, X, activation)
    Y = _check_targets(caches[0][0][0], Y, Y_hat.shape[0])  # against A[0] = X, as validated
    J = _cost(Y_hat, Y)
    if not np.isfinite(J):
        return J, {}  # diverged: no gradient to take (gradient_descent names the iteration)
    return J, mlp_backward(Y_hat, Y, caches, activation)


def predict(params: Params, X: np.ndarray, activation: str = "relu") -> np.ndarray:
    """``Ŷ (n_y, m)`` of a linear regression (``{"W", "b"}``) or an MLP (``{"W1", ...}``)."""
    if "W" in params:
        return linear_forward(params, X)[0]
    return mlp_forward(params, X, activation)[0]


def rmse(Y_hat: np.ndarray, Y: np.ndarray) -> float:
    """Root-mean-squared error ``√(1/m Σ (ŷ − y)²) = √(2J)`` (the cost without the ½)."""
    return float(np.sqrt(2 * squared_error(Y_hat, Y)))


# --- training --------------------------------------------------------------------------------
def _cost(Y_hat: np.ndarray, Y: np.ndarray) -> np.floating:
    """``J``, or ``+inf`` once ``Ŷ`` or ``(ŷ − y)²`` has overflowed.

    A diverging run then returns ``(inf, {})`` from the propagate functions, and the training
    loop (:func:`scratch.gd.gradient_descent`, or the parity trajectory runner) stops with an error naming the
    iteration, instead of a validation error from deep inside the backward pass.
    """
    if not np.all(np.isfinite(Y_hat)):
        return Y_hat.dtype.type(np.inf)
    with np.errstate(over="ignore"):
        return squared_error(Y_hat, Y)


def train_linear(params: Params, X: np.ndarray, Y: np.ndarray, num_iterations: int,
                 learning_rate: float, grad_tol: float | None = None) -> tuple[Params, list[float]]:
    """Gradient descent on linear regression's ``J(W, b)`` (see :func:`scratch.gd.gradient_descent`)."""
    check_learning_rate(learning_rate)
    linear_propagate(params, X, Y)  # validate once, with the arguments' names in any error
    return gradient_descent(params, lambda p: linear_propagate(p, X, Y), learning_rate,
                            num_iterations, grad_tol=grad_tol)


def train_mlp(params: Params, X: np.ndarray, Y: np.ndarray, num_iterations: int,
              learning_rate: float, activation: str = "relu",
              grad_tol: float | None = None) -> tuple[Params, list[float]]:
    """Gradient descent on the MLP regressor's ``J`` (see :func:`scratch.gd.gradient_descent`)."""
    check_learning_rate(learning_rate)
    mlp_propagate(params, X, Y, activation)
    return gradient_descent(params, lambda p: mlp_propagate(p, X, Y, activation), learning_rate,
                            num_iterations, grad_tol=grad_tol)
