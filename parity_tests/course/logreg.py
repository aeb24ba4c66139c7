"""Course part ``logreg`` (logistic regression with a neural-network mindset): how each
function is checked. Sizes are distinct and non-square (``n_x = 4``, ``m = 7``, a test set of
``5``) so a transpose or a lost ``1/m`` cannot hide; references come from
:mod:`parity_tests.course.references` (torch).
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
    float_dtype,
    kind,
    name_slip,
    number,
    records,
    unpack,
)
from parity_tests.course.trainers import check_trajectory
from parity_tests.registry import seed_for
from parity_tests.tolerances import EXACT

N_X, M, M_TEST = 4, 7, 5
LEARNING_RATE = 0.05  # 1/α = 20 stays clear of m = 7 in a diagnosis
ITERATIONS = 201  # the costs of iterations 0, 100 and 200
Y_TRAIN = np.array([[1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0]])  # (1, m): both classes


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def data(name: str) -> dict[str, np.ndarray | float]:
    rng = np.random.default_rng(seed_for("logreg", name))
    return {
        "w": rng.normal(0.0, 0.5, (N_X, 1)),
        "b": 0.3,
        "X": rng.normal(0.0, 1.0, (N_X, M)),
        "Y": Y_TRAIN.copy(),
        "X_test": rng.normal(0.0, 1.0, (N_X, M_TEST)),
    }


def cost_slips(A: np.ndarray, Y: np.ndarray, key: str = "cost") -> list:
    m = Y.shape[1]
    return [
        (
            "only the y·log(a) term: the (1 − y)·log(1 − a) term of the loss is missing",
            lambda: {key: -np.sum(Y * np.log(A)) / m},
        ),
        (
            "log(1 − a) is not multiplied by (1 − y)",
            lambda: {key: -np.sum(Y * np.log(A) + np.log(1 - A)) / m},
        ),
    ]


def check_sigmoid(learner: Learner, result: FunctionResult) -> None:
    z = np.random.default_rng(seed_for("logreg", "sigmoid")).normal(0.0, 3.0, (3, 5))
    s = array(learner.call("sigmoid", z), "the returned s")
    float_dtype(s, "s", result, "1 / (1 + np.exp(-z))")
    result.add("s", "forward", records({"s": s}, {"s": R.activation(z, "sigmoid")}, "forward", x={"s": z}))
    name_slip(
        result,
        {"s": s},
        [
            (
                "σ(−z): the sign in the exponent is flipped (np.exp(z) instead of np.exp(-z))",
                lambda: {"s": 1 / (1 + np.exp(z))},
            ),
            (
                "1 / 1 + np.exp(-z) is 1 + e^(−z): put the denominator in parentheses",
                lambda: {"s": 1 + np.exp(-z)},
            ),
            ("tanh(z) instead of σ(z)", lambda: {"s": np.tanh(z)}),
        ],
        "forward",
    )


def check_initialize_with_zeros(learner: Learner, result: FunctionResult) -> None:
    out = learner.call("initialize_with_zeros", N_X)
    w, b = unpack(out, ("w", "b"), "initialize_with_zeros")
    w = array(w, "w")
    rec = compare("w", w, np.zeros((N_X, 1)), EXACT)
    float_dtype(w, "w", result, "np.zeros((dim, 1))")
    version = optimize_version(learner)
    if isinstance(b, np.ndarray):
        result.problems.append(f"b is {kind(b)}; the course's b is the number 0.0 (b = 0.), a float")
    elif type(b) is int and (version is None or version[0] == "2017"):
        result.notes.append(
            "b = 0 is an int: the 2017–2020 version's contract (its assert took a float "
            "or an int); from 2021 the course asks for the float b = 0."
        )
    elif not isinstance(b, float):
        why = (
            f" — this file's {version[1]} is the 2021 version's, whose test asks type(b) == float"
            if version and type(b) is int
            else ""
        )
        result.problems.append(f"b is {kind(b)}; the course's b is a float: b = 0. (not 0){why}")
    b_rec = compare("b", array(b, "b").reshape(-1)[:1], np.zeros(1), EXACT)
    result.add("zeros", "property", [rec, b_rec])


def optimize_version(learner: Learner) -> tuple[str, str] | None:
    """The course version the learner's ``optimize`` signature is from, and the signature shown:
    ``("2017", …)`` for ``optimize(w, b, X, Y, num_iterations, learning_rate, print_cost=False)``
    (2017–2020: no defaults), ``("2021", …)`` for ``num_iterations=100, learning_rate=0.009``
    defaults (2021 on); ``None`` without an ``optimize`` (or one that tells neither)."""
    fn = learner.functions.get("optimize")
    try:
        params = list(inspect.signature(fn).parameters.values()) if fn else []
    except (TypeError, ValueError):
        return None
    by_name = {p.name: p for p in params}
    found = [
        by_name.get(n) or (params[i] if len(params) > i else None)
        for n, i in (("num_iterations", 4), ("learning_rate", 5))
    ]
    if any(p is None for p in found):
        return None
    defaults = [p.default for p in found]
    if all(d is inspect.Parameter.empty for d in defaults):
        return "2017", "optimize(w, b, X, Y, num_iterations, learning_rate, …) without defaults"
    if all(d is not inspect.Parameter.empty for d in defaults):
        return "2021", f"optimize(…, num_iterations={defaults[0]!r}, learning_rate={defaults[1]!r}, …)"
    return None


def b_is_int(learner: Learner) -> bool:
    """The learner's ``initialize_with_zeros`` returns ``b = 0`` as an int (the 2017–2020 form)."""
    if not learner.has("initialize_with_zeros"):
        return False
    try:
        out = learner.call("initialize_with_zeros", N_X)
    except Exception:  # its own check reports it
        return False
    return isinstance(out, tuple) and len(out) == 2 and type(out[1]) is int


