"""The deep L-layer network of the notes: ``[LINEAR -> g](L-1) -> LINEAR -> σ | softmax | linear``.

Matrix dimensions (the notes): ``W[l] (n[l], n[l-1])``, ``b[l] (n[l], 1)``, and vectorized
across ``m`` examples ``Z[l] = W[l] A[l-1] + b[l]`` is ``(n[l], m)``, with ``A[0] = X (n_x, m)``.

Forward, for ``l = 1 … L`` (``g[l]`` the hidden activation, ``g[L]`` sigmoid, softmax or the
identity — a *linear* output, regression's ``Ŷ = Z[L]``)::

    Z[l] = W[l] A[l-1] + b[l]          (n[l], m)
    A[l] = g[l](Z[l])                  (n[l], m)

Backward, from ``dZ[L] = A[L] − Y`` (cross-entropy with a sigmoid or softmax output, the
squared error ``J = 1/(2m) Σ (ŷ − y)²`` with a linear one), for ``l = L … 1`` (``dZ``/``dA`` per
example, ``dW``/``db`` gradients of ``J = 1/m Σ L``)::

    dW[l] = 1/m dZ[l] A[l-1]ᵀ          db[l] = 1/m Σ_i dZ[l]
    dA[l-1] = W[l]ᵀ dZ[l]              dZ[l-1] = dA[l-1] * g[l-1]'(Z[l-1])

:func:`L_model_forward`/:func:`L_model_backward` are the network, with caches, built from the
course's per-layer :func:`linear_activation_forward`, :func:`linear_backward` and
:func:`linear_activation_backward`; :func:`propagate` (``J`` and the gradients) and
:func:`train` (gradient descent) run them. ``scratch._deep_fast`` runs the same equations
without checks and with buffers reused, for the hot loops (the RL agents, the ``mlp_step``
benchmark's second row); a test proves it equals these functions. The hyperparameters of the
notes (α, iterations, hidden units/layers, activation choice) plus initializer, batch size and
seed form a :class:`Config`, which ``torch_ref.deep`` accepts too.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> params = initialize_parameters_deep([3, 4, 2], rng, "he")
    >>> AL, caches = L_model_forward(rng.standard_normal((3, 5)), params, "relu", "softmax")
    >>> AL.shape, len(caches)
    ((2, 5), 2)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from scratch._network import OUTPUTS, Config, check_output, hidden_activations  # noqa: F401
from scratch._validate import as_float_array, check_binary_labels, check_params
from scratch.activations import get_activation, softmax
from scratch.dense import dense_backward
from scratch.gd import Params, gd_update
from scratch.init import initialize_parameters as _initialize_layers  # not the course's 2-layer one
from scratch.losses import (
    bce_with_logits,
    binary_cross_entropy,
    one_hot,
    softmax_cross_entropy,
    squared_error,
)


# --- parameters ----------------------------------------------------------------------------
def initialize_parameters_deep(
    layer_dims: Sequence[int], rng: np.random.Generator, initializer: str = "he", dtype: np.dtype = np.float64
) -> Params:
    """``{"W1", "b1", …, "WL", "bL"}`` for ``layer_dims = [n_x, n[1], …, n[L]]``."""
    return _initialize_layers(layer_dims, rng, initializer, dtype)


def prepare_labels(Y: np.ndarray, n_y: int, output: str, m: int, dtype: np.dtype) -> np.ndarray:
    """Labels as ``(n_y, m)`` floats: 0/1 for sigmoid; one-hot columns for softmax; any real
    targets for a linear output.

    For softmax, integer class indices of shape ``(m,)`` or ``(1, m)`` are one-hot encoded
    (indices outside ``[0, k-1]`` are refused).
    """
    check_output(output)
    Y_arr = np.asarray(Y)
    if output == "softmax" and Y_arr.dtype.kind in "iu":
        if Y_arr.shape not in ((m,), (1, m)):
            raise ValueError(f"Y: expected class indices of shape ({m},) or (1, {m}), got {Y_arr.shape}")
        return one_hot(Y_arr, n_y, dtype=dtype)
    Y_arr = as_float_array("Y", Y_arr if Y_arr.dtype.kind == "f" else Y_arr.astype(dtype), dtype)
    if Y_arr.ndim == 2 and Y_arr.shape[0] == n_y and Y_arr.shape[1] != m:
        raise ValueError(f"Y: has {Y_arr.shape[1]} examples (columns) but X has {m}")
    if Y_arr.shape != (n_y, m):
        raise ValueError(
            f"Y: expected shape (n[L], m) = ({n_y}, {m}), got {Y_arr.shape}"
            + ("; pass integer class indices or one-hot columns" if output == "softmax" else "")
        )
    if output == "sigmoid":
        check_binary_labels("Y", Y_arr)
    elif output == "softmax":
        softmax_cross_entropy(np.zeros_like(Y_arr), Y_arr)  # validates the one-hot columns
    return Y_arr


def num_layers(params: Mapping[str, np.ndarray]) -> int:
    """``L``: how many weight matrices ``W1 … WL`` ``params`` holds (nothing else checked;
    :func:`check_params` checks them all)."""
    return sum(1 for k in params if k[:1] == "W" and k[1:].isdigit())


# --- forward -------------------------------------------------------------------------------
class LayerCache(NamedTuple):
    """What layer ``l`` keeps for backprop: ``A[l-1], W[l], b[l], Z[l]`` and its activation."""

    A_prev: np.ndarray
    W: np.ndarray
    b: np.ndarray
    Z: np.ndarray
    activation: str


def linear_activation_forward(
    A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, activation: str, layer: int = 1
) -> tuple[np.ndarray, LayerCache]:
    """The course's layer: ``Z[l] = W[l] A[l-1] + b[l]``, ``A[l] = g(Z[l])``; ``g`` may also be
    ``"softmax"`` or ``"linear"`` (``A[l] = Z[l]``). ``layer`` = ``l``, for error messages."""
    if A_prev.shape[0] != W.shape[1]:
        raise ValueError(
            f"W[{layer}] has shape {W.shape} but A[{layer - 1}]"
            f"{' (X)' if layer == 1 else ''} has {A_prev.shape[0]} rows; expected "
            f"A[{layer - 1}] of shape ({W.shape[1]}, m)"
        )
    Z = W @ A_prev + b  # (n[l], m)
    if activation == "linear":
        A = Z  # (n[l], m), the identity
    else:
        A = softmax(Z) if activation == "softmax" else get_activation(activation)[0](Z)  # (n[l], m)
    return A, LayerCache(A_prev, W, b, Z, activation)


def L_model_forward(
    X: np.ndarray,
    params: Mapping[str, np.ndarray],
    activation: str | Sequence[str] = "relu",
    output: str = "sigmoid",
) -> tuple[np.ndarray, list[LayerCache]]:
    """``A[L]`` for ``X (n_x, m)`` and the list of ``L`` layer caches."""
    p, L = check_params(params)
    names = (*hidden_activations(activation, L), check_output(output))
    A = as_float_array("X", X, p["W1"].dtype)  # A[0] = X, (n_x, m)
    if A.ndim != 2 or A.shape[1] == 0:
        raise ValueError(f"X: expected shape (n_x, m) with m >= 1, got {A.shape}")
    caches = []
    for layer in range(1, L + 1):
        A, cache = linear_activation_forward(A, p[f"W{layer}"], p[f"b{layer}"], names[layer - 1], layer)
        caches.append(cache)
    return A, caches


def compute_cost(AL: np.ndarray, Y: np.ndarray, output: str = "sigmoid") -> np.floating:
    """The course's cost from ``A[L]``: ``−1/m Σ [y log a + (1 − y) log(1 − a)]`` (sigmoid),
    ``−1/m Σ_i Σ_k y_k log a_k`` (softmax) or ``1/(2m) Σ (ŷ − y)²`` (linear, ``A[L] = Ŷ``).

    As the course's ``np.log``, it is infinite where a probability saturates at exactly 0 or 1;
    training uses :func:`cost_from_logits`, which is not.
    """
    if check_output(output) == "linear":
        return squared_error(AL, Y)
    if output == "sigmoid":
        return binary_cross_entropy(AL, Y)
    with np.errstate(divide="ignore"):
        return -np.sum(Y * np.log(AL)) / AL.shape[1]


def cost_from_logits(ZL: np.ndarray, Y: np.ndarray, output: str = "sigmoid") -> np.floating:
    """The same ``J`` from the logits ``Z[L]`` (finite where ``σ``/softmax saturate); ``+inf``
    once ``Z[L]`` or, for a linear output, ``(ŷ − y)²`` has overflowed (a diverging run)."""
    fn = {"sigmoid": bce_with_logits, "softmax": softmax_cross_entropy, "linear": squared_error}[
        check_output(output)
    ]
    if not np.all(np.isfinite(ZL)):
        return ZL.dtype.type(np.inf)
    with np.errstate(over="ignore"):
        return fn(ZL, Y)


# --- backward ------------------------------------------------------------------------------
def linear_backward(dZ: np.ndarray, cache: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The course's ``linear_backward`` (:func:`scratch.dense.dense_backward`): from a layer's
    ``dZ[l]`` and its cache ``(A[l-1], W[l], b[l], …)``, ``(dA[l-1], dW[l], db[l])``::

        dW[l] = 1/m dZ[l] A[l-1]ᵀ      db[l] = 1/m Σ_i dZ[l]      dA[l-1] = W[l]ᵀ dZ[l]
    """
    A_prev, W, b = cache[:3]
    return dense_backward(dZ, (A_prev, W, b))


