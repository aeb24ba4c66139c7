"""Parity checks of ``anomaly``: Gaussian density estimation and an autoencoder, scratch vs torch_ref.

The levels here are the algorithms' own steps:

- **forward** — the estimates ``μ``, ``σ²`` (÷ m, against torch's ``correction=0``) and ``Σ``
  (``torch.cov``); log-densities and densities of the diagonal (``Normal``) and the full
  (``MultivariateNormal``) Gaussian, with far outliers whose ``p(x)`` underflows to 0 while
  ``log p(x)`` stays finite; the threshold step from the same scores (``ε``, its F1, every
  candidate's F1, the flags; ties among scores and among F1s); whole detectors, fit →
  threshold → flags, on synthetic data and on breast cancer (train on benign cases, flag
  malignant ones), and the trained autoencoder's scores, ``ε`` and flags from one set of
  parameters.
- **gradient** and **finite-difference** — the autoencoder's cost gradients.
- **trajectory** — the autoencoder's training, step by step (toy data; breast cancer).
- **oracle** — ``scipy.stats`` log-densities and scikit-learn's precision/recall/F1 (CPU,
  float64: the independent implementations compute in float64). SciPy's multivariate density
  goes through an eigendecomposition, ours through Cholesky: on a Σ of condition number < ~10
  the two differ by ~n·cond·ε ≪ the float64 forward tolerance, which they are held to.

Not applicable: gradients of the Gaussian detector (fit in closed form, not trained).
The trajectories train at α = 0.05, where the autoencoder's training is stable: at α = 0.1 it
reaches the edge of stability (the toy's per-step rounding, simulated as 1e-7 relative noise,
grew 650× in 60 steps, and float32 on CUDA left the policy at step 59); at 0.05 it shrinks.
Counts, F1 and flags are integers or exact ratios of integers on both sides: they are held to
the float64 forward tolerance whatever the run's dtype, which only an identical value passes.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import torch

from parity_tests.compare import CheckResult, compare, group_result
from parity_tests.datasets import breast_cancer
from parity_tests.devices import check_device, parity_mode
from parity_tests.registry import (
    CheckUnavailable,
    Model,
    ParityCheck,
    model_problem,
    register,
    register_forward,
    register_model,
    register_trajectory,
    seed_for,
)
from parity_tests.tolerances import tolerance
from scratch import anomaly as S
from torch_ref import anomaly as T
from torch_ref.deep import param_spec as deep_param_spec
from torch_ref.layout import SAME, numpy_dtype, to_numpy, to_tensor, torch_dtype

C = "anomaly"
M, N = 7, 4  # distinct, non-square: X (7, 4), Σ (4, 4)
AE_DIMS = [5, 3, 2, 3, 5]  # W1 (3, 5), W2 (2, 3), W3 (3, 2), W4 (5, 3)
AE_NAMES = [f"{p}{layer}" for layer in range(1, len(AE_DIMS)) for p in "Wb"]
BC_HIDDEN, BC_LEARNING_RATE = (3, 2, 3), 0.05
BC_STEPS = 150  # the registered run (~0.5 s per dtype; α = 0.05 is stable); the tests train 400
EXACT = tolerance("float64", "forward")
"""For counts, F1 and flags (see the module docstring)."""


def _register(case: str, level: str, run, **kwargs: Any) -> None:
    """Register a hand-built check; its torch work runs in parity mode (TF32 off, deterministic)."""

    def in_parity_mode(device: str, dtype: str) -> CheckResult:
        check_device(device)
        with parity_mode():
            return run(device, dtype)

    register(ParityCheck(C, case, level, in_parity_mode, **kwargs))


# --- forward: estimates and densities --------------------------------------------------------
def gaussian_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``X (7, 4)`` around ``μ`` with ``σ² ∈ [0.5, 2]``, a row at ``μ + 10³σ`` (``p = 0``,
    ``log p ≈ −2·10⁶``) and one feature 40σ out (``p ≈ e⁻⁸⁰⁰ = 0`` in float64 too)."""
    mu, var = rng.normal(size=N), rng.uniform(0.5, 2.0, N)
    X = mu + rng.normal(size=(M, N)) * np.sqrt(var)
    X[-2] = mu + 1e3 * np.sqrt(var)
    X[-1, 0] = mu[0] - 40 * np.sqrt(var[0])
    return {"X": X, "mu": mu, "var": var}


def spd(rng: np.random.Generator, n: int) -> np.ndarray:
    """A well-conditioned symmetric positive-definite ``(n, n)`` (condition number < ~10)."""
    B = rng.normal(size=(n, n))
    Sigma = B @ B.T / n + np.eye(n)
    return (Sigma + Sigma.T) / 2  # exactly symmetric


