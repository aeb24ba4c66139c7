"""Checks shared by several course functions: a training function's trajectory against
``torch.optim.SGD`` from the same start, and an initializer's shapes, zeros and distribution.

**Trajectories.** The course's training functions (``optimize``, ``model``, ``nn_model``,
``two_layer_model``, ``L_layer_model``) start from their own initialization, so the learner's
function is run with ``num_iterations = 0`` (its starting parameters, handed to torch through
the converters), with ``T`` and, when the end differs, with the iteration counts of a bisection
that finds the first iteration after which a parameter differs — each run starts afresh from
the same seeded start. The update of that iteration on each side names the mistake (a flipped
sign, α applied twice or not at all, a parameter never updated). The returned ``costs`` may
follow the course's convention (every 100 iterations, ``i % 100 == 0``) or hold every iteration;
a function that returns only its parameters (the week-4 trainers before 2021, ``nn_model``
always) has them compared alone (:func:`parameters_and_costs`).

**Initializers.** Weights: the shape ``(n[l], n[l−1])``, a scale the course uses (``0.01``, or
where the course uses them ``1/√n[l−1]`` and He's ``√(2/n[l−1])``) and a normal distribution
(mean, standard deviation and Kolmogorov–Smirnov at the policy's statistical limits: the
harness's :func:`~parity_tests.distribution.normal_records`, as for the ``init`` concept).
Biases: zeros of shape ``(n[l], 1)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from parity_tests.compare import Comparison, compare
from parity_tests.course import references as R
from parity_tests.course.common import ContractError, FunctionResult, array, matches, shape_str, tol
from parity_tests.diagnose import Diagnosis, diagnose, diagnosis_of
from parity_tests.distribution import normal_records
from parity_tests.tolerances import EXACT, MOMENT_SE
from parity_tests.trajectory import torch_trajectory
from torch_ref.layout import module_spec

Run = Callable[[int], tuple[dict[str, np.ndarray], Any]]
EVERY = 100
"""The course records the cost every 100 iterations (``if i % 100 == 0``)."""


NEVER_CHANGES = "never changes: its update is missing (or written to a copy that is not returned)"


def _update_diagnosis(mine: np.ndarray, ref: np.ndarray, m: int, lr: float) -> Diagnosis:
    """How the learner's update ``Δp`` of one iteration differs from torch's, as data: the kind
    ``"missing"`` (no update at all) and ``"gradients"`` (no simple pattern) besides
    :func:`~parity_tests.diagnose.diagnosis_of`'s kinds; an unnamed factor ``c`` reads as a
    learning rate of ``c·α``."""
    found = diagnosis_of(mine, ref, tol("trajectory"), m=m, learning_rate=lr)
    if mine.shape != ref.shape and found is not None:
        return found
    if not np.any(mine) and np.any(ref):
        return Diagnosis("missing", f"it {NEVER_CHANGES}")
    if found is None:
        return Diagnosis(
            "gradients",
            "unlike torch's in no simple pattern: the gradients themselves differ "
            "— check the forward and backward pass it calls",
        )
    if found.kind == "factor" and found.named is None and found.factor is not None:
        return replace(
            found, text=f"{found.text} — a learning rate of {found.factor * lr:.6g} instead of α = {lr:g}?"
        )
    return found


ONLY_PARAMETERS = (
    "it returns parameters only, as the course's versions before 2021 did (they plotted "
    "the costs inside; from 2021 it returns (parameters, costs)): only the parameters "
    "were compared"
)


def parameters_and_costs(out: Any, result: FunctionResult, costs_since_2021: bool = False) -> tuple[Any, Any]:
    """A training function's return read as ``(parameters, costs)``: the pair it returned, or
    ``(parameters, None)`` when it returns the parameters alone — ``nn_model`` in every version,
    ``two_layer_model`` and ``L_layer_model`` before 2021 (``costs_since_2021``: say so in a note)."""
    if isinstance(out, (tuple, list)) and len(out) == 2 and isinstance(out[0], Mapping):
        return out[0], out[1]
    if costs_since_2021 and isinstance(out, Mapping) and ONLY_PARAMETERS not in result.notes:
        result.notes.append(ONLY_PARAMETERS)
    return out, None


def _costs(costs: Any, T: int, torch_costs: list[float], result: FunctionResult) -> list[Comparison]:
    """The learner's ``costs`` against torch's, every 100 iterations or every iteration."""
    if costs is None:
        if ONLY_PARAMETERS not in result.notes:
            result.notes.append("it returns no costs; only the parameters were compared")
        return []
    try:
        values = [float(array(c, "costs entry").reshape(-1)[0]) if np.size(c) == 1 else None for c in costs]
    except (ContractError, TypeError) as exc:
        result.problems.append(f"costs: {exc}")
        return []
    if any(v is None for v in values):
        result.problems.append("costs holds entries that are not single numbers")
        return []
    every_100 = list(range(0, T, EVERY))
    if len(values) == len(every_100):
        index = every_100
    elif len(values) == T:
        index = list(range(T))
    else:
        result.problems.append(
            f"costs has {len(values)} entries for num_iterations={T}; the course records the cost at "
            f"i = {', '.join(map(str, every_100))} ({len(every_100)} entries: if i % 100 == 0), "
            f"or every iteration would give {T}"
        )
        return []
    expected = np.array([torch_costs[i] for i in index])
    rec = compare("costs", np.array(values), expected, tol("trajectory", T - 1))
    if not rec.passed and len(index) > 1 and rec.worst_index is not None:
        rec.diagnosis = f"the cost recorded at iteration {index[rec.worst_index[0]]} differs" + (
            f"; {rec.diagnosis}" if rec.diagnosis else ""
        )
    return [rec]


def check_trajectory(
    result: FunctionResult,
    run: Run,
    net_of: Callable[[Mapping], torch.nn.Module],
    X: np.ndarray,
    Y: np.ndarray,
    learning_rate: float,
    T: int,
    shapes: Mapping[str, tuple[int, ...]],
    shape_hint: str = "",
    start: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Compare the learner's training run with torch's SGD from the same start (see module doc).

    ``run(t)`` returns ``(params, costs)`` after ``t`` iterations, the params in the course
    layout with the keys and ``shapes`` of ``net_of``'s converter. Torch's run is the harness's
    (:func:`~parity_tests.trajectory.torch_trajectory`): ``net_of(start)`` trained full-batch on
    :func:`~parity_tests.course.references.cross_entropy`, parameters through its ``ParamSpec``.
    ``start``, when the course fixes it (``optimize`` gets it as arguments, ``model`` starts at
    zeros), replaces ``run(0)`` (the course's ``optimize`` cannot run 0 iterations: it reads
    ``dw`` after the loop).
    """
    cache: dict[int, dict[str, np.ndarray]] = {} if start is None else {0: dict(start)}
    costs_T: list[Any] = []

    def params_after(t: int) -> dict[str, np.ndarray]:
        if t not in cache:
            params, costs = run(t)
            cache[t] = {
                k: array(
                    params.get(k) if isinstance(params, Mapping) else None, f"the returned parameters' {k!r}"
                )
                for k in shapes
            }
            if t == T:
                costs_T.append(costs)
        return cache[t]

    start = params_after(0)
    bad = [
        f"{k} starts with shape {shape_str(start[k].shape)}, expected {shape_str(s)}"
        for k, s in shapes.items()
        if start[k].shape != tuple(s)
    ]
    if bad:
        result.problems.append("; ".join(bad) + shape_hint)
        return
    net = net_of(start)
    torch_params, torch_costs = torch_trajectory(
        net, R.cross_entropy, start, [(X, Y)] * T, param_spec=module_spec(net), learning_rate=learning_rate
    )
    m = X.shape[1]

    def differing(t: int) -> list[str]:
        return [
            k
            for k in shapes
            if not compare(k, params_after(t)[k], torch_params[t][k], tol("trajectory", t - 1)).passed
        ]

    final = [
        compare(k, params_after(T)[k], torch_params[T][k], tol("trajectory", T - 1), step=T - 1)
        for k in shapes
    ]
    diagnosis = None
    if not all(r.passed for r in final):
        lo, hi = 0, T  # parameters agree after lo iterations and differ after hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if differing(mid) else (mid, hi)
        names = differing(hi)
        before, after = params_after(hi - 1), params_after(hi)
        updates = {
            k: _update_diagnosis(
                after[k] - before[k], torch_params[hi][k] - torch_params[hi - 1][k], m, learning_rate
            )
            for k in names
        }
        first = [
            compare(k, after[k], torch_params[hi][k], tol("trajectory", hi - 1), step=hi - 1) for k in names
        ]
        for r in first:
            r.diagnosis = f"its update at iteration {hi - 1} is {updates[r.name].text}"
        k0 = names[0]
        how = (
            f"{k0} {NEVER_CHANGES}"
            if updates[k0].kind == "missing"
            else f"{k0}'s update there is {updates[k0].text}"
        )
        diagnosis = f"first diverges at iteration {hi - 1} (of {T}) in {', '.join(names)}: {how}"
        final = first + [r for r in final if r.name not in names]
    recs = final + _costs(costs_T[0] if costs_T else None, T, torch_costs, result)
    result.add(
        "trajectory",
        "trajectory",
        recs,
        diagnosis=diagnosis,
        extra={"torch_loss": torch_costs, "learning_rate": learning_rate, "iterations": T},
    )


