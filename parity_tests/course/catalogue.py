"""The course functions dlparity knows — the assignments whose concepts it implements — and how a
file's part of the course is told from the names and signatures it defines.

Each :class:`Entry` names the function, its course signature, the check that runs it, and the
learner functions whose *output* it is checked on (a backward runs on the learner's own forward
and caches). Functions it *calls* are read from its code at check time.

**Course versions.** The assignments changed between releases (2017 to the 2021 refresh): a
contract differs (``compute_cost(A2, Y, parameters)`` before 2021, ``compute_cost(A2, Y)`` after;
``L_model_backward``'s keys ``dA1…dAL`` first, ``dA0…dA{L−1}`` later; the week-4 trainers return
``parameters`` before 2021, ``(parameters, costs)`` after …). :data:`VERSIONS` lists them by year
range; :func:`course_version` tells the one a file follows from those contracts, and each check
accepts every version's contract (a one-version rule, like ``b = 0.`` a float, only where the
file's other functions say it follows that version).

Example:
    >>> [e.name for e in CATALOGUE["logreg"]][:3]
    ['sigmoid', 'initialize_with_zeros', 'propagate']
    >>> signature_of(CATALOGUE["shallow"][2])
    'forward_propagation(X, parameters) -> (A2, cache)'
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from parity_tests.course import (
    anomaly,
    blame,
    charlm,
    conv,
    conv_backward,
    deep,
    deep_backward,
    initialization,
    kmeans,
    logreg,
    rnn,
    shallow,
)
from parity_tests.course.common import FunctionResult, Learner
from parity_tests.course.detection import PARTS, Detection  # noqa: F401 (re-exported)


@dataclass(frozen=True)
class Entry:
    name: str
    part: str
    params: tuple[str, ...]
    returns: str
    check: Callable[[Learner, FunctionResult], None]
    uses: tuple[str, ...] = ()  # learner functions whose output this check feeds it


def signature_of(e: Entry) -> str:
    return f"{e.name}({', '.join(e.params)})" + (f" -> {e.returns}" if e.returns else "")


def _entries(part: str, rows: list[tuple]) -> list[Entry]:
    return [
        Entry(name, part, tuple(params.split(", ")) if params else (), returns, check, tuple(uses))
        for name, params, returns, check, *uses in rows
    ]


CATALOGUE: dict[str, list[Entry]] = {
    "logreg": _entries(
        "logreg",
        [
            ("sigmoid", "z", "s", logreg.check_sigmoid),
            ("initialize_with_zeros", "dim", "(w, b)", logreg.check_initialize_with_zeros),
            ("propagate", "w, b, X, Y", "(grads, cost)", logreg.check_propagate),
            (
                "optimize",
                "w, b, X, Y, num_iterations, learning_rate, print_cost",
                "(params, grads, costs)",
                logreg.check_optimize,
            ),
            ("predict", "w, b, X", "Y_prediction", logreg.check_predict),
            (
                "model",
                "X_train, Y_train, X_test, Y_test, num_iterations, learning_rate, print_cost",
                "d",
                logreg.check_model,
            ),
        ],
    ),
    "shallow": _entries(
        "shallow",
        [
            ("layer_sizes", "X, Y", "(n_x, n_h, n_y)", shallow.check_layer_sizes),
            ("initialize_parameters", "n_x, n_h, n_y", "parameters", shallow.check_initialize_parameters),
            ("forward_propagation", "X, parameters", "(A2, cache)", shallow.check_forward_propagation),
            ("compute_cost", "A2, Y", "cost", shallow.check_compute_cost),
            (
                "backward_propagation",
                "parameters, cache, X, Y",
                "grads",
                shallow.check_backward_propagation,
                "forward_propagation",
            ),
            (
                "update_parameters",
                "parameters, grads, learning_rate",
                "parameters",
                shallow.check_update_parameters,
            ),
            ("nn_model", "X, Y, n_h, num_iterations, print_cost", "parameters", shallow.check_nn_model),
            ("predict", "parameters, X", "predictions", shallow.check_predict),
        ],
    ),
    "deep": _entries(
        "deep",
        [
            ("sigmoid", "Z", "(A, cache)", deep.check_sigmoid),
            ("relu", "Z", "(A, cache)", deep.check_relu),
            ("sigmoid_backward", "dA, cache", "dZ", deep.check_sigmoid_backward, "sigmoid"),
            ("relu_backward", "dA, cache", "dZ", deep.check_relu_backward, "relu"),
            ("initialize_parameters", "n_x, n_h, n_y", "parameters", shallow.check_initialize_parameters),
            ("initialize_parameters_deep", "layer_dims", "parameters", deep.check_initialize_parameters_deep),
            ("linear_forward", "A, W, b", "(Z, cache)", deep.check_linear_forward),
            (
                "linear_activation_forward",
                "A_prev, W, b, activation",
                "(A, cache)",
                deep.check_linear_activation_forward,
            ),
            ("L_model_forward", "X, parameters", "(AL, caches)", deep.check_L_model_forward),
            ("compute_cost", "AL, Y", "cost", shallow.check_compute_cost),
            (
                "linear_backward",
                "dZ, cache",
                "(dA_prev, dW, db)",
                deep_backward.check_linear_backward,
                "linear_forward",
            ),
            (
                "linear_activation_backward",
                "dA, cache, activation",
                "(dA_prev, dW, db)",
                deep_backward.check_linear_activation_backward,
                "linear_activation_forward",
            ),
            (
                "L_model_backward",
                "AL, Y, caches",
                "grads",
                deep_backward.check_L_model_backward,
                "L_model_forward",
            ),
            (
                "update_parameters",
                "parameters, grads, learning_rate",
                "parameters",
                deep_backward.check_update_parameters_deep,
            ),
            (
                "two_layer_model",
                "X, Y, layers_dims, learning_rate, num_iterations, print_cost",
                "(parameters, costs)",
                deep_backward.check_two_layer_model,
            ),
            (
                "L_layer_model",
                "X, Y, layers_dims, learning_rate, num_iterations, print_cost",
                "(parameters, costs)",
                deep_backward.check_L_layer_model,
            ),
        ],
    ),
    "kmeans": _entries(
        "kmeans",
        [  # course 3 (Unsupervised Learning), week 1
            ("find_closest_centroids", "X, centroids", "idx", kmeans.check_find_closest_centroids),
            ("compute_centroids", "X, idx, K", "centroids", kmeans.check_compute_centroids),
            ("kMeans_init_centroids", "X, K", "centroids", kmeans.check_kMeans_init),
            ("kMeans_init", "X, K", "centroids", kmeans.check_kMeans_init),
            (
                "run_kMeans",
                "X, initial_centroids, max_iters, plot_progress",
                "(centroids, idx)",
                kmeans.check_run_kMeans,
            ),
        ],
    ),
    "anomaly": _entries(
        "anomaly",
        [  # course 3 (Unsupervised Learning), week 1
            ("estimate_gaussian", "X", "(mu, var)", anomaly.check_estimate_gaussian),
            ("multivariate_gaussian", "X, mu, var", "p", anomaly.check_multivariate_gaussian),
            ("select_threshold", "y_val, p_val", "(best_epsilon, best_F1)", anomaly.check_select_threshold),
        ],
    ),
    "init": _entries(
        "init",
        [  # course 2 (Improving Deep Neural Networks), week 1: Initialization
            (
                "initialize_parameters_zeros",
                "layers_dims",
                "parameters",
                initialization.check_initialize_parameters_zeros,
            ),
            (
                "initialize_parameters_random",
                "layers_dims",
                "parameters",
                initialization.check_initialize_parameters_random,
            ),
            (
                "initialize_parameters_he",
                "layers_dims",
                "parameters",
                initialization.check_initialize_parameters_he,
            ),
            (
                "model",
                "X, Y, learning_rate, num_iterations, print_cost, initialization",
                "parameters",
                initialization.check_model,
            ),
        ],
    ),
    "conv": _entries(
        "conv",
        [  # course 4 (Convolutional Neural Networks), week 1: step by step
            ("zero_pad", "X, pad", "X_pad", conv.check_zero_pad),
            ("conv_single_step", "a_slice_prev, W, b", "Z", conv.check_conv_single_step),
            ("conv_forward", "A_prev, W, b, hparameters", "(Z, cache)", conv.check_conv_forward),
            ("pool_forward", "A_prev, hparameters, mode", "(A, cache)", conv.check_pool_forward),
            (
                "conv_backward",
                "dZ, cache",
                "(dA_prev, dW, db)",
                conv_backward.check_conv_backward,
                "conv_forward",
            ),
            ("create_mask_from_window", "x", "mask", conv_backward.check_create_mask_from_window),
            ("distribute_value", "dz, shape", "a", conv_backward.check_distribute_value),
            (
                "pool_backward",
                "dA, cache, mode",
                "dA_prev",
                conv_backward.check_pool_backward,
                "pool_forward",
            ),
        ],
    ),
}

CATALOGUE["rnn"] = _entries(
    "rnn",
    [  # course 5 (Sequence Models), week 1: an RNN step by step
        (
            "rnn_cell_forward",
            "xt, a_prev, parameters",
            "(a_next, yt_pred, cache)",
            rnn.check_rnn_cell_forward,
        ),
        ("rnn_forward", "x, a0, parameters", "(a, y_pred, caches)", rnn.check_rnn_forward),
        (
            "lstm_cell_forward",
            "xt, a_prev, c_prev, parameters",
            "(a_next, c_next, yt_pred, cache)",
            rnn.check_lstm_cell_forward,
        ),
        ("lstm_forward", "x, a0, parameters", "(a, y, c, caches)", rnn.check_lstm_forward),
        ("rnn_cell_backward", "da_next, cache", "gradients", rnn.check_rnn_cell_backward, "rnn_cell_forward"),
        ("rnn_backward", "da, caches", "gradients", rnn.check_rnn_backward, "rnn_forward"),
        (
            "lstm_cell_backward",
            "da_next, dc_next, cache",
            "gradients",
            rnn.check_lstm_cell_backward,
            "lstm_cell_forward",
        ),
        ("lstm_backward", "da, caches", "gradients", rnn.check_lstm_backward, "lstm_forward"),
    ],
)
CATALOGUE["charlm"] = _entries(
    "charlm",
    [  # course 5, week 1: Dinosaurus Island
        ("clip", "gradients, maxValue", "gradients", charlm.check_clip),
        ("sample", "parameters, char_to_ix, seed", "indices", charlm.check_sample),
        (
            "optimize",
            "X, Y, a_prev, parameters, learning_rate",
            "(loss, gradients, a[len(X)-1])",
            charlm.check_optimize,
            "clip",
        ),
        (
            "model",
            "data, ix_to_char, char_to_ix, num_iterations, n_a, dino_names, vocab_size",
            "parameters",
            charlm.check_model,
            "optimize",
            "sample",
        ),
    ],
)

for _entry in (e for part_entries in CATALOGUE.values() for e in part_entries):  # for blame's messages
    _known = blame.SIGNATURES.setdefault(_entry.name, [])
    if signature_of(_entry) not in _known:
        _known.append(signature_of(_entry))


def entry_for(name: str, part: str) -> Entry | None:
    return next((e for e in CATALOGUE[part] if e.name == name), None)


def parts_of(name: str) -> list[str]:
    return [p for p in PARTS if entry_for(name, p) is not None]


def _params(fn: Callable[..., Any]) -> list[str]:
    try:
        return [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        return []


def fits(fn: Callable[..., Any], e: Entry) -> bool:
    """The learner's function takes the course's arguments (by name or position; a trailing
    ``print_cost`` or ``plot_progress`` may be left out)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return True
    if e.name == "model" and model_form(_params(fn)) != e.part:
        return False
    if all(p in sig.parameters for p in e.params):
        return True
    needed = [p for p in e.params if p not in ("print_cost", "plot_progress")]
    for n in {len(e.params), len(needed)}:
        try:
            sig.bind(*range(n))
            return True
        except TypeError:
            continue
    return False


