"""Course part ``deep`` (building a deep network step by step, and its application), forward
half: the activation helpers and their backward steps, the initializers and the forward
functions. Sizes: ``layer_dims = [5, 4, 3, 1]``, ``m = 7``; ``Z`` holds exact zeros so ReLU's
branch at 0 is tested. The backward half is :mod:`parity_tests.course.deep_backward`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from parity_tests.course import references as R
from parity_tests.course.blame import is_course_cache, is_swapped_cache
from parity_tests.course.common import (
    ContractError,
    FunctionResult,
    Learner,
    array,
    entry,
    kind,
    matches,
    name_slip,
    records,
    unpack,
)
from parity_tests.course.shallow import params
from parity_tests.course.trainers import check_bias, check_weight, draw_order_note
from parity_tests.registry import seed_for
from parity_tests.tolerances import MOMENT_SE

DIMS = (5, 4, 3, 1)
M = 7
Y7 = np.array([[1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0]])
INIT_DIMS = [200, 300, 100, 3]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0)


G = {"sigmoid": _sigmoid, "relu": _relu}


def z_with_zeros(name: str, shape: tuple[int, int] = (4, 7)) -> np.ndarray:
    """Random ``Z`` with four entries exactly 0 (so a branch at 0 can be named)."""
    Z = np.random.default_rng(seed_for("deep", name)).normal(0.0, 2.0, shape)
    Z.flat[[0, 5, 11, 17]] = 0.0
    return Z


def pair(out: object, names: tuple[str, str], fn: str) -> tuple:
    """``(value, cache)`` as the course returns it; a swapped pair is named."""
    if isinstance(out, np.ndarray):
        raise ContractError(f"{fn} returned only {kind(out)}; the course returns ({', '.join(names)})")
    first, second = unpack(out, names, fn)
    if not isinstance(first, np.ndarray) and isinstance(second, np.ndarray):
        raise ContractError(
            f"{fn} returned ({names[1]}, {names[0]}); the course returns ({', '.join(names)})"
        )
    return first, second


def activation_cache_problem(cache: object, Z: np.ndarray, name: str, what: str = "its cache") -> str | None:
    """What is wrong with the cache ``name(Z)`` returned, against the course's (``Z`` itself);
    ``None`` when it is ``Z`` or of another form (which the learner's own backward may read)."""
    if not isinstance(cache, np.ndarray) or cache.shape != Z.shape or matches(cache, Z, "forward"):
        return None
    held = f"A = {name}(Z)" if matches(cache, G[name](Z), "forward") else "an array that is not Z"
    agrees = (
        " (relu_backward's mask Z ≤ 0 happens to agree on A, but the course's cache is Z)"
        if name == "relu" and held.startswith("A")
        else ""
    )
    return (
        f"{what} holds {held} instead of Z: {name}_backward reads its cache as Z — the course's "
        f"{name} returns (A, cache) with cache = Z{agrees}"
    )


def layer_cache_problem(cache: object, Z: np.ndarray, activation: str) -> str | None:
    """What is wrong with a ``linear_activation_forward`` cache against the course's
    ``(linear_cache, activation_cache) = ((A_prev, W, b), Z)``; ``None`` when nothing we know of."""
    if is_swapped_cache(cache):
        return (
            "its cache is (activation_cache, linear_cache); the course's is (linear_cache, "
            "activation_cache) = ((A_prev, W, b), Z), which linear_activation_backward unpacks "
            "as linear_cache, activation_cache = cache"
        )
    if is_course_cache(cache):
        return activation_cache_problem(cache[1], Z, activation, "its activation_cache (cache[1])")
    return None


def _check_activation(
    learner: Learner,
    result: FunctionResult,
    name: str,
    slips: list[tuple[str, Callable[[np.ndarray], np.ndarray]]],
) -> None:
    Z = z_with_zeros(name)
    A, cache = pair(learner.call(name, Z), ("A", "cache"), name)
    actual = {"A": array(A, "A")}
    result.add("A", "forward", records(actual, {"A": R.activation(Z, name)}, "forward", x={"A": Z}))
    swapped = ("returned (cache, A): its first value is Z itself; the course returns (A, cache)", lambda Z: Z)
    name_slip(result, actual, [(d, lambda f=f: {"A": f(Z)}) for d, f in [swapped, *slips]], "forward")
    problem = activation_cache_problem(cache, Z, name)
    if problem and result.passed:
        result.problems.append(problem)


def check_sigmoid(learner: Learner, result: FunctionResult) -> None:
    _check_activation(
        learner,
        result,
        "sigmoid",
        [
            ("σ(−Z): the sign in the exponent is flipped", lambda Z: 1 / (1 + np.exp(Z))),
            (
                "1 / 1 + np.exp(-Z) is 1 + e^(−Z): put the denominator in parentheses",
                lambda Z: 1 + np.exp(-Z),
            ),
        ],
    )


def check_relu(learner: Learner, result: FunctionResult) -> None:
    _check_activation(
        learner,
        result,
        "relu",
        [
            ("|Z| instead of max(0, Z)", np.abs),
            (
                "a leaky ReLU (a slope for Z < 0); the course's ReLU is max(0, Z)",
                lambda Z: np.maximum(0.01 * Z, Z),
            ),
        ],
    )


def _activation_cache(learner: Learner, name: str, Z: np.ndarray, result: FunctionResult) -> object:
    """The learner's own cache for ``Z`` (from their activation), else the course's: ``Z``. A cache
    that is the wrong array (``A``) is blamed on the activation's line, not on its reader."""
    if learner.has(name):
        try:
            cache = pair(learner.call(name, Z), ("A", "cache"), name)[1]
        except Exception:  # their activation is reported on its own line
            pass
        else:
            if activation_cache_problem(cache, Z, name) is None:
                return cache
            result.notes.append(f"run on the course's cache Z: {name}'s cache is not Z (see its line)")
            return Z
    result.notes.append(f"run on the course's cache Z (no working {name}(Z) -> (A, cache))")
    return Z


def _check_activation_backward(
    learner: Learner, result: FunctionResult, name: str, slips: list[tuple[str, Callable]]
) -> None:
    Z = z_with_zeros(name + "_backward")
    dA = np.random.default_rng(seed_for("deep", name, "dA")).normal(0.0, 1.0, Z.shape)
    cache = _activation_cache(learner, name, Z, result)
    dZ = array(learner.call(f"{name}_backward", dA, cache), "dZ")
    actual = {"dZ": dZ}
    result.add(
        "dZ", "gradient", records(actual, {"dZ": R.activation_backward(dA, Z, name)}, "gradient", x={"dZ": Z})
    )
    name_slip(result, actual, [(d, lambda f=f: {"dZ": f(dA, Z)}) for d, f in slips], "gradient")


def check_sigmoid_backward(learner: Learner, result: FunctionResult) -> None:
    s = _sigmoid
    _check_activation_backward(
        learner,
        result,
        "sigmoid",
        [
            ("dA is not multiplied in: dZ = dA * s * (1 − s)", lambda dA, Z: s(Z) * (1 - s(Z))),
            ("σ′ computed from Z instead of s = σ(Z): dZ = dA * s * (1 − s)", lambda dA, Z: dA * Z * (1 - Z)),
            ("dZ = dA * s: the factor (1 − s) is missing", lambda dA, Z: dA * s(Z)),
        ],
    )


def check_relu_backward(learner: Learner, result: FunctionResult) -> None:
    _check_activation_backward(
        learner,
        result,
        "relu",
        [
            ("dZ = 1[Z > 0] without dA: dZ = dA where Z > 0, else 0", lambda dA, Z: 1.0 * (Z > 0)),
            ("dA returned unchanged: the entries where Z ≤ 0 must be set to 0", lambda dA, Z: dA),
            ("the mask is inverted: dA kept where Z ≤ 0", lambda dA, Z: dA * (Z <= 0)),
            (
                "the mask is applied on dA instead of Z: dZ[Z <= 0] = 0 (ReLU′ depends on the sign of Z)",
                lambda dA, Z: dA * (dA > 0),
            ),
        ],
    )


def init_scales(fan_in: int) -> dict[str, float]:
    """The standard deviations the course draws a weight ``W[l] (n[l], n[l−1])`` with, by name:
    ``× 0.01`` (step by step), ``1/√n[l−1]`` (Xavier; the application's ``dnn_app_utils_v3``)
    and He's ``√(2/n[l−1])`` — each from the fan-in ``n[l−1]``.

    Example:
        >>> {k: round(v, 4) for k, v in init_scales(200).items()}
        {'0.01': 0.01, '1/√n[l−1]': 0.0707, '√(2/n[l−1]) (He)': 0.1}
    """
    return {"0.01": 0.01, "1/√n[l−1]": 1 / math.sqrt(fan_in), "√(2/n[l−1]) (He)": math.sqrt(2 / fan_in)}


def fan_out_slip(W: np.ndarray, fan_out: int) -> str | None:
    """The fix, when ``W``'s standard deviation is a scale computed from the layer's own size
    ``n[l]`` (the fan-out) instead of its input's ``n[l−1]`` — within the policy's limit for the
    std of ``W.size`` draws (:data:`~parity_tests.tolerances.MOMENT_SE`)."""
    w = np.asarray(W, dtype=np.float64).ravel()
    s = float(w.std())
    for sigma, fix in (
        (
            math.sqrt(2 / fan_out),
            "the weights are scaled by √(2/n[l]) (fan-out); He uses "
            "√(2/n[l−1]), the fan-in: * np.sqrt(2 / layer_dims[l - 1])",
        ),
        (
            1 / math.sqrt(fan_out),
            "the weights are scaled by 1/√n[l] (fan-out); Xavier (and "
            "the course's application) uses 1/√n[l−1], the fan-in: "
            "/ np.sqrt(layer_dims[l - 1])",
        ),
    ):
        if abs(s - sigma) <= MOMENT_SE * sigma / math.sqrt(2 * w.size):
            return fix
    return None


def check_initialize_parameters_deep(learner: Learner, result: FunctionResult) -> None:
    dims = INIT_DIMS
    p = learner.call("initialize_parameters_deep", list(dims), seed=seed_for("init_deep"))
    L = len(dims) - 1
    want = {f"{c}{layer}" for layer in range(1, L + 1) for c in "Wb"}
    if isinstance(p, dict) and set(p) != want:
        missing, extra = sorted(want - set(p)), sorted(set(p) - want)
        raise ContractError(
            f"parameters has keys {sorted(p)}: missing {missing}, unexpected {extra} — "
            f"layer_dims of length {L + 1} means L = {L} layers (W1 … W{L}), "
            "for l in range(1, L)"
        )
    labels, fan_out = [], []
    for layer in range(1, L + 1):
        W = entry(p, f"W{layer}", "parameters")
        label = check_weight(
            result, f"W{layer}", W, (dims[layer], dims[layer - 1]), init_scales(dims[layer - 1])
        )
        labels.append(label)
        if label is not None and not result.checks[-1].passed:
            fan_out.append(fan_out_slip(W, dims[layer]))
        check_bias(result, f"b{layer}", entry(p, f"b{layer}", "parameters"), dims[layer])
    if fan_out and fan_out[0]:
        result.problems.append(fan_out[0])
    elif None not in labels and len(set(labels)) > 1:
        result.problems.append(f"the layers use different scales: {labels}")

    def draw(seed: int, label: str | None = labels[0] if labels else None) -> dict[str, np.ndarray]:
        state = np.random.get_state()
        np.random.seed(seed)
        try:
            return {
                f"W{layer}": np.random.randn(dims[layer], dims[layer - 1])
                * init_scales(dims[layer - 1]).get(label, 0.01)
                for layer in range(1, L + 1)
            }
        finally:
            np.random.set_state(state)

    draw_order_note(
        result,
        lambda s: learner.call("initialize_parameters_deep", list(dims), seed=s),
        draw,
        "initialize_parameters_deep",
    )


def layer_data(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``A_prev (5, 7)``, ``W (4, 5)``, ``b (4, 1)``."""
    rng = np.random.default_rng(seed_for("deep", name))
    return rng.normal(0.0, 1.0, (5, M)), rng.normal(0.0, 0.8, (4, 5)), rng.normal(0.0, 0.5, (4, 1))


def check_linear_forward(learner: Learner, result: FunctionResult) -> None:
    A, W, b = layer_data("linear_forward")
    Z, _ = pair(
        learner.call_course("linear_forward", ["A", "W", "b"], [A, W, b]), ("Z", "cache"), "linear_forward"
    )
    actual = {"Z": array(Z, "Z")}
    ref = R.linear_activation(A, W, b, None)["Z"]
    result.add("Z", "forward", records(actual, {"Z": ref}, "forward", m=M))
    name_slip(
        result,
        actual,
        [
            ("Z = W·A without + b", lambda: {"Z": W @ A}),
            ("Z = W·A − b: the bias is subtracted", lambda: {"Z": W @ A - b}),
        ],
        "forward",
    )


def check_linear_activation_forward(learner: Learner, result: FunctionResult) -> None:
    A_prev, W, b = layer_data("linear_activation_forward")
    Z = W @ A_prev + b
    for act, other in (("sigmoid", "relu"), ("relu", "sigmoid")):
        out = learner.call_course(
            "linear_activation_forward", ["A_prev", "W", "b", "activation"], [A_prev, W, b, act]
        )
        A, cache = pair(out, ("A", "cache"), "linear_activation_forward")
        actual = {f"A ({act})": array(A, "A")}
        ref = R.linear_activation(A_prev, W, b, act)["A"]
        result.add(act, "forward", records(actual, {f"A ({act})": ref}, "forward", m=M))
        name_slip(
            result,
            actual,
            [
                (f"activation={act!r} applies {other}", lambda o=other, a=act: {f"A ({a})": G[o](Z)}),
                ("no activation is applied: A = Z", lambda a=act: {f"A ({a})": Z}),
            ],
            "forward",
        )
        problem = layer_cache_problem(cache, Z, act)
        if problem and result.passed:
            result.problems.append(
                problem if problem.startswith("its cache is (") else f"activation={act!r}: {problem}"
            )


def caches_problem(caches: object, X: np.ndarray, p: dict[str, np.ndarray]) -> str | None:
    """The first layer cache of ``L_model_forward``'s ``caches`` that is not the course's (see
    :func:`layer_cache_problem`), as a sentence; ``None`` when none is known to be wrong."""
    if not isinstance(caches, (list, tuple)):
        return None
    ref = R.forward_values(R.deep_net(p), X)
    L = len(DIMS) - 1
    for layer, cache in enumerate(caches[:L], start=1):
        problem = layer_cache_problem(cache, ref[f"Z{layer}"], "sigmoid" if layer == L else "relu")
        if problem:
            return f"caches[{layer - 1}] (layer {layer}): {problem}"
    return None


def check_L_model_forward(learner: Learner, result: FunctionResult) -> None:
    rng = np.random.default_rng(seed_for("deep", "L_model_forward"))
    X = rng.normal(0.0, 1.0, (DIMS[0], M))
    p = params(rng, DIMS)
    AL, caches = unpack(
        learner.call_course("L_model_forward", ["X", "parameters"], [X, p]),
        ("AL", "caches"),
        "L_model_forward",
    )
    actual = {"AL": array(AL, "AL")}
    result.add(
        "AL", "forward", records(actual, {"AL": R.forward_values(R.deep_net(p), X)["A3"]}, "forward", m=M)
    )
    L = len(DIMS) - 1
    if isinstance(caches, (list, tuple)) and len(caches) != L:
        result.problems.append(
            f"caches holds {len(caches)} entries; a network of L = {L} layers needs "
            f"{L} (one per layer: append every linear_activation_forward cache)"
        )
    elif result.passed and (problem := caches_problem(caches, X, p)):
        result.problems.append(problem)

    def net(hidden: Callable, out: Callable) -> dict:
        A = X
        for layer in range(1, L + 1):
            A = (out if layer == L else hidden)(p[f"W{layer}"] @ A + p[f"b{layer}"])
        return {"AL": A}

    name_slip(
        result,
        actual,
        [
            (
                "σ in the hidden layers; the course's are ReLU ([LINEAR -> RELU] × (L−1) -> LINEAR "
                "-> SIGMOID)",
                lambda: net(_sigmoid, _sigmoid),
            ),
            ("ReLU at the output layer; the course's is σ", lambda: net(_relu, _relu)),
        ],
        "forward",
    )
