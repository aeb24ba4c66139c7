"""Parity checks of ``dense``: ``Z = W A_prev + b`` and its backward vs ``nn.Linear``.

The course's ``dW = 1/m dZ A_prevᵀ`` and ``db = 1/m Σ dZ`` are gradients of the *cost* while
``dZ`` and ``dA_prev`` are per example, so autograd's gradient of ``Σ Z ⊙ dZ`` w.r.t. ``W`` and
``b`` is scaled by ``1/m`` before comparing (``grad_scale``).
"""

from __future__ import annotations

import numpy as np
from torch.nn import functional as F

from parity_tests.registry import register_finite_differences, register_forward, register_gradient
from scratch.dense import dense_backward, dense_forward
from torch_ref.layout import BIAS, COLUMNS

M = 5  # distinct, non-square sizes: n[l-1]=3, n[l]=4, m=5
LAYOUTS = {"A_prev": COLUMNS, "b": BIAS}


def layer_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"A_prev": rng.standard_normal((3, M)), "W": rng.standard_normal((4, 3)),
            "b": rng.standard_normal((4, 1))}


def forward(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    return dense_forward(A_prev, W, b)[0]


def backward(dZ: np.ndarray, A_prev: np.ndarray, W: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    dA_prev, dW, db = dense_backward(dZ, dense_forward(A_prev, W, b)[1])
    return {"dA_prev": dA_prev, "dW": dW, "db": db}


def torch_forward(A_prev, W, b):
    return F.linear(A_prev, W, b)


PER_EXAMPLE = {"W": 1 / M, "b": 1 / M}  # the course's 1/m on parameter gradients

register_forward("dense", "linear", forward, torch_forward, layer_inputs, layouts=LAYOUTS,
                 output_layout=COLUMNS, half=True)
register_gradient("dense", "linear", backward, torch_forward, layer_inputs,
                  wrt=["A_prev", "W", "b"], layouts=LAYOUTS, output_layout=COLUMNS,
                  grad_scale=PER_EXAMPLE, vjp=True, half=True)
register_finite_differences("dense", "linear", forward, backward, layer_inputs,
                            wrt=["A_prev", "W", "b"], grad_scale=PER_EXAMPLE, vjp=True)
