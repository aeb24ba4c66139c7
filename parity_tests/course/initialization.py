"""Course part ``init`` (course 2, week 1: the "Initialization" notebook):
``initialize_parameters_zeros``, ``initialize_parameters_random`` (``randn · 10`` after
``np.random.seed(3)``), ``initialize_parameters_he`` (``randn · √(2/n[l−1])`` after
``np.random.seed(3)``) and ``model``, which trains the notebook's LINEAR→RELU→LINEAR→RELU→
LINEAR→SIGMOID network with the helpers of its ``init_utils`` module.

Initializers: the keys ``W1 … WL, b1 … bL``, the shapes ``(n[l], n[l−1])`` and ``(n[l], 1)``, zero
biases, and the weights' scale and normality at the policy's statistical limits
(:func:`~parity_tests.course.trainers.check_weight`, sizes ``[200, 300, 100, 3]`` so a scale
from the fan-out ``n[l]`` shows), then whether the values are the course's draws (same seed,
same order). ``model``: a short trajectory (``initialization="he"``) against ``torch.optim.SGD``
from the learner's own start (:func:`~parity_tests.course.trainers.check_trajectory`); it returns
the parameters only (the notebook plots its costs inside), so only they are compared.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from parity_tests.compare import compare
from parity_tests.course import references as R
from parity_tests.course.common import (
    ContractError,
    FunctionResult,
    Learner,
    array,
    entry,
    returned,
)
from parity_tests.course.deep import INIT_DIMS, fan_out_slip
from parity_tests.course.trainers import check_bias, check_trajectory, check_weight, draw_order_note
from parity_tests.registry import seed_for
from parity_tests.tolerances import EXACT, MOMENT_SE

RANDOM_SCALE = 10.0
"""The notebook's "random" initialization: ``np.random.randn(n[l], n[l−1]) * 10``, deliberately large."""
SEED = 3
"""The notebook seeds NumPy's global generator with 3 in every initializer."""
MODEL_DIMS = (2, 10, 5, 1)  # the notebook's layers_dims = [X.shape[0], 10, 5, 1]
M = 9
LEARNING_RATE = 0.05
ITERATIONS = 201


def _he(fan_in: int) -> float:
    return math.sqrt(2 / fan_in)


SCALES: dict[str, Callable[[int], float]] = {
    "initialize_parameters_random": lambda fan_in: RANDOM_SCALE,
    "initialize_parameters_he": _he,
}
LABELS = {"initialize_parameters_random": "10", "initialize_parameters_he": "√(2/n[l−1]) (He)"}
DRAWN = {
    "initialize_parameters_random": "* 10",
    "initialize_parameters_he": "* np.sqrt(2. / layers_dims[l - 1])",
}


NEVER = {"W1": np.full(1, np.nan)}  # draws no learner's values equal: the notebook seeds only with 3


def course_draws(name: str, dims: list[int], seed: int = SEED) -> dict[str, np.ndarray]:
    """The weights the notebook's ``name`` draws after ``np.random.seed(seed)``: ``W1, W2, …`` in
    order, each ``np.random.randn(n[l], n[l−1])`` times its scale (the biases draw nothing).

    Example:
        >>> W = course_draws("initialize_parameters_he", [2, 4, 1])
        >>> [round(float(v), 8) for v in W["W2"].ravel()]  # the notebook's printed W2
        [-0.03098412, -0.33744411, -0.92904268, 0.62552248]
    """
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        return {
            f"W{layer}": np.random.randn(dims[layer], dims[layer - 1]) * SCALES[name](dims[layer - 1])
            for layer in range(1, len(dims))
        }
    finally:
        np.random.set_state(state)


def _keys(p: object, dims: list[int]) -> None:
    """A :class:`ContractError` naming missing and unexpected keys of ``parameters``."""
    L = len(dims) - 1
    want = {f"{c}{layer}" for layer in range(1, L + 1) for c in "Wb"}
    if isinstance(p, Mapping) and set(p) != want:
        missing, extra = sorted(want - set(p)), sorted(set(p) - want)
        raise ContractError(
            f"parameters has keys {sorted(map(str, p))}: missing {missing}, unexpected "
            f"{extra} — layers_dims of length {L + 1} means L = {L} layers (W1 … W{L})"
        )


def _parameters(learner: Learner, name: str, dims: list[int], seed: int | None = None) -> Mapping:
    p = returned(learner.call_course(name, ["layers_dims"], [list(dims)], seed=seed), name, "parameters")
    _keys(p, dims)
    return p