# --- initializers ---------------------------------------------------------------------------------
def check_weight(
    result: FunctionResult, name: str, W: Any, shape: tuple[int, int], scales: Mapping[str, float]
) -> str | None:
    """Shape, scale and distribution of one weight; returns the name of the scale it follows."""
    W = array(W, name)
    if W.shape != tuple(shape):
        result.problems.append(f"{name}: {diagnose(W, np.zeros(shape), tol('forward'))}")
        return None
    if W.dtype.kind != "f":
        result.problems.append(f"{name} has dtype {W.dtype}; expected floats (np.random.randn)")
        return None
    if not np.any(W):
        result.problems.append(
            f"{name} is all zeros: every unit of the layer then computes the same "
            "thing and gets the same gradient (symmetry is never broken); draw "
            "np.random.randn(n[l], n[l-1]) * 0.01"
        )
        return None
    w = W.astype(np.float64).ravel()
    N, s = w.size, float(w.std())
    label, sigma = min(scales.items(), key=lambda kv: abs(math.log(s / kv[1])))
    recs = normal_records(w, sigma, (f"mean({name})", f"std({name})", f"KS D({name} vs N(0, σ²))"))
    failing = [r for r in recs if not r.passed]
    if failing:
        if w.min() >= 0:
            why = (
                "every value is ≥ 0: np.random.rand (uniform on [0, 1)) instead of np.random.randn "
                "(standard normal)"
            )
        elif not recs[1].passed:
            missing = abs(s - 1.0) <= MOMENT_SE / math.sqrt(2 * N)
            why = (
                f"std {s:.4g}: the scale (* 0.01) is missing"
                if missing
                else f"std {s:.4g} where the course's is {' or '.join(scales)}"
            )
        else:
            why = "the values are not normally distributed: draw them with np.random.randn"
        failing[0].diagnosis = why
    result.add(f"{name} distribution", "property", recs, extra={"scale": label, "sigma": sigma})
    return label


