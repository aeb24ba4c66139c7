"""Course part ``shallow`` (planar data classification with one hidden layer): how each function
is checked. Sizes: ``n_x = 3``, ``n_h = 4``, ``n_y = 1``, ``m = 5`` (``nn_model``: ``n_h = 5``,
``m = 9``); weights of scale 0.8 so ``tanh`` and ``σ`` are far from linear and a wrong
derivative shows. ``compute_cost`` and ``initialize_parameters`` serve the ``deep`` part too.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import numpy as np

from parity_tests.compare import compare
from parity_tests.course import references as R
from parity_tests.course.common import (
    ContractError,
    FunctionResult,
    Learner,
    array,
    entry,
    matches,
    name_slip,
    number,
    records,
    tol,
    unpack,
)
from parity_tests.course.logreg import cost_slips
from parity_tests.course.trainers import (
    check_bias,
    check_trajectory,
    check_weight,
    draw_order_note,
    parameters_and_costs,
)
from parity_tests.diagnose import diagnose
from parity_tests.registry import seed_for
from parity_tests.tolerances import EXACT

N_X, N_H, N_Y, M = 3, 4, 1, 5
LEARNING_RATE = 0.3
COURSE_LEARNING_RATE = 1.2  # update_parameters(parameters, grads, learning_rate=1.2) in the course
ITERATIONS = 201
Y5 = np.array([[1.0, 0.0, 0.0, 1.0, 1.0]])
INIT_SIZES = (200, 300, 3)  # (n_x, n_h, n_y): W1 (300, 200) holds 60 000 draws


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def params(rng: np.random.Generator, dims: tuple[int, ...], scale: float = 0.8) -> dict[str, np.ndarray]:
    """``W[l] (n[l], n[l−1])`` and nonzero ``b[l] (n[l], 1)`` (a missing ``+ b`` shows)."""
    p = {}
    for layer in range(1, len(dims)):
        p[f"W{layer}"] = rng.normal(0.0, scale, (dims[layer], dims[layer - 1]))
        p[f"b{layer}"] = rng.normal(0.0, 0.5, (dims[layer], 1))
    return p


def data(name: str, m: int = M) -> tuple[np.random.Generator, np.ndarray]:
    rng = np.random.default_rng(seed_for("shallow", name))
    return rng, rng.normal(0.0, 1.0, (N_X, m))


def check_layer_sizes(learner: Learner, result: FunctionResult) -> None:
    X, Y = np.zeros((5, 9)), np.zeros((2, 9))  # n_x = 5, n_y = 2, m = 9
    sizes = unpack(learner.call("layer_sizes", X, Y), ("n_x", "n_h", "n_y"), "layer_sizes")
    got = dict(zip(("n_x", "n_h", "n_y"), (array(v, n) for v, n in zip(sizes, ("n_x", "n_h", "n_y")))))
    want = {"n_x": 5, "n_h": 4, "n_y": 2}
    recs = [compare(k, got[k], np.asarray(v), EXACT) for k, v in want.items()]
    for r in recs:
        if not r.passed and got[r.name].size == 1 and int(got[r.name].reshape(-1)[0]) == 9:
            r.diagnosis = f"{r.name} = 9 is the number of examples m (shape[1]); {r.name} is shape[0]"
        elif r.name == "n_h" and not r.passed:
            r.diagnosis = "the course's layer_sizes sets the hidden layer size n_h = 4"
    result.add("sizes", "forward", recs)
    name_slip(
        result,
        got,
        [
            (
                "returned in the order (n_x, n_y, n_h); the course returns (n_x, n_h, n_y)",
                lambda: {"n_h": np.asarray(2), "n_y": np.asarray(4)},
            )
        ],
        "forward",
    )


def course_draws(dims: tuple[int, ...], scale: float) -> callable:
    def draw(seed: int) -> dict[str, np.ndarray]:
        state = np.random.get_state()
        np.random.seed(seed)
        try:
            return {
                f"W{layer}": np.random.randn(dims[layer], dims[layer - 1]) * scale
                for layer in range(1, len(dims))
            }
        finally:
            np.random.set_state(state)

    return draw


def check_initialize_parameters(learner: Learner, result: FunctionResult) -> None:
    n_x, n_h, n_y = INIT_SIZES
    p = learner.call("initialize_parameters", n_x, n_h, n_y, seed=seed_for("init"))
    dims = (n_x, n_h, n_y)
    for layer in (1, 2):
        check_weight(
            result,
            f"W{layer}",
            entry(p, f"W{layer}", "parameters"),
            (dims[layer], dims[layer - 1]),
            {"0.01": 0.01},
        )
        check_bias(result, f"b{layer}", entry(p, f"b{layer}", "parameters"), dims[layer])
    draw_order_note(
        result,
        lambda s: learner.call("initialize_parameters", n_x, n_h, n_y, seed=s),
        course_draws(dims, 0.01),
        "initialize_parameters",
    )


def check_forward_propagation(learner: Learner, result: FunctionResult) -> None:
    rng, X = data("forward")
    p = params(rng, (N_X, N_H, N_Y))
    A2, cache = unpack(
        learner.call_course("forward_propagation", ["X", "parameters"], [X, p]),
        ("A2", "cache"),
        "forward_propagation",
    )
    ref = R.forward_values(R.shallow_net(p, "tanh"), X)
    actual = {"A2": array(A2, "A2")}
    expected = {}
    if isinstance(cache, Mapping) and all(k in cache for k in ("Z1", "A1", "Z2", "A2")):
        for k in ("Z1", "A1", "Z2", "A2"):
            actual[f"cache[{k!r}]"] = array(cache[k], f"cache[{k!r}]")
            expected[f"cache[{k!r}]"] = ref[k]
    else:
        result.notes.append("its cache is not the course's dict {Z1, A1, Z2, A2}; only A2 was compared")
    expected["A2"] = ref["A2"]
    result.add("forward", "forward", records(actual, expected, "forward", m=M))
    W1, b1, W2, b2 = p["W1"], p["b1"], p["W2"], p["b2"]
    Z1 = W1 @ X + b1

    def hidden(g: callable, out: callable = _sigmoid, bias: bool = True) -> dict:
        A1 = g(Z1)
        Z2 = W2 @ A1 + (b2 if bias else 0)
        return {"cache['A1']": A1, "cache['Z2']": Z2, "cache['A2']": out(Z2), "A2": out(Z2)}

    name_slip(
        result,
        actual,
        [
            ("σ in the hidden layer; the course's is tanh (A1 = np.tanh(Z1))", lambda: hidden(_sigmoid)),
            (
                "ReLU in the hidden layer; the course's is tanh (A1 = np.tanh(Z1))",
                lambda: hidden(lambda z: np.maximum(z, 0)),
            ),
            ("tanh at the output; the course's is σ (A2 = sigmoid(Z2))", lambda: hidden(np.tanh, np.tanh)),
            ("Z2 = W2·A1 without + b2", lambda: hidden(np.tanh, _sigmoid, bias=False)),
        ],
        "forward",
    )


def takes_parameters(fn: object) -> bool:
    """``compute_cost(A2, Y, parameters)``: a third argument without a default, as the course's
    2017–2020 versions had (the cost does not use it); from 2021 it is ``compute_cost(A2, Y)``."""
    try:
        ps = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [q for q in ps if q.kind in positional and q.default is q.empty]
    return len(required) == 3


def check_compute_cost(learner: Learner, result: FunctionResult) -> None:
    rng = np.random.default_rng(seed_for("compute_cost"))
    A = rng.uniform(0.05, 0.95, (1, 7))
    Y = np.array([[1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0]])
    args: list = [A, Y]
    if takes_parameters(learner.functions["compute_cost"]):  # the 2017–2020 signature
        args.append(params(rng, (N_X, N_H, N_Y)))  # W2 (1, 4): A2 (1, 7) could come from it
        result.signature = "compute_cost(A2, Y, parameters) -> cost"
    cost = number(learner.call("compute_cost", *args), "the returned cost", result)
    actual = {"cost": cost}
    result.add(
        "cost", "forward", records(actual, {"cost": R.bce_cost(A, Y)}, "forward", m=7, inputs={"Y": Y.shape})
    )
    name_slip(result, actual, cost_slips(A, Y), "forward")


def course_cache(X: np.ndarray, p: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    ref = R.forward_values(R.shallow_net(p, "tanh"), X)
    return {k: ref[k] for k in ("Z1", "A1", "Z2", "A2")}


def check_backward_propagation(learner: Learner, result: FunctionResult) -> None:
    rng, X = data("backward")
    p = params(rng, (N_X, N_H, N_Y))
    cache = None
    if learner.has("forward_propagation"):
        try:
            cache = unpack(
                learner.call_course("forward_propagation", ["X", "parameters"], [X, p]),
                ("A2", "cache"),
                "forward_propagation",
            )[1]
        except Exception:  # their forward is reported on its own line; use the course's cache
            cache = None
    if cache is None:
        cache = course_cache(X, p)
        result.notes.append("run on the course's cache {Z1, A1, Z2, A2} (no working forward_propagation)")
    grads = learner.call_course("backward_propagation", ["parameters", "cache", "X", "Y"], [p, cache, X, Y5])
    ref = R.cost_and_grads(R.shallow_net(p, "tanh"), X, Y5)
    names = ["dW1", "db1", "dW2", "db2"]
    actual = {k: array(entry(grads, k, "grads"), f"grads[{k!r}]") for k in names}
    result.add(
        "gradients",
        "gradient",
        records(actual, {k: ref[k] for k in names}, "gradient", m=M, inputs={"X": X.shape, "Y": Y5.shape}),
    )
    Z1 = p["W1"] @ X + p["b1"]
    A1 = np.tanh(Z1)
    dZ2 = _sigmoid(p["W2"] @ A1 + p["b2"]) - Y5

    def with_dZ1(dZ1: np.ndarray) -> dict:
        return {"dW1": dZ1 @ X.T / M, "db1": dZ1.sum(axis=1, keepdims=True) / M}

    back = p["W2"].T @ dZ2
    name_slip(
        result,
        actual,
        [
            ("tanh′ written as 1 − A1; it is 1 − A1² (np.power(A1, 2))", lambda: with_dZ1(back * (1 - A1))),
            ("dZ1 = W2ᵀ·dZ2 without the activation's derivative (1 − A1²)", lambda: with_dZ1(back)),
            (
                "σ′ = A1(1 − A1) for the hidden layer; tanh′ is 1 − A1²",
                lambda: with_dZ1(back * A1 * (1 - A1)),
            ),
            (
                "the derivative is computed from Z instead of A: tanh′ = 1 − A1² (np.power(A1, 2)), "
                "not 1 − Z1²",
                lambda: with_dZ1(back * (1 - Z1**2)),
            ),
        ],
        "gradient",
    )


def _broadcasts(a: np.ndarray, b: np.ndarray) -> bool:
    try:
        return np.broadcast_shapes(a.shape, b.shape) == a.shape
    except ValueError:
        return False


def updated(
    learner: Learner, result: FunctionResult, p: dict[str, np.ndarray], lr: float, rng: np.random.Generator
) -> None:
    """Check ``update_parameters`` on the parameters ``p``: torch's SGD step; name the slip."""
    grads = {"d" + k: rng.normal(0.0, 1.0, v.shape) for k, v in p.items()}
    out = learner.call_course("update_parameters", ["parameters", "grads", "learning_rate"], [p, grads, lr])
    ref = R.sgd_update(p, grads, lr)
    actual = {k: array(entry(out, k, "the returned parameters"), f"parameters[{k!r}]") for k in p}
    recs = records(actual, ref, "forward")
    for r in recs:
        if r.passed:
            continue
        k = r.name
        wrong_key = [
            g
            for g in grads
            if g != "d" + k
            and _broadcasts(p[k], grads[g])
            and matches(actual[k], p[k] - lr * grads[g], "forward")
        ]
        if wrong_key:
            r.diagnosis = f"{k} is updated with grads[{wrong_key[0]!r}]; its gradient is grads['d{k}']"
        elif actual[k].shape == p[k].shape and not np.any(actual[k] - p[k]):
            r.diagnosis = f"{k} is returned unchanged: its update is missing"
        elif actual[k].shape == p[k].shape:
            r.diagnosis = "its update is " + (
                diagnose(actual[k] - p[k], ref[k] - p[k], tol("forward"), learning_rate=lr) or "not −α·d" + k
            )
    result.add("update", "forward", recs)


