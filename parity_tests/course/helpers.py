"""The course's helper modules, as dlparity supplies them when a learner's file imports one that
is absent (learners usually download one notebook, not the folder of helpers beside it).

A course file imports its activations and their derivatives from a helper module —
``from dnn_utils import sigmoid, sigmoid_backward, relu, relu_backward``,
``from planar_utils import sigmoid, load_planar_dataset``, ``from dnn_app_utils_v3 import *`` —
and its own functions call them. When such a module cannot be imported, the loader
(:mod:`parity_tests.course.loader`) puts these implementations in its place, under the names
the file imports, and the report says which it supplied. Each keeps the course's exact contract
(``A, cache = sigmoid(Z)`` with ``cache = Z``; a layer's cache ``((A_prev, W, b), Z)``) and is
built on :mod:`scratch.activations`; ``test_course_helpers.py`` runs each through the course
checker's own check, which compares it with torch.

Data loaders (``load_dataset``, ``load_planar_dataset`` …), plotting and the course's test-case
and test modules are never supplied: the checks need none of them, and a file's top-level code
that calls them never runs.

Example:
    >>> import numpy as np
    >>> A, cache = MODULES["dnn_utils"]["sigmoid"](np.array([[0.0]]))
    >>> float(A[0, 0]), cache is not None
    (0.5, True)
    >>> family("dnn_app_utils_v3"), family("testCases_v4a"), family("numpy")
    ('dnn_app_utils', 'testCases', None)
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from scratch import activations as act

# --- dnn_utils: the activations of week 4, with their caches --------------------------------


def sigmoid(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``A = σ(Z) = 1 / (1 + e^{−Z})``; returns ``(A, cache)`` with ``cache = Z``."""
    return act.sigmoid(Z), Z