def model_form(params: list[str]) -> str | None:
    """The part a ``model`` belongs to by its parameters: ``model(X_train, Y_train, X_test, Y_test,
    …)`` is logistic regression's, ``model(X, Y, …, initialization)`` the Initialization notebook's;
    ``None`` for another notebook's (``lambd``/``keep_prob``: Regularization, ``optimizer``:
    Optimization), which no part checks."""
    if {"char_to_ix", "ix_to_char"} & set(params) or params[:1] in (["data"], ["data_x"]):
        return "charlm"  # Dinosaurus Island's model(data, ix_to_char, char_to_ix, …)
    if "initialization" in params:
        return "init"
    if params[:4] == ["X_train", "Y_train", "X_test", "Y_test"]:
        return "logreg"
    if {"lambd", "keep_prob", "optimizer", "layers_dims"} & set(params):
        return None
    if params[:2] == ["X", "Y"]:
        return "init"
    return "logreg" if len(params) >= 7 else None


def form_of(name: str, fn: Callable[..., Any], learner: Learner) -> tuple[str | None, str]:
    """For a name in several parts: the part its signature (or behaviour) says, and why."""
    params = _params(fn)
    if name == "predict":
        if params[:3] == ["w", "b", "X"] or len(params) == 3:
            return "logreg", f"predict({', '.join(params)})"
        return "shallow", f"predict({', '.join(params)})"
    if name == "model":
        return model_form(params), f"model({', '.join(params)})"
    if name == "optimize":  # logreg's (w, b, X, Y, …); Dinosaurus Island's (X, Y, a_prev, parameters, …)
        charlm_form = params[:2] != ["w", "b"] and (
            "a_prev" in params or "parameters" in params or len(params) <= 5
        )
        return ("charlm", f"optimize({', '.join(params)})") if charlm_form else ("logreg", "optimize")
    if name == "sigmoid":
        try:
            out = learner.call("sigmoid", np.array([[0.0, 1.0]]))
        except Exception:  # its own check reports it; the parameter's case decides the part
            return ("deep" if params[:1] == ["Z"] else "logreg"), f"sigmoid({', '.join(params)})"
        if isinstance(out, tuple):
            return "deep", "sigmoid(Z) -> (A, cache)"
        return "logreg", "sigmoid(z) -> s"
    return None, name


