"""Course part ``anomaly`` (Machine Learning Specialization, course 3 "Unsupervised Learning", week 1:
anomaly detection): how each function is checked against :mod:`torch_ref.anomaly`.

The course's layout: examples are rows, ``X (m, n)``, ``mu, var (n,)``, densities ``p (m,)``;
sizes ``m = 9``, ``n = 4`` (a validation set of 31). Where the course's convention differs from
dlparity's own detector, the learner is checked by the course's, and a note says so:

- ``estimate_gaussian``: a **constant feature** gets ``σ² = 0``, as the course computes it;
  dlparity's :class:`torch_ref.anomaly.GaussianDetector` refuses one (its density is undefined);
- ``select_threshold``: the course scans a **linear grid** of 1000 steps,
  ``step_size = (max(p_val) − min(p_val)) / 1000``,
  ``for epsilon in np.arange(min(p_val), max(p_val), step_size)``, flags ``p_val < epsilon``
  (strictly) and keeps the first ``ε`` with the best F1 (``if F1 > best_F1``, from
  ``best_F1 = 0``). dlparity's own :func:`torch_ref.anomaly.select_threshold` searches the
  distinct scores exactly and flags ``p ≤ ε``. The grid is the course's (NumPy's ``arange``, the
  values the learner's loop visits); the flags, counts and F1 of every ``ε`` are torch's, the F1
  of the chosen one :func:`torch_ref.anomaly.precision_recall_f1`. F1 is symmetric in precision
  and recall, so a file that swaps the two computes the course's F1 and passes;
- ``multivariate_gaussian`` (the course's ``utils.py`` provides it; a notebook may define it):
  ``var (n,)`` is the diagonal of ``Σ``, ``var (n, n)`` is ``Σ`` itself; torch's ``Normal`` and
  ``MultivariateNormal`` log-densities, exponentiated.

Example (the grid's first ``ε`` past the second anomaly, 0.01 + 21 steps of 0.00049):
    >>> import numpy as np
    >>> y_val, p_val = np.array([1, 0, 0, 1, 0]), np.array([0.01, 0.5, 0.4, 0.02, 0.3])
    >>> out = threshold(y_val, p_val)
    >>> round(out["best_epsilon"], 8), out["best_F1"]
    (0.02029, 1.0)
"""

from __future__ import annotations

import numpy as np
import torch

from parity_tests.compare import compare
from parity_tests.course.common import (
    FunctionResult,
    Learner,
    array,
    name_slip,
    number,
    records,
    returned,
    tol,
    unpack,
)
from parity_tests.devices import parity_mode
from parity_tests.registry import seed_for
from torch_ref import anomaly as TA

M, N = 9, 4
MEANS = np.array([14.0, 15.0, -2.0, 0.5])  # the course's features sit near 14 and 15
SCALES = np.array([1.3, 0.8, 2.0, 0.4])
GRID_STEPS = 1000  # the course's step_size = (max(p_val) - min(p_val)) / 1000


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.float64))


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


# --- estimate_gaussian -----------------------------------------------------------------------
def gaussian(X: np.ndarray) -> dict[str, np.ndarray]:
    """torch's ``μ``, ``σ²`` ``(n,)`` per feature, dividing by ``m`` (``correction=0``)."""
    with parity_mode():
        mu, var = TA.estimate_gaussian(_t(X))
    return {"mu": _np(mu), "var": _np(var)}


def check_estimate_gaussian(learner: Learner, result: FunctionResult) -> None:
    rng = np.random.default_rng(seed_for("anomaly", "estimate_gaussian"))
    X = MEANS + SCALES * rng.normal(size=(M, N))
    constant = X.copy()
    constant[:, 2] = 3.0  # a constant feature: σ² = 0 exactly (3.0 · m / m is exact)
    result.notes.append(
        "a constant feature's σ² = 0 is checked as the course computes it "
        "(dlparity's own GaussianDetector refuses one: its density is undefined)"
    )
    for case, x in (("features", X), ("a constant feature", constant)):
        _estimate_case(learner, result, case, x)
        if not result.passed:
            return


def _estimate_case(learner: Learner, result: FunctionResult, case: str, x: np.ndarray) -> None:
    out = learner.call("estimate_gaussian", x)
    mu, var = unpack(out, ("mu", "var"), "estimate_gaussian")
    actual = {"mu": array(mu, "mu"), "var": array(var, "var")}
    ref = gaussian(x)
    result.add(case, "forward", records(actual, ref, "forward", m=M, inputs={"X": x.shape}))
    name_slip(
        result,
        actual,
        [
            (
                "σ² divides by m − 1 (ddof=1, as torch.var and pandas' var by default); the course's "
                "var = 1/m Σ (x − μ)², np.var's default ddof=0",
                lambda: {"var": ref["var"] * M / (M - 1), "mu": ref["mu"]},
            ),
            (
                "var is the standard deviation σ, not the variance σ² (np.std, or a √ too many)",
                lambda: {"var": np.sqrt(ref["var"]), "mu": ref["mu"]},
            ),
            (
                "the mean over the wrong axis: one value per example (axis=1); the course's is per "
                "feature, np.mean(X, axis=0)",
                lambda: {"mu": x.mean(axis=1), "var": x.var(axis=1)},
            ),
        ],
        "forward",
    )


