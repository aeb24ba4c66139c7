"""Is a sample drawn from ``N(0, σ²)``? The one distribution check of the harness.

Random streams are never compared (NumPy's and torch's differ by design, and a learner's seed
is theirs); an initializer is checked by what it draws:

- the sample mean against 0 and the sample standard deviation against ``σ`` (moments), each
  within :data:`~parity_tests.tolerances.MOMENT_SE` standard errors (``σ/√N`` and ``σ/√(2N)``);
- the Kolmogorov–Smirnov statistic ``D`` of ``w/σ`` against the standard normal CDF, below the
  critical value at level :data:`~parity_tests.tolerances.KS_ALPHA`.

Used by the ``init`` concept (scratch and torch samples) and the course checker (a learner's
``W[l]``). The normal CDF is torch's ``ndtr``, so neither needs SciPy.

Example:
    >>> import numpy as np
    >>> w = np.random.default_rng(0).standard_normal(10_000) * 0.01
    >>> [r.passed for r in normal_records(w, 0.01)]
    [True, True, True]
"""

from __future__ import annotations

import math

import numpy as np
import torch

from parity_tests.compare import Comparison, compare
from parity_tests.tolerances import KS_ALPHA, MOMENT_SE, Tolerance


def ks_critical(n_eff: float, alpha: float = KS_ALPHA) -> float:
    """The asymptotic KS critical value at level ``alpha``: ``√(−ln(α/2) / (2 n_eff))``
    (``n_eff = N`` for one sample, ``N₁N₂/(N₁+N₂)`` for two)."""
    return math.sqrt(-math.log(alpha / 2) / (2 * n_eff))


def ks_statistic(w: np.ndarray, sigma: float) -> float:
    """Kolmogorov–Smirnov ``D`` of the sample ``w`` (any shape) against ``N(0, σ²)``."""
    x = np.sort(np.asarray(w, dtype=np.float64).ravel() / sigma)
    cdf = torch.special.ndtr(torch.from_numpy(x)).numpy()
    n = x.size
    return float(max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n)))


def normal_records(
    w: np.ndarray, sigma: float, names: tuple[str, str, str] = ("mean", "std", "KS D vs N(0, σ²)")
) -> list[Comparison]:
    """Mean, standard deviation and one-sample KS ``D`` of ``w`` against ``N(0, σ²)``, as three
    records named ``names`` (see the module doc for the limits)."""
    w = np.asarray(w).astype(np.float64).ravel()
    N = w.size
    return [
        compare(names[0], w.mean(), 0.0, Tolerance(0.0, MOMENT_SE * sigma / math.sqrt(N))),
        compare(names[1], w.std(), sigma, Tolerance(0.0, MOMENT_SE * sigma / math.sqrt(2 * N))),
        compare(names[2], ks_statistic(w, sigma), 0.0, Tolerance(0.0, ks_critical(N))),
    ]
