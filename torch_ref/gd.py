"""Gradient descent in torch: ``torch.optim.SGD`` with no momentum, dampening or weight decay,
which is exactly ``w := w − α ∂J/∂w`` for every parameter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch


def make_optimizer(parameters: Iterable[torch.nn.Parameter], learning_rate: float) -> torch.optim.SGD:
    """Plain SGD at ``learning_rate`` (validated: a positive finite number)."""
    try:
        lr = float(learning_rate)
    except (TypeError, ValueError):
        raise TypeError(f"learning_rate: expected a number, got {learning_rate!r}") from None
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"learning_rate: expected a positive finite number, got {learning_rate!r}")
    return torch.optim.SGD(parameters, lr=lr, momentum=0.0, dampening=0.0, weight_decay=0.0)


def gradient_descent(module: torch.nn.Module, cost: Callable[[], torch.Tensor], learning_rate: float,
                     num_iterations: int) -> list[float]:
    """Repeat: ``J = cost()``; ``J.backward()``; ``SGD.step()``. Returns ``J`` at every iteration
    (before its update). Raises ``FloatingPointError`` naming the iteration if ``J`` is not finite.
    """
    opt = make_optimizer(module.parameters(), learning_rate)
    costs: list[float] = []
    for i in range(int(num_iterations)):
        opt.zero_grad(set_to_none=True)
        J = cost()
        if not torch.isfinite(J):
            raise FloatingPointError(
                f"cost became {J.item()} at iteration {i} (learning_rate={learning_rate})")
        J.backward()
        opt.step()
        costs.append(J.item())
    return costs