# --- multivariate_gaussian -------------------------------------------------------------------
def density(X: np.ndarray, mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    """torch's ``p(x)`` ``(m,)``: ``var (n,)`` the diagonal of ``Σ``, ``(n, n)`` the full ``Σ``."""
    with parity_mode():
        if np.ndim(var) == 1:
            return _np(TA.gaussian_log_prob(_t(X), _t(mu), _t(var)).exp())
        return _np(TA.multivariate_log_prob(_t(X), _t(mu), _t(var)).exp())


def _course_formula(
    X: np.ndarray, mu: np.ndarray, S: np.ndarray, half: float = -0.5, normalized: bool = True
) -> np.ndarray:
    """``(2π)^(−n/2) det(Σ)^(−½) exp(half · (x − μ)ᵀ Σ⁻¹ (x − μ))`` — to name a slip."""
    D = X - mu
    q = np.sum(D @ np.linalg.inv(S) * D, axis=1)
    c = (2 * np.pi) ** (-len(mu) / 2) * np.linalg.det(S) ** -0.5 if normalized else 1.0
    return c * np.exp(half * q)


def check_multivariate_gaussian(learner: Learner, result: FunctionResult) -> None:
    rng = np.random.default_rng(seed_for("anomaly", "multivariate_gaussian"))
    n = 3
    X = rng.normal(0.0, 1.0, (7, n)) * SCALES[:n] + MEANS[:n]
    mu = MEANS[:n] + 0.2
    var = (SCALES[:n] * 1.1) ** 2
    A = rng.normal(0.0, 0.5, (n, n))
    Sigma = np.diag(var) + A @ A.T  # symmetric positive definite, off-diagonal terms that matter
    for case, v in (("var (n,): a diagonal Σ", var), ("var (n, n): a full Σ", Sigma)):
        _density_case(learner, result, case, X, mu, v)
        if not result.passed:
            return


def _density_case(
    learner: Learner, result: FunctionResult, case: str, X: np.ndarray, mu: np.ndarray, v: np.ndarray
) -> None:
    out = returned(
        learner.call_course("multivariate_gaussian", ["X", "mu", "var"], [X, mu, v]),
        "multivariate_gaussian",
        "p",
    )
    actual = {"p": array(out, "the returned p")}
    result.add(case, "forward", records(actual, {"p": density(X, mu, v)}, "forward"))
    S = np.diag(v) if np.ndim(v) == 1 else v
    slips = [
        (
            "the exponent lacks the −½: exp(−½ (x − μ)ᵀ Σ⁻¹ (x − μ))",
            lambda: {"p": _course_formula(X, mu, S, half=-1.0)},
        ),
        (
            "the normalizer (2π)^(−n/2) det(Σ)^(−½) is missing",
            lambda: {"p": _course_formula(X, mu, S, normalized=False)},
        ),
    ]
    if np.ndim(v) == 1:
        slips.append(
            (
                "var is used as the standard deviation σ: Σ = diag(var²); the course's var is σ²",
                lambda: {"p": _course_formula(X, mu, np.diag(v**2))},
            )
        )
    name_slip(result, actual, slips, "forward")


# --- select_threshold ------------------------------------------------------------------------
def course_grid(p_val: np.ndarray) -> np.ndarray:
    """The ``ε`` the course's loop visits: ``np.arange(min(p_val), max(p_val), step_size)``."""
    step_size = (max(p_val) - min(p_val)) / GRID_STEPS
    return np.arange(min(p_val), max(p_val), step_size)


def threshold(y_val: np.ndarray, p_val: np.ndarray) -> dict[str, float]:
    """The course's ``(best_epsilon, best_F1)`` computed by torch on the course's grid: flags
    ``p_val < ε``, ``F1 = 2tp / (2tp + fp + fn)`` (the course's ``2PR / (P + R)``; an ``ε`` that
    flags nothing has F1 0 here, NaN there, and neither beats ``best_F1 = 0``), the first best."""
    eps = course_grid(p_val)
    with parity_mode():
        y, p, e = torch.as_tensor(y_val).long(), _t(p_val), _t(eps)
        flags = (p[None, :] < e[:, None]).long()  # (G, m) the course's predictions for every ε
        tp, fp, fn = (flags * y).sum(1), (flags * (1 - y)).sum(1), ((1 - flags) * y).sum(1)
        f1s = (2 * tp).double() / (2 * tp + fp + fn).clamp_min(1).double()  # (G,)
        best = int(torch.argmax(f1s))  # the first maximum: the course's strict F1 > best_F1
        if float(f1s[best]) <= 0:
            return {"best_epsilon": 0.0, "best_F1": 0.0}
        f1 = TA.precision_recall_f1(y, flags[best])[2]
    return {"best_epsilon": float(eps[best]), "best_F1": f1}


def scan(
    y_val: np.ndarray, p_val: np.ndarray, flag: str = "<", f1: str = "course", keep: str = "first"
) -> dict[str, float]:
    """The course's loop in NumPy with one thing changed — to name a slip: ``flag`` ``"<="``,
    ``f1`` ``"recall"`` (precision computed as ``tp/(tp+fn)``) or ``"precision"`` (recall as
    ``tp/(tp+fp)``), ``keep`` ``"last"`` (``F1 >= best_F1``)."""
    best_epsilon, best_F1 = 0.0, 0.0
    for epsilon in course_grid(p_val):
        predictions = p_val <= epsilon if flag == "<=" else p_val < epsilon
        tp = np.sum(predictions & (y_val == 1))
        fp = np.sum(predictions & (y_val == 0))
        fn = np.sum(~predictions & (y_val == 1))
        prec = tp / (tp + fn if f1 == "recall" else tp + fp) if tp else 0.0
        rec = tp / (tp + fp if f1 == "precision" else tp + fn) if tp else 0.0
        F1 = 2 * prec * rec / (prec + rec) if tp else 0.0
        if F1 > best_F1 or (keep == "last" and F1 == best_F1 and F1 > 0):
            best_epsilon, best_F1 = float(epsilon), float(F1)
    return {"best_epsilon": best_epsilon, "best_F1": best_F1}


def validation_set() -> tuple[np.ndarray, np.ndarray]:
    """31 densities, 5 anomalies mostly among the lowest, one normal example in their midst: the
    best F1 (0.8: 4 of the 5 anomalies, 1 false alarm) is reached by one set of flags only
    (``test_course_kmeans_anomaly`` asserts it), so the first best ``ε`` is not a rounding matter."""
    rng = np.random.default_rng(seed_for("anomaly", "select_threshold"))
    p = np.concatenate([rng.uniform(0.01, 0.12, 26), rng.uniform(1e-4, 0.02, 4), [0.03]])
    y = np.r_[np.zeros(26, dtype=int), np.ones(5, dtype=int)]
    order = rng.permutation(p.size)
    return y[order], p[order]


def on_grid() -> tuple[np.ndarray, np.ndarray]:
    """Densities that lie exactly on the course's grid (``min``, ``max`` and grid points), so
    ``p_val < ε`` and ``p_val ≤ ε`` flag different examples at every one of them."""
    lo, hi = 2e-3, 5e-2
    grid = np.arange(lo, hi, (hi - lo) / GRID_STEPS)  # the grid these p_val give: same min, max
    anomalies = grid[[0, 40, 95, 310]]
    normals = np.r_[grid[[60, 200, 450, 600, 720, 800, 999]], hi]
    y = np.r_[np.ones(anomalies.size, dtype=int), np.zeros(normals.size, dtype=int)]
    order = np.random.default_rng(seed_for("anomaly", "on_grid")).permutation(y.size)
    return y[order], np.r_[anomalies, normals][order]


def check_select_threshold(learner: Learner, result: FunctionResult) -> None:
    result.notes.append(
        "checked by the course's rule: a linear grid of 1000 steps from min(p_val), "
        "flagging p_val < ε, the first best F1 (dlparity's own select_threshold "
        "searches the distinct scores exactly and flags p ≤ ε)"
    )
    for case, (y_val, p_val) in (("validation set", validation_set()), ("p_val on the grid", on_grid())):
        _threshold_case(learner, result, case, y_val, p_val)
        if not result.passed:
            return


def _threshold_case(
    learner: Learner, result: FunctionResult, case: str, y_val: np.ndarray, p_val: np.ndarray
) -> None:
    out = learner.call_course("select_threshold", ["y_val", "p_val"], [y_val, p_val])
    eps, f1 = unpack(out, ("best_epsilon", "best_F1"), "select_threshold")
    actual = {
        "best_epsilon": number(eps, "the returned best_epsilon", result),
        "best_F1": number(f1, "the returned best_F1", result),
    }
    ref = threshold(y_val, p_val)
    result.add(
        case,
        "forward",
        [compare(k, np.asarray(actual[k]), np.asarray(v), tol("forward")) for k, v in ref.items()],
    )
    name_slip(
        result,
        actual,
        [
            (
                "flags p_val ≤ ε; the course flags p_val < ε (predictions = (p_val < epsilon))",
                lambda: scan(y_val, p_val, flag="<="),
            ),
            (
                "precision computed as tp / (tp + fn), which is the recall: the course's "
                "prec = tp / (tp + fp), rec = tp / (tp + fn)",
                lambda: scan(y_val, p_val, f1="recall"),
            ),
            (
                "recall computed as tp / (tp + fp), which is the precision: the course's "
                "rec = tp / (tp + fn), prec = tp / (tp + fp)",
                lambda: scan(y_val, p_val, f1="precision"),
            ),
            (
                "keeps the last ε with the best F1 (F1 >= best_F1); the course's F1 > best_F1 keeps "
                "the first",
                lambda: scan(y_val, p_val, keep="last"),
            ),
            (
                "returns the template's best_epsilon = 0, best_F1 = 0: not implemented yet?",
                lambda: {"best_epsilon": 0.0, "best_F1": 0.0},
            ),
        ],
        "forward",
    )
