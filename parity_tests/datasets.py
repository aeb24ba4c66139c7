"""Small real and synthetic data sets for parity runs, in the course layout ``X (n_x, m)``.

Real data comes from scikit-learn's *bundled* files (nothing is downloaded); scikit-learn is an
optional dependency (extras ``test`` and ``data``), so a missing one raises
:class:`~parity_tests.registry.CheckUnavailable`, which the report shows as "unavailable".
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

BREAST_CANCER_FEATURES = ("mean texture", "mean smoothness", "mean concave points", "worst radius")
"""Four of the 30 features. All 30 separate the classes perfectly, so the *unpenalized* optimum
would lie at infinity; these four leave ~4% of examples misclassified and a finite optimum
(weights of size ~6), which an independent solver can find and gradient descent can reach."""


def _sklearn_datasets() -> ModuleType:
    """``sklearn.datasets``, or :class:`CheckUnavailable` when scikit-learn is not installed."""
    from parity_tests.registry import CheckUnavailable

    try:
        from sklearn import datasets
    except ImportError:
        raise CheckUnavailable("scikit-learn is not installed (pip install 'dlparity[data]')") from None
    return datasets


def _standardize(A: np.ndarray) -> np.ndarray:
    """Zero mean and unit variance per column of a batch-first ``A (m, n)``."""
    return (A - A.mean(axis=0)) / A.std(axis=0)


def breast_cancer() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """scikit-learn's bundled Wisconsin breast-cancer data, standardized.

    Returns ``X (4, 569)`` (zero mean, unit variance per feature, the features above),
    ``Y (1, 569)`` with 1 = benign, and the feature names.
    """
    data = _sklearn_datasets().load_breast_cancer()
    names = list(data.feature_names)
    X = _standardize(data.data[:, [names.index(f) for f in BREAST_CANCER_FEATURES]])
    Y = data.target.reshape(1, -1).astype(np.float64)
    return np.ascontiguousarray(X.T), Y, list(BREAST_CANCER_FEATURES)


def diabetes() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled diabetes data (442 patients, 10 features), in the course layout.

    Returns ``X (10, 442)`` with every feature standardized and ``Y (1, 442)`` — disease
    progression after one year — standardized too, so that a predictor of the mean has
    ``RMSE = 1`` and learning rates need no tuning to the target's units.
    """
    data = _sklearn_datasets().load_diabetes()
    y = (data.target - data.target.mean()) / data.target.std()
    return np.ascontiguousarray(_standardize(data.data).T), y.reshape(1, -1)  # (n_x, m), (1, m)


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8×8 digits: ``X (64, 1797)`` scaled to [0, 1], labels ``(1797,)``."""
    data = _sklearn_datasets().load_digits()
    X = np.ascontiguousarray(data.data.T) / 16.0  # (64, m), pixel values 0..16 -> [0, 1]
    return X, data.target.astype(np.int64)


def planar_flower(
    m: int = 400,
    rng: np.random.Generator | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The course's two-class "flower": ``X (2, m)`` points on 8 petals, ``Y (1, m)`` in {0, 1}.

    As the course's ``load_planar_dataset``: for class ``j``, angles
    ``t = linspace(3.12 j, 3.12 (j + 1), m/2) + N(0, 0.2²)``, radius
    ``r = 4 sin(4t) + N(0, 0.2²)``, point ``(r sin t, r cos t)``.

    The default generator is an explicit ``np.random.RandomState(1)`` — the legacy stream the
    course's ``np.random.seed(1)`` seeds, without touching the global state — so the default
    points are exactly the course's: logistic regression gets 47% of them right, 4 tanh hidden
    units about 90%. Pass any ``np.random.Generator`` for other flowers.
    """
    if int(m) != m or m < 2 or m % 2:
        raise ValueError(f"m: expected an even number of points >= 2, got {m!r}")
    rng = np.random.RandomState(1) if rng is None else rng
    N, a = m // 2, 4.0  # points per class, maximum ray of the flower
    X = np.zeros((2, m))
    Y = np.zeros((1, m))
    for j in range(2):
        ix = slice(N * j, N * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, N) + rng.standard_normal(N) * 0.2  # angle
        r = a * np.sin(4 * t) + rng.standard_normal(N) * 0.2  # radius
        X[0, ix], X[1, ix] = r * np.sin(t), r * np.cos(t)
        Y[0, ix] = j
    return X, Y
