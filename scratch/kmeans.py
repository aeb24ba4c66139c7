"""Clustering ("look for training data that are similar & group them"): k-means by Lloyd's
algorithm with k-means++ seeding.

Layout: examples are rows, as the course has unsupervised data: ``X (m, n)``, centroids
``μ (k, n)``, assignments ``c (m,)`` with ``c⁽ⁱ⁾ ∈ {0, …, k−1}``. One iteration ``t``:

    assignment   c⁽ⁱ⁾ = argmin_j ‖x⁽ⁱ⁾ − μ_j‖          (ties: the lowest j, see below)
    cost         J    = Σ_i ‖x⁽ⁱ⁾ − μ_c⁽ⁱ⁾‖²           (of this assignment, before the move)
    update       μ_j  = 1/|C_j| Σ_{i ∈ C_j} x⁽ⁱ⁾        (an empty cluster keeps its μ_j)

and it stops after the iteration whose assignments equal the previous ones, or whose total
squared centroid shift ``Σ_j ‖Δμ_j‖²`` is at most ``tol`` × the mean per-feature variance of
``X`` (scikit-learn's rule), or after ``max_iter``. Then ``labels`` are the assignments to the
final centroids and ``inertia = Σ_i min_j ‖x⁽ⁱ⁾ − μ_j‖²``.

Seeding takes its randomness as *uniform numbers* ``u``, so that another implementation fed the
same numbers seeds the same centroids (:func:`kmeans_plusplus`, :func:`random_init`).

Numerics: assignments are discrete — one example that flips to another centroid changes every
later iteration — so they must not depend on rounding:

- distances (the direct form ``√Σ (x − μ)²``, relative error below ``(n + 3) ε``) and centroid
  sums are computed in float64 whatever ``X``'s dtype; only the results are returned in it. In
  float32 two implementations' different summation orders would decide near-ties differently
  for about one example in 10³ per pass;
- a **tie** is a distance within ``TIE_RTOL(n) = 8 (n + 3) ε₆₄`` (relative) of the smallest, and
  the lowest such ``j`` wins. Exact ties are common — the seeds are examples, so on decimal
  (iris) or integer (digits) data an example is often exactly as far from two seeds — but
  floating point breaks them by rounding noise, which differs between implementations; this
  test makes "lowest index" independent of that noise.

Example:
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [9.0, 9.0], [9.0, 8.0], [0.5, 0.0]])
    >>> km = KMeans(k=2).fit(X, u=np.array([0.1, 0.5]))
    >>> km.labels_.tolist(), km.cluster_centers_.round(3).tolist(), km.n_iter_
    ([0, 0, 1, 1, 0], [[0.167, 0.333], [9.0, 8.5]], 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scratch._validate import as_float_array


@dataclass
class Iteration:
    """One Lloyd iteration: assignments ``c (m,)``, centroids after the update ``μ (k, n)``, the
    cost ``J`` of the assignment, the squared shift ``Σ‖Δμ_j‖²``, the cluster sizes ``(k,)`` and
    the number of examples whose nearest centroid was a tie."""

    labels: np.ndarray
    centroids: np.ndarray
    cost: float
    shift: float
    counts: np.ndarray
    ties: int


@dataclass
class LloydResult:
    """Final centroids ``(k, n)``, labels ``(m,)``, inertia, iteration count and history."""

    centroids: np.ndarray
    labels: np.ndarray
    inertia: float
    n_iter: int
    history: list[Iteration] = field(default_factory=list)


# --- checks -----------------------------------------------------------------------------------
def check_data(X: Any, k: int | None = None) -> np.ndarray:
    """``X (m, n)`` as floats with ``m, n >= 1``; if given, ``k`` must satisfy ``1 <= k <= m``."""
    X = as_float_array("X", X)
    if X.ndim != 2 or 0 in X.shape:
        raise ValueError(f"X: expected examples as rows (m, n) with m, n >= 1, got shape {X.shape}")
    if k is not None and (isinstance(k, bool) or int(k) != k or not 1 <= k <= X.shape[0]):
        raise ValueError(
            f"k: expected an integer with 1 <= k <= m = {X.shape[0]} (the number of examples), got k={k!r}"
        )
    return X


def _check_centroids(X: np.ndarray, centroids: Any, name: str = "centroids") -> np.ndarray:
    C = as_float_array(name, centroids)
    if C.ndim != 2 or C.shape[0] == 0 or C.shape[1] != X.shape[1]:
        raise ValueError(
            f"{name}: expected (k, n) = (*, {X.shape[1]}) to match X of shape {X.shape}, got {C.shape}"
        )
    return C


def _check_uniforms(u: Any, size: int, what: str) -> np.ndarray:
    u = np.asarray(u, dtype=np.float64)
    if u.shape != (size,) or not np.all((u >= 0) & (u < 1)):
        raise ValueError(
            f"u: expected {size} uniform numbers in [0, 1) ({what}), got shape "
            f"{u.shape}" + (f", range [{u.min()}, {u.max()}]" if u.size else "")
        )
    return u


# --- seeding ----------------------------------------------------------------------------------
def kmeans_plusplus(X: Any, k: int, u: Any) -> tuple[np.ndarray, np.ndarray]:
    """k-means++ seeding from ``k`` uniform numbers ``u`` in [0, 1): returns ``μ (k, n)`` and
    the chosen example indices ``(k,)``.

    The first centroid is example ``⌊u₀ m⌋``. Each next one is drawn with probability
    ``D(x)² / Σ D²`` (``D`` = distance to the nearest chosen centroid): the smallest ``i``
    whose prefix sum ``Σ_{i'<=i} D²`` exceeds ``u_j Σ D²`` (prefix sums in float64).
    """
    X = check_data(X, k)
    u = _check_uniforms(u, int(k), "one per centroid")
    X64, m = X.astype(np.float64), X.shape[0]
    chosen = [min(int(u[0] * m), m - 1)]
    D2 = np.sum((X64 - X64[chosen[0]]) ** 2, axis=1)  # (m,) squared distance to the nearest
    for j in range(1, int(k)):
        cum = np.cumsum(D2)  # (m,) prefix sums
        if cum[-1] == 0:
            raise ValueError(f"X: has only {j} distinct examples, fewer than k={k}")
        i = int(np.searchsorted(cum, u[j] * cum[-1], side="right"))  # first cum > u_j Σ D²
        chosen.append(min(i, int(np.flatnonzero(D2)[-1])))  # never past the last D² > 0
        D2 = np.minimum(D2, np.sum((X64 - X64[chosen[-1]]) ** 2, axis=1))
    idx = np.array(chosen)
    return X[idx].copy(), idx


def random_init(X: Any, k: int, u: Any) -> tuple[np.ndarray, np.ndarray]:
    """Random seeding from ``m`` uniform numbers ``u``: the ``k`` examples with the smallest
    ``u`` (a uniformly random ``k``-subset, in that order). Returns ``μ (k, n)`` and indices."""
    X = check_data(X, k)
    u = _check_uniforms(u, X.shape[0], "one per example")
    idx = np.argsort(u, kind="stable")[: int(k)]
    return X[idx].copy(), idx


# --- Lloyd's two steps ------------------------------------------------------------------------
def tie_rtol(n: int) -> float:
    """Distances within this relative margin of the smallest are tied: ``8 (n + 3) ε₆₄``, eight
    times the worst rounding difference of two float64 direct-form distances in ``n`` features."""
    return 8 * (n + 3) * float(np.finfo(np.float64).eps)


def _assign(X64: np.ndarray, C64: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    # (m, k) ‖x⁽ⁱ⁾ − μ_j‖, vectorized over the m examples; one pass per centroid keeps memory at
    # O(m n) instead of an (m, k, n) temporary (and runs twice as fast here)
    D = np.sqrt(np.stack([np.sum((X64 - mu) ** 2, axis=1) for mu in C64], axis=1))
    d_min = D.min(axis=1, keepdims=True)  # (m, 1)
    tied = D <= d_min * (1 + tie_rtol(X64.shape[1]))  # (m, k) as close as the closest
    labels = np.argmax(tied, axis=1)  # (m,) the first True: the lowest index wins a tie
    return labels, D[np.arange(X64.shape[0]), labels], int(np.sum(np.sum(tied, axis=1) > 1))


def assign(X: Any, centroids: Any) -> tuple[np.ndarray, np.ndarray]:
    """``c⁽ⁱ⁾ = argmin_j ‖x⁽ⁱ⁾ − μ_j‖`` (lowest ``j`` on ties) and that distance, both ``(m,)``.

    Distances in float64 by the direct form, returned in ``X``'s dtype; ties per :func:`tie_rtol`.
    """
    X = check_data(X)
    C = _check_centroids(X, centroids)
    labels, d, _ = _assign(X.astype(np.float64), C.astype(np.float64))
    return labels, d.astype(X.dtype)


def _update(X64: np.ndarray, labels: np.ndarray, C64: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    k = C64.shape[0]
    R = (labels[:, None] == np.arange(k)).astype(np.float64)  # (m, k) one-hot assignments
    sums = R.T @ X64  # (k, n) Σ_{i ∈ C_j} x⁽ⁱ⁾
    counts = np.bincount(labels, minlength=k)  # (k,) |C_j|
    means = sums / np.maximum(counts, 1)[:, None]  # (k, n)
    return np.where(counts[:, None] > 0, means, C64), counts  # empty: keep the previous μ_j


def update(X: Any, labels: Any, centroids: Any) -> tuple[np.ndarray, np.ndarray]:
    """``μ_j = mean of the examples assigned to j``; an empty cluster keeps its previous ``μ_j``.

    ``X (m, n)``, ``labels (m,)`` in ``{0, …, k−1}``, previous ``centroids (k, n)``. Sums are a
    one-hot GEMM ``Rᵀ X`` in float64. Returns the new ``μ (k, n)`` and the sizes ``|C_j| (k,)``.
    """
    X = check_data(X)
    C = _check_centroids(X, centroids)
    labels = np.asarray(labels)
    k = C.shape[0]
    if (
        labels.shape != (X.shape[0],)
        or labels.dtype.kind not in "iu"
        or (labels.size and (labels.min() < 0 or labels.max() >= k))
    ):
        raise ValueError(
            f"labels: expected {X.shape[0]} integers in [0, {k}), got shape "
            f"{labels.shape} dtype {labels.dtype}"
        )
    C_new, counts = _update(X.astype(np.float64), labels, C.astype(np.float64))
    return C_new.astype(X.dtype), counts


def lloyd(X: Any, centroids: Any, max_iter: int = 300, tol: float = 1e-4) -> LloydResult:
    """Lloyd's algorithm from initial ``centroids (k, n)``; see the module docstring for the
    steps, the stopping rule and the float64 accumulation."""
    X = check_data(X)
    C = _check_centroids(X, centroids, "init")
    if isinstance(max_iter, bool) or int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter: expected a positive integer, got {max_iter!r}")
    if not (np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol: expected a finite number >= 0, got {tol!r}")
    X64, C64 = X.astype(np.float64), C.astype(np.float64)
    tol_abs = float(tol) * float(np.mean(np.var(X64, axis=0)))
    history: list[Iteration] = []
    labels_old = None
    for _ in range(int(max_iter)):
        labels, d, ties = _assign(X64, C64)  # (m,), (m,), int
        C_new, counts = _update(X64, labels, C64)  # (k, n), (k,)
        shift = float(np.sum((C_new - C64) ** 2))
        cost = float(np.sum(d**2))
        history.append(Iteration(labels, C_new.astype(X.dtype), cost, shift, counts, ties))
        C64 = C_new
        if labels_old is not None and np.array_equal(labels, labels_old):
            break  # the assignments no longer change
        if shift <= tol_abs:
            break  # the centroids no longer move
        labels_old = labels
    labels, d, _ = _assign(X64, C64)
    return LloydResult(C64.astype(X.dtype), labels, float(np.sum(d**2)), len(history), history)


def inertia(X: Any, centroids: Any) -> float:
    """``Σ_i min_j ‖x⁽ⁱ⁾ − μ_j‖²`` (float64)."""
    return float(np.sum(assign(X, centroids)[1].astype(np.float64) ** 2))


class KMeans:
    """k-means as a scikit-learn style estimator: hyperparameters here, :meth:`fit` learns.

    Args:
        k: number of clusters, ``1 <= k <= m``.
        init: ``"k-means++"`` or ``"random"`` (see :func:`kmeans_plusplus`, :func:`random_init`).
        max_iter, tol: Lloyd's stopping rule (:func:`lloyd`).
        rng: the ``np.random.Generator`` the seeding's uniform numbers are drawn from.

    Attributes (after :meth:`fit`): ``cluster_centers_ (k, n)``, ``labels_ (m,)``, ``inertia_``,
    ``n_iter_``, ``seed_indices_ (k,)``, ``history_`` (one :class:`Iteration` per iteration).
    """

    def __init__(
        self,
        k: int,
        init: str = "k-means++",
        max_iter: int = 300,
        tol: float = 1e-4,
        rng: np.random.Generator | None = None,
    ) -> None:
        if init not in ("k-means++", "random"):
            raise ValueError(f"init: expected 'k-means++' or 'random', got {init!r}")
        self.k, self.init, self.max_iter, self.tol = k, init, max_iter, tol
        self.rng = rng if rng is not None else np.random.default_rng()

    def fit(self, X: Any, u: Any | None = None) -> KMeans:
        """Seed from ``u`` (``k`` numbers for k-means++, ``m`` for random; drawn from ``rng``
        when omitted), then run :func:`lloyd`."""
        X = check_data(X, self.k)
        if u is None:
            u = self.rng.random(self.k if self.init == "k-means++" else X.shape[0])
        seed = kmeans_plusplus if self.init == "k-means++" else random_init
        C0, self.seed_indices_ = seed(X, self.k, u)
        result = lloyd(X, C0, self.max_iter, self.tol)
        self.cluster_centers_, self.labels_ = result.centroids, result.labels
        self.inertia_, self.n_iter_, self.history_ = result.inertia, result.n_iter, result.history
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The nearest centroid's index for each row of ``X (m, n)``."""
        return assign(X, self.cluster_centers_)[0]


def adjusted_rand_index(labels_true: Any, labels_pred: Any) -> float:
    """Adjusted Rand index of two labelings ``(m,)``: 1 for identical partitions, ~0 for chance.

    ``ARI = (Σ_ij C(n_ij, 2) − E) / (½ (Σ_i C(a_i, 2) + Σ_j C(b_j, 2)) − E)`` with the
    contingency table ``n_ij``, its row/column sums ``a_i``, ``b_j`` and
    ``E = Σ_i C(a_i, 2) Σ_j C(b_j, 2) / C(m, 2)``.
    """
    t, p = np.asarray(labels_true).ravel(), np.asarray(labels_pred).ravel()
    if t.shape != p.shape or t.size == 0:
        raise ValueError(f"labels_pred: expected {t.size} labels like labels_true, got {p.size}")
    _, ti = np.unique(t, return_inverse=True)
    _, pi = np.unique(p, return_inverse=True)
    table = np.zeros((ti.max() + 1, pi.max() + 1))
    np.add.at(table, (ti, pi), 1)  # (classes, clusters) contingency table n_ij

    def pairs(n: np.ndarray) -> float:
        return float(np.sum(n * (n - 1) / 2))

    index, a, b = pairs(table), pairs(table.sum(1)), pairs(table.sum(0))
    expected = a * b / pairs(np.array([t.size], dtype=float)) if t.size > 1 else 0.0
    denom = (a + b) / 2 - expected
    return 1.0 if denom == 0 else (index - expected) / denom
