"""Parity checks of ``shallow``: the notes' two-layer formulas vs :class:`ShallowNetwork`.

For every hidden activation: the forward output ``A2``; the four parameter gradients of the
cost (no scaling needed: both are ``∂J/∂θ``); the notes' backward driven by a random upstream
``dZ2`` (per example, so autograd's ``dW``/``db`` get the course's ``1/m``); central
differences; and training trajectories — on a toy problem and on the course's planar flower.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from parity_tests import metrics
from parity_tests.concepts import _networks as networks
from parity_tests.datasets import planar_flower
from parity_tests.registry import (
    Model,
    model_problem,
    register_finite_differences,
    register_gradient,
    register_model,
    register_served,
    register_trajectory,
)
from scratch import shallow as S
from scratch.activations import ACTIVATIONS
from torch_ref.layout import COLUMNS

N_X, N_H, M = 3, 4, 5  # distinct, non-square: W1 (4, 3), W2 (1, 4), X (3, 5)
NAMES = ("W1", "b1", "W2", "b2")
PER_EXAMPLE = {name: 1 / M for name in NAMES}  # the course's 1/m on dW, db beside a per-example dZ2


def net_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "W1": rng.standard_normal((N_H, N_X)),
        "b1": rng.standard_normal((N_H, 1)),
        "W2": rng.standard_normal((1, N_H)),
        "b2": rng.standard_normal((1, 1)),
        "X": rng.standard_normal((N_X, M)),
        "Y": (rng.random((1, M)) < 0.5).astype(float),
    }


def model(activation: str, n_x: int = N_X, n_h: int = N_H) -> Model:
    """The shallow network as a :class:`Model`: the notes' formulas against ShallowNetwork
    (declared in :func:`parity_tests.concepts._networks.shallow`, which the course checker reads too)."""
    return networks.shallow(activation, n_x, n_h)


def toy_problem(activation: str, rng: np.random.Generator) -> dict[str, Any]:
    """80 full-batch steps on 40 points of a circle-vs-ring problem, from Xavier weights."""
    X = rng.standard_normal((N_X, 40))
    Y = (np.sum(X * X, axis=0, keepdims=True) > N_X).astype(float)  # outside the sphere r = √3
    return {
        "init_params": S.initialize_parameters(N_X, N_H, 1, rng, "xavier"),
        "batches": [(X, Y)] * 80,
        "learning_rate": 0.5,
    }


def flower_problem(steps: int, rng: np.random.Generator) -> dict[str, Any]:
    """The course's planar flower (400 points), 4 tanh hidden units, α = 1.2, ``randn · 0.01``."""
    X, Y = planar_flower()
    return {
        "init_params": S.initialize_parameters(2, 4, 1, np.random.default_rng(2)),
        "batches": [(X, Y)] * steps,
        "learning_rate": 1.2,
        "metrics": metrics.accuracy(lambda p, X: S.predict(p, X, "tanh"), X, Y),
    }


# --- the notes' backward from a random upstream dZ2 (per example: autograd's dW, db get 1/m) ----
def upstream_Z2(activation: str, **kw: np.ndarray) -> np.ndarray:
    return S.forward_propagation(kw["X"], {k: kw[k] for k in NAMES}, activation)[1]["Z2"]


def upstream_backward(dZ2: np.ndarray, activation: str, **kw: np.ndarray) -> dict[str, np.ndarray]:
    params = {k: kw[k] for k in NAMES}
    _, cache = S.forward_propagation(kw["X"], params, activation)
    return S.backward_from_output(dZ2, params, cache, kw["X"], activation)


FLOWER_STEPS = 400  # ~0.5 s a registered run, 88.0% (1000 steps: 88.5%); test_shallow: 5000, 90.7%

for _act in ACTIVATIONS:
    _model = model(_act)
    register_model(
        "shallow",
        _act,
        _model,
        net_inputs,
        half=("forward",),
        trajectories={f"{_act}-toy": partial(toy_problem, _act)},
    )
    register_gradient(
        "shallow",
        f"{_act}-upstream",
        partial(upstream_backward, activation=_act),
        _model.torch_logits,
        net_inputs,
        wrt=["X", *NAMES],
        layouts=_model.input_layouts(),
        output_layout=COLUMNS,
        grad_scale=PER_EXAMPLE,
        vjp=True,
    )
    register_finite_differences(
        "shallow",
        f"{_act}-upstream",
        partial(upstream_Z2, _act),
        partial(upstream_backward, activation=_act),
        net_inputs,
        wrt=["X", *NAMES],
        grad_scale=PER_EXAMPLE,
        vjp=True,
    )
register_served("shallow", "tanh", model("tanh"), net_inputs)
register_trajectory(
    "shallow", "planar-flower-tanh", model_problem(model("tanh", 2, 4), partial(flower_problem, FLOWER_STEPS))
)
