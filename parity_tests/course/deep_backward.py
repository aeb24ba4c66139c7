"""Course part ``deep``, backward half: ``linear_backward``, ``linear_activation_backward`` and
``L_model_backward`` — each run on the learner's *own* forward caches (their cache format is
theirs) and compared with autograd — then ``update_parameters`` and the two training functions.

The course's convention: ``dA``, ``dZ`` and ``dA_prev`` are per example (``dAL = −(Y/AL −
(1−Y)/(1−AL))``, no ``1/m``); ``dW = 1/m dZ A_prevᵀ`` and ``db = 1/m Σ dZ`` are gradients of the
cost ``J``. The references scale autograd's results accordingly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import numpy as np

from parity_tests.course import references as R
from parity_tests.course.common import (
    ContractError,
    FunctionResult,
    Learner,
    LearnerError,
    array,
    entry,
    matches,
    name_slip,
    records,
    unpack,
)
from parity_tests.course.deep import DIMS, Y7, G, M, caches_problem, layer_cache_problem, layer_data, pair
from parity_tests.course.shallow import params, updated
from parity_tests.course.trainers import check_trajectory, parameters_and_costs
from parity_tests.registry import seed_for

LEARNING_RATE = 0.05
ITERATIONS = 201
GRADS = ("dA_prev", "dW", "db")
HIDDEN_SIGMOID = (
    "σ′ in the hidden layers: the hidden layers use the output activation's backward "
    "(sigmoid_backward); the course's hidden layers are ReLU (relu_backward)"
)
"""Seen in a learner's ``L_model_backward``; it shows only with hidden layers ≥ 2 units wide."""


def _d(name: str, Z: np.ndarray) -> np.ndarray:
    """``g′(Z)`` for the slips (hypotheses, not references)."""
    s = 1 / (1 + np.exp(-Z))
    return s * (1 - s) if name == "sigmoid" else 1.0 * (Z > 0)


def _linear_grads(dZ: np.ndarray, A_prev: np.ndarray, W: np.ndarray) -> dict[str, np.ndarray]:
    m = A_prev.shape[1]
    return {"dA_prev": W.T @ dZ, "dW": dZ @ A_prev.T / m, "db": dZ.sum(axis=1, keepdims=True) / m}


def _own_cache(
    learner: Learner, fn: str, names: list[str], values: list, result: FunctionResult, course: object
) -> object:
    """The cache the learner's own forward ``fn`` returns, else the course's format ``course``."""
    if learner.has(fn):
        try:
            return pair(learner.call_course(fn, names, values), ("Z", "cache"), fn)[1]
        except Exception:  # their forward is reported on its own line
            pass
    result.notes.append(f"run on the course's cache format (no working {fn})")
    return course


def squeezed_bias(recs: list, raw: Mapping[str, object]) -> None:
    """Name a ``db`` returned as one number (``np.squeeze(np.sum(dZ)) / m``): the course keeps it
    ``(n[l], 1)``, like ``b``."""
    for r in recs:
        v = raw.get(r.name)
        if r.name.startswith("db") and not r.passed and np.ndim(v) == 0 and len(r.shape_expected) == 2:
            what = "a 0-d array" if isinstance(v, np.ndarray) else f"a scalar ({type(v).__name__})"
            what = "a scalar (float)" if isinstance(v, float) else what
            r.diagnosis = (
                f"{what} where the course's db has shape (n[l], 1) = {tuple(r.shape_expected)}: "
                "db = 1/m · np.sum(dZ, axis=1, keepdims=True)"
            )


def check_linear_backward(learner: Learner, result: FunctionResult) -> None:
    A_prev, W, b = layer_data("linear_backward")
    dZ = np.random.default_rng(seed_for("deep", "dZ")).normal(0.0, 1.0, (4, M))
    cache = _own_cache(learner, "linear_forward", ["A", "W", "b"], [A_prev, W, b], result, (A_prev, W, b))
    out = unpack(
        learner.call_course("linear_backward", ["dZ", "cache"], [dZ, cache]), GRADS, "linear_backward"
    )
    actual = {k: array(v, k) for k, v in zip(GRADS, out)}
    ref = R.linear_activation(A_prev, W, b, None, dA=dZ)
    recs = records(
        actual, {k: ref[k] for k in GRADS}, "gradient", m=M, inputs={"A_prev": A_prev.shape, "dZ": dZ.shape}
    )
    squeezed_bias(recs, dict(zip(GRADS, out)))
    result.add("gradients", "gradient", recs)


