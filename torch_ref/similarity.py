"""Similarity metrics in torch: ``F.cosine_similarity``, ``torch.cdist``, ``torch.corrcoef`` and
set operations on boolean tensors, with the conventions of :mod:`scratch.similarity`.

Vectors are rows: a pair is ``x1, x2 (…, n)``; a matrix compares the rows of ``A (m_a, n)`` with
those of ``B (m_b, n)`` and returns ``(m_a, m_b)``; ``B`` omitted means ``A`` with itself. Any
device and float dtype. Where torch's built-ins follow another convention, this module says so
and matches the documented one:

- ``F.cosine_similarity`` clamps each norm at ``eps = 1e-8``, so a vector shorter than 1e-8 is
  rescaled wrongly (``1e-10·y`` against ``y = (1, 2, 3)`` gives 0.037, not 1). Here each vector is first
  divided by its largest ``|entry|`` (cosine is scale invariant): afterwards every nonzero vector
  has norm >= 1, the clamp only ever touches exact zero vectors, and those get similarity 0 —
  the documented value. Clipped to [−1, 1].
- ``torch.cdist`` switches to the expanded, matrix-multiply formula above 25 rows, which leaves
  non-zero self-distances on data far from the origin; here it is called with
  ``compute_mode="donot_use_mm_for_euclid_dist"`` (the direct form: identical rows are exactly
  0 apart). ``F.pairwise_distance`` adds ``eps = 1e-6`` to the difference (a vector is
  ``1e-6·√n`` away from itself); :func:`euclidean_distance` uses ``torch.linalg.vector_norm``.
- ``torch.corrcoef`` gives NaN for a constant row; here a constant row (all entries exactly
  equal) has correlation 0 with everything. Rows are scaled by their largest ``|entry|`` first
  (correlation is invariant to positive scaling), so tiny or huge rows do not under/overflow.
- Jaccard of two all-zero (empty) binary vectors is 1. Counts are exact (float64 GEMM of 0/1);
  the result has the input's float dtype, ``torch.get_default_dtype()`` for bool/integer input.

Example:
    >>> A = torch.tensor([[3.0, 4.0], [0.0, 0.0], [6.0, 8.0]])
    >>> cosine_matrix(A).tolist()
    [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 1.0]]
    >>> euclidean_matrix(A).tolist()
    [[0.0, 5.0, 5.0], [5.0, 0.0, 10.0], [5.0, 10.0, 0.0]]
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


# --- input checks ---------------------------------------------------------------------------
def _float(name: str, x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating tensor, got dtype {x.dtype}")
    if x.numel() == 0 or x.ndim == 0:
        raise ValueError(f"{name}: expected a non-empty tensor of vectors (…, n), got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name}: contains NaN or Inf")
    return x


def _matrices(A: torch.Tensor, B: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, bool]:
    same = B is None or B is A
    A = _float("A", A)
    B = A if same else _float("B", B)
    for name, M in (("A", A), ("B", B)):
        if M.ndim != 2:
            raise ValueError(f"{name}: expected a matrix of row vectors (m, n), got shape {tuple(M.shape)}")
    if A.shape[1] != B.shape[1] or A.dtype != B.dtype:
        raise ValueError(
            f"B: expected (m_b, {A.shape[1]}) {A.dtype} to match A, got {tuple(B.shape)} {B.dtype}"
        )
    return A, B, same


def _pair(x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x1, x2 = _float("x1", x1), _float("x2", x2)
    if x1.shape[-1] != x2.shape[-1] or x1.dtype != x2.dtype:
        raise ValueError(
            f"x2: has shape {tuple(x2.shape)} {x2.dtype} but x1 has "
            f"{tuple(x1.shape)} {x1.dtype}; the feature counts and dtypes must match"
        )
    return x1, x2


def _binary(name: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.dtype]:
    """``x`` as a bool tensor and the float dtype of the result."""
    if not isinstance(x, torch.Tensor) or x.is_complex():
        raise TypeError(f"{name}: expected a real binary (bool or 0/1) tensor, got {type(x).__name__}")
    if x.numel() == 0:
        raise ValueError(f"{name}: expected a non-empty binary tensor, got shape {tuple(x.shape)}")
    if x.dtype != torch.bool and not bool(((x == 0) | (x == 1)).all()):
        raise ValueError(f"{name}: binary vectors hold only 0 and 1")
    return x.bool(), x.dtype if x.is_floating_point() else torch.get_default_dtype()


def _scaled(x: torch.Tensor) -> torch.Tensor:
    """Each vector (last dimension) divided by its largest ``|entry|``; zero vectors unchanged."""
    s = x.abs().amax(dim=-1, keepdim=True)  # (…, 1)
    return x / torch.where(s > 0, s, torch.ones_like(s))


# --- cosine -----------------------------------------------------------------------------------
def cosine_similarity(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """``cos = x1·x2 / (‖x1‖ ‖x2‖)`` along the last dimension; 0 where either is a zero vector."""
    x1, x2 = _pair(x1, x2)
    return F.cosine_similarity(_scaled(x1), _scaled(x2), dim=-1).clamp(-1, 1)


def cosine_matrix(A: torch.Tensor, B: torch.Tensor | None = None) -> torch.Tensor:
    """``S[i, j] = cos(A[i], B[j])``: ``S = Â B̂ᵀ`` of the normalized rows, ``(m_a, m_b)``."""
    A, B, same = _matrices(A, B)
    A_hat = F.normalize(_scaled(A), dim=1)  # (m_a, n); zero rows stay zero
    B_hat = A_hat if same else F.normalize(_scaled(B), dim=1)  # (m_b, n)
    return (A_hat @ B_hat.T).clamp(-1, 1)  # (m_a, m_b)


# --- Euclidean --------------------------------------------------------------------------------
def euclidean_distance(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """``‖x1 − x2‖`` along the last dimension (exactly 0 for equal vectors)."""
    x1, x2 = _pair(x1, x2)
    return torch.linalg.vector_norm(x1 - x2, dim=-1)


def euclidean_matrix(A: torch.Tensor, B: torch.Tensor | None = None) -> torch.Tensor:
    """``D[i, j] = ‖A[i] − B[j]‖`` by ``torch.cdist`` in its direct (non-matmul) mode, ``(m_a, m_b)``."""
    A, B, _ = _matrices(A, B)
    return torch.cdist(A, B, compute_mode="donot_use_mm_for_euclid_dist")


# --- Pearson ----------------------------------------------------------------------------------
def _constant(x: torch.Tensor) -> torch.Tensor:
    """``(…,)`` True where every entry of the vector is equal."""
    return x.amax(dim=-1) == x.amin(dim=-1)


def pearson_correlation(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """``r(x1, x2)`` of two vectors ``(n,)`` by ``torch.corrcoef``; 0 if either is constant."""
    x1, x2 = _pair(x1, x2)
    if x1.ndim != 1 or x2.ndim != 1:
        raise ValueError(
            f"x1, x2: expected vectors (n,), got {tuple(x1.shape)} and {tuple(x2.shape)}; "
            "use pearson_matrix for rows"
        )
    r = torch.corrcoef(_scaled(torch.stack([x1, x2])))[0, 1]
    return torch.where(_constant(x1) | _constant(x2), torch.zeros_like(r), r)


def pearson_matrix(A: torch.Tensor, B: torch.Tensor | None = None) -> torch.Tensor:
    """``R[i, j] = r(A[i], B[j])``: the ``(m_a, m_b)`` block of ``torch.corrcoef`` of all rows."""
    A, B, same = _matrices(A, B)
    m_a = A.shape[0]
    R = torch.corrcoef(_scaled(A if same else torch.cat([A, B])))  # (m_a + m_b, m_a + m_b)
    R = R if same else R[:m_a, m_a:]  # (m_a, m_b)
    constant = _constant(A)[:, None] | _constant(B)[None, :]  # NaN rows of corrcoef
    return torch.where(constant, torch.zeros_like(R), R)


# --- Jaccard ----------------------------------------------------------------------------------
def jaccard_similarity(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """``|x1 ∧ x2| / |x1 ∨ x2|`` of binary vectors along the last dimension; 1 if both are empty."""
    (a, dtype), (b, _) = _binary("x1", x1), _binary("x2", x2)
    inter = (a & b).sum(dim=-1).double()
    union = (a | b).sum(dim=-1).double()
    J = torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))
    return J.to(dtype)


def jaccard_matrix(A: torch.Tensor, B: torch.Tensor | None = None) -> torch.Tensor:
    """``J[i, j] = |A[i] ∧ B[j]| / |A[i] ∨ B[j]|`` for binary rows ``(m_a, n)``, ``(m_b, n)``."""
    A_bool, dtype = _binary("A", A)
    B_bool = A_bool if B is None else _binary("B", B)[0]
    if A_bool.ndim != 2 or B_bool.ndim != 2 or A_bool.shape[1] != B_bool.shape[1]:
        raise ValueError(
            f"A, B: expected binary rows (m_a, n) and (m_b, n), got "
            f"{tuple(A_bool.shape)} and {tuple(B_bool.shape)}"
        )
    A01, B01 = A_bool.double(), B_bool.double()
    inter = A01 @ B01.T  # (m_a, m_b) |a ∧ b|, exact integers
    union = A01.sum(1)[:, None] + B01.sum(1)[None, :] - inter  # (m_a, m_b) |a ∨ b|
    J = torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))
    return J.to(dtype)


# --- retrieval --------------------------------------------------------------------------------
def top_k(S: torch.Tensor, k: int, largest: bool = True, exclude: torch.Tensor | None = None) -> torch.Tensor:
    """Indices of the ``k`` best entries per row of ``S (m_q, m)``, best first, ``(m_q, k)``;
    ties go to the lowest index (a stable sort, unlike ``torch.topk``); ``exclude (m_q,)`` skips
    one column per row."""
    if S.ndim != 2:
        raise ValueError(f"S: expected a (m_q, m) matrix of scores, got shape {tuple(S.shape)}")
    limit = S.shape[1] - (exclude is not None)
    if isinstance(k, bool) or int(k) != k or not 1 <= k <= limit:
        raise ValueError(f"k: expected 1 <= k <= {limit} (the candidates per row), got {k!r}")
    key = -S if largest else S.clone()  # ascending key = best first
    if exclude is not None:
        key[torch.arange(S.shape[0], device=S.device), exclude] = float("inf")
    return torch.argsort(key, dim=1, stable=True)[:, : int(k)]
