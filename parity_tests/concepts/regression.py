"""Parity checks of ``regression``: linear regression ``Ŷ = W X + b`` and an MLP regressor
(hidden ``g``, linear output: ``scratch.deep``/``DeepNetwork`` with ``output="linear"``) with
the course's squared error, scratch vs ``torch_ref``.

Forward outputs and costs, every parameter gradient (autograd and, in float64, central
differences), and full-batch training trajectories on random data and on scikit-learn's
bundled diabetes data. (That linear regression's optimum equals the closed-form least-squares
solution is asserted in ``parity_tests/tests/test_regression.py``.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from parity_tests import metrics
from parity_tests.datasets import diabetes
from parity_tests.registry import (
    register_finite_differences,
    register_forward,
    register_gradient,
    register_trajectory,
)
from parity_tests.torch_functional import module_function
from scratch import regression as S
from torch_ref import regression as T
from torch_ref.deep import param_spec
from torch_ref.layout import COLUMNS
from torch_ref.losses import SquaredErrorLoss

# distinct, non-square sizes so a missing transpose fails instead of broadcasting
N_X, N_Y, M = 3, 2, 5
MLP_DIMS = [N_X, 4, 6, N_Y]
ACTIVATIONS = ("relu", "tanh")
DIABETES_MLP_DIMS = [10, 16, 8, 1]


# --- linear regression -----------------------------------------------------------------------
def linear_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"W": rng.standard_normal((N_Y, N_X)), "b": rng.standard_normal((N_Y, 1)),
            "X": rng.standard_normal((N_X, M)), "Y": rng.standard_normal((N_Y, M))}


linear_fn, LINEAR_LAYOUTS = module_function(lambda: T.LinearRegression(N_X, N_Y, device="meta"),
                                            T.PARAM_SPEC)
LINEAR_LAYOUTS = {**LINEAR_LAYOUTS, "X": COLUMNS, "Y": COLUMNS}


def linear_cost(W, b, X, Y):
    return S.linear_propagate({"W": W, "b": b}, X, Y)[0]


def linear_grads(W, b, X, Y):
    return S.linear_propagate({"W": W, "b": b}, X, Y)[1]


def torch_linear_cost(W, b, X, Y):
    return SquaredErrorLoss()(linear_fn(X, W=W, b=b), Y)


register_forward("regression", "linear", lambda W, b, X, Y: S.predict({"W": W, "b": b}, X),
                 lambda W, b, X, Y: linear_fn(X, W=W, b=b), linear_inputs, layouts=LINEAR_LAYOUTS,
                 output_layout=COLUMNS, half=True)
register_forward("regression", "linear-cost", linear_cost, torch_linear_cost, linear_inputs,
                 layouts=LINEAR_LAYOUTS, output_names=["J"], half=True)
register_gradient("regression", "linear", linear_grads, torch_linear_cost, linear_inputs,
                  wrt=["W", "b"], layouts=LINEAR_LAYOUTS, half=True)
register_finite_differences("regression", "linear", linear_cost, linear_grads, linear_inputs,
                            wrt=["W", "b"])


# --- MLP regressor ---------------------------------------------------------------------------
MLP_NAMES = list(param_spec(len(MLP_DIMS) - 1))


def mlp_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    params = S.initialize_mlp(MLP_DIMS, rng)
    # non-zero biases, so a dropped or mis-broadcast b shows up in the forward check
    params.update({k: rng.standard_normal(v.shape) * 0.5 for k, v in params.items() if k[0] == "b"})
    return {**params, "X": rng.standard_normal((N_X, M)), "Y": rng.standard_normal((N_Y, M))}


def _split(kw: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    return {k: kw[k] for k in MLP_NAMES}, kw["X"], kw["Y"]


for _g in ACTIVATIONS:
    mlp_fn, _layouts = module_function(lambda g=_g: T.MLPRegressor(MLP_DIMS, g, device="meta"),
                                       param_spec(len(MLP_DIMS) - 1))
    MLP_LAYOUTS = {**_layouts, "X": COLUMNS, "Y": COLUMNS}

    def _forward(g=_g, **kw):
        params, X, _ = _split(kw)
        return S.mlp_forward(params, X, g)[0]

    def _cost(g=_g, **kw):
        params, X, Y = _split(kw)
        return S.mlp_propagate(params, X, Y, g)[0]

    def _grads(g=_g, **kw):
        params, X, Y = _split(kw)
        return S.mlp_propagate(params, X, Y, g)[1]

    def _torch_forward(fn=mlp_fn, **kw):
        X = kw.pop("X")
        kw.pop("Y")
        return fn(X, **kw)

    def _torch_cost(fn=mlp_fn, **kw):
        X, Y = kw.pop("X"), kw.pop("Y")
        return SquaredErrorLoss()(fn(X, **kw), Y)

    register_forward("regression", f"mlp-{_g}", _forward, _torch_forward, mlp_inputs,
                     layouts=MLP_LAYOUTS, output_layout=COLUMNS, half=True)
    register_forward("regression", f"mlp-{_g}-cost", _cost, _torch_cost, mlp_inputs,
                     layouts=MLP_LAYOUTS, output_names=["J"], half=True)
    register_gradient("regression", f"mlp-{_g}", _grads, _torch_cost, mlp_inputs, wrt=MLP_NAMES,
                      layouts=MLP_LAYOUTS, half=True)
    register_finite_differences("regression", f"mlp-{_g}", _cost, _grads, mlp_inputs,
                                wrt=MLP_NAMES)


# --- training trajectories -------------------------------------------------------------------
def torch_loss(model, X, Y):
    return SquaredErrorLoss()(model(X), Y)


def linear_step(params, X, Y):
    return S.linear_propagate(params, X, Y)


def mlp_step(activation: str):
    return lambda params, X, Y: S.mlp_propagate(params, X, Y, activation)


def toy_linear_problem(rng: np.random.Generator) -> dict[str, Any]:
    """80 full-batch steps on 30 noisy examples of a random linear map with two outputs."""
    X = rng.standard_normal((N_X, 30))
    Y = rng.standard_normal((N_Y, N_X)) @ X + 1.5 + 0.1 * rng.standard_normal((N_Y, 30))
    return {"scratch_step": linear_step, "torch_model": T.LinearRegression(N_X, N_Y),
            "torch_loss": torch_loss, "init_params": S.initialize_linear(N_X, N_Y),
            "batches": [(X, Y)] * 80, "param_spec": T.PARAM_SPEC, "learning_rate": 0.3}


def toy_mlp_problem(activation: str, rng: np.random.Generator) -> dict[str, Any]:
    """60 full-batch steps fitting a smooth nonlinear target from random initial weights."""
    X = rng.standard_normal((N_X, 30))
    Y = np.vstack([np.sin(X[0:1]) + X[1:2] * X[2:3], np.cos(X[1:2])])  # (2, 30)
    return {"scratch_step": mlp_step(activation),
            "torch_model": T.MLPRegressor(MLP_DIMS, activation), "torch_loss": torch_loss,
            "init_params": S.initialize_mlp(MLP_DIMS, rng),
            "batches": [(X, Y)] * 60, "param_spec": param_spec(len(MLP_DIMS) - 1),
            "learning_rate": 0.1}


def diabetes_linear_problem(steps: int) -> dict[str, Any]:
    """Full-batch gradient descent on the standardized diabetes data, from zeros."""
    X, Y = diabetes()
    return {"scratch_step": linear_step, "torch_model": T.LinearRegression(X.shape[0]),
            "torch_loss": torch_loss, "init_params": S.initialize_linear(X.shape[0]),
            "batches": [(X, Y)] * steps, "param_spec": T.PARAM_SPEC, "learning_rate": 0.4,
            "metrics": metrics.rmse(S.predict, X, Y)}


def diabetes_mlp_problem(rng: np.random.Generator, steps: int,
                         activation: str = "tanh") -> dict[str, Any]:
    """A 10-16-8-1 regressor on the standardized diabetes data (tanh: smooth, so float32
    rounding cannot flip a unit across a ReLU kink on one side only over many steps)."""
    X, Y = diabetes()
    dims = DIABETES_MLP_DIMS
    return {"scratch_step": mlp_step(activation),
            "torch_model": T.MLPRegressor(dims, activation), "torch_loss": torch_loss,
            "init_params": S.initialize_mlp(dims, rng), "batches": [(X, Y)] * steps,
            "param_spec": param_spec(len(dims) - 1), "learning_rate": 0.1,
            "metrics": metrics.rmse(lambda p, X: S.predict(p, X, activation), X, Y)}


register_trajectory("regression", "linear", toy_linear_problem)
for _g in ACTIVATIONS:
    register_trajectory("regression", f"mlp-{_g}", lambda rng, g=_g: toy_mlp_problem(g, rng))
register_trajectory("regression", "diabetes-linear", lambda rng: diabetes_linear_problem(300))
register_trajectory("regression", "diabetes-mlp", lambda rng: diabetes_mlp_problem(rng, 150))