def full_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    kw = gaussian_inputs(rng)
    return {"X": kw["X"], "mu": kw["mu"], "Sigma": spd(rng, N)}


def with_density(log_p: Any) -> dict[str, Any]:
    """``{"log_p": log p(x), "p": exp(log p(x))}`` from a NumPy array or a tensor."""
    return {"log_p": log_p, "p": np.exp(log_p) if isinstance(log_p, np.ndarray) else log_p.exp()}


register_forward(
    C,
    "diagonal-density",
    lambda X, mu, var: {"log_p": S.gaussian_log_pdf(X, mu, var), "p": S.gaussian_pdf(X, mu, var)},
    lambda X, mu, var: with_density(T.gaussian_log_prob(X, mu, var)),
    gaussian_inputs,
)
register_forward(
    C,
    "full-density",
    lambda X, mu, Sigma: with_density(S.multivariate_gaussian_log_pdf(X, mu, Sigma)),
    lambda X, mu, Sigma: with_density(T.multivariate_log_prob(X, mu, Sigma)),
    full_inputs,
)
register_forward(
    C,
    "diagonal-estimate",
    lambda X: dict(zip(("mu", "var"), S.estimate_gaussian(X))),
    lambda X: dict(zip(("mu", "var"), T.estimate_gaussian(X))),
    lambda rng: {"X": rng.normal(size=(M, N)) * 3 + 5},
)
register_forward(
    C,
    "full-estimate",
    lambda X: dict(zip(("mu", "Sigma"), S.estimate_multivariate_gaussian(X))),
    lambda X: dict(zip(("mu", "Sigma"), T.estimate_multivariate_gaussian(X))),
    lambda rng: {"X": rng.normal(size=(M, N)) @ spd(rng, N) + 5},
)


