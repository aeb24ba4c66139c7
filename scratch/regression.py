"""Structured data (regression): predict a number — the notes' "House $ given" features.

Two models, both trained with the course's squared error ``J = 1/m Σ_i ½ (ŷ⁽ⁱ⁾ − y⁽ⁱ⁾)²``
(:func:`scratch.losses.squared_error`) by gradient descent (:func:`scratch.gd.gd_update`):

- **linear regression** ``Ŷ = W X + b`` — one dense layer with no activation;
  params ``{"W": (n_y, n_x), "b": (n_y, 1)}``;
- **MLP regressor** — :mod:`scratch.deep`'s L-layer network with a *linear* output
  (``output="linear"``): hidden layers ``Z[l] = W[l] A[l-1] + b[l]``, ``A[l] = g(Z[l])`` and
  ``Ŷ = Z[L] = W[L] A[L-1] + b[L]``; params ``{"W1", "b1", ..., "WL", "bL"}``, drawn by LeCun's
  ``N(0, 1/n[l-1])`` (:func:`scratch.init.lecun`). The ``mlp_*`` functions below name it.

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

from collections.abc import Sequence

import numpy as np

from scratch import deep
from scratch._validate import as_float_array, check_examples, check_learning_rate, check_shape
from scratch.dense import DenseCache, dense_backward, dense_forward
from scratch.gd import Params, gradient_descent, gradient_norm  # noqa: F401 (re-exported)
from scratch.init import initialize_parameters
from scratch.losses import squared_error


# --- initialization --------------------------------------------------------------------------
def initialize_linear(n_x: int, n_y: int = 1, dtype: np.dtype = np.float64) -> Params:
    """``W = 0 (n_y, n_x)``, ``b = 0 (n_y, 1)``: the cost is convex, zeros are a fine start."""
    for name, n in (("n_x", n_x), ("n_y", n_y)):
        if int(n) != n or n < 1:
            raise ValueError(f"{name}: expected a positive integer, got {n!r}")
    return {
        "W": np.zeros((int(n_y), int(n_x)), dtype=dtype),  # (n_y, n_x)
        "b": np.zeros((int(n_y), 1), dtype=dtype),  # (n_y, 1)
    }


def initialize_mlp(
    layer_dims: Sequence[int],
    rng: np.random.Generator,
    dtype: np.dtype = np.float64,
    initializer: str = "lecun",
) -> Params:
    """``W[l] ~ N(0, 1/n[l-1]) (n[l], n[l-1])``, ``b[l] = 0 (n[l], 1)`` for ``l = 1..L``, drawn in
    ``dtype`` (:func:`scratch.init.initialize_parameters`).

    ``layer_dims = [n_x, n[1], ..., n_y]`` with at least one hidden layer. The notes'
    ``randn · 0.01`` (``initializer="random"``) keeps a sigmoid network out of saturation but
    shrinks a linear output by ``0.01`` per layer and learns slowly; LeCun's ``1/n[l-1]`` keeps
    every layer's output of unit size.
    """
    dims = list(layer_dims)
    if len(dims) < 3:
        raise ValueError(
            f"layer_dims: expected [n_x, n[1], ..., n_y] with at least one hidden "
            f"layer, got {dims!r} (no hidden layer is linear regression)"
        )
    return initialize_parameters(dims, rng, initializer, dtype)


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
        raise ValueError(f"params: expected keys ['W', 'b'] of linear regression, got {sorted(params)}")
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


# --- MLP regressor: scratch.deep with a linear output ---------------------------------------
def mlp_forward(
    params: Params, X: np.ndarray, activation: str = "relu"
) -> tuple[np.ndarray, list[deep.LayerCache]]:
    """``Ŷ (n_y, m)`` and the layer caches: :func:`scratch.deep.L_model_forward` with
    ``output="linear"`` — a regressor predicts any real number."""
    return deep.L_model_forward(X, params, activation, "linear")


def mlp_propagate(
    params: Params, X: np.ndarray, Y: np.ndarray, activation: str = "relu"
) -> tuple[np.floating, Params]:
    """``J = 1/m Σ ½ (ŷ − y)²`` and every ``dW[l]``, ``db[l]``, from ``dZ[L] = Ŷ − Y``
    (:func:`scratch.deep.propagate` with ``output="linear"``); the gradients are ``{}`` if ``J``
    overflowed (a diverging run; see :func:`scratch.gd.gradient_descent`)."""
    return deep.propagate(params, X, Y, activation, "linear")


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
    """``J``, or ``+inf`` once ``Ŷ`` or ``(ŷ − y)²`` has overflowed
    (:func:`scratch.deep.cost_from_logits`: ``Ŷ`` *is* the linear output's ``Z``).

    A diverging run then returns ``(inf, {})`` from the propagate functions, and the training
    loop (:func:`scratch.gd.gradient_descent`, or the parity trajectory runner) stops with an
    error naming the iteration, instead of a validation error from inside the backward pass.
    """
    return deep.cost_from_logits(Y_hat, Y, "linear")


def train_linear(
    params: Params,
    X: np.ndarray,
    Y: np.ndarray,
    num_iterations: int,
    learning_rate: float,
    grad_tol: float | None = None,
) -> tuple[Params, list[float]]:
    """Gradient descent on linear regression's ``J(W, b)`` (see :func:`scratch.gd.gradient_descent`)."""
    check_learning_rate(learning_rate)
    linear_propagate(params, X, Y)  # validate once, with the arguments' names in any error
    return gradient_descent(
        params, lambda p: linear_propagate(p, X, Y), learning_rate, num_iterations, grad_tol=grad_tol
    )


def train_mlp(
    params: Params,
    X: np.ndarray,
    Y: np.ndarray,
    num_iterations: int,
    learning_rate: float,
    activation: str = "relu",
    grad_tol: float | None = None,
) -> tuple[Params, list[float]]:
    """Gradient descent on the MLP regressor's ``J`` (see :func:`scratch.gd.gradient_descent`)."""
    check_learning_rate(learning_rate)
    mlp_propagate(params, X, Y, activation)
    return gradient_descent(
        params, lambda p: mlp_propagate(p, X, Y, activation), learning_rate, num_iterations, grad_tol=grad_tol
    )