def activation_backward(dA: np.ndarray, Z: np.ndarray, activation: str) -> np.ndarray:
    """``dZ = dA * g'(Z)``; the identity for ``"linear"``; for ``"softmax"`` the Jacobian–vector
    product ``dZ = A * (dA − Σ_k dA_k A_k)`` column by column (``A = softmax(Z)``)."""
    if activation == "linear":
        return dA
    if activation == "softmax":
        A = softmax(Z)  # (k, m)
        return A * (dA - np.sum(dA * A, axis=0, keepdims=True))
    return dA * get_activation(activation)[1](Z)


def linear_activation_backward(
    dA: np.ndarray,
    cache: LayerCache,
    activation: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The course's ``linear_activation_backward``: ``dZ[l] = dA[l] * g'(Z[l])``, then
    :func:`linear_backward`; returns ``(dA[l-1], dW[l], db[l])``."""
    return linear_backward(activation_backward(dA, cache.Z, activation), cache)


def backward_from_output(
    dZL: np.ndarray,
    caches: Sequence[LayerCache],
    input_gradient: bool = True,
) -> Params:
    """Backprop a per-example ``dZ[L] (n[L], m)``: every ``dW[l]``, ``db[l]`` and ``dA[l-1]``.

    ``input_gradient=False`` leaves out ``dA[0] = W[1]ᵀ dZ[1]``, the gradient of the input ``X``,
    which no update needs (training: a third of layer 1's products saved).
    """
    L = len(caches)
    dZ = as_float_array("dZL", dZL, caches[-1].Z.dtype)
    if dZ.shape != caches[-1].Z.shape:
        raise ValueError(f"dZL: expected the shape of Z[{L}] {caches[-1].Z.shape}, got {dZ.shape}")
    grads: Params = {}
    for layer in range(L, 0, -1):
        cache = caches[layer - 1]
        if layer < L:  # dZ[l] = dA[l] * g'(Z[l])
            dZ = activation_backward(grads[f"dA{layer}"], cache.Z, cache.activation)
        if layer == 1 and not input_gradient:  # dW[1], db[1] only
            m = cache.A_prev.shape[1]
            grads["dW1"] = dZ @ cache.A_prev.T / m  # (n[1], n_x)
            grads["db1"] = np.sum(dZ, axis=1, keepdims=True) / m  # (n[1], 1)
            break
        grads[f"dA{layer - 1}"], grads[f"dW{layer}"], grads[f"db{layer}"] = linear_backward(dZ, cache)
    return grads


def L_model_backward(AL: np.ndarray, Y: np.ndarray, caches: Sequence[LayerCache]) -> Params:
    """The notes' backward prop from ``dZ[L] = A[L] − Y``; returns ``dW[l]``, ``db[l]``, ``dA[l-1]``."""
    Y = as_float_array("Y", Y, AL.dtype)
    if Y.shape != AL.shape:
        raise ValueError(f"Y: expected the shape of A[L] {AL.shape}, got {Y.shape}")
    return backward_from_output(AL - Y, caches)  # dZ[L] = A[L] − Y


def propagate(
    params: Mapping[str, np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    activation: str | Sequence[str] = "relu",
    output: str = "sigmoid",
) -> tuple[np.floating, Params]:
    """``(J, {dW1, db1, …, dWL, dbL})`` for one batch, through the reference functions.

    ``Y`` is ``(n[L], m)`` (0/1, one-hot or real targets), or class indices ``(m,)`` for
    softmax. The gradients are ``{}`` when ``J`` is not finite (a diverging run, which
    :func:`scratch.gd.gradient_descent` then names).
    """
    AL, caches = L_model_forward(X, params, activation, output)
    Y = prepare_labels(Y, AL.shape[0], output, AL.shape[1], AL.dtype)
    J = cost_from_logits(caches[-1].Z, Y, output)
    if not np.isfinite(J):
        return J, {}
    grads = backward_from_output(AL - Y, caches, input_gradient=False)  # dZ[L] = A[L] − Y
    return J, {k: v for k, v in grads.items() if not k.startswith("dA")}


def predict(
    params: Mapping[str, np.ndarray],
    X: np.ndarray,
    activation: str | Sequence[str] = "relu",
    output: str = "sigmoid",
) -> np.ndarray:
    """Labels ``(1, m)``: ``1[A[L] > ½]`` (sigmoid) or ``argmax_k A[L]`` (softmax); for a linear
    output the predictions ``Ŷ = A[L] (n[L], m)``."""
    AL, _ = L_model_forward(X, params, activation, output)
    if output == "sigmoid":
        return (AL > 0.5).astype(np.int64)
    if output == "linear":
        return AL
    return np.argmax(AL, axis=0).reshape(1, -1)


# --- training ------------------------------------------------------------------------------
def minibatches(m: int, batch_size: int | None, num_iterations: int) -> list[slice]:
    """The example slice used at each step: consecutive batches, wrapping around, no shuffle.

    A last partial batch is dropped (every step sees ``batch_size`` examples).
    """
    size = m if batch_size is None else int(batch_size)
    if size > m:
        raise ValueError(f"batch_size: {size} is larger than the m={m} examples")
    per_epoch = m // size
    return [slice((t % per_epoch) * size, (t % per_epoch + 1) * size) for t in range(num_iterations)]


def train(
    config: Config,
    X: np.ndarray,
    Y: np.ndarray,
    params: Mapping[str, np.ndarray] | None = None,
    callback: Callable[[int, float, Params], None] | None = None,
) -> tuple[Params, list[float]]:
    """Gradient descent on ``config``'s network; returns the parameters and ``J`` at every step.

    ``params`` default to ``initialize_parameters_deep`` with ``config.initializer`` and a
    generator seeded with ``config.seed``, in ``X``'s dtype. Stops with ``FloatingPointError``
    naming the step if ``J`` becomes NaN or infinite.
    """
    if not isinstance(config, Config):
        raise TypeError(f"config: expected scratch.deep.Config, got {type(config).__name__}")
    X = as_float_array("X", X)
    if X.ndim != 2 or X.shape[0] != config.layer_dims[0]:
        raise ValueError(f"X: expected shape (n_x, m) = ({config.layer_dims[0]}, *), got {X.shape}")
    m = X.shape[1]
    Y = prepare_labels(Y, config.layer_dims[-1], config.output, m, X.dtype)
    if params is None:
        params = initialize_parameters_deep(
            config.layer_dims, np.random.default_rng(config.seed), config.initializer, X.dtype
        )
    p, L = check_params(params)
    shapes = [p[f"W{layer}"].shape for layer in range(1, L + 1)]
    if (shapes[0][1], *(s[0] for s in shapes)) != config.layer_dims:
        raise ValueError(f"params: shapes {shapes} do not match layer_dims {list(config.layer_dims)}")
    if p["W1"].dtype != X.dtype:
        raise TypeError(f"X: dtype {X.dtype} differs from the parameters' {p['W1'].dtype}")
    p = {k: np.array(v, copy=True) for k, v in p.items()}  # the caller's arrays stay untouched
    costs: list[float] = []
    for t, s in enumerate(minibatches(m, config.batch_size, config.num_iterations)):
        why = ""
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # a blow-up shows as J = inf/NaN
                cost, grads = propagate(p, X[:, s], Y[:, s], config.activation, config.output)
            cost = float(cost)
        except ValueError as error:  # X, Y, params were checked above: a Z[l] overflowed
            cost, why = math.nan, f" ({error})"
        if not math.isfinite(cost):
            raise FloatingPointError(
                f"cost became {cost} at step {t} (learning_rate="
                f"{config.learning_rate}){why}; the step size is probably too "
                "large; training stopped before applying that step's gradients"
            )
        p = gd_update(p, grads, config.learning_rate)  # W[l] := W[l] − α dW[l], b[l] := b[l] − α db[l]
        costs.append(cost)
        if callback is not None:
            callback(t, cost, p)
    return p, costs


__all__ = [
    "OUTPUTS",
    "Config",
    "initialize_parameters_deep",
    "check_params",
    "prepare_labels",
    "LayerCache",
    "linear_activation_forward",
    "L_model_forward",
    "compute_cost",
    "cost_from_logits",
    "linear_backward",
    "activation_backward",
    "linear_activation_backward",
    "backward_from_output",
    "L_model_backward",
    "propagate",
    "predict",
    "num_layers",
    "minibatches",
    "train",
]