def detect(functions: Mapping[str, Callable[..., Any]], learner: Learner) -> Detection:
    """Tell the part from the functions a file defines.

    A name found in one part only votes for it; ``predict`` and ``sigmoid`` vote by their
    signature (``predict(w, b, X)`` vs ``predict(parameters, X)``; ``sigmoid(z) -> s`` vs
    ``sigmoid(Z) -> (A, cache)``); names in several parts with one meaning (``compute_cost``,
    ``update_parameters``, ``initialize_parameters``) do not vote. The part is the one with
    the most votes; a tie leaves it ambiguous.
    """
    votes: dict[str, list[str]] = {p: [] for p in PARTS}
    assigned: dict[str, str] = {}
    for name, fn in functions.items():
        parts = parts_of(name)
        if len(parts) == 1:
            votes[parts[0]].append(name)
            assigned[name] = parts[0]
        elif parts:
            part, why = form_of(name, fn, learner)
            if part is not None:
                votes[part].append(why)
                assigned[name] = part
    best = max(len(v) for v in votes.values())
    if best:
        tied = [p for p in PARTS if len(votes[p]) == best]
    else:  # only shared names (compute_cost, update_parameters): the parts that have them all
        known = [set(parts_of(n)) for n in functions if parts_of(n)]
        tied = [p for p in PARTS if known and all(p in k for k in known)]
    if len(tied) == 1:
        version, why = course_version(tied[0], functions, learner)
        return Detection(tied[0], votes[tied[0]], [], assigned, version, why)
    return Detection(None, [], tied, assigned)


