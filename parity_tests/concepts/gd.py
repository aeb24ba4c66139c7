"""Parity checks of ``gd``: ``w := w − α ∂J/∂w`` (scratch) vs ``torch.optim.SGD``, step by step.

The problem is a linear regression ``Ŷ = W X + b`` with the course's squared error, trained
on *different* mini-batches each step (same batches, same order on both sides).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from parity_tests.registry import register_trajectory
from scratch.dense import dense_backward, dense_forward
from scratch.losses import squared_error
from torch_ref.dense import PARAM_SPEC, Dense
from torch_ref.losses import SquaredErrorLoss

N_X, N_Y, BATCH, STEPS = 3, 2, 8, 40


def step(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray):
    """Cost and gradients of ``J = 1/m Σ ½ ||W x + b − y||²``."""
    Y_hat, cache = dense_forward(X, params["W"], params["b"])  # (n_y, m)
    dZ = Y_hat - Y  # per-example ∂L/∂ŷ (dense_backward applies the 1/m)
    _, dW, db = dense_backward(dZ, cache)
    return squared_error(Y_hat, Y), {"dW": dW, "db": db}


def torch_loss(model, X, Y):
    return SquaredErrorLoss()(model(X), Y)


def minibatch_problem(rng: np.random.Generator) -> dict[str, Any]:
    W_true = rng.standard_normal((N_Y, N_X))
    batches = []
    for _ in range(STEPS):
        X = rng.standard_normal((N_X, BATCH))
        batches.append((X, W_true @ X + 0.1 * rng.standard_normal((N_Y, BATCH))))
    return {
        "scratch_step": step,
        "torch_model": Dense(N_X, N_Y),
        "torch_loss": torch_loss,
        "init_params": {"W": rng.standard_normal((N_Y, N_X)) * 0.01, "b": np.zeros((N_Y, 1))},
        "batches": batches,
        "param_spec": PARAM_SPEC,
        "learning_rate": 0.1,
    }


register_trajectory("gd", "minibatch-linear", minibatch_problem)
