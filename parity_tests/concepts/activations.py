"""Parity checks of ``activations``: ``g(Z)`` and ``g'(Z)`` vs torch and autograd.

Inputs mix a grid of edge values (0 three times, −0 among them, ±1e-8, ±1, ±20, ±1e4) with
random normals — three zeros so that a derivative wrong only at 0 is a pattern the diagnosis
may name (``diagnose.MIN_REGION``); the
finite-difference inputs stay away from the kink at 0, where a derivative is a convention.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from parity_tests.registry import register_finite_differences, register_forward, register_gradient
from scratch import activations as S
from torch_ref import activations as T
from torch_ref.layout import COLUMNS

EDGES = np.array([0.0, -0.0, 0.0, 1e-8, -1e-8, 1.0, -1.0, 20.0, -20.0, 1e4, -1e4])


def edge_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``Z (3, 7)``: the edge grid followed by random normals, shuffled."""
    values = np.concatenate([EDGES, rng.standard_normal(21 - EDGES.size) * 3])
    return {"Z": rng.permutation(values).reshape(3, 7)}


def smooth_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``Z (3, 7)`` with ``|z| >= 0.1``: no kink inside a finite-difference step."""
    Z = rng.standard_normal((3, 7)) * 3
    return {"Z": np.where(np.abs(Z) < 0.1, 0.5, Z)}


def _apply(g: Callable[[Any], Any], Z: Any) -> Any:
    """``g(Z)``: an activation (either side's) called with the input named ``Z``."""
    return g(Z)


def _backward(
    g_prime: Callable[[np.ndarray], np.ndarray], dA: np.ndarray, Z: np.ndarray
) -> dict[str, np.ndarray]:
    return {"dZ": dA * g_prime(Z)}  # dZ = dA ⊙ g'(Z)


for _name, (_g, _g_prime) in S.ACTIVATIONS.items():
    _scratch, _torch = partial(_apply, _g), partial(_apply, T.FUNCTIONS[_name])
    register_forward("activations", _name, _scratch, _torch, edge_inputs, elementwise=True, half=True)
    register_gradient(
        "activations",
        _name,
        partial(_backward, _g_prime),
        _torch,
        edge_inputs,
        wrt=["Z"],
        vjp=True,
        elementwise=True,
        half=True,
    )
    register_finite_differences(
        "activations",
        _name,
        _scratch,
        partial(_backward, _g_prime),
        smooth_inputs,
        wrt=["Z"],
        vjp=True,
        elementwise=True,
    )


def _softmax_backward(dA: np.ndarray, Z: np.ndarray) -> dict[str, np.ndarray]:
    return {"dZ": S.softmax_backward(dA, S.softmax(Z))}


register_forward(
    "activations",
    "softmax",
    S.softmax,
    T.softmax,
    edge_inputs,
    layouts={"Z": COLUMNS},
    output_layout=COLUMNS,
    half=True,
)
register_gradient(
    "activations",
    "softmax",
    _softmax_backward,
    T.softmax,
    edge_inputs,
    wrt=["Z"],
    layouts={"Z": COLUMNS},
    output_layout=COLUMNS,
    vjp=True,
    half=True,
)
register_finite_differences(
    "activations", "softmax", S.softmax, _softmax_backward, smooth_inputs, wrt=["Z"], vjp=True
)
