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


def gd_update(params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray],
              learning_rate: float) -> Params:
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


def gradient_descent(params: Mapping[str, np.ndarray], cost_and_grads: CostAndGrads,
                     learning_rate: float, num_iterations: int,
                     callback: Callable[[int, float, Params], None] | None = None,
                     ) -> tuple[Params, list[float]]:
    """Repeat ``num_iterations`` times: ``J, grads = cost_and_grads(params)``; update.

    Returns the final parameters and the cost at every iteration (measured *before* that
    iteration's update, as in the notes' loop). Stops with ``FloatingPointError`` naming the
    iteration if the cost becomes NaN or infinite, rather than training on garbage.
    """
    check_learning_rate(learning_rate)
    if int(num_iterations) != num_iterations or num_iterations < 0:
        raise ValueError(f"num_iterations: expected a non-negative integer, got {num_iterations!r}")
    params = dict(params)
    costs: list[float] = []
    for i in range(int(num_iterations)):
        cost, grads = cost_and_grads(params)
        if not np.isfinite(cost):
            raise FloatingPointError(
                f"cost became {cost} at iteration {i} (learning_rate={learning_rate}); "
                "the step size is probably too large"
            )
        costs.append(float(cost))
        params = gd_update(params, grads, learning_rate)
        if callback is not None:
            callback(i, float(cost), params)
    return params, costs
