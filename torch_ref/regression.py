"""Regression in torch: :class:`LinearRegression` and :class:`MLPRegressor` on batch-first data.

Both train on the course's squared error ``J = 1/m Σ ½ (ŷ − y)²``
(:class:`torch_ref.losses.SquaredErrorLoss` — half of ``nn.MSELoss`` for one output) with plain
``torch.optim.SGD`` (:func:`torch_ref.gd.gradient_descent`). Every ``nn.Linear.weight (out, in)``
*is* the course's ``W[l]``; only biases (``(n,)`` <-> ``(n, 1)``) and data (``(m, n_x)`` <->
``(n_x, m)``) change layout, as the parameter specs below declare.

Example:
    >>> import numpy as np
    >>> model = MLPRegressor([3, 4, 1], activation="tanh", dtype=torch.float64)
    >>> params = from_state_dict(model.state_dict())          # scratch {"W1", "b1", "W2", "b2"}
    >>> [params[k].shape for k in ("W1", "b1", "W2", "b2")]
    [(4, 3), (4, 1), (1, 4), (1, 1)]
    >>> same = MLPRegressor.from_scratch(params, "tanh")
    >>> torch.equal(same.layers[0].weight, model.layers[0].weight)
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from torch_ref._validate import check_batch, check_size
from torch_ref.activations import make_activation
from torch_ref.gd import gradient_descent, gradient_norm  # noqa: F401 (re-exported)
from torch_ref.layout import (
    BIAS,
    SAME,
    ParamSpec,
    layer_param_spec,
    load_scratch_params,
    params_to_state_dict,
    state_dict_to_params,
    torch_dtype,
)
from torch_ref.losses import SquaredErrorLoss

PARAM_SPEC: ParamSpec = {"W": ("linear.weight", SAME), "b": ("linear.bias", BIAS)}
"""Linear regression: scratch ``W (n_y, n_x)`` is ``linear.weight``; ``b (n_y, 1)`` is
``linear.bias (n_y,)``."""


def mlp_param_spec(num_layers: int) -> ParamSpec:
    """MLP: scratch ``W{l}``/``b{l}`` (``l = 1..L``) are ``layers.{l-1}.weight``/``.bias``."""
    return layer_param_spec(num_layers)


def _torch_dtype_of(a: np.ndarray) -> torch.dtype:
    return torch_dtype(np.asarray(a).dtype)


class LinearRegression(nn.Module):
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

    def __init__(self, n_x: int, n_y: int = 1, device: str | torch.device | None = None,
                 dtype: torch.dtype | None = None) -> None:
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

    @property
    def param_spec(self) -> ParamSpec:
        return PARAM_SPEC

    @classmethod
    def from_scratch(cls, params: dict[str, np.ndarray], device: str | torch.device | None = None,
                     dtype: torch.dtype | None = None) -> LinearRegression:
        """A model holding scratch ``{"W": (n_y, n_x), "b": (n_y, 1)}`` (dtype taken from ``W``)."""
        W = np.asarray(params["W"])
        if W.ndim != 2:
            raise ValueError(f"W: expected shape (n_y, n_x), got {W.shape}")
        model = cls(W.shape[1], W.shape[0], device=device,
                    dtype=dtype if dtype is not None else _torch_dtype_of(W))
        load_scratch_params(model, params, PARAM_SPEC)
        return model


class MLPRegressor(nn.Module):
    """Hidden layers ``a = g(a_prev Wᵀ + b)``, then a *linear* output ``ŷ = a W[L]ᵀ + b[L]``.

    Args:
        layer_dims: ``[n_x, n[1], ..., n_y]``, at least one hidden layer.
        activation: the hidden layers' ``g``: ``"relu"``, ``"tanh"``, ``"sigmoid"`` or
            ``"leaky_relu"``.
        device, dtype: where and in which float type the parameters live.

    Shape:
        - Input: ``(m, n_x)``.  Output: ``(m, n_y)``.

    Attributes:
        layers[l-1].weight: ``(n[l], n[l-1])`` = ``W[l]``, init ``N(0, 1/n[l-1])`` as
            ``scratch.regression.initialize_mlp`` (same distribution, not the same draws).
        layers[l-1].bias: ``(n[l],)`` = ``b[l]`` flattened, zeros.

    Example:
        >>> model = MLPRegressor([3, 5, 2, 1], activation="tanh")
        >>> model
        MLPRegressor(
          layer_dims=[3, 5, 2, 1], activation='tanh'
          (layers): ModuleList(
            (0): Linear(in_features=3, out_features=5, bias=True)
            (1): Linear(in_features=5, out_features=2, bias=True)
            (2): Linear(in_features=2, out_features=1, bias=True)
          )
          (g): Tanh()
        )
    """

    def __init__(self, layer_dims: Sequence[int], activation: str = "relu",
                 device: str | torch.device | None = None, dtype: torch.dtype | None = None,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        dims = list(layer_dims)
        if len(dims) < 3 or any(int(n) != n or n < 1 for n in dims):
            raise ValueError(
                f"layer_dims: expected [n_x, n[1], ..., n_y] with at least one hidden layer and "
                f"positive sizes, got {dims!r} (no hidden layer: use LinearRegression)"
            )
        factory_kwargs = {"device": device, "dtype": dtype}
        self.layer_dims = [int(n) for n in dims]
        self.activation = activation
        self.layers = nn.ModuleList(nn.Linear(n_prev, n, **factory_kwargs)
                                    for n_prev, n in zip(self.layer_dims[:-1], self.layer_dims[1:]))
        self.g = make_activation(activation)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """``W[l] ~ N(0, 1/n[l-1])``, ``b[l] = 0`` (draws from ``generator`` when given)."""
        for layer in self.layers:
            std = math.sqrt(1.0 / layer.in_features)
            nn.init.normal_(layer.weight, 0.0, std, generator=generator)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = x  # (m, n_x)
        for layer in self.layers[:-1]:
            a = self.g(layer(a))  # (m, n[l])
        return self.layers[-1](a)  # (m, n_y), linear output

    def extra_repr(self) -> str:
        return f"layer_dims={self.layer_dims}, activation={self.activation!r}"

    @property
    def param_spec(self) -> ParamSpec:
        return mlp_param_spec(len(self.layers))

    @classmethod
    def from_scratch(cls, params: dict[str, np.ndarray], activation: str = "relu",
                     device: str | torch.device | None = None,
                     dtype: torch.dtype | None = None) -> MLPRegressor:
        """A model holding scratch ``{"W1", "b1", ..., "WL", "bL"}`` (dtype taken from ``W1``)."""
        L = _count_layers(params)
        Ws = [np.asarray(params[f"W{layer}"]) for layer in range(1, L + 1)]
        for layer, W in enumerate(Ws, start=1):
            if W.ndim != 2:
                raise ValueError(f"W{layer}: expected shape (n[{layer}], n[{layer - 1}]), got {W.shape}")
        dims = [Ws[0].shape[1]] + [W.shape[0] for W in Ws]
        model = cls(dims, activation, device=device,
                    dtype=dtype if dtype is not None else _torch_dtype_of(Ws[0]))
        load_scratch_params(model, params, model.param_spec)
        return model


def _count_layers(params: dict[str, np.ndarray]) -> int:
    L = sum(1 for k in params if k.startswith("W") and k[1:].isdigit())
    if L == 0:
        raise ValueError(f"params: expected MLP keys W1, b1, ..., WL, bL; got {sorted(params)}")
    return L


def param_spec_for(params: dict[str, np.ndarray]) -> ParamSpec:
    """:data:`PARAM_SPEC` for linear-regression params ``{"W", "b"}``, else the MLP spec."""
    return PARAM_SPEC if "W" in params else mlp_param_spec(_count_layers(params))


def to_state_dict(params: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Scratch ``{"W", "b"}`` or ``{"W1", ..., "bL"}`` -> the matching model's ``state_dict``."""
    return params_to_state_dict(params, param_spec_for(params))


def from_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """A :class:`LinearRegression` or :class:`MLPRegressor` ``state_dict`` -> scratch params."""
    if "linear.weight" in state_dict:
        return state_dict_to_params(state_dict, PARAM_SPEC)
    L = sum(1 for k in state_dict if k.startswith("layers.") and k.endswith(".weight"))
    if L == 0:
        raise ValueError(f"state_dict: not a regression model's; keys {sorted(state_dict)}")
    return state_dict_to_params(state_dict, mlp_param_spec(L))


def train(model: LinearRegression | MLPRegressor, X: torch.Tensor, Y: torch.Tensor,
          num_iterations: int, learning_rate: float, grad_tol: float | None = None) -> list[float]:
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
    return gradient_descent(model, lambda: loss(model(X), Y), learning_rate, num_iterations,
                            grad_tol=grad_tol)
