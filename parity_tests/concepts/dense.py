"""Parity checks of ``dense``: ``Z = W A_prev + b`` and its backward vs ``nn.Linear``.

The course's ``dW = 1/m dZ A_prevᵀ`` and ``db = 1/m Σ dZ`` are gradients of the *cost* while
``dZ`` and ``dA_prev`` are per example, so autograd's gradient of ``Σ Z ⊙ dZ`` w.r.t. ``W`` and
``b`` is scaled by ``1/m`` before comparing (``grad_scale``).

The layer is also served (ONNX Runtime, safetensors): declared as a :class:`Model` with no
cost of its own (``propagate=None``), on the same inputs.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from torch.nn import functional as F

from parity_tests.registry import (
    Model,
    register_finite_differences,
    register_forward,
    register_gradient,
    register_served,
)
from scratch.dense import dense_backward, dense_forward
from torch_ref import dense as T
from torch_ref.layout import BIAS, COLUMNS

M = 5  # distinct, non-square sizes: n[l-1]=3, n[l]=4, m=5
LAYOUTS = {"A_prev": COLUMNS, "b": BIAS}


def layer_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "A_prev": rng.standard_normal((3, M)),
        "W": rng.standard_normal((4, 3)),
        "b": rng.standard_normal((4, 1)),
    }


def forward(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    return dense_forward(A_prev, W, b)[0]


def backward(dZ: np.ndarray, A_prev: np.ndarray, W: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    dA_prev, dW, db = dense_backward(dZ, dense_forward(A_prev, W, b)[1])
    return {"dA_prev": dA_prev, "dW": dW, "db": db}


def torch_forward(A_prev, W, b):
    return F.linear(A_prev, W, b)


PER_EXAMPLE = {"W": 1 / M, "b": 1 / M}  # the course's 1/m on parameter gradients

register_forward(
    "dense", "linear", forward, torch_forward, layer_inputs, layouts=LAYOUTS, output_layout=COLUMNS, half=True
)
register_gradient(
    "dense",
    "linear",
    backward,
    torch_forward,
    layer_inputs,
    wrt=["A_prev", "W", "b"],
    layouts=LAYOUTS,
    output_layout=COLUMNS,
    grad_scale=PER_EXAMPLE,
    vjp=True,
    half=True,
)
register_finite_differences(
    "dense",
    "linear",
    forward,
    backward,
    layer_inputs,
    wrt=["A_prev", "W", "b"],
    grad_scale=PER_EXAMPLE,
    vjp=True,
)


def layer_output(params: dict[str, np.ndarray], A_prev: np.ndarray) -> np.ndarray:
    """``Z = W A_prev + b``, ``(4, m)``: the layer as a model's forward."""
    return dense_forward(A_prev, params["W"], params["b"])[0]


LAYER = Model(
    forward=layer_output, make_module=partial(T.Dense, 3, 4), param_spec=T.PARAM_SPEC, x_name="A_prev"
)
"""The layer as :class:`Dense` serves it (no cost: only its output is checked, above)."""

register_served("dense", "linear", LAYER, layer_inputs)
