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
from scratch import anomaly as scratch_anomaly
from scratch import rnn as scratch_rnn

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


def linear_activation_forward(
    A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, activation: str
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
        A, cache = linear_activation_forward(
            A, parameters[f"W{l}"], parameters[f"b{l}"], "sigmoid" if l == L else "relu"
        )
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


def linear_activation_backward(
    dA: np.ndarray, cache: tuple, activation: str
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
            dA, caches[l - 1], "sigmoid" if l == L else "relu"
        )
        grads[f"dA{l - 1}"] = dA
    return grads


def update_parameters(
    parameters: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray], learning_rate: float
) -> dict[str, np.ndarray]:
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


# --- utils of course 3, week 1 (anomaly detection): the density the notebook calls -----------


def multivariate_gaussian(X: np.ndarray, mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    """``p(x) = (2π)^(−n/2) det(Σ)^(−½) exp(−½ (x − μ)ᵀ Σ⁻¹ (x − μ))`` for each row of ``X (m, n)``,
    ``(m,)``: ``var (n,)`` is the diagonal of ``Σ`` (the course's ``np.diag(var)``), ``var (n, n)``
    is ``Σ``. Through :mod:`scratch.anomaly`'s log-densities (a Cholesky factor, not ``pinv``)."""
    if np.ndim(var) == 1:
        return scratch_anomaly.gaussian_pdf(X, mu, var)
    return np.exp(scratch_anomaly.multivariate_gaussian_log_pdf(X, mu, var))


# --- rnn_utils (course 5 week 1, RNN step by step): softmax down each column, σ ---------------


def rnn_softmax(x: np.ndarray) -> np.ndarray:
    """``ŷ = softmax(x)`` down each column (axis 0): rnn_utils' ``softmax``."""
    return act.softmax(x)


# --- utils (course 5 week 1, Dinosaur Island): the character model's numpy steps ---------------
# The contracts are the course's: one example at a time, ``X`` a list of indices with ``X[0] =
# None`` (a zero input), the loss *summed* over the steps, ``update_parameters`` in place.
# Each step is scratch's RNN cell (:func:`scratch.rnn.rnn_cell_forward`/``rnn_cell_backward``).


def smooth(loss: float, cur_loss: float) -> float:
    """The running loss the course prints: ``0.999 · loss + 0.001 · cur_loss``."""
    return loss * 0.999 + cur_loss * 0.001


def get_initial_loss(vocab_size: int, seq_length: int) -> float:
    """``−log(1/vocab_size) · seq_length``: the loss of uniform guesses."""
    return -np.log(1.0 / vocab_size) * seq_length


def get_sample(sample_ix: list[int], ix_to_char: Mapping[int, str]) -> str:
    """The sampled name, first letter capitalised."""
    txt = "".join(ix_to_char[ix] for ix in sample_ix)
    return txt[0].upper() + txt[1:]


def print_sample(sample_ix: list[int], ix_to_char: Mapping[int, str]) -> None:
    """Print :func:`get_sample` (no newline)."""
    print(get_sample(sample_ix, ix_to_char), end="")


def char_initialize_parameters(n_a: int, n_x: int, n_y: int) -> dict[str, np.ndarray]:
    """``Wax (n_a, n_x)``, ``Waa (n_a, n_a)``, ``Wya (n_y, n_a)`` drawn ``randn · 0.01`` in that
    order after ``np.random.seed(1)``; zero ``b (n_a, 1)``, ``by (n_y, 1)``."""
    np.random.seed(1)
    Wax = np.random.randn(n_a, n_x) * 0.01
    Waa = np.random.randn(n_a, n_a) * 0.01
    Wya = np.random.randn(n_y, n_a) * 0.01
    return {"Wax": Wax, "Waa": Waa, "Wya": Wya, "b": np.zeros((n_a, 1)), "by": np.zeros((n_y, 1))}


def _cell_params(parameters: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {"Wax": parameters["Wax"], "Waa": parameters["Waa"], "ba": parameters["b"]}


def rnn_step_forward(
    parameters: Mapping[str, np.ndarray], a_prev: np.ndarray, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``a⟨t⟩ = tanh(Wax x + Waa a_prev + b)``, ``ŷ⟨t⟩ = softmax(Wya a⟨t⟩ + by)``."""
    a_next, _ = scratch_rnn.rnn_cell_forward(x, a_prev, _cell_params(parameters))
    return a_next, act.softmax(parameters["Wya"] @ a_next + parameters["by"])


def rnn_step_backward(
    dy: np.ndarray,
    gradients: dict,
    parameters: Mapping[str, np.ndarray],
    x: np.ndarray,
    a: np.ndarray,
    a_prev: np.ndarray,
) -> dict:
    """One step back from ``dy = ŷ⟨t⟩ − y⟨t⟩``, adding into ``gradients``: ``dWya += dy aᵀ``,
    ``dby += dy``, then the cell's backward from ``da = Wyaᵀ dy + da_next``."""
    gradients["dWya"] += dy @ a.T
    gradients["dby"] += dy
    da = parameters["Wya"].T @ dy + gradients["da_next"]
    _, cache = scratch_rnn.rnn_cell_forward(x, a_prev, _cell_params(parameters))
    step = scratch_rnn.rnn_cell_backward(da, cache)
    gradients["db"] += step["dba"]
    gradients["dWax"] += step["dWax"]
    gradients["dWaa"] += step["dWaa"]
    gradients["da_next"] = step["da_prev"]
    return gradients


def char_update_parameters(parameters: dict, gradients: Mapping[str, np.ndarray], lr: float) -> dict:
    """``θ −= lr · dθ`` for ``Wax, Waa, Wya, b, by``, in place (the course's)."""
    for k in ("Wax", "Waa", "Wya", "b", "by"):
        parameters[k] += -lr * gradients["d" + k]
    return parameters


def char_rnn_forward(
    X: list, Y: list, a0: np.ndarray, parameters: Mapping[str, np.ndarray], vocab_size: int = 27
) -> tuple[float, tuple]:
    """The name ``X`` (indices, ``X[0] = None``: a zero input) one step at a time from ``a0``:
    ``loss = −Σ_t log ŷ⟨t⟩[Y[t]]`` and ``cache = (y_hat, a, x)`` (dicts by ``t``; ``a[-1] = a0``)."""
    x, a, y_hat = {}, {-1: np.copy(a0)}, {}
    loss = 0.0
    for t in range(len(X)):
        x[t] = np.zeros((vocab_size, 1))
        if X[t] is not None:
            x[t][X[t]] = 1
        a[t], y_hat[t] = rnn_step_forward(parameters, a[t - 1], x[t])
        loss -= np.log(y_hat[t][Y[t], 0])
    return loss, (y_hat, a, x)


def char_rnn_backward(
    X: list, Y: list, parameters: Mapping[str, np.ndarray], cache: tuple
) -> tuple[dict, dict]:
    """Backprop through time of the summed loss: ``gradients`` (``dWax, dWaa, dWya, db, dby``
    and ``da_next``) and the hidden states ``a``."""
    y_hat, a, x = cache
    gradients = {
        "dWax": np.zeros_like(parameters["Wax"]),
        "dWaa": np.zeros_like(parameters["Waa"]),
        "dWya": np.zeros_like(parameters["Wya"]),
        "db": np.zeros_like(parameters["b"]),
        "dby": np.zeros_like(parameters["by"]),
        "da_next": np.zeros_like(a[0]),
    }
    for t in reversed(range(len(X))):
        dy = np.copy(y_hat[t])
        dy[Y[t]] -= 1
        gradients = rnn_step_backward(dy, gradients, parameters, x[t], a[t], a[t - 1])
    return gradients, a


_CHAR_UTILS = {
    "softmax": rnn_softmax,
    "smooth": smooth,
    "get_initial_loss": get_initial_loss,
    "get_sample": get_sample,
    "print_sample": print_sample,
    "initialize_parameters": char_initialize_parameters,
    "rnn_step_forward": rnn_step_forward,
    "rnn_step_backward": rnn_step_backward,
    "update_parameters": char_update_parameters,
    "rnn_forward": char_rnn_forward,
    "rnn_backward": char_rnn_backward,
}

_DNN_UTILS = {
    "sigmoid": sigmoid,
    "relu": relu,
    "sigmoid_backward": sigmoid_backward,
    "relu_backward": relu_backward,
}

MODULES: dict[str, dict[str, Callable[..., Any]]] = {
    "dnn_utils": _DNN_UTILS,
    "planar_utils": {"sigmoid": planar_sigmoid},
    "dnn_app_utils": {
        **_DNN_UTILS,
        **{
            f.__name__: f
            for f in (
                initialize_parameters,
                initialize_parameters_deep,
                linear_forward,
                linear_activation_forward,
                L_model_forward,
                compute_cost,
                linear_backward,
                linear_activation_backward,
                L_model_backward,
                update_parameters,
                predict,
            )
        },
    },
    "testCases": {},
    "public_tests": {},
    "test_utils": {},
    "lr_utils": {},
}
"""The course's helper modules by family (``dnn_utils_v2`` is ``dnn_utils`` …), and what dlparity
supplies of each."""

# ``utils`` is the name of several courses' helper modules; anomaly detection's adds (to whatever
# another course's adds) the one name its checks and notebook need: a merge, never a replacement.
MODULES["utils"] = {**MODULES.get("utils", {}), "multivariate_gaussian": multivariate_gaussian}
# Dinosaur Island's utils (course 5 week 1): the character model's steps, merged likewise.
MODULES["utils"] = {**MODULES["utils"], **_CHAR_UTILS}
MODULES["rnn_utils"] = {"softmax": rnn_softmax, "sigmoid": planar_sigmoid}
MODULES["shakespeare_utils"] = {}  # the Keras part of Dinosaur Island's notebook: nothing the checks need

# --- init_utils (course 2 week 1, Initialization): the notebook's 3-layer network ------------------
# LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID; the cache is the flat tuple the course's
# backward unpacks, and dz3 = 1/m (a3 − Y) carries the cost's 1/m (dW = dz · aᵀ, no further 1/m).


def init_relu(x: np.ndarray) -> np.ndarray:
    """``s = max(0, x)`` (init_utils' ``relu``: no cache)."""
    return act.relu(x)


def init_forward_propagation(X: np.ndarray, parameters: Mapping[str, np.ndarray]) -> tuple[np.ndarray, tuple]:
    """``a3 = σ(W3 relu(W2 relu(W1 X + b1) + b2) + b3)`` ``(1, m)``; ``cache = (z1, a1, W1, b1, z2, a2,
    W2, b2, z3, a3, W3, b3)``."""
    W1, b1, W2, b2, W3, b3 = (parameters[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    z1 = W1 @ X + b1  # (n1, m)
    a1 = act.relu(z1)
    z2 = W2 @ a1 + b2  # (n2, m)
    a2 = act.relu(z2)
    z3 = W3 @ a2 + b3  # (1, m)
    a3 = act.sigmoid(z3)
    return a3, (z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3)


def init_backward_propagation(X: np.ndarray, Y: np.ndarray, cache: tuple) -> dict[str, np.ndarray]:
    """``dz3 = 1/m (a3 − Y)``, ``dW3 = dz3 a2ᵀ``, ``db3 = Σ dz3``, ``dz2 = W3ᵀ dz3 · [a2 > 0]`` … as
    the course's ``gradients`` dict (``dz3, dW3, db3, da2, dz2, dW2, db2, da1, dz1, dW1, db1``)."""
    m = X.shape[1]
    (z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3) = cache
    g: dict[str, np.ndarray] = {"dz3": (a3 - Y) / m}
    g["dW3"], g["db3"] = g["dz3"] @ a2.T, np.sum(g["dz3"], axis=1, keepdims=True)
    g["da2"] = W3.T @ g["dz3"]
    g["dz2"] = g["da2"] * act.relu_prime(z2)
    g["dW2"], g["db2"] = g["dz2"] @ a1.T, np.sum(g["dz2"], axis=1, keepdims=True)
    g["da1"] = W2.T @ g["dz2"]
    g["dz1"] = g["da1"] * act.relu_prime(z1)
    g["dW1"], g["db1"] = g["dz1"] @ X.T, np.sum(g["dz1"], axis=1, keepdims=True)
    return g


def init_update_parameters(parameters: dict, grads: Mapping[str, np.ndarray], learning_rate: float) -> dict:
    """``W[l] −= α dW[l]``, ``b[l] −= α db[l]`` for every layer, in the course's dict (returned)."""
    for layer in range(1, len(parameters) // 2 + 1):
        parameters[f"W{layer}"] = parameters[f"W{layer}"] - learning_rate * grads[f"dW{layer}"]
        parameters[f"b{layer}"] = parameters[f"b{layer}"] - learning_rate * grads[f"db{layer}"]
    return parameters


def compute_loss(a3: np.ndarray, Y: np.ndarray) -> float:
    """``J = 1/m Σ [−y log a3 − (1 − y) log(1 − a3)]`` (``np.nansum``, as the course's)."""
    m = Y.shape[1]
    return float(np.nansum(-Y * np.log(a3) - (1 - Y) * np.log(1 - a3)) / m)


def init_predict(X: np.ndarray, y: np.ndarray, parameters: Mapping[str, np.ndarray]) -> np.ndarray:
    """``p = [a3 > 0.5]`` ``(1, m)`` integers; prints the accuracy against ``y``, as the course's."""
    a3, _ = init_forward_propagation(X, parameters)
    p = (a3 > 0.5).astype(np.int64)
    print("Accuracy: " + str(np.mean(p[0, :] == y[0, :])))
    return p


MODULES["init_utils"] = {
    "sigmoid": planar_sigmoid,
    "relu": init_relu,
    "forward_propagation": init_forward_propagation,
    "backward_propagation": init_backward_propagation,
    "update_parameters": init_update_parameters,
    "compute_loss": compute_loss,
    "predict": init_predict,
}

NOT_SUPPLIED = {
    "load_dataset": "a data loader",
    "load_data": "a data loader",
    "load_planar_dataset": "a data loader",
    "load_extra_datasets": "a data loader",
    "plot_decision_boundary": "plotting",
    "print_mislabeled_images": "plotting",
    "predict_dec": "plotting",  # init_utils: plot_decision_boundary's predictor
    "load_data_multi": "a data loader",
    "visualize_fit": "plotting",  # course 3, week 1's utils
    "plot_progress_kMeans": "plotting",
    "plot_data_points": "plotting",
    "draw_line": "plotting",
}
"""Names of the course's helper modules that are never supplied, and why (not needed to check)."""

_FAMILY = re.compile(
    r"(init_utils|"
    r"dnn_utils|dnn_app_utils|planar_utils|testCases|public_tests|test_utils|lr_utils|utils|rnn_utils|shakespeare_utils)"
    r"(_v\w*)?"
)


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