# --- course versions --------------------------------------------------------------------------------
VERSIONS: dict[str, dict[str, tuple[int, int | None]]] = {
    # part -> {version: (first year, last year; None: still current)}. The years are those of the
    # releases whose notebooks show the contract; a version is named by its first year.
    "logreg": {"2017": (2017, 2020), "2021": (2021, None)},
    "shallow": {"2017": (2017, 2020), "2021": (2021, None)},
    "deep": {"2017": (2017, 2018), "2018": (2018, 2020), "2021": (2021, None)},
}
Signal = tuple[frozenset[str], str]  # (the versions whose contract it is, the contract as shown)


def _years(part: str, versions: list[str]) -> str:
    first = min(VERSIONS[part][v][0] for v in versions)
    ends = [VERSIONS[part][v][1] for v in versions]
    return f"{first} on" if None in ends else (f"{first}–{max(ends)}" if max(ends) != first else str(first))


def _logreg_signals(functions: Mapping[str, Callable[..., Any]], learner: Learner) -> list[Signal]:
    out = []
    form = logreg.optimize_version(learner)
    if form is not None:
        out.append((frozenset({form[0]}), form[1]))
    if logreg.b_is_int(learner):
        out.append((frozenset({"2017"}), "initialize_with_zeros' b = 0 an int"))
    return out