def check_bias(result: FunctionResult, name: str, b: Any, n: int) -> None:
    """Zeros of shape ``(n, 1)``."""
    b = array(b, name)
    rec = compare(name, b, np.zeros((n, 1)), EXACT)
    if not rec.passed and b.shape == (n, 1):
        rec.diagnosis = "the course starts every bias at zero: np.zeros((n[l], 1))"
    result.add(name, "property", [rec])


def draw_order_note(
    result: FunctionResult,
    draw: Callable[[int], Mapping[str, np.ndarray]],
    course: Callable[[int], Mapping[str, np.ndarray]],
    function: str,
) -> None:
    """Say whether the learner's values are the course's draws (same seed, same order)."""
    try:
        a, b = draw(11), draw(12)
    except Exception:  # the checks above already report a function that raises
        return
    same = all(np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in a)
    seeds = [s for s in (1, 2, 3, *range(0, 11)) if same] or [11]
    for s in dict.fromkeys(seeds):
        ref = course(s)
        if all(k in a and matches(a[k], v, "forward") for k, v in ref.items()):
            how = (
                f"it seeds NumPy's global generator itself (np.random.seed({s})), and"
                if same
                else f"after np.random.seed({s}),"
            )
            result.notes.append(
                f"{how} its values equal the course's draws (np.random.randn in "
                f"the course's order): the course's expected outputs will match"
            )
            return
    how = "it seeds NumPy's global generator itself, but" if same else "with NumPy's global generator seeded,"
    result.notes.append(
        f"{how} its values are not the course's draws for {function} (another seed, "
        "order or generator): the distribution is right, the numbers in the course's "
        "expected outputs will differ"
    )
