"""Small real and synthetic data sets for parity runs, in the course layout ``X (n_x, m)``.

Real data comes from scikit-learn's *bundled* files (nothing is downloaded); scikit-learn is an
optional dependency (extras ``test`` and ``data``), so a missing one raises
:class:`~parity_tests.registry.CheckUnavailable`, which the report shows as "unavailable".
"""

from __future__ import annotations

import numpy as np

BREAST_CANCER_FEATURES = ("mean texture", "mean smoothness", "mean concave points", "worst radius")
"""Four of the 30 features. All 30 separate the classes perfectly, so the *unpenalized* optimum
would lie at infinity; these four leave ~4% of examples misclassified and a finite optimum
(weights of size ~6), which an independent solver can find and gradient descent can reach."""


def breast_cancer() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """scikit-learn's bundled Wisconsin breast-cancer data, standardized.

    Returns ``X (4, 569)`` (zero mean, unit variance per feature, the features above),
    ``Y (1, 569)`` with 1 = benign, and the feature names.
    """
    from parity_tests.registry import CheckUnavailable

    try:
        from sklearn.datasets import load_breast_cancer
    except ImportError:
        raise CheckUnavailable("scikit-learn is not installed (pip install 'dlparity[data]')") from None
    data = load_breast_cancer()
    names = list(data.feature_names)
    cols = [names.index(f) for f in BREAST_CANCER_FEATURES]
    X = data.data[:, cols]
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    Y = data.target.reshape(1, -1).astype(np.float64)
    return np.ascontiguousarray(X.T), Y, list(BREAST_CANCER_FEATURES)