def _shallow_signals(functions: Mapping[str, Callable[..., Any]], learner: Learner) -> list[Signal]:
    if "compute_cost" not in functions:
        return []
    if shallow.takes_parameters(functions["compute_cost"]):
        return [(frozenset({"2017"}), "compute_cost(A2, Y, parameters)")]
    return [(frozenset({"2021"}), "compute_cost(A2, Y)")]


def _deep_signals(functions: Mapping[str, Callable[..., Any]], learner: Learner) -> list[Signal]:
    out = []
    if "L_model_backward" in functions:
        keys = deep_backward.dA_indexing(learner)
        if keys == "dA1":
            out.append((frozenset({"2017"}), f"L_model_backward keys dA1…dA{len(deep.DIMS) - 1}"))
        elif keys == "dA0":
            out.append((frozenset({"2018", "2021"}), f"L_model_backward keys dA0…dA{len(deep.DIMS) - 2}"))
    params = _params(functions["update_parameters"]) if "update_parameters" in functions else []
    if params[:1] == ["params"]:
        out.append((frozenset({"2021"}), "update_parameters(params, …)"))
    elif params[:1] == ["parameters"]:
        out.append((frozenset({"2017", "2018"}), "update_parameters(parameters, …)"))
    returned = deep_backward.trainer_returns(learner)
    if returned is not None:
        name, costs = returned
        out.append(
            (frozenset({"2021"}), f"{name} returns (parameters, costs)")
            if costs
            else (frozenset({"2017", "2018"}), f"{name} returns parameters")
        )
    return out


VERSIONS["charlm"] = {"2018": (2018, 2020), "2021": (2021, None)}  # see parity_tests.course.charlm
SIGNALS: dict[str, Callable[[Mapping[str, Callable[..., Any]], Learner], list[Signal]]] = {
    "logreg": _logreg_signals,
    "shallow": _shallow_signals,
    "deep": _deep_signals,
}
SIGNALS["charlm"] = lambda functions, learner: charlm.signals(functions)


def course_version(
    part: str, functions: Mapping[str, Callable[..., Any]], learner: Learner
) -> tuple[str | None, list[str]]:
    """The course version (:data:`VERSIONS`) the file's functions of ``part`` follow, and why.

    Each contract that differs between versions names the versions that have it
    (``compute_cost(A2, Y, parameters)``: 2017–2020); they narrow the candidates in order of
    weight (a signature before a behaviour), a contract that would leave none being listed
    against. The version is the candidates' year range, named with (the first two of) the
    contracts, e.g. ``"2017–2020 (compute_cost(A2, Y, parameters))"``; a contract against it
    is listed after ``but``. The second value lists every contract seen. ``(None, [])`` when
    no function tells.

    Example:
        >>> import types
        >>> m = types.ModuleType("mine")
        >>> exec("def compute_cost(A2, Y, parameters):\\n    return 0.0\\n", m.__dict__)
        >>> course_version("shallow", {"compute_cost": m.compute_cost}, Learner({}))[0]
        '2017–2020 (compute_cost(A2, Y, parameters))'
    """
    signals = SIGNALS[part](functions, learner) if part in SIGNALS else []  # one version only
    if not signals:
        return None, []
    best, why, against = set(VERSIONS[part]), [], []
    for keys, contract in signals:  # in order of weight: a signature before a behaviour
        if best & keys:
            best &= keys
            why.append(contract)
        else:
            against.append(contract)
    shown = why[:2] + ([f"… {len(why) - 2} more"] if len(why) > 2 else [])
    text = f"{_years(part, sorted(best))} ({'; '.join(shown)})"
    text += f", but {'; '.join(against)}" if against else ""
    return text, why + [f"but {c}" for c in against]
