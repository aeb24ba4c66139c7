"""k-means in torch — Lloyd's algorithm with k-means++ seeding, as in :mod:`scratch.kmeans`:
``torch.cdist`` distances, the lowest-index tie rule, ``index_add_`` centroid sums.

Layout: ``X (m, n)`` (examples are rows, the same as the course's), centroids ``(k, n)``,
labels ``(m,)`` int64. Any device and float dtype; as on the scratch side, distances and sums are
computed in float64 (assignments are discrete, so they must not depend on summation order) and
the results are returned in ``X``'s dtype. One iteration:

    c⁽ⁱ⁾ = lowest j with ‖x⁽ⁱ⁾ − μ_j‖ <= (1 + tie_rtol(n)) min_j' ‖x⁽ⁱ⁾ − μ_j'‖
    μ_j  = Σ_{c⁽ⁱ⁾ = j} x⁽ⁱ⁾ / |C_j|           (an empty cluster keeps its μ_j)

CUDA under ``torch.use_deterministic_algorithms(True)``: ``torch.cdist`` in its direct mode,
``index_add_`` and ``torch.bincount`` without weights are deterministic there. ``torch.cumsum``
on floating CUDA tensors has no deterministic implementation (it raises), so k-means++'s prefix
sums over the ``m`` squared distances run on the CPU (one small copy per seed).

Example:
    >>> X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [9.0, 9.0], [9.0, 8.0], [0.5, 0.0]])
    >>> km = KMeans(k=2, n_features=2).fit(X, u=torch.tensor([0.1, 0.5], dtype=torch.float64))
    >>> km.labels_.tolist(), km.n_iter_, km
    ([0, 0, 1, 1, 0], 2, KMeans(k=2, n_features=2, init='k-means++', max_iter=300, tol=0.0001))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from torch_ref._validate import check_size
from torch_ref.layout import (
    SAME,
    FromScratch,
    ParamSpec,
    check_param_arrays,
    load_scratch_params,
    scratch_dtype,
)

PARAM_SPEC: ParamSpec = {"centroids": ("centroids", SAME)}
"""Scratch ``centroids (k, n)`` *is* the ``centroids`` buffer."""

Uniforms = torch.Tensor | np.ndarray | Sequence[float]


@dataclass
class Iteration:
    """One Lloyd iteration: ``labels (m,)``, centroids after the update ``(k, n)``, the cost of
    the assignment, the squared shift ``Σ‖Δμ_j‖²``, the cluster sizes ``(k,)`` and the number
    of examples whose nearest centroid was a tie."""

    labels: torch.Tensor
    centroids: torch.Tensor
    cost: float
    shift: float
    counts: torch.Tensor
    ties: int


@dataclass
class LloydResult:
    centroids: torch.Tensor
    labels: torch.Tensor
    inertia: float
    n_iter: int
    history: list[Iteration] = field(default_factory=list)


def tie_rtol(n: int) -> float:
    """Relative margin within which two distances tie: ``8 (n + 3) ε₆₄`` (as the scratch side)."""
    return 8 * (n + 3) * torch.finfo(torch.float64).eps


def _check_data(X: torch.Tensor, k: int | None = None, n: int | None = None) -> torch.Tensor:
    if not isinstance(X, torch.Tensor) or not X.is_floating_point():
        raise TypeError(
            f"X: expected a floating tensor (m, n), got "
            f"{X.dtype if isinstance(X, torch.Tensor) else type(X).__name__}"
        )
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0 or (n is not None and X.shape[1] != n):
        want = f"(m, {n})" if n is not None else "(m, n) with m, n >= 1"
        raise ValueError(f"X: expected examples as rows {want}, got shape {tuple(X.shape)}")
    if k is not None and (isinstance(k, bool) or int(k) != k or not 1 <= k <= X.shape[0]):
        raise ValueError(
            f"k: expected an integer with 1 <= k <= m = {X.shape[0]} (the number of examples), got k={k!r}"
        )
    if not torch.compiler.is_compiling() and not bool(torch.isfinite(X).all()):
        raise ValueError("X: contains NaN or Inf")
    return X


def _check_centroids(X: torch.Tensor, C: torch.Tensor, name: str = "centroids") -> torch.Tensor:
    if not isinstance(C, torch.Tensor) or C.ndim != 2 or C.shape[0] == 0 or C.shape[1] != X.shape[1]:
        got = tuple(C.shape) if isinstance(C, torch.Tensor) else type(C).__name__
        raise ValueError(
            f"{name}: expected (k, n) = (*, {X.shape[1]}) to match X of shape {tuple(X.shape)}, got {got}"
        )
    return C


def _uniforms(u: Uniforms, size: int, what: str) -> torch.Tensor:
    """``u`` as a float64 CPU tensor of ``size`` numbers in [0, 1)."""
    u = torch.as_tensor(u, dtype=torch.float64).cpu()
    if tuple(u.shape) != (size,) or not bool(((u >= 0) & (u < 1)).all()):
        raise ValueError(f"u: expected {size} uniform numbers in [0, 1) ({what}), got shape {tuple(u.shape)}")
    return u


# --- seeding ----------------------------------------------------------------------------------
def kmeans_plusplus(X: torch.Tensor, k: int, u: Uniforms) -> tuple[torch.Tensor, torch.Tensor]:
    """k-means++ from ``k`` uniform numbers: example ``⌊u₀ m⌋`` first, then the smallest ``i``
    with ``Σ_{i'<=i} D² > u_j Σ D²``. Returns ``μ (k, n)`` and the indices ``(k,)``."""
    X = _check_data(X, k)
    u = _uniforms(u, int(k), "one per centroid")
    X64, m = X.to(torch.float64), X.shape[0]
    chosen = [min(int(u[0] * m), m - 1)]
    D2 = ((X64 - X64[chosen[0]]) ** 2).sum(dim=1)  # (m,) squared distance to the nearest
    for j in range(1, int(k)):
        D2_cpu = D2.cpu()  # cumsum on CUDA floats is not deterministic
        cum = torch.cumsum(D2_cpu, dim=0)  # (m,) prefix sums
        if cum[-1] == 0:
            raise ValueError(f"X: has only {j} distinct examples, fewer than k={k}")
        i = int(torch.searchsorted(cum, (u[j] * cum[-1]).reshape(1), right=True))
        chosen.append(min(i, int(torch.nonzero(D2_cpu)[-1])))  # never past the last D² > 0
        D2 = torch.minimum(D2, ((X64 - X64[chosen[-1]]) ** 2).sum(dim=1))
    idx = torch.tensor(chosen, device=X.device)
    return X[idx].clone(), idx


def random_init(X: torch.Tensor, k: int, u: Uniforms) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` examples with the smallest of ``m`` uniform numbers ``u``: ``μ (k, n)``, indices."""
    X = _check_data(X, k)
    u = _uniforms(u, X.shape[0], "one per example")
    idx = torch.argsort(u, stable=True)[: int(k)].to(X.device)
    return X[idx].clone(), idx


# --- Lloyd's two steps ------------------------------------------------------------------------
def _assign(X64: torch.Tensor, C64: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    D = torch.cdist(X64, C64, compute_mode="donot_use_mm_for_euclid_dist")  # (m, k)
    d_min = D.amin(dim=1, keepdim=True)  # (m, 1)
    tied = D <= d_min * (1 + tie_rtol(X64.shape[1]))  # (m, k) as close as the closest
    j = torch.arange(C64.shape[0], device=D.device)
    labels = torch.where(tied, j, C64.shape[0]).amin(dim=1)  # (m,) the lowest tied index
    ties = (tied.sum(dim=1) > 1).sum()  # examples with more than one nearest centroid
    return labels, D.gather(1, labels[:, None]).squeeze(1), ties


def assign(X: torch.Tensor, centroids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels ``(m,)`` (nearest centroid, lowest index on ties) and that distance ``(m,)``."""
    X = _check_data(X)
    C = _check_centroids(X, centroids)
    labels, d, _ = _assign(X.to(torch.float64), C.to(torch.float64))
    return labels, d.to(X.dtype)


def _update(X64: torch.Tensor, labels: torch.Tensor, C64: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    k = C64.shape[0]
    sums = torch.zeros_like(C64).index_add_(0, labels, X64)  # (k, n) Σ_{i ∈ C_j} x⁽ⁱ⁾
    counts = torch.bincount(labels, minlength=k)  # (k,) |C_j|
    means = sums / counts.clamp_min(1)[:, None]  # (k, n)
    return torch.where(counts[:, None] > 0, means, C64), counts  # empty: keep the previous μ_j


def update(
    X: torch.Tensor, labels: torch.Tensor, centroids: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """New centroids ``(k, n)`` (means; an empty cluster keeps its own) and sizes ``(k,)``."""
    X = _check_data(X)
    C = _check_centroids(X, centroids)
    k = C.shape[0]
    if (
        tuple(labels.shape) != (X.shape[0],)
        or labels.dtype != torch.int64
        or bool((labels < 0).any() | (labels >= k).any())
    ):
        raise ValueError(
            f"labels: expected {X.shape[0]} int64 labels in [0, {k}), got shape "
            f"{tuple(labels.shape)} dtype {labels.dtype}"
        )
    C_new, counts = _update(X.to(torch.float64), labels, C.to(torch.float64))
    return C_new.to(X.dtype), counts


def lloyd(X: torch.Tensor, centroids: torch.Tensor, max_iter: int = 300, tol: float = 1e-4) -> LloydResult:
    """Lloyd's algorithm from ``centroids (k, n)``; stops after an iteration whose labels equal
    the previous ones, or whose ``Σ‖Δμ_j‖²`` is at most ``tol`` × the mean per-feature variance
    (divided by m, not m − 1: ``correction=0``), or after ``max_iter`` iterations."""
    X = _check_data(X)
    C = _check_centroids(X, centroids, "init")
    if isinstance(max_iter, bool) or int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter: expected a positive integer, got {max_iter!r}")
    if not (np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol: expected a finite number >= 0, got {tol!r}")
    X64, C64 = X.to(torch.float64), C.to(torch.float64)
    tol_abs = float(tol) * float(X64.var(dim=0, correction=0).mean())
    history: list[Iteration] = []
    labels_old = None
    for _ in range(int(max_iter)):
        labels, d, ties = _assign(X64, C64)  # (m,), (m,), ()
        C_new, counts = _update(X64, labels, C64)  # (k, n), (k,)
        shift = float(((C_new - C64) ** 2).sum())
        cost = float((d**2).sum())
        history.append(Iteration(labels, C_new.to(X.dtype), cost, shift, counts, int(ties)))
        C64 = C_new
        if labels_old is not None and torch.equal(labels, labels_old):
            break  # the assignments no longer change
        if shift <= tol_abs:
            break  # the centroids no longer move
        labels_old = labels
    labels, d, _ = _assign(X64, C64)
    return LloydResult(C64.to(X.dtype), labels, float((d**2).sum()), len(history), history)


class KMeans(FromScratch, nn.Module):
    """k-means: :meth:`fit` seeds (k-means++ or random) and runs :func:`lloyd`; :meth:`forward`
    assigns each row of ``X`` to its nearest centroid.

    Args:
        k: number of clusters. n_features: ``n``.
        init: ``"k-means++"`` or ``"random"``.
        max_iter, tol: Lloyd's stopping rule (:func:`lloyd`).
        generator: the CPU ``torch.Generator`` the seeding's uniform numbers come from.
        device, dtype: where and in which float type the centroids live.

    Shape:
        - Input: ``(m, n)``.  Output: ``(m,)`` int64 labels.

    Attributes:
        centroids: buffer ``(k, n)``, zeros until :meth:`fit`.
        labels_, inertia_, n_iter_, seed_indices_, history_: set by :meth:`fit`.
    """

    def __init__(
        self,
        k: int,
        n_features: int,
        init: str = "k-means++",
        max_iter: int = 300,
        tol: float = 1e-4,
        generator: torch.Generator | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_size(k=k, n_features=n_features)
        if init not in ("k-means++", "random"):
            raise ValueError(f"init: expected 'k-means++' or 'random', got {init!r}")
        factory_kwargs = {"device": device, "dtype": dtype}
        self.k, self.n_features, self.init = k, n_features, init
        self.max_iter, self.tol, self.generator = max_iter, tol, generator
        self.register_buffer("centroids", torch.empty(k, n_features, **factory_kwargs))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Centroids to zeros; forget the last fit."""
        self.labels_: torch.Tensor | None = None
        self.inertia_: float | None = None
        self.n_iter_, self.history_ = 0, []
        nn.init.zeros_(self.centroids)

    def fit(self, X: torch.Tensor, u: Uniforms | None = None) -> KMeans:
        """Seed from ``u`` (``k`` numbers for k-means++, ``m`` for random; drawn from
        :attr:`generator` when omitted), then run :func:`lloyd`. ``X (m, n)``."""
        X = _check_data(X, self.k, self.n_features)
        if u is None:
            size = self.k if self.init == "k-means++" else X.shape[0]
            u = torch.rand(size, generator=self.generator, dtype=torch.float64)
        seed = kmeans_plusplus if self.init == "k-means++" else random_init
        C0, self.seed_indices_ = seed(X, self.k, u)
        result = lloyd(X, C0, self.max_iter, self.tol)
        with torch.no_grad():
            self.centroids.copy_(result.centroids)
        self.labels_, self.inertia_ = result.labels, result.inertia
        self.n_iter_, self.history_ = result.n_iter, result.history
        return self

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """The nearest centroid's index for each row of ``X (m, n)``, ``(m,)`` int64."""
        X = _check_data(X, n=self.n_features)
        return _assign(X.to(torch.float64), self.centroids.to(torch.float64))[0]

    def extra_repr(self) -> str:
        return (
            f"k={self.k}, n_features={self.n_features}, init={self.init!r}, "
            f"max_iter={self.max_iter}, tol={self.tol}"
        )

    @classmethod
    def from_scratch(
        cls,
        centroids: np.ndarray | Mapping[str, np.ndarray],
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        allow_nonfinite: bool = False,
        **kwargs,
    ) -> KMeans:
        """A fitted module holding scratch ``centroids (k, n)`` — the array, or the dict
        ``{"centroids": ...}`` that :meth:`scratch_params` returns (dtype taken from them unless
        given; floating and finite unless ``allow_nonfinite``)."""
        params = centroids if isinstance(centroids, Mapping) else {"centroids": centroids}
        params = check_param_arrays(
            params, "centroids" if params is not centroids else "params", allow_nonfinite
        )
        shape = np.shape(params.get("centroids", ()))
        if len(shape) != 2:
            raise ValueError(f"centroids: expected (k, n), got shape {shape} (params {sorted(params)})")
        module = cls(shape[0], shape[1], device=device, dtype=scratch_dtype(params, dtype), **kwargs)
        return load_scratch_params(module, params, PARAM_SPEC)
