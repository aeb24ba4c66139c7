"""Gradient descent: ``w := w − α ∂J/∂w`` for every parameter, repeated for some iterations.

Parameters live in a dict in the notes' names (``{"W1": ..., "b1": ...}``); gradients use the
same names prefixed with ``d`` (``{"dW1": ..., "db1": ...}``). ``α`` is the learning rate.

Example:
    >>> import numpy as np
    >>> params = {"w": np.array([[1.0]])}
    >>> cost_and_grads = lambda p: (float(p["w"][0, 0] ** 2), {"dw": 2 * p["w"]})
    >>> params, costs = gradient_descent(params, cost_and_grads, 0.25, 2)
    >>> params["w"].item(), costs
    (0.25, [1.0, 0.25])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from scratch._validate import check_learning_rate

Params = dict[str, np.ndarray]
CostAndGrads = Callable[[Params], tuple[float, Mapping[str, np.ndarray]]]


def gd_update(
    params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray], learning_rate: float
) -> Params:
    """One step ``p := p − α dp`` for each parameter ``p``; returns new arrays (same dtype)."""
    alpha = check_learning_rate(learning_rate)
    updated = {}
    for name, p in params.items():
        key = "d" + name
        if key not in grads:
            raise ValueError(f"grads: missing {key!r} for parameter {name!r}; got {sorted(grads)}")
        dp = np.asarray(grads[key])
        if dp.shape != p.shape:
            raise ValueError(f"grads[{key!r}]: expected shape {p.shape} of {name}, got {dp.shape}")
        if dp.dtype != p.dtype:
            raise TypeError(f"grads[{key!r}]: dtype {dp.dtype} differs from {name}'s {p.dtype}")
        updated[name] = p - p.dtype.type(alpha) * dp
    return updated


def gradient_norm(grads: Mapping[str, np.ndarray]) -> float:
    """``||∇J||₂`` over all parameters: ``√(Σ_p Σ dp²)``."""
    return float(np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in grads.values())))


def gradient_descent(
    params: Mapping[str, np.ndarray],
    cost_and_grads: CostAndGrads,
    learning_rate: float,
    num_iterations: int,
    callback: Callable[[int, float, Params], None] | None = None,
    grad_tol: float | None = None,
) -> tuple[Params, list[float]]:
    """Repeat ``num_iterations`` times: ``J, grads = cost_and_grads(params)``; update.

    Returns the final parameters and the cost at every iteration (measured *before* that
    iteration's update, as in the notes' loop). With ``grad_tol``, stops early — before
    updating — at the first iteration where ``||∇J||₂ <= grad_tol``.

    Divergence stops training with ``FloatingPointError`` naming the iteration, rather than
    training on garbage: a cost that is NaN or infinite, a parameter that the update made
    non-finite, or (from the second iteration on, when the inputs have already been accepted
    once) a ``ValueError`` raised because an intermediate result overflowed.
    """
    check_learning_rate(learning_rate)
    if int(num_iterations) != num_iterations or num_iterations < 0:
        raise ValueError(f"num_iterations: expected a non-negative integer, got {num_iterations!r}")
    if grad_tol is not None and not grad_tol > 0:
        raise ValueError(f"grad_tol: expected a positive number or None, got {grad_tol!r}")
    params = dict(params)
    costs: list[float] = []
    hint = f"(learning_rate={learning_rate}); the step size is probably too large"
    for i in range(int(num_iterations)):
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below
                cost, grads = cost_and_grads(params)
        except ValueError as exc:
            if i == 0:
                raise
            raise FloatingPointError(
                f"training produced a non-finite value at iteration {i} {hint}: {exc}"
            ) from exc
        if not np.isfinite(cost):
            raise FloatingPointError(f"cost became {cost} at iteration {i} {hint}")
        costs.append(float(cost))
        if grad_tol is not None and gradient_norm(grads) <= grad_tol:
            break
        with np.errstate(over="ignore", invalid="ignore"):
            params = gd_update(params, grads, learning_rate)
        bad = [k for k, p in params.items() if not np.all(np.isfinite(p))]
        if bad:
            raise FloatingPointError(
                f"parameters {bad} became NaN or Inf in the update of iteration {i} {hint}"
            )
        if callback is not None:
            callback(i, float(cost), params)
    return params, costs