def relu(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``A = max(0, Z)``; returns ``(A, cache)`` with ``cache = Z``."""
    return act.relu(Z), Z


def sigmoid_backward(dA: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """``dZ = dA · σ(Z)(1 − σ(Z))`` with ``Z = cache``."""
    return dA * act.sigmoid_prime(cache)


def relu_backward(dA: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """``dZ = dA · [Z > 0]`` with ``Z = cache``."""
    return dA * act.relu_prime(cache)


# --- planar_utils: week 3's sigmoid returns the activation alone -----------------------------


def planar_sigmoid(x: np.ndarray) -> np.ndarray:
    """``s = σ(x)`` (planar_utils' ``sigmoid``: no cache)."""
    return act.sigmoid(x)


# --- dnn_app_utils: the step-by-step functions the application notebook imports --------------


def initialize_parameters(n_x: int, n_h: int, n_y: int) -> dict[str, np.ndarray]:
    """``W1 (n_h, n_x)``, ``W2 (n_y, n_h)`` drawn ``randn · 0.01`` after ``np.random.seed(1)``;
    zero biases ``b1 (n_h, 1)``, ``b2 (n_y, 1)``."""
    np.random.seed(1)
    W1 = np.random.randn(n_h, n_x) * 0.01
    b1 = np.zeros((n_h, 1))
    W2 = np.random.randn(n_y, n_h) * 0.01
    b2 = np.zeros((n_y, 1))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def initialize_parameters_deep(layer_dims: list[int]) -> dict[str, np.ndarray]:
    """``W[l] (n[l], n[l−1])`` drawn ``randn / √n[l−1]`` after ``np.random.seed(1)`` (the
    application's helper); ``b[l] = 0 (n[l], 1)``."""
    np.random.seed(1)
    parameters = {}
    for l in range(1, len(layer_dims)):  # noqa: E741 — the course's name
        parameters[f"W{l}"] = np.random.randn(layer_dims[l], layer_dims[l - 1]) / np.sqrt(layer_dims[l - 1])
        parameters[f"b{l}"] = np.zeros((layer_dims[l], 1))
    return parameters


def linear_forward(A: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """``Z = W A + b`` ``(n[l], m)``; returns ``(Z, cache)`` with ``cache = (A, W, b)``."""
    Z = W @ A + b
    return Z, (A, W, b)


def linear_activation_forward(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, activation: str
                              ) -> tuple[np.ndarray, tuple]:
    """``A = g(W A_prev + b)``; returns ``(A, cache)``, ``cache = (linear_cache, activation_cache)``."""
    Z, linear_cache = linear_forward(A_prev, W, b)
    A, activation_cache = (sigmoid if activation == "sigmoid" else relu)(Z)
    return A, (linear_cache, activation_cache)


def L_model_forward(X: np.ndarray, parameters: Mapping[str, np.ndarray]) -> tuple[np.ndarray, list]:
    """``[LINEAR → RELU] × (L−1) → LINEAR → SIGMOID``; returns ``(AL, caches)``, one cache a layer."""
    L = len(parameters) // 2
    A, caches = X, []
    for l in range(1, L + 1):  # noqa: E741
        A, cache = linear_activation_forward(A, parameters[f"W{l}"], parameters[f"b{l}"],
                                             "sigmoid" if l == L else "relu")
        caches.append(cache)
    return A, caches


def compute_cost(AL: np.ndarray, Y: np.ndarray) -> float:
    """``J = −1/m Σ [y log a + (1 − y) log(1 − a)]``, one number."""
    m = Y.shape[1]
    return float(np.squeeze(-np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m))


def linear_backward(dZ: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``dA_prev = Wᵀ dZ``, ``dW = 1/m dZ A_prevᵀ``, ``db = 1/m Σ dZ`` ``(n[l], 1)``."""
    A_prev, W, _ = cache
    m = A_prev.shape[1]
    return W.T @ dZ, dZ @ A_prev.T / m, np.sum(dZ, axis=1, keepdims=True) / m


def linear_activation_backward(dA: np.ndarray, cache: tuple, activation: str
                               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``dZ = dA · g′(Z)``, then :func:`linear_backward`."""
    linear_cache, activation_cache = cache
    dZ = (sigmoid_backward if activation == "sigmoid" else relu_backward)(dA, activation_cache)
    return linear_backward(dZ, linear_cache)


def L_model_backward(AL: np.ndarray, Y: np.ndarray, caches: list) -> dict[str, np.ndarray]:
    """From ``dAL = −(Y/AL − (1−Y)/(1−AL))``: ``dA{l−1}``, ``dW{l}``, ``db{l}`` for every layer."""
    L = len(caches)
    Y = Y.reshape(AL.shape)
    dA = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    grads = {}
    for l in range(L, 0, -1):  # noqa: E741
        dA, grads[f"dW{l}"], grads[f"db{l}"] = linear_activation_backward(
            dA, caches[l - 1], "sigmoid" if l == L else "relu")
        grads[f"dA{l - 1}"] = dA
    return grads


def update_parameters(parameters: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray],
                      learning_rate: float) -> dict[str, np.ndarray]:
    """``W[l] −= α dW[l]``, ``b[l] −= α db[l]`` (on a copy)."""
    L = len(parameters) // 2
    new = dict(parameters)
    for l in range(1, L + 1):  # noqa: E741
        new[f"W{l}"] = parameters[f"W{l}"] - learning_rate * grads[f"dW{l}"]
        new[f"b{l}"] = parameters[f"b{l}"] - learning_rate * grads[f"db{l}"]
    return new


def predict(X: np.ndarray, y: np.ndarray, parameters: Mapping[str, np.ndarray]) -> np.ndarray:
    """``p = [AL > 0.5]`` ``(1, m)`` (the application's helper; prints nothing here)."""
    AL, _ = L_model_forward(X, parameters)
    return (AL > 0.5).astype(np.float64)


_DNN_UTILS = {"sigmoid": sigmoid, "relu": relu, "sigmoid_backward": sigmoid_backward,
              "relu_backward": relu_backward}

MODULES: dict[str, dict[str, Callable[..., Any]]] = {
    "dnn_utils": _DNN_UTILS,
    "planar_utils": {"sigmoid": planar_sigmoid},
    "dnn_app_utils": {**_DNN_UTILS, **{f.__name__: f for f in (
        initialize_parameters, initialize_parameters_deep, linear_forward, linear_activation_forward,
        L_model_forward, compute_cost, linear_backward, linear_activation_backward, L_model_backward,
        update_parameters, predict)}},
    "testCases": {}, "public_tests": {}, "test_utils": {}, "lr_utils": {},
}
"""The course's helper modules by family (``dnn_utils_v2`` is ``dnn_utils`` …), and what dlparity
supplies of each."""

NOT_SUPPLIED = {
    "load_dataset": "a data loader", "load_data": "a data loader",
    "load_planar_dataset": "a data loader", "load_extra_datasets": "a data loader",
    "plot_decision_boundary": "plotting", "print_mislabeled_images": "plotting",
}
"""Names of the course's helper modules that are never supplied, and why (not needed to check)."""

_FAMILY = re.compile(r"(dnn_utils|dnn_app_utils|planar_utils|testCases|public_tests|test_utils|lr_utils)"
                     r"(_v\w*)?")


def family(module: str) -> str | None:
    """The helper family of a module name (``dnn_utils_v2`` → ``dnn_utils``), or ``None``."""
    match = _FAMILY.fullmatch(module)
    return match.group(1) if match else None


def why_not_supplied(module: str, name: str) -> str:
    """Why ``name`` of the course module ``module`` is not supplied."""
    if name in NOT_SUPPLIED:
        return NOT_SUPPLIED[name]
    fam = family(module)
    if fam in ("testCases", "public_tests", "test_utils"):
        return "the course's own tests"
    return f"not a helper dlparity knows of {module}"


def as_module(module: str) -> types.ModuleType:
    """A stand-in module object for ``import dnn_utils`` (its helpers as attributes)."""
    stand_in = types.ModuleType(module, f"dlparity's stand-in for the course's {module}")
    stand_in.__dict__.update(MODULES[family(module) or module])
    return stand_in
