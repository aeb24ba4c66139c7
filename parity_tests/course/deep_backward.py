"""Course part ``deep``, backward half: ``linear_backward``, ``linear_activation_backward`` and
``L_model_backward`` — each run on the learner's *own* forward caches (their cache format is
theirs) and compared with autograd — then ``update_parameters`` and the two training functions.

The course's convention: ``dA``, ``dZ`` and ``dA_prev`` are per example (``dAL = −(Y/AL −
(1−Y)/(1−AL))``, no ``1/m``); ``dW = 1/m dZ A_prevᵀ`` and ``db = 1/m Σ dZ`` are gradients of the
cost ``J``. The references scale autograd's results accordingly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from parity_tests.course import references as R
from parity_tests.course.common import (
    FunctionResult,
    Learner,
    array,
    entry,
    name_slip,
    records,
    seed_of,
    unpack,
)
from parity_tests.course.deep import DIMS, Y7, G, M, layer_data, pair
from parity_tests.course.shallow import params, updated
from parity_tests.course.trainers import check_trajectory

LEARNING_RATE = 0.05
ITERATIONS = 201
GRADS = ("dA_prev", "dW", "db")


def _d(name: str, Z: np.ndarray) -> np.ndarray:
    """``g′(Z)`` for the slips (hypotheses, not references)."""
    s = 1 / (1 + np.exp(-Z))
    return s * (1 - s) if name == "sigmoid" else 1.0 * (Z > 0)


def _linear_grads(dZ: np.ndarray, A_prev: np.ndarray, W: np.ndarray) -> dict[str, np.ndarray]:
    m = A_prev.shape[1]
    return {"dA_prev": W.T @ dZ, "dW": dZ @ A_prev.T / m, "db": dZ.sum(axis=1, keepdims=True) / m}


def _own_cache(learner: Learner, fn: str, names: list[str], values: list, result: FunctionResult,
               course: object) -> object:
    """The cache the learner's own forward ``fn`` returns, else the course's format ``course``."""
    if learner.has(fn):
        try:
            return pair(learner.call_course(fn, names, values), ("Z", "cache"), fn)[1]
        except Exception:  # their forward is reported on its own line
            pass
    result.notes.append(f"run on the course's cache format (no working {fn})")
    return course


def check_linear_backward(learner: Learner, result: FunctionResult) -> None:
    A_prev, W, b = layer_data("linear_backward")
    dZ = np.random.default_rng(seed_of("deep", "dZ")).normal(0.0, 1.0, (4, M))
    cache = _own_cache(learner, "linear_forward", ["A", "W", "b"], [A_prev, W, b], result, (A_prev, W, b))
    out = unpack(learner.call_course("linear_backward", ["dZ", "cache"], [dZ, cache]), GRADS,
                 "linear_backward")
    actual = {k: array(v, k) for k, v in zip(GRADS, out)}
    ref = R.linear_activation(A_prev, W, b, None, dA=dZ)
    result.add("gradients", "gradient", records(actual, {k: ref[k] for k in GRADS}, "gradient", m=M))


def check_linear_activation_backward(learner: Learner, result: FunctionResult) -> None:
    A_prev, W, b = layer_data("linear_activation_backward")
    Z = W @ A_prev + b
    dA = np.random.default_rng(seed_of("deep", "dA")).normal(0.0, 1.0, (4, M))
    for act, other in (("sigmoid", "relu"), ("relu", "sigmoid")):
        cache = _own_cache(learner, "linear_activation_forward", ["A_prev", "W", "b", "activation"],
                           [A_prev, W, b, act], result, ((A_prev, W, b), Z))
        out = unpack(learner.call_course("linear_activation_backward", ["dA", "cache", "activation"],
                                         [dA, cache, act]), GRADS, "linear_activation_backward")
        actual = {f"{k} ({act})": array(v, k) for k, v in zip(GRADS, out)}
        ref = R.linear_activation(A_prev, W, b, act, dA=dA)
        result.add(act, "gradient", records(actual, {f"{k} ({act})": ref[k] for k in GRADS}, "gradient", m=M))

        def slip(dZ: np.ndarray, a: str = act) -> dict[str, np.ndarray]:
            return {f"{k} ({a})": v for k, v in _linear_grads(dZ, A_prev, W).items()}

        name_slip(result, actual, [
            ("dA is used as dZ: the activation's backward step (relu_backward / sigmoid_backward) is "
             "missing", lambda: slip(dA)),
            (f"activation={act!r} uses {other}'s derivative", lambda o=other: slip(dA * _d(o, Z)))],
            "gradient")


def _course_caches(X: np.ndarray, p: Mapping[str, np.ndarray]) -> tuple[np.ndarray, list]:
    ref = R.forward_values(R.deep_net(p), X)
    L = len(DIMS) - 1
    A = {0: X, **{int(k[1:]): v for k, v in ref.items() if k.startswith("A")}}
    caches = [((A[layer - 1], p[f"W{layer}"], p[f"b{layer}"]), ref[f"Z{layer}"]) for layer in range(1, L + 1)]
    return ref[f"A{L}"], caches


def _backprop(p: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray, hidden: str, out: str
              ) -> dict[str, np.ndarray]:
    """The course's backward pass with the given derivatives (for naming a slip)."""
    L = len(DIMS) - 1
    A, Zs, As = X, {}, {0: X}
    for layer in range(1, L + 1):
        Zs[layer] = p[f"W{layer}"] @ A + p[f"b{layer}"]
        A = G["sigmoid" if layer == L else "relu"](Zs[layer])
        As[layer] = A
    grads, dA = {}, -(Y / A - (1 - Y) / (1 - A))
    for layer in range(L, 0, -1):
        dZ = dA * _d(out if layer == L else hidden, Zs[layer])
        g = _linear_grads(dZ, As[layer - 1], p[f"W{layer}"])
        grads.update({f"dA{layer - 1}": g["dA_prev"], f"dW{layer}": g["dW"], f"db{layer}": g["db"]})
        dA = g["dA_prev"]
    return grads


