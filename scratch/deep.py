"""The deep L-layer network of the notes: ``[LINEAR -> g](L-1) -> LINEAR -> σ | softmax``.

Matrix dimensions (the notes): ``W[l] (n[l], n[l-1])``, ``b[l] (n[l], 1)``, and vectorized
across ``m`` examples ``Z[l] = W[l] A[l-1] + b[l]`` is ``(n[l], m)``, with ``A[0] = X (n_x, m)``.

Forward, for ``l = 1 … L`` (``g[l]`` the hidden activation, ``g[L]`` sigmoid or softmax)::

    Z[l] = W[l] A[l-1] + b[l]          (n[l], m)
    A[l] = g[l](Z[l])                  (n[l], m)

Backward, from ``dZ[L] = A[L] − Y`` (cross-entropy with sigmoid *or* softmax output), for
``l = L … 1`` (``dZ``/``dA`` per example, ``dW``/``db`` gradients of ``J = 1/m Σ L``)::

    dW[l] = 1/m dZ[l] A[l-1]ᵀ          db[l] = 1/m Σ_i dZ[l]
    dA[l-1] = W[l]ᵀ dZ[l]              dZ[l-1] = dA[l-1] * g[l-1]'(Z[l-1])

:func:`L_model_forward`/:func:`L_model_backward` are the readable reference with caches;
:class:`TrainingStep` runs the same equations with buffers reused between steps (the fast
path :func:`train` uses; a test proves it equals the reference). The hyperparameters of the
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
from dataclasses import asdict, dataclass, fields
from typing import Any, NamedTuple

import numpy as np

from scratch._fast_step import TrainingStep  # noqa: E402  (the buffered step, same equations)
from scratch._validate import as_float_array, check_binary_labels, check_learning_rate
from scratch.activations import get_activation, softmax
from scratch.gd import Params
from scratch.init import check_layer_dims, get_initializer, initialize_parameters
from scratch.losses import bce_with_logits, one_hot, softmax_cross_entropy

OUTPUTS = ("sigmoid", "softmax")


def _check_output(output: str) -> str:
    if output not in OUTPUTS:
        raise ValueError(f"output: expected one of {list(OUTPUTS)}, got {output!r}")
    return output


def hidden_activations(activation: str | Sequence[str], L: int) -> tuple[str, ...]:
    """One activation name per hidden layer ``1 … L-1`` from a name or a list of ``L-1`` names."""
    names = (activation,) * (L - 1) if isinstance(activation, str) else tuple(activation)
    if len(names) != L - 1:
        raise ValueError(f"activation: expected one name or {L - 1} names (one per hidden layer), "
                         f"got {len(names)}: {list(names)}")
    for name in names:
        get_activation(name)
    return names


# --- hyperparameters -----------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    """The notes' hyperparameters (α, iterations, hidden units/layers, activation) and the rest.

    Attributes:
        layer_dims: ``[n_x, n[1], …, n[L]]``; ``n[L] = 1`` with a sigmoid output, ``k`` classes
            with softmax.
        activation: hidden activation name, or one name per hidden layer.
        output: ``"sigmoid"`` (binary) or ``"softmax"`` (``k`` classes).
        initializer: ``"random"`` (``randn·0.01``), ``"zeros"``, ``"xavier"`` or ``"he"``.
        learning_rate: ``α``, a positive finite number.
        num_iterations: gradient-descent steps (one per mini-batch).
        batch_size: examples per step; ``None`` = the full batch. Mini-batches are consecutive
            slices of the data in order, wrapping around — no shuffling, so both sides see the
            same batches without sharing a random stream.
        seed: seeds the initializer's generator.
    """

    layer_dims: tuple[int, ...]
    activation: str | tuple[str, ...] = "relu"
    output: str = "sigmoid"
    initializer: str = "he"
    learning_rate: float = 0.0075
    num_iterations: int = 1000
    batch_size: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        dims = check_layer_dims(self.layer_dims)
        object.__setattr__(self, "layer_dims", dims)
        act = self.activation if isinstance(self.activation, str) else tuple(self.activation)
        hidden_activations(act, len(dims) - 1)
        object.__setattr__(self, "activation", act)
        _check_output(self.output)
        if self.output == "sigmoid" and dims[-1] != 1:
            raise ValueError(f"layer_dims: a sigmoid output needs n[L] = 1, got n[L] = {dims[-1]}; "
                             "use output='softmax' for k classes")
        if self.output == "softmax" and dims[-1] < 2:
            raise ValueError(f"layer_dims: a softmax output needs n[L] >= 2 classes, got {dims[-1]}")
        get_initializer(self.initializer)
        object.__setattr__(self, "learning_rate", check_learning_rate(self.learning_rate))
        for name in ("num_iterations", "seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or int(v) != v or v < 0:
                raise ValueError(f"{name}: expected a non-negative integer, got {v!r}")
        if self.batch_size is not None and (int(self.batch_size) != self.batch_size
                                            or self.batch_size < 1):
            raise ValueError(f"batch_size: expected a positive integer or None, got {self.batch_size!r}")

    @property
    def L(self) -> int:
        """Number of layers with parameters."""
        return len(self.layer_dims) - 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Config":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"config: unknown keys {unknown}; expected some of {sorted(known)}")
        return cls(**d)


# --- parameters ----------------------------------------------------------------------------
def initialize_parameters_deep(layer_dims: Sequence[int], rng: np.random.Generator,
                               initializer: str = "he", dtype: np.dtype = np.float64) -> Params:
    """``{"W1", "b1", …, "WL", "bL"}`` for ``layer_dims = [n_x, n[1], …, n[L]]``."""
    return initialize_parameters(layer_dims, rng, initializer, dtype)


def check_params(params: Mapping[str, np.ndarray]) -> tuple[Params, int]:
    """Validate ``W1, b1, …, WL, bL``: one dtype, and each ``W[l]`` chains onto ``W[l-1]``.

    Returns the parameters as float arrays and ``L``. Errors name the layer and both shapes:
    ``W[2] has shape (1, 3) but A[1] has 4 rows (W[1] has shape (4, 2))``.
    """
    L = sum(1 for k in params if k.startswith("W"))
    expected = [f"{p}{layer}" for layer in range(1, L + 1) for p in "Wb"]
    if L == 0 or sorted(params) != sorted(expected):
        raise ValueError(f"params: expected keys {expected or ['W1', 'b1', '...']}, got {sorted(params)}")
    out: Params = {}
    dtype = None
    for layer in range(1, L + 1):
        W = as_float_array(f"W[{layer}]", params[f"W{layer}"], dtype)
        dtype = W.dtype
        if W.ndim != 2:
            raise ValueError(f"W[{layer}]: expected shape (n[{layer}], n[{layer - 1}]), got {W.shape}")
        if layer > 1 and W.shape[1] != out[f"W{layer - 1}"].shape[0]:
            prev = out[f"W{layer - 1}"]
            raise ValueError(f"W[{layer}] has shape {W.shape} but A[{layer - 1}] has {prev.shape[0]} rows "
                             f"(W[{layer - 1}] has shape {prev.shape}); expected W[{layer}] of shape "
                             f"(n[{layer}], {prev.shape[0]})")
        b = as_float_array(f"b[{layer}]", params[f"b{layer}"], dtype)
        if b.shape != (W.shape[0], 1):
            raise ValueError(f"b[{layer}]: expected shape (n[{layer}], 1) = ({W.shape[0]}, 1) to match "
                             f"W[{layer}] of shape {W.shape}, got {b.shape}")
        out[f"W{layer}"], out[f"b{layer}"] = W, b
    return out, L


def prepare_labels(Y: np.ndarray, n_y: int, output: str, m: int, dtype: np.dtype) -> np.ndarray:
    """Labels as ``(n_y, m)`` floats: 0/1 for sigmoid; one-hot columns for softmax.

    For softmax, integer class indices of shape ``(m,)`` or ``(1, m)`` are one-hot encoded
    (indices outside ``[0, k-1]`` are refused).
    """
    _check_output(output)
    Y_arr = np.asarray(Y)
    if output == "softmax" and Y_arr.dtype.kind in "iu":
        if Y_arr.shape not in ((m,), (1, m)):
            raise ValueError(f"Y: expected class indices of shape ({m},) or (1, {m}), got {Y_arr.shape}")
        return one_hot(Y_arr, n_y, dtype=dtype)
    Y_arr = as_float_array("Y", Y_arr if Y_arr.dtype.kind == "f" else Y_arr.astype(dtype), dtype)
    if Y_arr.shape != (n_y, m):
        raise ValueError(f"Y: expected shape (n[L], m) = ({n_y}, {m}), got {Y_arr.shape}"
                         + ("; pass integer class indices or one-hot columns"
                            if output == "softmax" else ""))
    if output == "sigmoid":
        check_binary_labels("Y", Y_arr)
    else:
        softmax_cross_entropy(np.zeros_like(Y_arr), Y_arr)  # validates the one-hot columns
    return Y_arr


# --- forward -------------------------------------------------------------------------------
class LayerCache(NamedTuple):
    """What layer ``l`` keeps for backprop: ``A[l-1], W[l], b[l], Z[l]`` and its activation."""

    A_prev: np.ndarray
    W: np.ndarray
    b: np.ndarray
    Z: np.ndarray
    activation: str


def linear_activation_forward(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, activation: str,
                              layer: int) -> tuple[np.ndarray, LayerCache]:
    """``Z[l] = W[l] A[l-1] + b[l]``, ``A[l] = g(Z[l])``; ``g`` may be ``"softmax"``."""
    if A_prev.shape[0] != W.shape[1]:
        raise ValueError(f"W[{layer}] has shape {W.shape} but A[{layer - 1}]"
                         f"{' (X)' if layer == 1 else ''} has {A_prev.shape[0]} rows; expected "
                         f"A[{layer - 1}] of shape ({W.shape[1]}, m)")
    Z = W @ A_prev + b  # (n[l], m)
    A = softmax(Z) if activation == "softmax" else get_activation(activation)[0](Z)  # (n[l], m)
    return A, LayerCache(A_prev, W, b, Z, activation)


def L_model_forward(X: np.ndarray, params: Mapping[str, np.ndarray],
                    activation: str | Sequence[str] = "relu", output: str = "sigmoid",
                    ) -> tuple[np.ndarray, list[LayerCache]]:
    """``A[L]`` for ``X (n_x, m)`` and the list of ``L`` layer caches."""
    p, L = check_params(params)
    names = (*hidden_activations(activation, L), _check_output(output))
    A = as_float_array("X", X, p["W1"].dtype)  # A[0] = X, (n_x, m)
    if A.ndim != 2 or A.shape[1] == 0:
        raise ValueError(f"X: expected shape (n_x, m) with m >= 1, got {A.shape}")
    caches = []
    for layer in range(1, L + 1):
        A, cache = linear_activation_forward(A, p[f"W{layer}"], p[f"b{layer}"], names[layer - 1], layer)
        caches.append(cache)
    return A, caches


def compute_cost(ZL: np.ndarray, Y: np.ndarray, output: str = "sigmoid") -> np.floating:
    """Cross-entropy from the logits ``Z[L]``: binary (sigmoid) or over ``k`` classes (softmax)."""
    return (bce_with_logits if _check_output(output) == "sigmoid" else softmax_cross_entropy)(ZL, Y)


# --- backward ------------------------------------------------------------------------------
def linear_activation_backward(dZ: np.ndarray, cache: LayerCache, layer: int) -> Params:
    """``dW[l] = 1/m dZ A[l-1]ᵀ``, ``db[l] = 1/m Σ dZ``, ``dA[l-1] = W[l]ᵀ dZ``."""
    A_prev, W, _, _, _ = cache
    m = A_prev.shape[1]
    return {f"dW{layer}": (dZ @ A_prev.T) / m,  # (n[l], n[l-1])
            f"db{layer}": np.sum(dZ, axis=1, keepdims=True) / m,  # (n[l], 1)
            f"dA{layer - 1}": W.T @ dZ}  # (n[l-1], m)


def backward_from_output(dZL: np.ndarray, caches: Sequence[LayerCache]) -> Params:
    """Backprop a per-example ``dZ[L] (n[L], m)``: every ``dW[l]``, ``db[l]`` and ``dA[l-1]``."""
    L = len(caches)
    dZ = as_float_array("dZL", dZL, caches[-1].Z.dtype)
    if dZ.shape != caches[-1].Z.shape:
        raise ValueError(f"dZL: expected the shape of Z[{L}] {caches[-1].Z.shape}, got {dZ.shape}")
    grads: Params = {}
    for layer in range(L, 0, -1):
        grads.update(linear_activation_backward(dZ, caches[layer - 1], layer))
        if layer > 1:
            prev = caches[layer - 2]
            dZ = grads[f"dA{layer - 1}"] * get_activation(prev.activation)[1](prev.Z)  # (n[l-1], m)
    return grads


def L_model_backward(AL: np.ndarray, Y: np.ndarray, caches: Sequence[LayerCache]) -> Params:
    """The notes' backward prop from ``dZ[L] = A[L] − Y``; returns ``dW[l]``, ``db[l]``, ``dA[l-1]``."""
    Y = as_float_array("Y", Y, AL.dtype)
    if Y.shape != AL.shape:
        raise ValueError(f"Y: expected the shape of A[L] {AL.shape}, got {Y.shape}")
    return backward_from_output(AL - Y, caches)  # dZ[L] = A[L] − Y


