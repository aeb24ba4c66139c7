"""The shallow network as a torch module: ``z2 = g1(x W1ᵀ + b1) W2ᵀ + b2``, ``ŷ = σ(z2)``."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from torch_ref._validate import check_batch, check_size
from torch_ref.activations import make_activation
from torch_ref.gd import gradient_descent
from torch_ref.init import check_initializer, init_linear_
from torch_ref.layout import BIAS, SAME, FromScratch, ParamSpec, weight_shape

PARAM_SPEC: ParamSpec = {
    "W1": ("layer1.weight", SAME),
    "b1": ("layer1.bias", BIAS),
    "W2": ("layer2.weight", SAME),
    "b2": ("layer2.bias", BIAS),
}
"""``W[l]`` *is* ``layer<l>.weight``; ``b[l] (n, 1)`` is ``layer<l>.bias (n,)``."""


class ShallowNetwork(FromScratch, nn.Module):
    """Two layers: ``a1 = g1(x W1ᵀ + b1)``, ``z2 = a1 W2ᵀ + b2``; :meth:`forward` returns ``z2``.

    Train with ``nn.BCEWithLogitsLoss`` on the logits; :meth:`predict_proba` is ``σ(z2)``.

    Args:
        n_x, n_h, n_y: input features, hidden units, outputs.
        activation: hidden activation name (``"tanh"``, ``"relu"``, ``"sigmoid"``, ``"leaky_relu"``).
        initializer: ``"random"`` (the notes' ``randn · 0.01``), ``"zeros"``, ``"xavier"``, ``"he"``.
        generator: the ``torch.Generator`` :meth:`reset_parameters` draws from.
        device, dtype: where and in which float type the parameters live.

    Shape:
        - Input: ``(m, n_x)``.  Output: ``(m, n_y)`` logits.

    Attributes:
        layer1.weight: ``(n_h, n_x)`` = ``W1``; layer1.bias: ``(n_h,)`` = ``b1``, zeros.
        layer2.weight: ``(n_y, n_h)`` = ``W2``; layer2.bias: ``(n_y,)`` = ``b2``, zeros.

    Example:
        >>> net = ShallowNetwork(2, 4, dtype=torch.float64)
        >>> net(torch.zeros(3, 2, dtype=torch.float64)).shape
        torch.Size([3, 1])
    """

    def __init__(
        self,
        n_x: int,
        n_h: int,
        n_y: int = 1,
        activation: str = "tanh",
        initializer: str = "random",
        generator: torch.Generator | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_size(n_x=n_x, n_h=n_h, n_y=n_y)
        factory_kwargs = {"device": device, "dtype": dtype}
        self.n_x, self.n_h, self.n_y = n_x, n_h, n_y
        self.activation_name = activation
        self.initializer = check_initializer(initializer)
        self.layer1 = nn.Linear(n_x, n_h, **factory_kwargs)
        self.activation = make_activation(activation)
        self.layer2 = nn.Linear(n_h, n_y, **factory_kwargs)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Weights by :attr:`initializer`, biases zeros (the notes' initialization)."""
        init_linear_(self.layer1, self.initializer, generator)
        init_linear_(self.layer2, self.initializer, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a1 = self.activation(self.layer1(x))  # (m, n_h)
        return self.layer2(a1)  # (m, n_y) logits z2

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """``σ(z2)``, shape ``(m, n_y)``."""
        return torch.sigmoid(self(x))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Class labels ``1[σ(z2) > ½]`` as ``(m, n_y)`` int64."""
        return (self.predict_proba(x) > 0.5).long()

    def extra_repr(self) -> str:
        return (
            f"n_x={self.n_x}, n_h={self.n_h}, n_y={self.n_y}, activation={self.activation_name!r}, "
            f"initializer={self.initializer!r}"
        )

    @classmethod
    def scratch_sizes(cls, params: Mapping[str, np.ndarray]) -> tuple[int, int, int]:
        """``(n_x, n_h, n_y)`` read off scratch ``W1 (n_h, n_x)`` and ``W2 (n_y, n_h)``."""
        n_h, n_x = weight_shape(params, "W1", "(n_h, n_x)")
        return n_x, n_h, weight_shape(params, "W2", "(n_y, n_h)")[0]


def train(
    model: ShallowNetwork, X: torch.Tensor, Y: torch.Tensor, num_iterations: int, learning_rate: float
) -> list[float]:
    """Full-batch gradient descent on the cross-entropy; ``X (m, n_x)``, ``Y (m, n_y)`` in {0, 1}.

    Returns ``J`` at every iteration (before its update), like ``scratch.shallow.train``.
    """
    check_batch(X, Y, model.n_x, model.n_y, binary=True)
    return gradient_descent(
        model, lambda: F.binary_cross_entropy_with_logits(model(X), Y), learning_rate, num_iterations
    )
