"""Logistic regression as a torch module: ``ŷ = σ(x wᵀ + b)`` on a batch ``x (m, n_x)``."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from torch_ref._validate import check_batch, check_size
from torch_ref.gd import gradient_descent
from torch_ref.layout import BIAS, TRANSPOSED, FromScratch, ParamSpec, weight_shape

PARAM_SPEC: ParamSpec = {"w": ("linear.weight", TRANSPOSED), "b": ("linear.bias", BIAS)}
"""Scratch ``w (n_x, 1)`` is ``linear.weight (1, n_x)`` transposed; ``b (1, 1)`` is ``linear.bias (1,)``."""


class LogisticRegression(FromScratch, nn.Module):
    """``z = x wᵀ + b``, ``ŷ = σ(z)``; :meth:`forward` returns the logits ``z``.

    Train with ``nn.BCEWithLogitsLoss`` on the logits (finite where ``σ`` saturates).

    Args:
        n_x: number of input features.
        device, dtype: where and in which float type the parameters live.

    Shape:
        - Input: ``(m, n_x)``.  Output: ``(m, 1)`` logits.

    Attributes:
        linear.weight: ``(1, n_x)``, initialized to zeros (the notes' ``initialize_with_zeros``).
        linear.bias: ``(1,)``, zeros.

    Example:
        >>> model = LogisticRegression(3, dtype=torch.float64)
        >>> model.predict_proba(torch.ones(2, 3, dtype=torch.float64)).tolist()
        [[0.5], [0.5]]
    """

    def __init__(
        self, n_x: int, device: str | torch.device | None = None, dtype: torch.dtype | None = None
    ) -> None:
        super().__init__()
        check_size(n_x=n_x)
        factory_kwargs = {"device": device, "dtype": dtype}
        self.n_x = n_x
        self.linear = nn.Linear(n_x, 1, **factory_kwargs)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Zeros for ``w`` and ``b``: logistic regression has no symmetry to break."""
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)  # (m, 1)

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """``σ(z)``, shape ``(m, 1)``."""
        return torch.sigmoid(self(x))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Class labels ``1[σ(z) > ½]`` as ``(m, 1)`` int64."""
        return (self.predict_proba(x) > 0.5).long()

    def extra_repr(self) -> str:
        return f"n_x={self.n_x}"

    @classmethod
    def scratch_sizes(cls, params: Mapping[str, np.ndarray]) -> tuple[int]:
        """``(n_x,)`` read off scratch ``w (n_x, 1)``, for :meth:`from_scratch`."""
        return (weight_shape(params, "w", "(n_x, 1)")[0],)


def train(
    model: LogisticRegression, X: torch.Tensor, Y: torch.Tensor, num_iterations: int, learning_rate: float
) -> list[float]:
    """Full-batch gradient descent on the cross-entropy; ``X (m, n_x)``, ``Y (m, 1)`` in {0, 1}.

    Returns the cost at every iteration (before its update), like ``scratch.logreg.train``.
    """
    check_batch(X, Y, model.n_x, 1, binary=True)
    return gradient_descent(
        model, lambda: F.binary_cross_entropy_with_logits(model(X), Y), learning_rate, num_iterations
    )
