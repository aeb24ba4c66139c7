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


def gradient_norm(module: torch.nn.Module) -> torch.Tensor:
    """``||∇J||₂`` over every parameter's ``.grad`` (a 0-d float64 tensor on the module's device)."""
    return torch.sqrt(sum((p.grad.double() ** 2).sum() for p in module.parameters() if p.grad is not None))


def gradient_descent(
    module: torch.nn.Module,
    cost: Callable[[], torch.Tensor],
    learning_rate: float,
    num_iterations: int,
    grad_tol: float | None = None,
) -> list[float]:
    """Repeat: ``J = cost()``; ``J.backward()``; ``SGD.step()``. Returns ``J`` at every iteration
    (before its update), like ``scratch.gd.gradient_descent``, with the same rules: with
    ``grad_tol``, stop before updating once ``||∇J||₂ <= grad_tol``; raise
    ``FloatingPointError`` naming the iteration if ``J`` is not finite.
    """
    if int(num_iterations) != num_iterations or num_iterations < 0:
        raise ValueError(f"num_iterations: expected a non-negative integer, got {num_iterations!r}")
    if grad_tol is not None and not grad_tol > 0:
        raise ValueError(f"grad_tol: expected a positive number or None, got {grad_tol!r}")
    opt = make_optimizer(module.parameters(), learning_rate)
    costs: list[float] = []
    for i in range(int(num_iterations)):
        opt.zero_grad(set_to_none=True)
        J = cost()
        if not torch.isfinite(J):
            raise FloatingPointError(
                f"cost became {J.item()} at iteration {i} "
                f"(learning_rate={learning_rate}); the step size is probably too large"
            )
        J.backward()
        costs.append(J.item())
        if grad_tol is not None and gradient_norm(module).item() <= grad_tol:
            break
        opt.step()
    return costs
