"""Anomaly detection in torch: Gaussian densities from ``torch.distributions`` and an autoencoder.

The same detectors as ``scratch.anomaly`` (rows are examples, ``x (m, n)``, on any device and
float dtype):

- :class:`GaussianDetector` — ``μ = x.mean(0)`` and ``σ² = x.var(0, correction=0)`` (torch's
  default ``correction=1`` divides by ``m − 1``, the course by ``m``), or the full covariance
  ``torch.cov(xᵀ, correction=0)``; ``log p(x)`` by ``Normal(μ, σ).log_prob(x).sum(-1)`` or
  ``MultivariateNormal(μ, scale_tril=L).log_prob(x)``, ``L = cholesky(Σ)``. Flags
  ``log p(x) ≤ ε``.
- :class:`Autoencoder` — :class:`~torch_ref.deep.DeepNetwork` with a linear output and
  ``n[L] = n_x`` trained on normal examples with the course's ``J = 1/m Σ ½‖x̂ − x‖²``;
  score ``e(x) = ‖x̂ − x‖²``. Flags ``e(x) ≥ ε``.

``ε`` by :func:`search_threshold`: the distinct validation scores are the candidates, F1 is
``2tp / (k + P)`` for ``k`` flagged and ``P`` anomalies, the first maximum (fewest flags) wins.
Labels and counts stay integers (exact on every device); F1 is computed in float64.

Example:
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(200, 3, generator=g, dtype=torch.float64)
    >>> det = GaussianDetector(3, dtype=torch.float64).fit(x)
    >>> det
    GaussianDetector(n_features=3, covariance_type='diagonal')
    >>> det(torch.tensor([[1e4, 0.0, 0.0]], dtype=torch.float64)).isfinite().item()  # p(x) = 0
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.distributions import MultivariateNormal, Normal

from torch_ref._validate import check_size
from torch_ref.deep import DeepNetwork
from torch_ref.deep import train as train_deep
from torch_ref.layout import (
    SAME,
    FromScratch,
    ParamSpec,
    check_param_arrays,
    load_scratch_params,
    scratch_dtype,
)

DIRECTIONS = {"below": 1, "above": -1}
"""``"below"``: flag ``score ≤ ε`` (a density); ``"above"``: flag ``score ≥ ε`` (an error)."""


def param_spec(covariance_type: str = "diagonal") -> ParamSpec:
    """Scratch ``{"mu", "var"}`` / ``{"mu", "Sigma"}`` -> the buffers ``mu``, ``var`` /
    ``covariance`` of :class:`GaussianDetector` (same layout: rows are examples on both sides)."""
    if covariance_type not in ("diagonal", "full"):
        raise ValueError(f"covariance_type: expected 'diagonal' or 'full', got {covariance_type!r}")
    second = ("var", ("var", SAME)) if covariance_type == "diagonal" else ("Sigma", ("covariance", SAME))
    return {"mu": ("mu", SAME), second[0]: second[1]}


def _check_rows(name: str, x: torch.Tensor, n: int | None = None) -> None:
    if x.ndim != 2 or x.shape[0] == 0 or (n is not None and x.shape[1] != n):
        want = f"(m, n) = (*, {n})" if n is not None else "(m, n) with m >= 1"
        raise ValueError(f"{name}: expected shape {want}, got {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name}: contains NaN or Inf")


def _check_labels(name: str, y: torch.Tensor, m: int) -> torch.Tensor:
    """``(m,)`` labels in {0, 1} as int64, both classes present (a validation set)."""
    if tuple(y.shape) != (m,):
        raise ValueError(f"{name}: expected labels of shape (m,) = ({m},), got {tuple(y.shape)}")
    if not bool(((y == 0) | (y == 1)).all()):
        raise ValueError(f"{name}: labels must be 0 (normal) or 1 (anomaly)")
    y = y.long()
    if int(y.min()) == int(y.max()):
        raise ValueError(
            f"{name}: a validation set with one class only (all {int(y[0])}); choosing "
            "ε by F1 needs normal (0) and anomalous (1) examples"
        )
    return y


def _sign(direction: str) -> int:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction: expected one of {list(DIRECTIONS)}, got {direction!r}")
    return DIRECTIONS[direction]


# --- densities -------------------------------------------------------------------------------
def estimate_gaussian(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``μ (n,)``, ``σ² (n,)`` per feature of ``x (m, n)``, dividing by ``m`` (``correction=0``)."""
    _check_rows("x", x)
    return x.mean(dim=0), x.var(dim=0, correction=0)