def check_update_parameters(learner: Learner, result: FunctionResult) -> None:
    rng = np.random.default_rng(seed_for("shallow", "update"))
    updated(learner, result, params(rng, (N_X, N_H, N_Y)), LEARNING_RATE, rng)


def default_learning_rate(learner: Learner) -> tuple[float, str]:
    """The learning rate ``nn_model`` trains with: ``update_parameters``' default (the course's 1.2)."""
    fn = learner.functions.get("update_parameters")
    try:
        ps = inspect.signature(fn).parameters if fn else {}
        rate = ps.get("learning_rate") or (list(ps.values())[2] if len(ps) > 2 else None)
        default = rate.default if rate is not None else inspect.Parameter.empty
    except (TypeError, ValueError):
        default = inspect.Parameter.empty
    if isinstance(default, (int, float)) and not isinstance(default, bool) and default > 0:
        return float(default), "update_parameters' default"
    return COURSE_LEARNING_RATE, "the course's"


def rate_argument(fn: object) -> str | None:
    """The name of ``nn_model``'s learning-rate argument, if it takes one (``learning_rate``,
    ``alpha`` or ``lr``): the course's has none — its rate is ``update_parameters``' default
    1.2 — but learners add one."""
    try:
        ps = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return None
    return next((n for n in ("learning_rate", "alpha", "lr") if n in ps), None)


