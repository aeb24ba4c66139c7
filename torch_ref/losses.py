"""Losses in torch, matched to the course's definitions (batch-first ``(m, n_y)``).

- :class:`SquaredErrorLoss` — the course's ``J = 1/m Σ ½ (ŷ − y)²``: note the ½ that
  ``nn.MSELoss`` lacks, and that it sums over outputs before averaging over examples.
- binary cross-entropy: ``nn.BCEWithLogitsLoss`` (finite at any logit). ``nn.BCELoss`` on
  probabilities matches the course's form only away from saturation: it clamps each log at −100.
- softmax cross-entropy: ``nn.CrossEntropyLoss`` with logits ``(m, k)`` and one-hot or
  probability targets ``(m, k)`` (or class indices ``(m,)``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class SquaredErrorLoss(nn.Module):
    """``J = 1/m Σ_i Σ_j ½ (ŷ_ij − y_ij)²`` over a batch ``ŷ, y (m, n_y)``.

    Equals ``0.5 * n_y * nn.MSELoss()(ŷ, y)``; for ``n_y = 1`` that is half of ``MSELoss``.

    Shape:
        - Input: ``(m, n_y)``; Target: ``(m, n_y)``; Output: scalar.
    """

    def forward(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if y_hat.shape != y.shape:
            raise ValueError(f"y: expected the shape of y_hat {tuple(y_hat.shape)}, got {tuple(y.shape)}")
        m = y_hat.shape[0]
        return 0.5 * F.mse_loss(y_hat, y, reduction="sum") / m


def binary_cross_entropy(a: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The course's cross-entropy on probabilities ``a``; torch clamps each log at −100."""
    return F.binary_cross_entropy(a, y)


def bce_with_logits(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy from logits, ``nn.BCEWithLogitsLoss`` (mean over the batch)."""
    return F.binary_cross_entropy_with_logits(z, y)


def softmax_cross_entropy(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy of logits ``z (m, k)`` against one-hot targets ``y (m, k)``."""
    return F.cross_entropy(z, y)