def check_linear_activation_backward(learner: Learner, result: FunctionResult) -> None:
    A_prev, W, b = layer_data("linear_activation_backward")
    Z = W @ A_prev + b
    dA = np.random.default_rng(seed_for("deep", "dA")).normal(0.0, 1.0, (4, M))
    for act, other in (("sigmoid", "relu"), ("relu", "sigmoid")):
        cache = _own_cache(
            learner,
            "linear_activation_forward",
            ["A_prev", "W", "b", "activation"],
            [A_prev, W, b, act],
            result,
            ((A_prev, W, b), Z),
        )
        if layer_cache_problem(cache, Z, act):  # blamed on linear_activation_forward's line, not here
            result.notes.append(
                f"run on the course's cache ((A_prev, W, b), Z) for {act!r}: "
                "linear_activation_forward's is not (see its line)"
            )
            cache = ((A_prev, W, b), Z)
        out = unpack(
            learner.call_course(
                "linear_activation_backward", ["dA", "cache", "activation"], [dA, cache, act]
            ),
            GRADS,
            "linear_activation_backward",
        )
        actual = {f"{k} ({act})": array(v, k) for k, v in zip(GRADS, out)}
        ref = R.linear_activation(A_prev, W, b, act, dA=dA)
        recs = records(
            actual,
            {f"{k} ({act})": ref[k] for k in GRADS},
            "gradient",
            m=M,
            inputs={"A_prev": A_prev.shape, "dA": dA.shape},
        )
        squeezed_bias(recs, {f"{k} ({act})": v for k, v in zip(GRADS, out)})
        result.add(act, "gradient", recs)

        def slip(dZ: np.ndarray, a: str = act) -> dict[str, np.ndarray]:
            return {f"{k} ({a})": v for k, v in _linear_grads(dZ, A_prev, W).items()}

        name_slip(
            result,
            actual,
            [
                (
                    "dA is used as dZ: the activation's backward step (relu_backward / sigmoid_backward) is "
                    "missing",
                    lambda: slip(dA),
                ),
                (f"activation={act!r} uses {other}'s derivative", lambda o=other: slip(dA * _d(o, Z))),
                (
                    "the ReLU mask is applied on dA instead of Z: dZ = dA where Z > 0, else 0",
                    lambda: slip(dA * (dA > 0)),
                ),
            ],
            "gradient",
        )


def _course_caches(X: np.ndarray, p: Mapping[str, np.ndarray]) -> tuple[np.ndarray, list]:
    ref = R.forward_values(R.deep_net(p), X)
    L = len(DIMS) - 1
    A = {0: X, **{int(k[1:]): v for k, v in ref.items() if k.startswith("A")}}
    caches = [((A[layer - 1], p[f"W{layer}"], p[f"b{layer}"]), ref[f"Z{layer}"]) for layer in range(1, L + 1)]
    return ref[f"A{L}"], caches


def _backprop(
    p: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray, hidden: str, out: str
) -> dict[str, np.ndarray]:
    """The course's backward pass with the given derivatives (for naming a slip)."""
    L = len(p) // 2
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


def _indexings(L: int) -> str:
    return (
        f'dA0…dA{L - 1} (grads["dA" + str(l)], the course from 2018) or dA1…dA{L} '
        f'(grads["dA" + str(l + 1)], its 2017–2018 versions), one indexing for every layer'
    )


def indexing(grads: object, L: int) -> str | None:
    """Which indexing the ``dA`` keys of ``grads`` follow: ``"dA0"`` (``dA0…dA{L−1}``: key
    ``dA{l}`` holds ``∂J/∂A[l]``, the course from 2018), ``"dA1"`` (``dA1…dAL``: key ``dA{l}``
    holds layer ``l``'s ``dA_prev``, its 2017–2018 versions), ``None`` for a mix (a full set of
    neither). No ``dA`` key at all reads as ``"dA0"`` (the missing key is then reported)."""
    present = (
        {k for k in grads if isinstance(k, str) and re.fullmatch(r"dA\d+", k)}
        if isinstance(grads, Mapping)
        else set()
    )
    newer, older = {f"dA{i}" for i in range(L)}, {f"dA{i}" for i in range(1, L + 1)}
    if not present or newer <= present:
        return "dA0"
    return "dA1" if older <= present and "dA0" not in present else None


