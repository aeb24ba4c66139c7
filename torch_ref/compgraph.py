"""The computation graph in torch: ``torch.autograd`` *is* the engine.

:data:`OPS` holds the torch equivalent of every operation of ``scratch.compgraph``, under the
same name and with the engine's keyword names (``axis``, ``keepdims``, ``axes``, ``index``), so a
parity case can call either side with the same arguments. The models written on the engine
are compared with the production modules: its MLP with
``torch_ref.deep.DeepNetwork(layer_dims, activation, "sigmoid")``, its logistic regression with
``torch_ref.logreg.LogisticRegression`` — both trained on :func:`bce_cost`.

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
    "add": torch.add,
    "sub": torch.sub,
    "mul": torch.mul,
    "div": torch.div,
    "neg": torch.neg,
    "pow": lambda x, p: torch.pow(x, p),
    "matmul": torch.matmul,
    "exp": torch.exp,
    "log": torch.log,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sum": _sum,
    "mean": _mean,
    "reshape": lambda x, shape: x.reshape(shape),
    "transpose": _transpose,
    "getitem": _getitem,
}
"""``name -> torch function`` for every operation of the scratch engine (same keywords)."""


def bce_cost(model: nn.Module, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """``J = 1/m Σ L`` from the logits (finite where ``σ`` saturates); ``X (m, n_x)``, ``Y (m, 1)``."""
    return F.binary_cross_entropy_with_logits(model(X), Y)