def propagate(params: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray,
              activation: str | Sequence[str] = "relu", output: str = "sigmoid",
              ) -> tuple[np.floating, Params]:
    """``(J, {dW1, db1, …, dWL, dbL})`` for one batch, through the reference functions.

    ``Y`` is ``(n[L], m)`` (0/1 or one-hot), or class indices ``(m,)`` for softmax.
    """
    AL, caches = L_model_forward(X, params, activation, output)
    Y = prepare_labels(Y, AL.shape[0], output, AL.shape[1], AL.dtype)
    grads = L_model_backward(AL, Y, caches)
    return compute_cost(caches[-1].Z, Y, output), {k: v for k, v in grads.items()
                                                   if not k.startswith("dA")}


def predict(params: Mapping[str, np.ndarray], X: np.ndarray,
            activation: str | Sequence[str] = "relu", output: str = "sigmoid") -> np.ndarray:
    """Labels ``(1, m)``: ``1[A[L] > ½]`` (sigmoid) or ``argmax_k A[L]`` (softmax)."""
    AL, _ = L_model_forward(X, params, activation, output)
    if output == "sigmoid":
        return (AL > 0.5).astype(np.int64)
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


def train(config: Config, X: np.ndarray, Y: np.ndarray, params: Mapping[str, np.ndarray] | None = None,
          callback: Callable[[int, float, Params], None] | None = None) -> tuple[Params, list[float]]:
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
        params = initialize_parameters_deep(config.layer_dims, np.random.default_rng(config.seed),
                                            config.initializer, X.dtype)
    p, L = check_params(params)
    shapes = [p[f"W{layer}"].shape for layer in range(1, L + 1)]
    if (shapes[0][1], *(s[0] for s in shapes)) != config.layer_dims:
        raise ValueError(f"params: shapes {shapes} do not match layer_dims "
                         f"{list(config.layer_dims)}")
    if p["W1"].dtype != X.dtype:
        raise TypeError(f"X: dtype {X.dtype} differs from the parameters' {p['W1'].dtype}")
    p = {k: np.array(v, copy=True) for k, v in p.items()}  # the caller's arrays stay untouched
    batches = minibatches(m, config.batch_size, config.num_iterations)
    step = TrainingStep(config.layer_dims, batches[0].stop - batches[0].start if batches else m,
                        X.dtype, config.activation, config.output)
    costs: list[float] = []
    for t, s in enumerate(batches):
        with np.errstate(over="ignore", invalid="ignore"):  # a blow-up shows as J = inf/NaN
            cost, grads = step.cost_and_grads(p, np.ascontiguousarray(X[:, s]),
                                              np.ascontiguousarray(Y[:, s]))
        if not math.isfinite(cost):
            raise FloatingPointError(f"cost became {cost} at step {t} (learning_rate="
                                     f"{config.learning_rate}); the step size is probably too "
                                     "large; training stopped before applying that step's gradients")
        step.update(p, grads, config.learning_rate)
        costs.append(cost)
        if callback is not None:
            callback(t, cost, p)
    return p, costs


__all__ = ["Config", "initialize_parameters_deep", "check_params", "prepare_labels", "LayerCache",
           "linear_activation_forward", "L_model_forward", "compute_cost",
           "linear_activation_backward", "backward_from_output", "L_model_backward", "propagate",
           "predict", "TrainingStep", "minibatches", "train"]