def dA_keys(grads: object, L: int, result: FunctionResult) -> dict[str, str]:
    """``{the course's key: the learner's key}`` for the ``dA`` entries of ``grads`` keyed
    ``dA1…dAL`` (empty for ``dA0…dA{L−1}``): each is compared under its own indexing
    (:func:`indexing`). A mix of the two is a :class:`ContractError` saying so."""
    found = indexing(grads, L)
    if found is None:
        have = sorted(
            (k for k in grads if isinstance(k, str) and k.startswith("dA")), key=lambda k: (len(k), k)
        )
        raise ContractError(
            f"grads has the dA keys {have}, a full set of neither indexing: the course stores {_indexings(L)}"
        )
    if found == "dA0":
        return {}
    result.notes.append(
        f'grads is keyed dA1…dA{L} (grads["dA" + str(l + 1)] = layer l + 1\'s dA_prev, '
        "the course's 2017–2018 indexing): each is compared with that layer's dA_prev"
    )
    return {f"dA{i - 1}": f"dA{i}" for i in range(1, L + 1)}


def _rekeyed(
    keys: Mapping[str, str], slips: list[tuple[str, Callable[[], dict]]]
) -> list[tuple[str, Callable[[], dict]]]:
    """The slips' values under the learner's own keys."""
    return [(d, lambda f=f: {keys.get(k, k): v for k, v in f().items()}) for d, f in slips]


def dA_indexing(learner: Learner) -> str | None:
    """The :func:`indexing` of the learner's ``L_model_backward`` run on their own forward (else
    the course's caches); ``None`` when it cannot run."""
    rng = np.random.default_rng(seed_for("deep", "dA_indexing"))
    X = rng.normal(0.0, 1.0, (DIMS[0], M))
    p = params(rng, DIMS)
    try:
        AL, caches = _course_caches(X, p)
        if learner.has("L_model_forward"):
            AL, caches = learner.call_course("L_model_forward", ["X", "parameters"], [X, p])
        grads = learner.call_course("L_model_backward", ["AL", "Y", "caches"], [AL, Y7, caches])
    except Exception:  # their own checks report it
        return None
    return indexing(grads, len(DIMS) - 1) if isinstance(grads, Mapping) else None


def check_L_model_backward(learner: Learner, result: FunctionResult) -> None:
    rng = np.random.default_rng(seed_for("deep", "L_model_backward"))
    X = rng.normal(0.0, 1.0, (DIMS[0], M))
    p = params(rng, DIMS)
    AL, caches = _course_caches(X, p)
    if learner.has("L_model_forward"):
        try:
            AL, caches = unpack(
                learner.call_course("L_model_forward", ["X", "parameters"], [X, p]),
                ("AL", "caches"),
                "L_model_forward",
            )
        except Exception:  # reported on L_model_forward's own line
            result.notes.append("run on the course's caches (L_model_forward raised)")
        if caches_problem(caches, X, p):  # blamed on the forward's line, not on this reader
            AL, caches = _course_caches(X, p)
            result.notes.append(
                "run on the course's caches [((A_prev, W, b), Z), …]: L_model_forward's "
                "are not (see its line)"
            )
    else:
        result.notes.append("run on the course's caches [((A_prev, W, b), Z), …] (no L_model_forward)")
    try:
        grads = learner.call_course("L_model_backward", ["AL", "Y", "caches"], [AL, Y7, caches])
    except LearnerError as exc:
        if "KeyError: 'dA" not in str(exc):
            raise
        raise LearnerError(
            f"{exc} — do grads' dA keys mix two indexings? The course stores {_indexings(len(DIMS) - 1)}"
        ) from exc
    ref = R.cost_and_grads(R.deep_net(p), X, Y7)
    L = len(DIMS) - 1
    names = [k for layer in range(L, 0, -1) for k in (f"dA{layer - 1}", f"dW{layer}", f"db{layer}")]
    keys = {k: k for k in names} | dA_keys(grads, L, result)  # the course's name -> the learner's key
    actual = {keys[k]: array(entry(grads, keys[k], "grads"), f"grads[{keys[k]!r}]") for k in names}
    recs = records(
        actual, {keys[k]: ref[k] for k in names}, "gradient", m=M, inputs={"AL": np.shape(AL), "Y": Y7.shape}
    )
    squeezed_bias(recs, {keys[k]: grads[keys[k]] for k in names})
    result.add("gradients", "gradient", recs)
    name_slip(
        result,
        actual,
        _rekeyed(
            keys,
            [
                (HIDDEN_SIGMOID, lambda: _backprop(p, X, Y7, "sigmoid", "sigmoid")),
                (
                    "ReLU′ at the output layer; the course's output is σ (sigmoid_backward)",
                    lambda: _backprop(p, X, Y7, "relu", "relu"),
                ),
            ],
        ),
        "gradient",
    )


