"""Parity checks of ``regression``: linear regression ``Ŷ = W X + b`` and an MLP regressor
(hidden ``g``, linear output: ``scratch.deep``/``DeepNetwork`` with ``output="linear"``) with
the course's squared error, scratch vs ``torch_ref``.

Forward outputs and costs, every parameter gradient (autograd and, in float64, central
differences), and full-batch training trajectories on random data and on scikit-learn's
bundled diabetes data. (That linear regression's optimum equals the closed-form least-squares
solution is asserted in ``parity_tests/tests/test_regression.py``.)
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from parity_tests import metrics
from parity_tests.datasets import diabetes
from parity_tests.registry import (
    Model,
    model_problem,
    register_model,
    register_served,
    register_trajectory,
)
from scratch import regression as S
from torch_ref import regression as T
from torch_ref.deep import param_spec
from torch_ref.losses import SquaredErrorLoss

# distinct, non-square sizes so a missing transpose fails instead of broadcasting
N_X, N_Y, M = 3, 2, 5
MLP_DIMS = [N_X, 4, 6, N_Y]
ACTIVATIONS = ("relu", "tanh")
DIABETES_MLP_DIMS = [10, 16, 8, 1]


def squared_error(Y_hat, Y):
    """The course's ``J = 1/(2m) Σ (ŷ − y)²`` (``F.mse_loss`` lacks the ½)."""
    return SquaredErrorLoss()(Y_hat, Y)


def linear_model(n_x: int = N_X, n_y: int = N_Y) -> Model:
    """Linear regression ``Ŷ = W X + b`` against :class:`LinearRegression`."""
    return Model(
        propagate=S.linear_propagate,
        forward=S.predict,
        make_module=partial(T.LinearRegression, n_x, n_y),
        param_spec=T.PARAM_SPEC,
        torch_cost=squared_error,
    )


def mlp_model(dims: list[int], activation: str) -> Model:
    """The MLP regressor (the deep network with a linear output) against :class:`MLPRegressor`."""
    return Model(
        propagate=partial(S.mlp_propagate, activation=activation),
        forward=partial(S.predict, activation=activation),
        make_module=partial(T.MLPRegressor, dims, activation),
        param_spec=param_spec(len(dims) - 1),
        torch_cost=squared_error,
    )


def linear_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "W": rng.standard_normal((N_Y, N_X)),
        "b": rng.standard_normal((N_Y, 1)),
        "X": rng.standard_normal((N_X, M)),
        "Y": rng.standard_normal((N_Y, M)),
    }


def mlp_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    params = S.initialize_mlp(MLP_DIMS, rng)
    # non-zero biases, so a dropped or mis-broadcast b shows up in the forward check
    params.update({k: rng.standard_normal(v.shape) * 0.5 for k, v in params.items() if k[0] == "b"})
    return {**params, "X": rng.standard_normal((N_X, M)), "Y": rng.standard_normal((N_Y, M))}


# --- training problems -----------------------------------------------------------------------
def toy_linear_problem(rng: np.random.Generator) -> dict[str, Any]:
    """80 full-batch steps on 30 noisy examples of a random linear map with two outputs."""
    X = rng.standard_normal((N_X, 30))
    Y = rng.standard_normal((N_Y, N_X)) @ X + 1.5 + 0.1 * rng.standard_normal((N_Y, 30))
    return {"init_params": S.initialize_linear(N_X, N_Y), "batches": [(X, Y)] * 80, "learning_rate": 0.3}


def toy_mlp_problem(rng: np.random.Generator) -> dict[str, Any]:
    """60 full-batch steps fitting a smooth nonlinear target from random initial weights."""
    X = rng.standard_normal((N_X, 30))
    Y = np.vstack([np.sin(X[0:1]) + X[1:2] * X[2:3], np.cos(X[1:2])])  # (2, 30)
    return {"init_params": S.initialize_mlp(MLP_DIMS, rng), "batches": [(X, Y)] * 60, "learning_rate": 0.1}


def diabetes_linear_problem(steps: int, rng: np.random.Generator) -> dict[str, Any]:
    """Full-batch gradient descent on the standardized diabetes data, from zeros."""
    X, Y = diabetes()
    return {
        "init_params": S.initialize_linear(X.shape[0]),
        "batches": [(X, Y)] * steps,
        "learning_rate": 0.4,
        "metrics": metrics.rmse(S.predict, X, Y),
        "still": ["b"],
    }  # standardized X and Y: db = mean(W X − Y) = 0 at every step


def diabetes_mlp_problem(steps: int, rng: np.random.Generator, activation: str = "tanh") -> dict[str, Any]:
    """A 10-16-8-1 regressor on the standardized diabetes data (tanh: smooth, so float32
    rounding cannot flip a unit across a ReLU kink on one side only over many steps)."""
    X, Y = diabetes()
    return {
        "init_params": S.initialize_mlp(DIABETES_MLP_DIMS, rng),
        "batches": [(X, Y)] * steps,
        "learning_rate": 0.1,
        "metrics": metrics.rmse(partial(S.predict, activation=activation), X, Y),
    }


register_model(
    "regression",
    "linear",
    linear_model(),
    linear_inputs,
    half=("forward", "gradient"),
    trajectories={"linear": toy_linear_problem},
)
for _g in ACTIVATIONS:
    register_model(
        "regression",
        f"mlp-{_g}",
        mlp_model(MLP_DIMS, _g),
        mlp_inputs,
        half=("forward", "gradient"),
        trajectories={f"mlp-{_g}": toy_mlp_problem},
    )
register_served("regression", "mlp-tanh", mlp_model(MLP_DIMS, "tanh"), mlp_inputs)
register_served("regression", "linear", linear_model(), linear_inputs, quick=())
register_trajectory(
    "regression", "diabetes-linear", model_problem(linear_model(10, 1), partial(diabetes_linear_problem, 300))
)
register_trajectory(
    "regression",
    "diabetes-mlp",
    model_problem(mlp_model(DIABETES_MLP_DIMS, "tanh"), partial(diabetes_mlp_problem, 150)),
)
