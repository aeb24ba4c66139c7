"""Similarity metrics ("association: similarity metrics in data"): cosine, Euclidean, Pearson,
Jaccard — each for a pair of vectors and as a vectorized pairwise matrix.

Layout: vectors are rows, as the course has unsupervised data (row-major ``(m, n)``). A pair is
``a, b (n,)``; a matrix compares every row of ``A (m_a, n)`` with every row of ``B (m_b, n)``
and returns ``(m_a, m_b)`` with no Python loop over rows; ``B`` omitted means ``A`` with itself.

    cosine(a, b)    = a·b / (‖a‖ ‖b‖)                     in [−1, 1]
    euclidean(a, b) = ‖a − b‖ = √(‖a‖² + ‖b‖² − 2 a·b)     (the matrix's expanded form)
    pearson(a, b)   = cosine(a − ā, b − b̄)                in [−1, 1]
    jaccard(a, b)   = |a ∧ b| / |a ∨ b|                   in [0, 1]  (binary vectors or sets)

Numerics and conventions (stated here, tested in ``parity_tests/tests/test_similarity.py``):

- **cosine**: each vector is first divided by its largest ``|entry|`` (cosine is scale
  invariant), so a vector of any magnitude keeps its direction — ``1e-170·y`` or ``1e30·y`` in
  float32, whose squared entries under/overflow, still give ``cos = 1`` with ``y``. A **zero
  vector has similarity 0** with everything, itself included. Results are clipped to [−1, 1].
  (torch's ``F.cosine_similarity`` instead clamps each norm at ``eps = 1e-8``, which rescales
  every vector shorter than 1e-8: ``1e-10·y`` against ``y = (1, 2, 3)`` gives 0.037, not 1.)
- **Euclidean matrix**: the expanded form (one GEMM) is clamped at 0, because rounding pushes
  ``d²`` of (nearly) equal rows below 0. Its rounding error is at most ``(n + 2) ε (‖a‖² + ‖b‖²)``
  (``ε`` = machine epsilon); every pair whose ``d²`` lies within twice that bound is recomputed
  by the direct form ``Σ (a − b)²``. This is how **a row's distance to itself — and to any
  identical row — is exactly 0**: those pairs always fall within the bound, and ``a − a = 0``
  exactly. Elsewhere the absolute error of ``d²`` is bounded as above, so rows far from the
  origin compared to their spread should be centered first (distances are translation
  invariant). The pair form is the direct form. Squares must not overflow (|entries| below
  ~1e154 in float64, ~1e19 in float32).
- **Pearson**: a **constant vector** (all entries exactly equal) has correlation 0 with
  everything, itself included: its centered form is set to exactly 0 instead of being left to
  the rounding of its mean (``0.1 − mean([0.1] * 7)`` is not 0). Clipped to [−1, 1].
- **Jaccard**: binary vectors (bool, or numbers that are all 0 or 1). **Two empty sets have
  Jaccard 1** (they are identical; SciPy's Jaccard *distance* is 0 there). Counts are computed
  exactly (float64 holds integers up to 2⁵³); the result has the input's float dtype, float64
  for bool or integer input.

Example:
    >>> import numpy as np
    >>> A = np.array([[3.0, 4.0], [0.0, 0.0], [6.0, 8.0]])
    >>> cosine_matrix(A).round(6).tolist()
    [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 1.0]]
    >>> euclidean_matrix(A).tolist()
    [[0.0, 5.0, 5.0], [5.0, 0.0, 10.0], [5.0, 10.0, 0.0]]
    >>> float(jaccard_similarity([1, 1, 0, 0], [0, 1, 1, 0])), jaccard_sets(set(), set())
    (0.3333333333333333, 1.0)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from scratch._validate import as_float_array


# --- input checks ---------------------------------------------------------------------------
def _vector(name: str, a: Any, dtype: np.dtype | None = None) -> np.ndarray:
    """A non-empty 1-D float vector ``(n,)``."""
    arr = as_float_array(name, a, dtype)
    if arr.ndim != 1 or arr.shape[0] == 0:
        raise ValueError(f"{name}: expected a non-empty vector of shape (n,), got {arr.shape}")
    return arr


def _rows(name: str, A: Any, dtype: np.dtype | None = None) -> np.ndarray:
    """A 2-D float matrix ``(m, n)`` of row vectors with ``m, n >= 1``."""
    arr = as_float_array(name, A, dtype)
    if arr.ndim != 2 or 0 in arr.shape:
        hint = "; for one vector pass a.reshape(1, -1)" if arr.ndim == 1 else ""
        raise ValueError(
            f"{name}: expected a matrix of row vectors (m, n) with m, n >= 1, got shape {arr.shape}{hint}"
        )
    return arr


def _same_n(a: np.ndarray, b: np.ndarray, a_name: str, b_name: str) -> None:
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"{b_name}: has {b.shape[-1]} features but {a_name} has {a.shape[-1]}; "
            f"{a_name}.shape={a.shape}, {b_name}.shape={b.shape}"
        )


def _pair(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    a = _vector("a", a)
    b = _vector("b", b, a.dtype)
    _same_n(a, b, "a", "b")
    return a, b


def _matrices(A: Any, B: Any | None) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(A, B, same)``: validated matrices of one dtype and width; ``same`` when ``B`` is omitted."""
    same = B is None or B is A
    A = _rows("A", A)
    B = A if same else _rows("B", B, A.dtype)
    _same_n(A, B, "A", "B")
    return A, B, same


