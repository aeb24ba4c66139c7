"""The computation graph in torch: ``torch.autograd`` *is* the engine.

:data:`OPS` holds the torch equivalent of every operation of ``scratch.compgraph``, under the
same name and with the engine's keyword names (``axis``, ``keepdims``, ``axes``, ``index``), so a
parity case can call either side with the same arguments. :class:`MLP` is the small network the
engine's ``mlp_propagate`` is compared with; logistic regression is ``torch_ref.logreg``.

Example:
    >>> x = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64, requires_grad=True)
    >>> OPS["sum"](OPS["mul"](x, x), axis=1).backward(torch.ones(1, dtype=torch.float64))
    >>> x.grad.tolist()
    [[2.0, 4.0, 6.0]]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from torch_ref.layout import (
    ParamSpec,
    layer_param_spec,
    load_scratch_params,
    params_to_state_dict,
    state_dict_to_params,
    torch_dtype,
)


def _dims(x: torch.Tensor, axis: int | Sequence[int] | None) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(x.ndim))
    return (int(axis),) if np.ndim(axis) == 0 else tuple(int(a) for a in axis)


def _sum(x: torch.Tensor, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> torch.Tensor:
    return x.sum(dim=_dims(x, axis), keepdim=keepdims) if x.ndim else x.sum()


def _mean(x: torch.Tensor, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> torch.Tensor:
    return x.mean(dim=_dims(x, axis), keepdim=keepdims) if x.ndim else x.mean()


def _transpose(x: torch.Tensor, axes: Sequence[int] | None = None) -> torch.Tensor:
    return x.permute(tuple(axes) if axes is not None else tuple(reversed(range(x.ndim))))


def _getitem(x: torch.Tensor, index: Any) -> torch.Tensor:
    """``x[index]`` with NumPy integer/boolean arrays moved to ``x``'s device as tensors."""
    def convert(i: Any) -> Any:
        return torch.as_tensor(i, device=x.device) if isinstance(i, np.ndarray) else i

    return x[tuple(convert(i) for i in index) if isinstance(index, tuple) else convert(index)]


OPS: dict[str, Callable[..., torch.Tensor]] = {
    "add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div, "neg": torch.neg,
    "pow": lambda x, p: torch.pow(x, p), "matmul": torch.matmul,
    "exp": torch.exp, "log": torch.log, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
    "relu": torch.relu, "sum": _sum, "mean": _mean,
    "reshape": lambda x, shape: x.reshape(shape), "transpose": _transpose, "getitem": _getitem,
}
"""``name -> torch function`` for every operation of the scratch engine (same keywords)."""

_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
}


def param_spec(n_layers: int) -> ParamSpec:
    """``W[l]`` is ``layers.{l-1}.weight`` as it is; ``b[l] (n[l], 1)`` is ``layers.{l-1}.bias``."""
    return layer_param_spec(n_layers)


class MLP(nn.Module):
    """``z[l] = a[l−1] W[l]ᵀ + b[l]``, ``a[l] = g(z[l])`` for hidden layers; returns ``z[L]``.

    The output unit is a sigmoid applied by the loss: train with
    ``F.binary_cross_entropy_with_logits`` on :meth:`forward`'s logits.

    Args:
        layer_dims: ``[n_x, n[1], …, n[L]]``.
        activation: hidden activation, ``"tanh"``, ``"relu"`` or ``"sigmoid"``.
        device, dtype: where and in which float type the parameters live.

    Shape:
        - Input: ``(m, n_x)``.  Output: ``(m, n[L])`` logits.

    Attributes:
        layers[l−1].weight: ``(n[l], n[l−1])`` = ``W[l]``; ``nn.Linear``'s default init
        (parity runs load scratch parameters instead).  layers[l−1].bias: ``(n[l],)``.

    Example:
        >>> model = MLP([3, 4, 1], dtype=torch.float64)
        >>> model(torch.ones(5, 3, dtype=torch.float64)).shape
        torch.Size([5, 1])
    """

    def __init__(self, layer_dims: Sequence[int], activation: str = "tanh",
                 device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        if len(layer_dims) < 2 or any(int(n) != n or n < 1 for n in layer_dims):
            raise ValueError(
                f"layer_dims: expected [n_x, n[1], …, n[L]] of positive ints, got {layer_dims!r}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation: expected one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        factory_kwargs = {"device": device, "dtype": dtype}
        self.layer_dims = [int(n) for n in layer_dims]
        self.activation = activation
        self.layers = nn.ModuleList(nn.Linear(n_prev, n, **factory_kwargs)
                                    for n_prev, n in zip(self.layer_dims, self.layer_dims[1:]))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for layer in self.layers:
            layer.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = _ACTIVATIONS[self.activation]
        for layer in self.layers[:-1]:
            x = g(layer(x))  # (m, n[l])
        return self.layers[-1](x)  # (m, n[L]) logits

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """``σ(z[L])``, shape ``(m, n[L])``."""
        return torch.sigmoid(self(x))

    def extra_repr(self) -> str:
        return f"layer_dims={self.layer_dims}, activation={self.activation!r}"

    @classmethod
    def from_scratch(cls, params: dict[str, np.ndarray], activation: str = "tanh",
                     device: str | torch.device | None = None,
                     dtype: torch.dtype | None = None) -> MLP:
        """A model holding scratch ``{"W1": (n[1], n_x), "b1": (n[1], 1), …}``."""
        L = len(params) // 2
        dims = [np.shape(params["W1"])[1]] + [np.shape(params[f"W{k}"])[0] for k in range(1, L + 1)]
        dtype = dtype if dtype is not None else torch_dtype(np.asarray(params["W1"]).dtype)
        model = cls(dims, activation, device=device, dtype=dtype)
        load_scratch_params(model, params, param_spec(L))
        return model


def to_state_dict(params: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Scratch ``{"W1", "b1", …}`` -> :class:`MLP` ``state_dict``."""
    return params_to_state_dict(params, param_spec(len(params) // 2))


def from_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """:class:`MLP` ``state_dict`` -> scratch ``{"W1": (n[1], n_x), "b1": (n[1], 1), …}``."""
    return state_dict_to_params(state_dict, param_spec(len(state_dict) // 2))


def bce_cost(model: nn.Module, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """``J = 1/m Σ L`` from the logits (finite where ``σ`` saturates); ``X (m, n_x)``, ``Y (m, 1)``."""
    return F.binary_cross_entropy_with_logits(model(X), Y)