def check_propagate(learner: Learner, result: FunctionResult) -> None:
    d = data("propagate")
    w, b, X, Y = d["w"], d["b"], d["X"], d["Y"]
    out = learner.call_course("propagate", ["w", "b", "X", "Y"], [w, b, X, Y])
    grads, cost = unpack(out, ("grads", "cost"), "propagate")
    if isinstance(cost, Mapping) and not isinstance(grads, Mapping):
        raise ContractError("propagate returned (cost, grads); the course returns (grads, cost)")
    dw = array(entry(grads, "dw", "grads"), "grads['dw']")
    db = array(entry(grads, "db", "grads"), "grads['db']")
    db = db.reshape(()) if db.size == 1 else db
    ref = R.logreg_propagate(w, b, X, Y)
    actual = {"cost": number(cost, "the returned cost", result), "dw": dw, "db": db}
    result.add("cost", "forward", records(actual, {"cost": ref["cost"]}, "forward", m=M))
    result.add(
        "gradients",
        "gradient",
        records(actual, {"dw": ref["dw"], "db": np.asarray(ref["db"])}, "gradient", m=M),
    )
    name_slip(result, actual, cost_slips(ref["A"], Y), "forward")


def _params(p: object, fn: str) -> dict[str, np.ndarray]:
    """``{"w", "b"}`` with a number ``b`` as the ``(1, 1)`` array of the converter."""
    w = entry(p, "w", f"{fn}'s params")
    b = array(entry(p, "b", f"{fn}'s params"), f"{fn}'s params['b']")
    return {"w": w, "b": b.reshape(1, 1) if b.size == 1 else b}


def check_optimize(learner: Learner, result: FunctionResult) -> None:
    d = data("optimize")
    w, b, X, Y = d["w"], d["b"], d["X"], d["Y"]
    names = ["w", "b", "X", "Y", "num_iterations", "learning_rate", "print_cost"]

    def run(t: int) -> tuple[dict, object]:
        out = learner.call_course("optimize", names, [w, b, X, Y, t, LEARNING_RATE, False])
        params, _, costs = unpack(out, ("params", "grads", "costs"), "optimize")
        return _params(params, "optimize"), costs

    check_trajectory(
        result,
        run,
        R.logreg_net,
        X,
        Y,
        LEARNING_RATE,
        ITERATIONS,
        {"w": (N_X, 1), "b": (1, 1)},
        start={"w": w, "b": np.full((1, 1), b)},
    )


def check_predict(learner: Learner, result: FunctionResult) -> None:
    d = data("predict")
    w, X = d["w"], d["X"]
    b = 0.25 - float((w.T @ X)[0, 1])  # z = 0.25 for example 1: above ½ as z, below as σ(z)
    pred = array(learner.call_course("predict", ["w", "b", "X"], [w, b, X]), "Y_prediction")
    float_dtype(pred, "Y_prediction", result, "Y_prediction = np.zeros((1, m)), then 0. or 1.")
    actual = {"Y_prediction": pred}
    expected = {"Y_prediction": R.predict(R.logreg_net({"w": w, "b": b}), X)}
    result.add("labels", "forward", records(actual, expected, "forward"))
    z = w.T @ X + b
    name_slip(
        result,
        actual,
        [
            ("thresholds z = wᵀX + b instead of A = σ(z) at 0.5", lambda: {"Y_prediction": 1.0 * (z > 0.5)}),
            (
                "the comparison is reversed: 1 where A ≤ 0.5",
                lambda: {"Y_prediction": 1.0 * (_sigmoid(z) <= 0.5)},
            ),
        ],
        "forward",
    )


def check_model(learner: Learner, result: FunctionResult) -> None:
    d = data("model")
    X, Y, X_test = d["X"], d["Y"], d["X_test"]
    Y_test = np.array([[0.0, 1.0, 1.0, 0.0, 1.0]])
    names = ["X_train", "Y_train", "X_test", "Y_test", "num_iterations", "learning_rate", "print_cost"]
    last: dict[str, object] = {}

    def run(t: int) -> tuple[dict, object]:
        out = learner.call_course("model", names, [X, Y, X_test, Y_test, t, LEARNING_RATE, False])
        costs = entry(out, "costs", "the returned d")
        if t == ITERATIONS:
            last["d"] = out
        return _params(out, "model"), costs

    check_trajectory(
        result,
        run,
        R.logreg_net,
        X,
        Y,
        LEARNING_RATE,
        ITERATIONS,
        {"w": (N_X, 1), "b": (1, 1)},
        start={"w": np.zeros((N_X, 1)), "b": np.zeros((1, 1))},
    )
    if "d" not in last:
        return
    params = _params(last["d"], "model")
    net = R.logreg_net(params)
    expected = {"Y_prediction_train": R.predict(net, X), "Y_prediction_test": R.predict(net, X_test)}
    actual = {k: array(entry(last["d"], k, "the returned d"), f"d[{k!r}]") for k in expected}
    for k, a in actual.items():
        float_dtype(a, f"d[{k!r}]", result, "predict's Y_prediction")
    result.add("predictions", "forward", records(actual, expected, "forward"))
    name_slip(
        result,
        actual,
        [
            (
                "Y_prediction_test holds the training set's predictions (predict on X_train)",
                lambda: {"Y_prediction_test": expected["Y_prediction_train"]},
            )
        ],
        "forward",
    )
