"""Parity checks of ``shallow``: the notes' two-layer formulas vs :class:`ShallowNetwork`.

For every hidden activation: the forward output ``A2``; the four parameter gradients of the
cost (no scaling needed: both are ``∂J/∂θ``); the notes' backward driven by a random upstream
``dZ2`` (per example, so autograd's ``dW``/``db`` get the course's ``1/m``); central
differences; and training trajectories — on a toy problem and on the course's planar flower.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch.nn import functional as F

from parity_tests import metrics
from parity_tests.datasets import planar_flower
from parity_tests.registry import (
    register_finite_differences,
    register_forward,
    register_gradient,
    register_trajectory,
)
from parity_tests.torch_functional import module_function
from scratch import shallow as S
from scratch.activations import ACTIVATIONS
from torch_ref import shallow as T
from torch_ref.layout import COLUMNS

N_X, N_H, M = 3, 4, 5  # distinct, non-square: W1 (4, 3), W2 (1, 4), X (3, 5)
NAMES = ("W1", "b1", "W2", "b2")
PER_EXAMPLE = {name: 1 / M for name in NAMES}  # the course's 1/m on dW, db beside a per-example dZ2


def net_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"W1": rng.standard_normal((N_H, N_X)), "b1": rng.standard_normal((N_H, 1)),
            "W2": rng.standard_normal((1, N_H)), "b2": rng.standard_normal((1, 1)),
            "X": rng.standard_normal((N_X, M)), "Y": (rng.random((1, M)) < 0.5).astype(float)}


def _params(kw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: kw[k] for k in NAMES}


def torch_model_fns(activation: str):
    """``(logits(X, **params), proba(X, **params), layouts)`` of the torch module itself."""
    make = lambda: T.ShallowNetwork(N_X, N_H, 1, activation, device="meta")  # noqa: E731
    logits, layouts = module_function(make, T.PARAM_SPEC)
    proba, _ = module_function(make, T.PARAM_SPEC, method="predict_proba")
    return logits, proba, {**layouts, "X": COLUMNS, "Y": COLUMNS}


for _act in ACTIVATIONS:
    _logits, _proba, _layouts = torch_model_fns(_act)

    def _forward(act=_act, **kw):
        return S.forward_propagation(kw["X"], _params(kw), act)[0]

    def _torch_proba(proba=_proba, **kw):
        return proba(kw["X"], **_params(kw))

    def _cost(act=_act, **kw):
        return S.propagate(_params(kw), kw["X"], kw["Y"], act)[0]

    def _grads(act=_act, **kw):
        return S.propagate(_params(kw), kw["X"], kw["Y"], act)[1]

    def _torch_cost(logits=_logits, **kw):
        return F.binary_cross_entropy_with_logits(logits(kw["X"], **_params(kw)), kw["Y"])

    def _Z2(act=_act, **kw):
        return S.forward_propagation(kw["X"], _params(kw), act)[1]["Z2"]

    def _backward(dZ2, act=_act, **kw):
        _, cache = S.forward_propagation(kw["X"], _params(kw), act)
        return S.backward_from_output(dZ2, _params(kw), cache, kw["X"], act)

    def _torch_logits(logits=_logits, **kw):
        return logits(kw["X"], **_params(kw))

    register_forward("shallow", f"{_act}-A2", _forward, _torch_proba, net_inputs,
                     layouts=_layouts, output_layout=COLUMNS, half=True)
    register_gradient("shallow", f"{_act}-cost", _grads, _torch_cost, net_inputs, wrt=NAMES,
                      layouts=_layouts)
    register_gradient("shallow", f"{_act}-upstream", _backward, _torch_logits, net_inputs,
                      wrt=["X", *NAMES], layouts=_layouts, output_layout=COLUMNS,
                      grad_scale=PER_EXAMPLE, vjp=True)
    register_finite_differences("shallow", f"{_act}-cost", _cost, _grads, net_inputs, wrt=NAMES)
    register_finite_differences("shallow", f"{_act}-upstream", _Z2, _backward, net_inputs,
                                wrt=["X", *NAMES], grad_scale=PER_EXAMPLE, vjp=True)


def torch_loss(model, X, Y):
    return F.binary_cross_entropy_with_logits(model(X), Y)


def toy_problem(activation: str, rng: np.random.Generator) -> dict[str, Any]:
    """80 full-batch steps on 40 points of a circle-vs-ring problem, from ``randn · 0.5``."""
    X = rng.standard_normal((N_X, 40))
    Y = (np.sum(X * X, axis=0, keepdims=True) > N_X).astype(float)  # outside the sphere r = √3
    init = S.initialize_parameters(N_X, N_H, 1, rng, "xavier")
    return {"scratch_step": lambda p, X, Y: S.propagate(p, X, Y, activation),
            "torch_model": T.ShallowNetwork(N_X, N_H, 1, activation), "torch_loss": torch_loss,
            "init_params": init, "batches": [(X, Y)] * 80, "param_spec": T.PARAM_SPEC,
            "learning_rate": 0.5}


def flower_problem(steps: int, rng: np.random.Generator) -> dict[str, Any]:
    """The course's planar flower (400 points), 4 tanh hidden units, α = 1.2, ``randn · 0.01``."""
    X, Y = planar_flower()
    return {"scratch_step": lambda p, X, Y: S.propagate(p, X, Y, "tanh"),
            "torch_model": T.ShallowNetwork(2, 4, 1, "tanh"), "torch_loss": torch_loss,
            "init_params": S.initialize_parameters(2, 4, 1, np.random.default_rng(2)),
            "batches": [(X, Y)] * steps, "param_spec": T.PARAM_SPEC, "learning_rate": 1.2,
            "metrics": metrics.accuracy(lambda p, X: S.predict(p, X, "tanh"), X, Y)}


FLOWER_STEPS = 1000  # ~1 s per registered run (88.5% accuracy); tests train 10000 steps (~90%)

for _act in ACTIVATIONS:
    register_trajectory("shallow", f"{_act}-toy", lambda rng, a=_act: toy_problem(a, rng))
register_trajectory("shallow", "planar-flower-tanh", lambda rng: flower_problem(FLOWER_STEPS, rng))