def check_initialize_parameters_zeros(learner: Learner, result: FunctionResult) -> None:
    dims = [5, 4, 3, 1]
    p = _parameters(learner, "initialize_parameters_zeros", dims)
    for layer in range(1, len(dims)):
        W = array(entry(p, f"W{layer}", "parameters"), f"W{layer}")
        rec = compare(f"W{layer}", W, np.zeros((dims[layer], dims[layer - 1])), EXACT)
        if not rec.passed and W.shape == (dims[layer], dims[layer - 1]):
            rec.diagnosis = (
                "not all zeros: initialize_parameters_zeros sets every weight to 0 — "
                "np.zeros((layers_dims[l], layers_dims[l - 1]))"
            )
        result.add(f"W{layer}", "property", [rec])
        check_bias(result, f"b{layer}", entry(p, f"b{layer}", "parameters"), dims[layer])


def _scale_slip(W: np.ndarray, name: str, fan_in: int, fan_out: int) -> str | None:
    """The scale the learner's ``W`` follows when it is not the notebook's, named with the fix."""
    w = np.asarray(W, dtype=np.float64).ravel()
    s = float(w.std())
    scale = DRAWN[name]
    candidates = [
        (1.0, f"std {s:.4g}: the scale ({scale}) is missing"),
        (0.01, f"std {s:.4g}: scaled by 0.01 (the week-3/4 initialization); this notebook's is {scale}"),
    ]
    if name == "initialize_parameters_he":
        candidates.append(
            (
                1 / math.sqrt(fan_in),
                "scaled by 1/√n[l−1] (Xavier); He's is √(2/n[l−1]): * np.sqrt(2. / layers_dims[l - 1])",
            )
        )
    for sigma, text in candidates:
        if abs(s - sigma) <= MOMENT_SE * sigma / math.sqrt(2 * w.size):
            return text
    if name == "initialize_parameters_he" and (fix := fan_out_slip(W, fan_out)):
        return fix.replace("layer_dims", "layers_dims")
    return None


def _check_random_initializer(learner: Learner, result: FunctionResult, name: str) -> None:
    dims = list(INIT_DIMS)
    p = _parameters(learner, name, dims, seed=seed_for(name))
    scale = SCALES[name]
    for layer in range(1, len(dims)):
        W = entry(p, f"W{layer}", "parameters")
        before = len(result.problems)
        label = check_weight(
            result, f"W{layer}", W, (dims[layer], dims[layer - 1]), {LABELS[name]: scale(dims[layer - 1])}
        )
        fix = f"np.random.randn(n[l], n[l-1]) {DRAWN[name]}"  # check_weight's hint names week 3's 0.01
        result.problems[before:] = [
            q.replace("np.random.randn(n[l], n[l-1]) * 0.01", fix) for q in result.problems[before:]
        ]
        if label is not None and not result.checks[-1].passed and not result.slip:
            result.slip = _scale_slip(array(W, f"W{layer}"), name, dims[layer - 1], dims[layer])
        check_bias(result, f"b{layer}", entry(p, f"b{layer}", "parameters"), dims[layer])
    draw_order_note(
        result,
        lambda s: learner.call_course(name, ["layers_dims"], [list(dims)], seed=s),
        lambda s: course_draws(name, dims) if s == SEED else NEVER,
        name,
    )


def check_initialize_parameters_random(learner: Learner, result: FunctionResult) -> None:
    _check_random_initializer(learner, result, "initialize_parameters_random")


def check_initialize_parameters_he(learner: Learner, result: FunctionResult) -> None:
    _check_random_initializer(learner, result, "initialize_parameters_he")


def model_data() -> tuple[np.ndarray, np.ndarray]:
    """``X (2, 9)`` and labels ``Y (1, 9)`` of both classes (the notebook's data are 2-D points)."""
    X = np.random.default_rng(seed_for("init", "model")).normal(0.0, 1.0, (MODEL_DIMS[0], M))
    return X, (X[:1] * X[1:2] > 0).astype(np.float64)


def check_model(learner: Learner, result: FunctionResult) -> None:
    X, Y = model_data()
    args = ["X", "Y", "learning_rate", "num_iterations", "print_cost", "initialization"]

    def run(t: int) -> tuple[object, None]:
        out = learner.call_course("model", args, [X, Y, LEARNING_RATE, t, True, "he"], seed=seed_for("model"))
        if isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], Mapping):
            return out[0], None  # (parameters, costs): compare the parameters
        return returned(out, "model", "parameters"), None

    shapes = {
        f"{c}{layer}": (MODEL_DIMS[layer], MODEL_DIMS[layer - 1] if c == "W" else 1)
        for layer in range(1, len(MODEL_DIMS))
        for c in "Wb"
    }
    result.notes.append(
        'trained with initialization="he"; model returns the parameters only (the '
        "notebook plots its costs inside), so only they are compared"
    )
    check_trajectory(
        result,
        run,
        R.deep_net,
        X,
        Y,
        LEARNING_RATE,
        ITERATIONS,
        shapes,
        shape_hint=" — model builds layers_dims = [X.shape[0], 10, 5, 1]",
    )
    result.notes = [n for n in result.notes if not n.startswith("it returns no costs")]
