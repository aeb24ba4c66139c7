"""What a trained model achieves, on both sides — reported next to a trajectory's parity.

Each factory returns ``metrics(params, model) -> {name: value}`` for
:func:`~parity_tests.trajectory.check_training`'s ``metrics`` argument: ``params`` are the
scratch side's final parameters, ``model`` the torch side's trained module.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from torch_ref.layout import COLUMNS, Layout, to_numpy

Metrics = Callable[[dict[str, np.ndarray], torch.nn.Module], dict[str, float]]


def model_input(model: torch.nn.Module, X: np.ndarray, layout: Layout = COLUMNS) -> torch.Tensor:
    """Course-layout ``X`` as the model's input tensor (through ``layout``: examples as columns
    by default; ``IMAGES`` or ``SEQUENCE`` for N-D data) on the model's device and dtype."""
    p = next(model.parameters())
    return torch.as_tensor(layout.to_torch(X), device=p.device, dtype=p.dtype)


def _per_example(pred: np.ndarray, layout: Layout) -> np.ndarray:
    """Torch predictions flattened in the course's order: a 2-D ``(m, n)`` goes back through
    ``layout`` first (so ``(m, 1)`` and the course's ``(1, m)`` line up); labels ``(m,)`` as they are."""
    return (layout.to_course(pred) if pred.ndim == 2 else pred).ravel()


def _like_params(X: np.ndarray, params: dict[str, np.ndarray]) -> np.ndarray:
    """``X`` in the scratch parameters' dtype (a float32 run is evaluated in float32)."""
    return X.astype(next(iter(params.values())).dtype)


def accuracy(
    scratch_predict: Callable[[dict[str, np.ndarray], np.ndarray], np.ndarray],
    X: np.ndarray,
    labels: np.ndarray,
    x_layout: Layout = COLUMNS,
    pred_layout: Layout = COLUMNS,
) -> Metrics:
    """Fraction of ``labels`` predicted right by ``scratch_predict(params, X)`` and by
    ``model.predict(x)`` (both flattened in example order; labels 0/1 or class indices).
    ``x_layout`` converts ``X`` for the model, ``pred_layout`` its 2-D predictions back."""
    labels = np.asarray(labels).ravel()

    def metrics(params: dict[str, np.ndarray], model: torch.nn.Module) -> dict[str, float]:
        Xs = _like_params(X, params)
        with torch.no_grad():
            torch_pred = _per_example(to_numpy(model.predict(model_input(model, X, x_layout))), pred_layout)
        return {
            "train_accuracy_scratch": float(np.mean(scratch_predict(params, Xs).ravel() == labels)),
            "train_accuracy_torch": float(np.mean(torch_pred == labels)),
        }

    return metrics


def rmse(
    scratch_predict: Callable[[dict[str, np.ndarray], np.ndarray], np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    x_layout: Layout = COLUMNS,
    y_layout: Layout = COLUMNS,
) -> Metrics:
    """Root-mean-squared error ``√(1/m Σ (ŷ − y)²)`` of both sides' predictions of ``Y (n_y, m)``."""

    def metrics(params: dict[str, np.ndarray], model: torch.nn.Module) -> dict[str, float]:
        with torch.no_grad():
            torch_hat = y_layout.to_course(to_numpy(model(model_input(model, X, x_layout))))
        scratch_hat = scratch_predict(params, _like_params(X, params))
        return {
            "train_rmse_scratch": float(np.sqrt(np.mean((scratch_hat - Y) ** 2))),
            "train_rmse_torch": float(np.sqrt(np.mean((torch_hat - Y) ** 2))),
        }

    return metrics
