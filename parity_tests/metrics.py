"""What a trained model achieves, on both sides — reported next to a trajectory's parity.

Each factory returns ``metrics(params, model) -> {name: value}`` for
:func:`~parity_tests.trajectory.check_training`'s ``metrics`` argument: ``params`` are the
scratch side's final parameters, ``model`` the torch side's trained module.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from torch_ref.layout import columns_to_rows, to_numpy

Metrics = Callable[[dict[str, np.ndarray], torch.nn.Module], dict[str, float]]


def model_input(model: torch.nn.Module, X: np.ndarray) -> torch.Tensor:
    """Course-layout ``X (n_x, m)`` as a batch-first tensor on the model's device and dtype."""
    p = next(model.parameters())
    return torch.as_tensor(columns_to_rows(X), device=p.device, dtype=p.dtype)


def _like_params(X: np.ndarray, params: dict[str, np.ndarray]) -> np.ndarray:
    """``X`` in the scratch parameters' dtype (a float32 run is evaluated in float32)."""
    return X.astype(next(iter(params.values())).dtype)


def accuracy(scratch_predict: Callable[[dict[str, np.ndarray], np.ndarray], np.ndarray],
             X: np.ndarray, labels: np.ndarray) -> Metrics:
    """Fraction of ``labels`` predicted right by ``scratch_predict(params, X)`` and by
    ``model.predict(x)`` (both flattened; labels 0/1 or class indices)."""
    labels = np.asarray(labels).ravel()

    def metrics(params: dict[str, np.ndarray], model: torch.nn.Module) -> dict[str, float]:
        Xs = _like_params(X, params)
        with torch.no_grad():
            torch_pred = to_numpy(model.predict(model_input(model, X)))
        torch_pred = torch_pred.T.ravel()  # (m, n) batch first -> (n, m) like scratch, flattened
        return {"train_accuracy_scratch": float(np.mean(scratch_predict(params, Xs).ravel() == labels)),
                "train_accuracy_torch": float(np.mean(torch_pred == labels))}

    return metrics


def rmse(scratch_predict: Callable[[dict[str, np.ndarray], np.ndarray], np.ndarray],
         X: np.ndarray, Y: np.ndarray) -> Metrics:
    """Root-mean-squared error ``√(1/m Σ (ŷ − y)²)`` of both sides' predictions of ``Y (n_y, m)``."""
    def metrics(params: dict[str, np.ndarray], model: torch.nn.Module) -> dict[str, float]:
        with torch.no_grad():
            torch_hat = to_numpy(model(model_input(model, X))).T  # back to (n_y, m)
        scratch_hat = scratch_predict(params, _like_params(X, params))
        return {"train_rmse_scratch": float(np.sqrt(np.mean((scratch_hat - Y) ** 2))),
                "train_rmse_torch": float(np.sqrt(np.mean((torch_hat - Y) ** 2)))}

    return metrics
