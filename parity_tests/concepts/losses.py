"""Parity checks of ``losses``: each cost ``J`` and its gradient vs torch, saturation included."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from parity_tests.registry import register_finite_differences, register_forward, register_gradient
from scratch import losses as S
from torch_ref import losses as T
from torch_ref.layout import COLUMNS

_BATCH = {"Y_hat": COLUMNS, "A": COLUMNS, "Z": COLUMNS, "Y": COLUMNS}


def regression_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``Ŷ, Y (2, 7)``: two outputs, so the sum over outputs and mean over examples both show."""
    return {"Y_hat": rng.standard_normal((2, 7)), "Y": rng.standard_normal((2, 7))}


def probability_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``A (1, 9)`` in (0.02, 0.98) — away from saturation, where BCELoss's −100 clamp is inactive."""
    return {"A": rng.uniform(0.02, 0.98, (1, 9)), "Y": (rng.random((1, 9)) < 0.5).astype(float)}


def logit_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``Z (1, 12)``: saturated logits (±40, ±1e4) of both labels among random ones."""
    Z = np.concatenate([[40.0, -40.0, 1e4, -1e4, 40.0, -1e4], rng.standard_normal(6) * 3])
    Y = np.array([1, 1, 0, 1, 0, 0] + list((rng.random(6) < 0.5).astype(int)), dtype=float)
    return {"Z": Z.reshape(1, -1), "Y": Y.reshape(1, -1)}


def smooth_logit_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"Z": rng.standard_normal((1, 9)) * 3, "Y": (rng.random((1, 9)) < 0.5).astype(float)}


def class_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Logits ``Z (4, 6)`` for k=4 classes, two columns saturated at ±1e4; one-hot ``Y (4, 6)``."""
    Z = rng.standard_normal((4, 6)) * 3
    Z[:, 0] = [1e4, -1e4, 0.0, 5.0]
    Z[:, 1] = [-1e4, 1e4, 1e4, 0.0]
    return {"Z": Z, "Y": S.one_hot(rng.integers(0, 4, 6), 4)}


def smooth_class_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"Z": rng.standard_normal((4, 6)) * 3, "Y": S.one_hot(rng.integers(0, 4, 6), 4)}


# (case, scratch cost, scratch dJ/dx, torch cost, differentiated input, inputs, smooth inputs)
CASES = [
    (
        "squared_error",
        S.squared_error,
        S.squared_error_backward,
        lambda Y_hat, Y: T.SquaredErrorLoss()(Y_hat, Y),
        "Y_hat",
        regression_inputs,
        regression_inputs,
    ),
    (
        "binary_cross_entropy",
        S.binary_cross_entropy,
        S.binary_cross_entropy_backward,
        lambda A, Y: T.binary_cross_entropy(A, Y),
        "A",
        probability_inputs,
        probability_inputs,
    ),
    (
        "bce_with_logits",
        S.bce_with_logits,
        S.bce_with_logits_backward,
        lambda Z, Y: T.bce_with_logits(Z, Y),
        "Z",
        logit_inputs,
        smooth_logit_inputs,
    ),
    (
        "softmax_cross_entropy",
        S.softmax_cross_entropy,
        S.softmax_cross_entropy_backward,
        lambda Z, Y: T.softmax_cross_entropy(Z, Y),
        "Z",
        class_inputs,
        smooth_class_inputs,
    ),
]


def _scratch_cost(cost: Callable[..., Any], x: str, **kw: np.ndarray) -> Any:
    """The scratch cost of the input named ``x`` (``A`` or ``Z``) and ``Y``."""
    return cost(kw[x], kw["Y"])


def _scratch_grad(grad: Callable[..., Any], x: str, **kw: np.ndarray) -> dict[str, np.ndarray]:
    """``{"d<x>": ∂J/∂x}`` by the scratch backward."""
    return {"d" + x: grad(kw[x], kw["Y"])}


for _case, _cost, _grad, _torch_cost, _x, _inputs, _smooth in CASES:
    _J, _dJ = partial(_scratch_cost, _cost, _x), partial(_scratch_grad, _grad, _x)
    register_forward("losses", _case, _J, _torch_cost, _inputs, layouts=_BATCH, output_names=["J"], half=True)
    register_gradient("losses", _case, _dJ, _torch_cost, _inputs, wrt=[_x], layouts=_BATCH, half=True)
    register_finite_differences("losses", _case, _J, _dJ, _smooth, wrt=[_x])