def check_update_parameters_deep(learner: Learner, result: FunctionResult) -> None:
    rng = np.random.default_rng(seed_for("deep", "update"))
    updated(learner, result, params(rng, DIMS), 0.3, rng)


TRAINERS = {"two_layer_model": (5, 4, 1), "L_layer_model": DIMS}


def _trainer_call(learner: Learner, name: str) -> tuple[np.ndarray, np.ndarray, Callable[[int], object]]:
    """``(X, Y, call)``: the training data of ``name``, and ``call(t)`` running it ``t`` iterations."""
    dims = TRAINERS[name]
    rng = np.random.default_rng(seed_for("deep", name))
    X = rng.normal(0.0, 1.0, (dims[0], 9))
    Y = (X[:1] - X[1:2] > 0).astype(np.float64)
    args = ["X", "Y", "layers_dims", "learning_rate", "num_iterations", "print_cost"]

    def call(t: int) -> object:
        return learner.call_course(
            name,
            args,
            [X, Y, tuple(dims) if len(dims) == 3 else list(dims), LEARNING_RATE, t, True],
            seed=seed_for(name),
        )

    return X, Y, call


def trainer_returns(learner: Learner) -> tuple[str, bool] | None:
    """``(name, whether it returns (parameters, costs))`` for the first of the learner's trainers
    that runs: ``(parameters, costs)`` from 2021, ``parameters`` alone before."""
    for name in TRAINERS:
        if learner.has(name):
            try:
                out = _trainer_call(learner, name)[2](0)
            except Exception:  # its own check reports it
                continue
            if isinstance(out, Mapping):
                return name, False
            if isinstance(out, (tuple, list)) and len(out) == 2 and isinstance(out[0], Mapping):
                return name, True
    return None


def _trainer(
    learner: Learner,
    result: FunctionResult,
    name: str,
    dims: tuple[int, ...],
    net_of: Callable[[Mapping], object],
) -> None:
    X, Y, call = _trainer_call(learner, name)

    def run(t: int) -> tuple[dict, object]:
        return parameters_and_costs(call(t), result, costs_since_2021=True)

    shapes = {
        f"{c}{layer}": (dims[layer], dims[layer - 1] if c == "W" else 1)
        for layer in range(1, len(dims))
        for c in "Wb"
    }
    check_trajectory(result, run, net_of, X, Y, LEARNING_RATE, ITERATIONS, shapes)
    if not result.passed and not result.slip and not result.problems and result.error is None:
        _name_first_step(result, run, X, Y, list(shapes))


def _name_first_step(
    result: FunctionResult,
    run: Callable[[int], tuple[dict, object]],
    X: np.ndarray,
    Y: np.ndarray,
    keys: list[str],
) -> None:
    """Name a trainer's slip from its first update (every hidden layer ≥ 2 units wide, so a wrong
    hidden derivative shows)."""
    try:
        start, after = run(0)[0], run(1)[0]
        p0 = {k: np.asarray(start[k], dtype=np.float64) for k in keys}
        p1 = {k: np.asarray(after[k], dtype=np.float64) for k in keys}
    except Exception:  # the trajectory check above reports a trainer that cannot run
        return
    relu_out = "ReLU′ at the output layer; the course's output is σ (sigmoid_backward)"
    for description, hidden, out in ((HIDDEN_SIGMOID, "sigmoid", "sigmoid"), (relu_out, "relu", "relu")):
        grads = _backprop(p0, X, Y, hidden, out)
        if all(matches(p1[k], p0[k] - LEARNING_RATE * grads["d" + k], "trajectory") for k in keys):
            result.slip = description
            return


def check_two_layer_model(learner: Learner, result: FunctionResult) -> None:
    _trainer(learner, result, "two_layer_model", (5, 4, 1), lambda p: R.shallow_net(p, "relu"))


def check_L_layer_model(learner: Learner, result: FunctionResult) -> None:
    _trainer(learner, result, "L_layer_model", DIMS, R.deep_net)
