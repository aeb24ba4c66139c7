"""Regression in torch: :class:`LinearRegression` and :class:`MLPRegressor` on batch-first data.

Both train on the course's squared error ``J = 1/m Σ ½ (ŷ − y)²``
(:class:`torch_ref.losses.SquaredErrorLoss` — half of ``nn.MSELoss`` for one output) with plain
``torch.optim.SGD`` (:func:`torch_ref.gd.gradient_descent`). :class:`MLPRegressor` is
:class:`~torch_ref.deep.DeepNetwork` with a linear output. Every ``nn.Linear.weight (out, in)``
*is* the course's ``W[l]``; only biases (``(n,)`` <-> ``(n, 1)``) and data (``(m, n_x)`` <->
``(n_x, m)``) change layout, as each model's ``param_spec`` declares.

Example:
    >>> model = MLPRegressor([3, 4, 1], activation="tanh", dtype=torch.float64)
    >>> params = model.scratch_params()                      # scratch {"W1", "b1", "W2", "b2"}
    >>> [params[k].shape for k in ("W1", "b1", "W2", "b2")]
    [(4, 3), (4, 1), (1, 4), (1, 1)]
    >>> same = MLPRegressor.from_scratch(params, "tanh")
    >>> torch.equal(same.layers[0].weight, model.layers[0].weight)
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from torch_ref._validate import check_batch, check_size
from torch_ref.deep import DeepNetwork
from torch_ref.gd import gradient_descent, gradient_norm  # noqa: F401 (re-exported)
from torch_ref.layout import BIAS, SAME, FromScratch, ParamSpec, weight_shape
from torch_ref.losses import SquaredErrorLoss

PARAM_SPEC: ParamSpec = {"W": ("linear.weight", SAME), "b": ("linear.bias", BIAS)}
"""Linear regression: scratch ``W (n_y, n_x)`` is ``linear.weight``; ``b (n_y, 1)`` is
``linear.bias (n_y,)``. (:class:`MLPRegressor`'s is :attr:`DeepNetwork.param_spec`.)"""


class LinearRegression(FromScratch, nn.Module):
    """``ŷ = x Wᵀ + b`` on a batch ``x (m, n_x)`` — the course's ``Ŷ = W X + b`` transposed.

    Args:
        n_x: number of input features.  n_y: number of outputs (default 1).
        device, dtype: where and in which float type the parameters live.

    Shape:
        - Input: ``(m, n_x)``.  Output: ``(m, n_y)``.

    Attributes:
        linear.weight: ``(n_y, n_x)`` = ``W``, initialized to zeros (the cost is convex).
        linear.bias: ``(n_y,)`` = ``b`` flattened, zeros.

    Example:
        >>> model = LinearRegression(3, dtype=torch.float64)
        >>> model(torch.ones(2, 3, dtype=torch.float64)).tolist()
        [[0.0], [0.0]]
    """

    def __init__(
        self,
        n_x: int,
        n_y: int = 1,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_size(n_x=n_x, n_y=n_y)
        factory_kwargs = {"device": device, "dtype": dtype}
        self.n_x, self.n_y = n_x, n_y
        self.linear = nn.Linear(n_x, n_y, **factory_kwargs)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Zeros for ``W`` and ``b``, as ``scratch.regression.initialize_linear``."""
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)  # (m, n_y)

    def extra_repr(self) -> str:
        return f"n_x={self.n_x}, n_y={self.n_y}"

    @classmethod
    def scratch_sizes(cls, params: Mapping[str, np.ndarray]) -> tuple[int, int]:
        """``(n_x, n_y)`` read off scratch ``W (n_y, n_x)``, for :meth:`from_scratch`."""
        n_y, n_x = weight_shape(params, "W", "(n_y, n_x)")
        return n_x, n_y


class MLPRegressor(DeepNetwork):
    """:class:`~torch_ref.deep.DeepNetwork` with a *linear* output: hidden layers
    ``a = g(a_prev Wᵀ + b)``, then ``ŷ = a W[L]ᵀ + b[L]``; trained on the ½ squared error.

    Args:
        layer_dims: ``[n_x, n[1], ..., n_y]``, at least one hidden layer.
        activation: the hidden layers' ``g``: ``"relu"``, ``"tanh"``, ``"sigmoid"`` or
            ``"leaky_relu"``.
        device, dtype: where and in which float type the parameters live.
        generator: the ``torch.Generator`` :meth:`reset_parameters` draws from.

    Shape:
        - Input: ``(m, n_x)``.  Output: ``(m, n_y)``.

    Attributes:
        layers[l-1].weight: ``(n[l], n[l-1])`` = ``W[l]``, LeCun init ``N(0, 1/n[l-1])`` as
            ``scratch.regression.initialize_mlp`` (same distribution, not the same draws).
        layers[l-1].bias: ``(n[l],)`` = ``b[l]`` flattened, zeros.

    Example:
        >>> model = MLPRegressor([3, 5, 2, 1], activation="tanh")
        >>> model
        MLPRegressor(
          layer_dims=[3, 5, 2, 1], activation='tanh', output='linear', initializer='lecun'
          (layers): ModuleList(
            (0): Linear(in_features=3, out_features=5, bias=True)
            (1): Linear(in_features=5, out_features=2, bias=True)
            (2): Linear(in_features=2, out_features=1, bias=True)
          )
          (activations): ModuleList(
            (0-1): 2 x Tanh()
          )
        )
    """

    def __init__(
        self,
        layer_dims: Sequence[int],
        activation: str = "relu",
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        dims = list(layer_dims)
        if len(dims) < 3 or any(isinstance(n, bool) or int(n) != n or n < 1 for n in dims):
            raise ValueError(
                f"layer_dims: expected [n_x, n[1], ..., n_y] with at least one hidden layer and "
                f"positive sizes, got {dims!r} (no hidden layer: use LinearRegression)"
            )
        super().__init__(dims, activation, "linear", "lecun", generator, device=device, dtype=dtype)


def train(
    model: LinearRegression | MLPRegressor,
    X: torch.Tensor,
    Y: torch.Tensor,
    num_iterations: int,
    learning_rate: float,
    grad_tol: float | None = None,
) -> list[float]:
    """Full-batch gradient descent on ``J = 1/m Σ ½ (ŷ − y)²``; ``X (m, n_x)``, ``Y (m, n_y)``.

    Returns the cost at every iteration (before its update), like
    ``scratch.regression.train_linear``/``train_mlp``, with the same stopping rule: stop before
    updating at the first iteration where ``||∇J||₂ <= grad_tol``. Raises
    ``FloatingPointError`` naming the iteration when the cost stops being finite.
    """
    n_x = model.n_x if isinstance(model, LinearRegression) else model.layer_dims[0]
    n_y = model.n_y if isinstance(model, LinearRegression) else model.layer_dims[-1]
    check_batch(X, Y, n_x, n_y)
    loss = SquaredErrorLoss()
    return gradient_descent(
        model, lambda: loss(model(X), Y), learning_rate, num_iterations, grad_tol=grad_tol
    )