def check_nn_model(learner: Learner, result: FunctionResult) -> None:
    rng, X = data("nn_model", 9)
    Y = (X[:1] + 0.5 * X[1:2] > 0).astype(np.float64)  # (1, 9), learnable
    n_h = 5
    lr, whose = default_learning_rate(learner)
    names, values = ["X", "Y", "n_h", "num_iterations", "print_cost"], [X, Y, n_h, 0, False]
    rate = rate_argument(learner.functions["nn_model"])
    if rate is not None:  # nn_model(…, learning_rate=…): the same rate, passed in, whatever it does with it
        names.insert(4, rate)
        values.insert(4, lr)
        whose += f", passed as nn_model's {rate}"
    result.notes.append(f"trained with learning_rate={lr:g} ({whose}), {ITERATIONS} iterations, n_h={n_h}")

    def run(t: int) -> tuple[dict, object]:
        values[3] = t
        out = learner.call_course("nn_model", names, values, seed=seed_for("nn_model"))
        return parameters_and_costs(out, result)

    shapes = {"W1": (n_h, N_X), "b1": (n_h, 1), "W2": (1, n_h), "b2": (1, 1)}
    check_trajectory(
        result,
        run,
        lambda p: R.shallow_net(p, "tanh"),
        X,
        Y,
        lr,
        ITERATIONS,
        shapes,
        shape_hint=f" — nn_model must size the hidden layer by its argument n_h={n_h}",
    )


def check_predict(learner: Learner, result: FunctionResult) -> None:
    rng, X = data("predict", 9)
    p = params(rng, (N_X, N_H, N_Y))
    pred = array(learner.call_course("predict", ["parameters", "X"], [p, X]), "predictions")
    if pred.size and not np.isin(pred, (0, 1)).all():
        raise ContractError(
            "predictions holds values other than 0 and 1 (the probabilities A2?): "
            "threshold them, predictions = (A2 > 0.5)"
        )
    actual = {"predictions": pred.astype(np.float64)}
    result.add(
        "labels", "forward", records(actual, {"predictions": R.predict(R.shallow_net(p), X)}, "forward")
    )
    A2 = R.forward_values(R.shallow_net(p), X)["A2"]
    name_slip(
        result,
        actual,
        [("the comparison is reversed: 1 where A2 ≤ 0.5", lambda: {"predictions": 1.0 * (A2 <= 0.5)})],
        "forward",
    )