def estimate_multivariate_gaussian(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``μ (n,)``, ``Σ (n, n) = torch.cov(xᵀ, correction=0)``; needs ``m > n``."""
    _check_rows("x", x)
    m, n = x.shape
    if m <= n:
        raise ValueError(
            f"x: m={m} examples cannot give a full covariance of n={n} features "
            "(it is singular unless m > n); use covariance_type='diagonal'"
        )
    return x.mean(dim=0), torch.cov(x.T, correction=0)


def gaussian_log_prob(x: torch.Tensor, mu: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """``log p(x) = Σ_j Normal(μ_j, σ_j).log_prob(x_j)`` for each row of ``x (m, n)``, ``(m,)``."""
    return Normal(mu, var.sqrt(), validate_args=False).log_prob(x).sum(dim=-1)


def cholesky(covariance: torch.Tensor) -> torch.Tensor:
    """``L`` with ``Σ = L Lᵀ``; ``ValueError`` unless ``Σ`` is positive definite."""
    L, info = torch.linalg.cholesky_ex(covariance)
    if int(info) != 0:
        raise ValueError(
            "covariance: not positive definite (a constant feature or linearly "
            "dependent features); drop them or use covariance_type='diagonal'"
        )
    return L


def multivariate_log_prob(x: torch.Tensor, mu: torch.Tensor, covariance: torch.Tensor) -> torch.Tensor:
    """``MultivariateNormal(μ, scale_tril=cholesky(Σ)).log_prob(x)``, ``(m,)``."""
    return MultivariateNormal(mu, scale_tril=cholesky(covariance), validate_args=False).log_prob(x)


# --- the threshold ε -------------------------------------------------------------------------
class Threshold(NamedTuple):
    """``ε`` (0-d, the scores' dtype), its F1, every candidate and its F1 (most anomalous first)."""

    epsilon: torch.Tensor
    f1: float
    candidates: torch.Tensor
    f1s: torch.Tensor


def search_threshold(scores: torch.Tensor, y: torch.Tensor, direction: str = "below") -> Threshold:
    """The ``ε`` among the distinct ``scores (m,)`` with the best F1 on labels ``y (m,)``."""
    sign = _sign(direction)
    if scores.ndim != 1 or scores.shape[0] == 0:
        raise ValueError(f"scores: expected shape (m,) with m >= 1, got {tuple(scores.shape)}")
    y = _check_labels("y", y, scores.shape[0])
    v_sorted, order = torch.sort(sign * scores, stable=True)  # most anomalous first
    new_value = torch.ones_like(v_sorted, dtype=torch.bool)
    new_value[:-1] = v_sorted[1:] > v_sorted[:-1]
    last = torch.nonzero(new_value).squeeze(1)  # end of each distinct value
    tp = torch.cumsum(y[order], dim=0)[last]  # anomalies among the k = last + 1 flagged
    f1s = (2 * tp).double() / (last + 1 + y.sum()).double()  # 2tp / (k + P)
    best = int(torch.argmax(f1s))  # torch returns the first maximum: the fewest flags
    candidates = sign * v_sorted[last]
    return Threshold(candidates[best], float(f1s[best]), candidates, f1s)


def flag(scores: torch.Tensor, epsilon: torch.Tensor | float, direction: str = "below") -> torch.Tensor:
    """``1[score ≤ ε]`` (``"below"``) or ``1[score ≥ ε]`` (``"above"``), int64 ``(m,)``."""
    sign = _sign(direction)
    return (sign * scores <= sign * epsilon).long()


def precision_recall_f1(y: torch.Tensor, flags: torch.Tensor) -> tuple[float, float, float]:
    """``tp/(tp+fp)``, ``tp/(tp+fn)``, ``2tp/(2tp+fp+fn)``; each 0.0 where its denominator is 0."""
    if y.shape != flags.shape or y.ndim != 1:
        raise ValueError(
            f"y, flags: expected two (m,) tensors, got {tuple(y.shape)} and {tuple(flags.shape)}"
        )
    y, flags = y.long(), flags.long()
    tp, fp, fn = (int((y * flags).sum()), int(((1 - y) * flags).sum()), int((y * (1 - flags)).sum()))
    return (
        tp / (tp + fp) if tp + fp else 0.0,
        tp / (tp + fn) if tp + fn else 0.0,
        2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
    )


# --- detectors -------------------------------------------------------------------------------
class _Thresholded:
    """``fit_threshold`` and ``predict`` for a module with ``score(x)``, ``direction`` and an
    ``epsilon`` buffer (NaN until a threshold is chosen)."""

    direction = "below"
    epsilon: torch.Tensor
    unset_buffers = ("epsilon",)
    """Buffers whose NaN means "not chosen yet": a state_dict file may hold them as NaN."""

    @torch.no_grad()
    def fit_threshold(self, x_val: torch.Tensor, y_val: torch.Tensor):
        """Choose ``epsilon`` by F1 on a labelled validation set; keeps ``threshold_``."""
        scores = self.score(x_val)
        self.threshold_ = search_threshold(
            scores, _check_labels("y_val", y_val, scores.shape[0]), self.direction
        )
        self.epsilon.copy_(self.threshold_.epsilon)
        return self

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Flags ``(m,)`` int64: 1 = anomaly."""
        if bool(torch.isnan(self.epsilon)):
            raise ValueError(f"{type(self).__name__}: call fit_threshold(x_val, y_val) before predict")
        return flag(self.score(x), self.epsilon, self.direction)


class GaussianDetector(_Thresholded, FromScratch, nn.Module):
    """``log p(x)`` under a Gaussian fit to normal examples; flags ``log p(x) ≤ ε``.

    Args:
        n_features: ``n``.
        covariance_type: ``"diagonal"`` (``Normal`` per feature) or ``"full"`` (``MultivariateNormal``).
        device, dtype: where and in which float type the buffers live.

    Shape:
        - Input: ``(m, n)``.  Output: ``(m,)`` log-densities.

    Attributes (buffers, set by :meth:`fit`; :meth:`reset_parameters` gives the standard normal):
        mu: ``(n,)``, zeros.  var: ``(n,)``, ones (diagonal) — or covariance: ``(n, n)``, the
        identity (full).  epsilon: ``()``, NaN until :meth:`fit_threshold`.
    """

    def __init__(
        self,
        n_features: int,
        covariance_type: str = "diagonal",
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_size(n_features=n_features)
        self.spec = param_spec(covariance_type)
        factory_kwargs = {"device": device, "dtype": dtype}
        self.n_features, self.covariance_type = n_features, covariance_type
        self.register_buffer("mu", torch.empty(n_features, **factory_kwargs))
        if covariance_type == "diagonal":
            self.register_buffer("var", torch.empty(n_features, **factory_kwargs))
        else:
            self.register_buffer("covariance", torch.empty(n_features, n_features, **factory_kwargs))
        self.register_buffer("epsilon", torch.empty((), **factory_kwargs))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """The standard normal: ``μ = 0``, ``σ² = 1`` (or ``Σ = I``); ``ε`` NaN."""
        self.mu.zero_()
        if self.covariance_type == "diagonal":
            self.var.fill_(1.0)
        else:
            self.covariance.copy_(torch.eye(self.n_features, dtype=self.mu.dtype))
        self.epsilon.fill_(math.nan)

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> "GaussianDetector":
        """Estimate ``μ`` and ``σ²`` (or ``Σ``) from normal examples ``x (m, n)``."""
        _check_rows("x", x, self.n_features)
        if self.covariance_type == "diagonal":
            mu, var = estimate_gaussian(x)
            if not bool((var > 0).all()):
                bad = torch.nonzero(var <= 0).flatten().tolist()
                raise ValueError(
                    f"x: features {bad} are constant (σ² = 0): their density is not defined; drop them"
                )
            self.mu.copy_(mu)
            self.var.copy_(var)
        else:
            mu, cov = estimate_multivariate_gaussian(x)
            cholesky(cov)  # refuse a singular Σ at fit time
            self.mu.copy_(mu)
            self.covariance.copy_(cov)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_rows("x", x, self.n_features)
        if self.covariance_type == "diagonal":
            return gaussian_log_prob(x, self.mu, self.var)  # (m,)
        return multivariate_log_prob(x, self.mu, self.covariance)  # (m,)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """``log p(x)``, ``(m,)``."""
        return self(x)

    @property
    def param_spec(self) -> ParamSpec:
        return self.spec

    def extra_repr(self) -> str:
        return f"n_features={self.n_features}, covariance_type={self.covariance_type!r}"

    @classmethod
    def from_scratch(
        cls,
        params: Mapping[str, np.ndarray],
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        allow_nonfinite: bool = False,
    ) -> "GaussianDetector":
        """A fitted detector holding scratch ``{"mu" (n,), "var" (n,)}`` (diagonal) or
        ``{"mu" (n,), "Sigma" (n, n)}`` (full); ``σ² > 0`` and a positive definite ``Σ`` are
        required (a density is not defined otherwise). ``epsilon`` stays NaN."""
        params = check_param_arrays(params, allow_nonfinite=allow_nonfinite)
        full = "Sigma" in params
        if set(params) not in ({"mu", "var"}, {"mu", "Sigma"}):
            raise ValueError(
                f"params: expected keys ['mu', 'var'] (diagonal) or ['Sigma', 'mu'] "
                f"(full), got {sorted(params)}"
            )
        shape = np.shape(params["mu"])
        if len(shape) != 1:
            raise ValueError(
                f"params['mu']: expected a mean vector (n,), got shape {shape} (params {sorted(params)})"
            )
        module = cls(
            shape[0], "full" if full else "diagonal", device=device, dtype=scratch_dtype(params, dtype)
        )
        load_scratch_params(module, params)
        if not allow_nonfinite:
            if full:
                cholesky(module.covariance)
            elif not bool((module.var > 0).all()):
                raise ValueError(
                    f"params['var']: variances must be > 0 (a density is not defined "
                    f"otherwise), got {params['var']}"
                )
        return module


class Autoencoder(_Thresholded, DeepNetwork):
    """``x̂ = z[L]`` of the deep network ``[n, *hidden, n]``; flags ``e(x) = ‖x̂ − x‖² ≥ ε``.

    Args, Shape, Attributes: those of :class:`~torch_ref.deep.DeepNetwork` with
    ``output="linear"`` (its ``param_spec`` converts scratch ``W1, b1, …``; LeCun's
    ``N(0, 1/n[l-1])`` by default), plus the buffer ``epsilon: ()``, NaN until
    :meth:`fit_threshold`. Default activation ``"tanh"``.

    Example:
        >>> Autoencoder([4, 2, 4], dtype=torch.float64)(torch.zeros(5, 4, dtype=torch.float64)).shape
        torch.Size([5, 4])
    """

    direction = "above"

    def __init__(
        self,
        layer_dims: Sequence[int],
        activation: str = "tanh",
        initializer: str = "lecun",
        generator: torch.Generator | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        dims = list(layer_dims)
        if len(dims) < 3 or dims[0] != dims[-1]:
            raise ValueError(
                f"layer_dims: an autoencoder maps n features back to n: expected "
                f"[n, *hidden, n] with a hidden layer, got {dims!r}"
            )
        super().__init__(dims, activation, "linear", initializer, generator, device=device, dtype=dtype)
        self.register_buffer("epsilon", torch.full((), math.nan, device=device, dtype=dtype))

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Every weight by :attr:`initializer`, every bias zeros (:class:`DeepNetwork`'s); ``ε`` NaN."""
        super().reset_parameters(generator)
        if "epsilon" in self._buffers:  # not yet registered while DeepNetwork.__init__ runs
            self.epsilon.fill_(math.nan)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """``J = 1/m Σ_i ½‖x̂⁽ⁱ⁾ − y⁽ⁱ⁾‖²``, the linear output's squared error; the target ``y``
        is the input ``x`` unless given (:func:`torch_ref.deep.train` passes ``y = x``)."""
        return super().loss(x, x if y is None else y)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """``e(x) = ‖x̂ − x‖²``, ``(m,)``."""
        _check_rows("x", x, self.layer_dims[0])
        return ((self(x) - x) ** 2).sum(dim=1)


def train_autoencoder(
    model: Autoencoder, x: torch.Tensor, num_iterations: int, learning_rate: float
) -> list[float]:
    """Full-batch gradient descent on :meth:`Autoencoder.loss` over normal examples ``x (m, n)``;
    returns ``J`` at every iteration (before its update), as ``scratch.anomaly``'s ``fit``."""
    return train_deep(model, x, x, {"learning_rate": learning_rate, "num_iterations": num_iterations})


__all__ = [
    "DIRECTIONS",
    "param_spec",
    "estimate_gaussian",
    "estimate_multivariate_gaussian",
    "gaussian_log_prob",
    "cholesky",
    "multivariate_log_prob",
    "Threshold",
    "search_threshold",
    "flag",
    "precision_recall_f1",
    "GaussianDetector",
    "Autoencoder",
    "train_autoencoder",
]