def check_L_model_backward(learner: Learner, result: FunctionResult) -> None:
    rng = np.random.default_rng(seed_of("deep", "L_model_backward"))
    X = rng.normal(0.0, 1.0, (DIMS[0], M))
    p = params(rng, DIMS)
    AL, caches = _course_caches(X, p)
    if learner.has("L_model_forward"):
        try:
            AL, caches = unpack(learner.call_course("L_model_forward", ["X", "parameters"], [X, p]),
                                ("AL", "caches"), "L_model_forward")
        except Exception:  # reported on L_model_forward's own line
            result.notes.append("run on the course's caches (L_model_forward raised)")
    else:
        result.notes.append("run on the course's caches [((A_prev, W, b), Z), …] (no L_model_forward)")
    grads = learner.call_course("L_model_backward", ["AL", "Y", "caches"], [AL, Y7, caches])
    ref = R.cost_and_grads(R.deep_net(p), X, Y7)
    L = len(DIMS) - 1
    names = [k for layer in range(L, 0, -1) for k in (f"dA{layer - 1}", f"dW{layer}", f"db{layer}")]
    actual = {k: array(entry(grads, k, "grads"), f"grads[{k!r}]") for k in names}
    result.add("gradients", "gradient", records(actual, {k: ref[k] for k in names}, "gradient", m=M))
    name_slip(result, actual, [
        ("σ′ in the hidden layers; the course's hidden layers are ReLU (relu_backward)",
         lambda: _backprop(p, X, Y7, "sigmoid", "sigmoid")),
        ("ReLU′ at the output layer; the course's output is σ (sigmoid_backward)",
         lambda: _backprop(p, X, Y7, "relu", "relu"))], "gradient")


def check_update_parameters_deep(learner: Learner, result: FunctionResult) -> None:
    rng = np.random.default_rng(seed_of("deep", "update"))
    updated(learner, result, params(rng, DIMS), 0.3, rng)


def _trainer(learner: Learner, result: FunctionResult, name: str, dims: tuple[int, ...],
             net_of: Callable[[Mapping], object]) -> None:
    rng = np.random.default_rng(seed_of("deep", name))
    X = rng.normal(0.0, 1.0, (dims[0], 9))
    Y = (X[:1] - X[1:2] > 0).astype(np.float64)
    args = ["X", "Y", "layers_dims", "learning_rate", "num_iterations", "print_cost"]

    def run(t: int) -> tuple[dict, object]:
        out = learner.call_course(name, args, [X, Y, tuple(dims) if len(dims) == 3 else list(dims),
                                               LEARNING_RATE, t, True], seed=seed_of(name))
        if isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], Mapping):
            return out
        return out, None

    shapes = {f"{c}{layer}": (dims[layer], dims[layer - 1] if c == "W" else 1)
              for layer in range(1, len(dims)) for c in "Wb"}
    check_trajectory(result, run, net_of, X, Y, LEARNING_RATE, ITERATIONS, shapes)


def check_two_layer_model(learner: Learner, result: FunctionResult) -> None:
    _trainer(learner, result, "two_layer_model", (5, 4, 1), lambda p: R.shallow_net(p, "relu"))


def check_L_layer_model(learner: Learner, result: FunctionResult) -> None:
    _trainer(learner, result, "L_layer_model", DIMS, R.deep_net)