# --- forward: the threshold step -------------------------------------------------------------
def scores_and_labels(rng: np.random.Generator, m: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Scores of ``m`` examples, anomalies (~30%) lower on average; four exact duplicates."""
    y = (rng.random(m) < 0.3).astype(np.int64)
    y[:2] = (0, 1)  # both classes
    scores = rng.normal(size=m) - 1.5 * y
    scores[-4:] = scores[:4]  # ties among scores: one candidate per distinct value
    return scores, y


def threshold_records(
    s_scores: np.ndarray, t_scores: torch.Tensor, y: np.ndarray, direction: str, dtype: str, prefix: str = ""
) -> tuple[list, S.Threshold, T.Threshold]:
    """``ε``, F1, every candidate and its F1, and the validation flags: scratch vs torch."""
    s = S.search_threshold(s_scores, y, direction)
    t = T.search_threshold(t_scores, torch.as_tensor(y, device=t_scores.device), direction)
    tol = tolerance(dtype, "forward")
    records = [
        compare(f"{prefix}epsilon", s.epsilon, to_numpy(t.epsilon), tol),
        compare(f"{prefix}f1", s.f1, t.f1, EXACT),
        compare(f"{prefix}candidates", s.candidates, to_numpy(t.candidates), tol),
        compare(f"{prefix}candidate_f1s", s.f1s, to_numpy(t.f1s), EXACT),
        compare(
            f"{prefix}flags",
            S.flag(s_scores, s.epsilon, direction),
            to_numpy(T.flag(t_scores, t.epsilon, direction)),
            EXACT,
        ),
    ]
    return records, s, t


def f1_curve(title: str, curves: dict[str, S.Threshold], xlabel: str = "ε") -> dict[str, Any]:
    """The report's F1-vs-ε figure, one line per threshold search."""
    return {
        "title": title,
        "xlabel": xlabel,
        "ylabel": "validation F1",
        "series": [
            {
                "label": label,
                "x": [float(v) for v in t.candidates],
                "y": [float(v) for v in t.f1s],
                "kind": "line",
            }
            for label, t in curves.items()
        ],
    }


def run_threshold(device: str, dtype: str, direction: str) -> CheckResult:
    scores, y = scores_and_labels(np.random.default_rng(seed_for(C, "threshold", direction)))
    scores = scores.astype(numpy_dtype(dtype))
    records, s, t = threshold_records(scores, to_tensor(scores, device, dtype), y, direction, dtype)
    figure = f1_curve(
        f"threshold by F1 (flag score {'≤' if direction == 'below' else '≥'} ε)", {"scratch": s, "torch": t}
    )
    return group_result(
        C,
        f"threshold-{direction}",
        "forward",
        device,
        dtype,
        records,
        extra={"figure": figure, "metrics": {"f1_scratch": s.f1, "f1_torch": t.f1}},
    )


for _direction in S.DIRECTIONS:
    _register(f"threshold-{_direction}", "forward", partial(run_threshold, direction=_direction))


# --- forward: whole Gaussian detectors -------------------------------------------------------
def detector_records(
    covariance_type: str, data: tuple[np.ndarray, ...], device: str, dtype: str, prefix: str = ""
) -> tuple[list, S.GaussianDetector, T.GaussianDetector]:
    """Fit on ``X_train``, threshold on ``(X_val, y_val)``, flag ``X_test``: both sides."""
    X_train, X_val, y_val, X_test = (
        a.astype(numpy_dtype(dtype)) if a.dtype.kind == "f" else a for a in data[:4]
    )
    s = S.GaussianDetector(covariance_type).fit(X_train)
    t = T.GaussianDetector(X_train.shape[1], covariance_type, device=device, dtype=torch_dtype(dtype))
    t.fit(to_tensor(X_train, device, dtype))
    tol = tolerance(dtype, "forward")
    fitted = {name: to_numpy(t.get_buffer(key)) for name, (key, _) in t.param_spec.items()}
    records = [compare(f"{prefix}{k}", v, fitted[k], tol) for k, v in s.params().items()]
    records.append(
        compare(f"{prefix}log_p_test", s.scores(X_test), to_numpy(t(to_tensor(X_test, device, dtype))), tol)
    )
    th, _, _ = threshold_records(
        s.scores(X_val), t(to_tensor(X_val, device, dtype)), y_val, "below", dtype, prefix
    )
    s.fit_threshold(X_val, y_val)
    t.fit_threshold(to_tensor(X_val, device, dtype), torch.as_tensor(y_val, device=device))
    records += th + [
        compare(
            f"{prefix}flags_test",
            s.predict(X_test),
            to_numpy(t.predict(to_tensor(X_test, device, dtype))),
            EXACT,
        )
    ]
    return records, s, t


def synthetic_split(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Correlated normal data (3 features): 60 to train; validation and test sets of 30 normal
    examples and 10 anomalies (shifted and spread)."""
    A = spd(rng, 3)

    def normal(m: int) -> np.ndarray:
        return rng.normal(size=(m, 3)) @ A + 2.0

    def mixed() -> tuple[np.ndarray, np.ndarray]:
        X = np.vstack([normal(30), rng.normal(size=(10, 3)) * 3 + 4.0])
        return X, np.r_[np.zeros(30, np.int64), np.ones(10, np.int64)]

    (X_val, y_val), (X_test, y_test) = mixed(), mixed()
    return normal(60), X_val, y_val, X_test, y_test


def run_detector(device: str, dtype: str, covariance_type: str) -> CheckResult:
    data = synthetic_split(np.random.default_rng(seed_for(C, "detector", covariance_type)))
    records, _, _ = detector_records(covariance_type, data, device, dtype)
    return group_result(C, f"{covariance_type}-detector", "forward", device, dtype, records)


for _cov in ("diagonal", "full"):
    _register(f"{_cov}-detector", "forward", partial(run_detector, covariance_type=_cov))


# --- real data: breast cancer, malignant cases as the anomalies ------------------------------
def breast_cancer_split(seed: int = 0) -> tuple[np.ndarray, ...]:
    """scikit-learn's bundled breast-cancer data (4 standardized features, ``X (m, 4)``).

    The fraud-like setting: normal = benign (357), anomaly = malignant (212). A fixed
    permutation puts 60% of the benign cases in training (214; no malignant one), 20% in
    validation and 20% in test, each joined by a sixth of the malignant cases (35): validation
    106 = 71 + 35, test 107 = 72 + 35. Returns ``X_train, X_val, y_val, X_test, y_test``.
    """
    X, Y, _ = breast_cancer()
    X, y = np.ascontiguousarray(X.T), (Y.ravel() == 0).astype(np.int64)  # rows; 1 = malignant
    rng = np.random.default_rng(seed)
    benign, malignant = rng.permutation(np.flatnonzero(y == 0)), rng.permutation(np.flatnonzero(y == 1))
    b1, b2, k = int(0.6 * len(benign)), int(0.8 * len(benign)), len(malignant) // 6
    val, test = np.r_[benign[b1:b2], malignant[:k]], np.r_[benign[b2:], malignant[k : 2 * k]]
    return X[benign[:b1]], X[val], y[val], X[test], y[test]


def _prf(prefix: str, values: tuple[float, float, float]) -> dict[str, float]:
    return {f"{prefix}_{name}": float(v) for name, v in zip(("precision", "recall", "f1"), values)}


def run_breast_cancer_gaussian(device: str, dtype: str) -> CheckResult:
    data = breast_cancer_split()
    y_test = data[4]
    records, curves, metrics = [], {}, {}
    for cov in ("diagonal", "full"):
        recs, s, t = detector_records(cov, data, device, dtype, prefix=f"{cov}_")
        records += recs
        curves[f"{cov} (scratch)"] = s.threshold_
        metrics.update(
            _prf(
                f"{cov}_test_scratch",
                S.precision_recall_f1(y_test, s.predict(data[3].astype(numpy_dtype(dtype)))),
            )
        )
        metrics.update(
            _prf(
                f"{cov}_test_torch",
                T.precision_recall_f1(
                    torch.as_tensor(y_test), t.predict(to_tensor(data[3], device, dtype)).cpu()
                ),
            )
        )
    figure = f1_curve("breast cancer: validation F1 vs log ε (flag log p(x) ≤ ε)", curves, "log ε")
    return group_result(
        C,
        "breast-cancer-gaussian",
        "forward",
        device,
        dtype,
        records,
        extra={"figure": figure, "metrics": metrics},
    )


_register("breast-cancer-gaussian", "forward", run_breast_cancer_gaussian)


# --- the autoencoder: gradients, trajectories, detector --------------------------------------
def ae_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    params = S.initialize_autoencoder(AE_DIMS[0], AE_DIMS[1:-1], rng)
    params.update({k: rng.normal(size=v.shape) * 0.5 for k, v in params.items() if k[0] == "b"})
    return {**params, "X": rng.normal(size=(M, AE_DIMS[0]))}


def autoencoder(dims: list[int]) -> Model:
    """The autoencoder ``[n, *hidden, n]`` declared once (:class:`~parity_tests.registry.Model`):
    scratch ``autoencoder_propagate``/``reconstruction_error`` vs :class:`torch_ref.anomaly.Autoencoder`'s
    ``loss``/``score``, rows ``X (m, n)`` on both sides (``SAME``). Its labels are ``X`` itself
    (``inputs=("X",)``): ``propagate(params, X)``, ``loss(X)``, batches ``(X, X)``."""
    return Model(
        propagate=S.autoencoder_propagate,
        forward=S.reconstruction_error,
        make_module=partial(T.Autoencoder, dims, "tanh"),
        param_spec=deep_param_spec(len(dims) - 1),  # Autoencoder.param_spec
        loss_method="loss",
        output_method="score",
        inputs=("X",),
        x_layout=SAME,
        output_layout=SAME,
    )


register_model(C, "autoencoder", autoencoder(AE_DIMS), ae_inputs)


def toy_ae_data(rng: np.random.Generator) -> dict[str, Any]:
    """60 full-batch steps on 30 rows of rank-2 data plus noise in 5 features (bottleneck 2),
    α = 0.05, from scratch's initialization."""
    X = rng.normal(size=(30, 2)) @ rng.normal(size=(2, AE_DIMS[0])) + 0.1 * rng.normal(size=(30, 5))
    return {
        "init_params": S.initialize_autoencoder(AE_DIMS[0], AE_DIMS[1:-1], rng),
        "batches": [(X, X)] * 60,
        "learning_rate": 0.05,
    }


def ae_metrics(data: tuple[np.ndarray, ...]):
    """Test precision/recall/F1 of each side's trained autoencoder, ``ε`` chosen on validation."""
    _, X_val, y_val, X_test, y_test = data

    def metrics(params: dict[str, np.ndarray], model: T.Autoencoder) -> dict[str, float]:
        dt = params["W1"].dtype
        epsilon = S.search_threshold(S.reconstruction_error(params, X_val.astype(dt)), y_val, "above").epsilon
        flags_scratch = S.flag(S.reconstruction_error(params, X_test.astype(dt)), epsilon, "above")
        p = next(model.parameters())
        with torch.no_grad():
            model.fit_threshold(
                torch.as_tensor(X_val, device=p.device, dtype=p.dtype),
                torch.as_tensor(y_val, device=p.device),
            )
            flags = model.predict(torch.as_tensor(X_test, device=p.device, dtype=p.dtype)).cpu()
        return {
            **_prf("test_scratch", S.precision_recall_f1(y_test, flags_scratch)),
            **_prf("test_torch", T.precision_recall_f1(torch.as_tensor(y_test), flags)),
        }

    return metrics


def breast_cancer_ae_data(steps: int, rng: np.random.Generator) -> dict[str, Any]:
    """``steps`` full-batch steps on the benign training rows, α = ``BC_LEARNING_RATE``, with
    each side's test precision/recall/F1 (:func:`ae_metrics`)."""
    data = breast_cancer_split()
    return {
        "init_params": S.initialize_autoencoder(4, BC_HIDDEN, rng),
        "batches": [(data[0], data[0])] * steps,
        "learning_rate": BC_LEARNING_RATE,
        "metrics": ae_metrics(data),
    }


BC_AUTOENCODER = autoencoder([4, *BC_HIDDEN, 4])

register_trajectory(C, "autoencoder-toy", model_problem(autoencoder(AE_DIMS), toy_ae_data))
register_trajectory(
    C, "breast-cancer-autoencoder", model_problem(BC_AUTOENCODER, partial(breast_cancer_ae_data, BC_STEPS))
)


def run_ae_detector(device: str, dtype: str) -> CheckResult:
    """The scratch detector trained on benign cases; its parameters loaded into torch; scores,
    ``ε`` and flags from the same parameters on both sides."""
    X_train, X_val, y_val, X_test, _ = (
        a.astype(numpy_dtype(dtype)) if a.dtype.kind == "f" else a for a in breast_cancer_split()
    )
    s = S.AutoencoderDetector(BC_HIDDEN, learning_rate=BC_LEARNING_RATE, num_iterations=BC_STEPS)
    s.fit(X_train).fit_threshold(X_val, y_val)
    t = T.Autoencoder.from_scratch(s.params_, "tanh", device=device, dtype=torch_dtype(dtype))
    tol = tolerance(dtype, "forward")
    with torch.no_grad():
        e_test = t.score(to_tensor(X_test, device, dtype))
        records = [compare("e_test", s.scores(X_test), to_numpy(e_test), tol)]
        th, _, _ = threshold_records(
            s.scores(X_val), t.score(to_tensor(X_val, device, dtype)), y_val, "above", dtype
        )
        t.fit_threshold(to_tensor(X_val, device, dtype), torch.as_tensor(y_val, device=device))
        flags_t = to_numpy(t.predict(to_tensor(X_test, device, dtype)))
    records += th + [compare("flags_test", s.predict(X_test), flags_t, EXACT)]
    return group_result(C, "breast-cancer-autoencoder-detector", "forward", device, dtype, records)


_register("breast-cancer-autoencoder-detector", "forward", run_ae_detector)


# --- oracles: SciPy and scikit-learn ---------------------------------------------------------
def run_scipy(device: str, dtype: str) -> CheckResult:
    try:
        from scipy import stats
    except ImportError:
        raise CheckUnavailable("SciPy is not installed (pip install 'dlparity[test]')") from None
    rng = np.random.default_rng(seed_for(C, "scipy"))
    kw, Sigma = gaussian_inputs(rng), spd(rng, N)
    X, mu, var = kw["X"], kw["mu"], kw["var"]
    tol = tolerance("float64", "forward")
    records = [
        compare(
            "diagonal_log_p",
            S.gaussian_log_pdf(X, mu, var),
            stats.norm.logpdf(X, mu, np.sqrt(var)).sum(axis=1),
            tol,
        ),
        compare(
            "full_log_p",
            S.multivariate_gaussian_log_pdf(X, mu, Sigma),
            stats.multivariate_normal.logpdf(X, mu, Sigma),
            tol,
        ),
    ]
    return group_result(C, "scipy-logpdf", "oracle", device, dtype, records)


def run_sklearn_f1(device: str, dtype: str) -> CheckResult:
    try:
        from sklearn.metrics import precision_recall_fscore_support
    except ImportError:
        raise CheckUnavailable("scikit-learn is not installed (pip install 'dlparity[test]')") from None
    rng = np.random.default_rng(seed_for(C, "sklearn-f1"))
    records = []
    for i in range(20):  # random flag sets, incl. none flagged (precision 0/0 -> 0)
        y, flags = (rng.random(30) < 0.3).astype(np.int64), (rng.random(30) < 0.3 * (i > 0))
        ref = precision_recall_fscore_support(y, flags, average="binary", zero_division=0.0)[:3]
        records.append(compare(f"precision_recall_f1[{i}]", S.precision_recall_f1(y, flags), ref, EXACT))
    return group_result(C, "sklearn-f1", "oracle", device, dtype, records)


_register("scipy-logpdf", "oracle", run_scipy, dtypes=("float64",), cpu_only=True)
_register("sklearn-f1", "oracle", run_sklearn_f1, dtypes=("float64",), cpu_only=True)