def _binary(name: str, a: Any, ndim: int) -> tuple[np.ndarray, np.dtype]:
    """``a`` as a bool array and the float dtype of the result (the input's, else float64)."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected a binary (bool or 0/1) array, got dtype {arr.dtype}")
    if arr.ndim != ndim or 0 in arr.shape:
        want = "(n,)" if ndim == 1 else "(m, n)"
        raise ValueError(f"{name}: expected a non-empty binary array of shape {want}, got {arr.shape}")
    if arr.dtype.kind != "b":
        bad = (arr != 0) & (arr != 1)
        if np.any(bad):
            raise ValueError(
                f"{name}: binary vectors hold only 0 and 1, got values {np.unique(arr[bad])[:5].tolist()}"
            )
    out = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float64)
    return arr.astype(bool), out


# --- cosine -----------------------------------------------------------------------------------
def _unit(A: np.ndarray) -> np.ndarray:
    """Rows divided by their norm; zero rows stay zero. Each row is scaled by its largest
    ``|entry|`` first, so its norm is >= 1 and neither under- nor overflows."""
    s = np.max(np.abs(A), axis=-1, keepdims=True)  # (…, 1) largest |entry|
    A = A / np.where(s > 0, s, 1)  # max |entry| is now 1 (or the row is 0)
    norm = np.sqrt(np.sum(A * A, axis=-1, keepdims=True))  # (…, 1), >= 1 or 0
    return A / np.where(norm > 0, norm, 1)


def cosine_similarity(a: Any, b: Any) -> np.floating:
    """``cos(a, b) = a·b / (‖a‖ ‖b‖)`` of two vectors ``(n,)``; 0 if either is the zero vector."""
    a, b = _pair(a, b)
    return np.clip(_unit(a) @ _unit(b), -1, 1)


def cosine_matrix(A: Any, B: Any | None = None) -> np.ndarray:
    """``S[i, j] = cos(A[i], B[j])``: ``A (m_a, n)``, ``B (m_b, n)`` -> ``S (m_a, m_b)``.

    ``S = Â B̂ᵀ`` with the rows normalized (:func:`_unit`), one GEMM; zero rows give 0.
    """
    A, B, same = _matrices(A, B)
    A_hat = _unit(A)  # (m_a, n)
    B_hat = A_hat if same else _unit(B)  # (m_b, n)
    return np.clip(A_hat @ B_hat.T, -1, 1)  # (m_a, m_b)


# --- Euclidean --------------------------------------------------------------------------------
def euclidean_distance(a: Any, b: Any) -> np.floating:
    """``‖a − b‖ = √Σ (a_k − b_k)²`` of two vectors ``(n,)`` (the direct form: exact 0 for a = b)."""
    a, b = _pair(a, b)
    return np.sqrt(np.sum((a - b) ** 2))


def euclidean_matrix(A: Any, B: Any | None = None) -> np.ndarray:
    """``D[i, j] = ‖A[i] − B[j]‖`` from the expanded form ``‖a‖² + ‖b‖² − 2 a·b`` (one GEMM).

    ``A (m_a, n)``, ``B (m_b, n)`` -> ``D (m_a, m_b)``. ``d²`` is clamped at 0, then pairs
    within the expanded form's rounding bound ``2 (n + 2) ε (‖a‖² + ‖b‖²)`` are recomputed as
    ``Σ (a − b)²`` — so identical rows, a row and itself included, are exactly 0 apart.
    """
    A, B, same = _matrices(A, B)
    n = A.shape[1]
    a2 = np.sum(A * A, axis=1)[:, None]  # (m_a, 1) ‖a‖²
    b2 = a2.T if same else np.sum(B * B, axis=1)[None, :]  # (1, m_b) ‖b‖²
    D2 = a2 + b2 - 2 * (A @ B.T)  # (m_a, m_b) d², cancels for close rows
    np.maximum(D2, 0, out=D2)  # rounding can push d² of equal rows below 0
    bound = 2 * (n + 2) * np.finfo(A.dtype).eps * (a2 + b2)  # (m_a, m_b) the rounding bound
    i, j = np.nonzero(D2 <= bound)  # pairs whose d² is rounding noise: recompute directly
    D2[i, j] = np.sum((A[i] - B[j]) ** 2, axis=1)
    return np.sqrt(D2)


# --- Pearson ----------------------------------------------------------------------------------
def _centered(A: np.ndarray) -> np.ndarray:
    """``a − ā`` per row; exactly 0 for rows whose entries are all equal."""
    constant = np.all(A == A[..., :1], axis=-1, keepdims=True)  # (…, 1)
    return np.where(constant, 0, A - np.mean(A, axis=-1, keepdims=True))


def pearson_correlation(a: Any, b: Any) -> np.floating:
    """``r(a, b) = (a − ā)·(b − b̄) / (‖a − ā‖ ‖b − b̄‖)``; 0 if either vector is constant."""
    a, b = _pair(a, b)
    return np.clip(_unit(_centered(a)) @ _unit(_centered(b)), -1, 1)


def pearson_matrix(A: Any, B: Any | None = None) -> np.ndarray:
    """``R[i, j] = r(A[i], B[j])``: the cosine matrix of the centered rows, ``(m_a, m_b)``."""
    A, B, same = _matrices(A, B)
    A_hat = _unit(_centered(A))  # (m_a, n)
    B_hat = A_hat if same else _unit(_centered(B))  # (m_b, n)
    return np.clip(A_hat @ B_hat.T, -1, 1)  # (m_a, m_b)


# --- Jaccard ----------------------------------------------------------------------------------
def jaccard_similarity(a: Any, b: Any) -> np.floating:
    """``J(a, b) = |a ∧ b| / |a ∨ b|`` of two binary vectors ``(n,)``; 1 if both are all zero."""
    a, dtype = _binary("a", a, 1)
    b, _ = _binary("b", b, 1)
    _same_n(a, b, "a", "b")
    union = np.count_nonzero(a | b)
    return dtype.type(np.count_nonzero(a & b) / union if union else 1.0)


def jaccard_sets(S: Iterable[Any], T: Iterable[Any]) -> float:
    """``J(S, T) = |S ∩ T| / |S ∪ T|`` of two sets (any iterables of hashables); 1 if both are empty."""
    S, T = set(S), set(T)
    union = len(S | T)
    return len(S & T) / union if union else 1.0


def jaccard_matrix(A: Any, B: Any | None = None) -> np.ndarray:
    """``J[i, j] = |A[i] ∧ B[j]| / |A[i] ∨ B[j]|`` for binary rows, ``(m_a, m_b)``.

    Intersections are one GEMM of the 0/1 rows (exact counts), unions
    ``|a| + |b| − |a ∧ b|``; two all-zero rows give 1.
    """
    A_bool, dtype = _binary("A", A, 2)
    B_bool = A_bool if B is None else _binary("B", B, 2)[0]
    _same_n(A_bool, B_bool, "A", "B")
    A01, B01 = A_bool.astype(np.float64), B_bool.astype(np.float64)
    inter = A01 @ B01.T  # (m_a, m_b) |a ∧ b|, exact integers
    union = A01.sum(axis=1)[:, None] + B01.sum(axis=1)[None, :] - inter  # (m_a, m_b) |a ∨ b|
    J = np.where(union > 0, inter / np.where(union > 0, union, 1), 1.0)
    return J.astype(dtype)


# --- retrieval --------------------------------------------------------------------------------
def top_k(S: Any, k: int, largest: bool = True, exclude: Any | None = None) -> np.ndarray:
    """Indices of the ``k`` best entries of each row of ``S (m_q, m)``, best first, ``(m_q, k)``.

    ``largest=True`` for similarities, ``False`` for distances; ties go to the lowest index
    (a stable sort). ``exclude (m_q,)`` names one column per row to skip (a query itself).
    """
    S = as_float_array("S", S)
    if S.ndim != 2:
        raise ValueError(f"S: expected a (m_q, m) matrix of scores, got shape {S.shape}")
    if isinstance(k, bool) or int(k) != k or not 1 <= k <= S.shape[1] - (exclude is not None):
        raise ValueError(
            f"k: expected 1 <= k <= {S.shape[1] - (exclude is not None)} (the candidates per row), got {k!r}"
        )
    key = -S if largest else S.copy()  # ascending order of key = best first
    if exclude is not None:
        exclude = np.asarray(exclude)
        if exclude.shape != (S.shape[0],) or exclude.dtype.kind not in "iu":
            raise ValueError(
                f"exclude: expected {S.shape[0]} integer column indices, got "
                f"shape {exclude.shape} dtype {exclude.dtype}"
            )
        key[np.arange(S.shape[0]), exclude] = np.inf
    return np.argsort(key, axis=1, kind="stable")[:, : int(k)]
