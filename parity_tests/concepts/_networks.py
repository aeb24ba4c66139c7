"""The course's three networks, each declared once (:class:`~parity_tests.registry.Model`).

Logistic regression, the shallow network and the L-layer network: the notes' formulas (scratch)
against :class:`~torch_ref.logreg.LogisticRegression`, :class:`~torch_ref.shallow.ShallowNetwork`
and :class:`~torch_ref.deep.DeepNetwork` — the module, its parameter spec, its output method and
its cost. Two checkers consume these declarations: the concept modules ``logreg``, ``shallow``
and ``deep`` register their checks from them, and the course checker
(:mod:`parity_tests.course.references`) builds its torch references from them (it reads only the
torch side). Importing this module registers nothing and builds no module.

Example:
    >>> net = logreg("vectorized", 3)
    >>> net.names, net.output_method
    (('w', 'b'), 'predict_proba')
"""

from __future__ import annotations

from functools import partial

import numpy as np
from torch.nn import functional as F

from parity_tests.registry import Model
from scratch import deep as SD
from scratch import logreg as SL
from scratch import shallow as SS
from torch_ref import deep as TD
from torch_ref import logreg as TL
from torch_ref import shallow as TS

LOGREG_FORMS = {"vectorized": SL.cost_and_grads, "loop": SL.cost_and_grads_loop}
"""The notes' two forms of logistic regression's ``propagate``: vectorized and with loops."""


def logreg(form: str, n_x: int) -> Model:
    """Logistic regression in one of the notes' two forms against :class:`LogisticRegression`:
    ``ŷ = σ(x wᵀ + b)`` (``predict_proba``), the cost BCE from the logits."""
    return Model(
        propagate=LOGREG_FORMS[form],
        forward=SL.predict_proba,
        make_module=partial(TL.LogisticRegression, n_x),
        param_spec=TL.PARAM_SPEC,
        torch_cost=F.binary_cross_entropy_with_logits,
        output_method="predict_proba",
    )


def shallow_output(params: dict[str, np.ndarray], X: np.ndarray, activation: str) -> np.ndarray:
    """``A2 = σ(Z2)``, the notes' forward propagation's output."""
    return SS.forward_propagation(X, params, activation)[0]


def shallow(activation: str, n_x: int, n_h: int, n_y: int = 1) -> Model:
    """The shallow network (hidden ``activation``, sigmoid output) against
    :class:`ShallowNetwork`: ``A2`` (``predict_proba``), the cost BCE from the logits ``Z2``."""
    return Model(
        propagate=partial(SS.propagate, activation=activation),
        forward=partial(shallow_output, activation=activation),
        make_module=partial(TS.ShallowNetwork, n_x, n_h, n_y, activation),
        param_spec=TS.PARAM_SPEC,
        torch_cost=F.binary_cross_entropy_with_logits,
        output_method="predict_proba",
    )


def deep_output(params: dict[str, np.ndarray], X: np.ndarray, activation: str, out: str) -> np.ndarray:
    """``A[L]``, the output of the notes' L-layer forward propagation."""
    return SD.L_model_forward(X, params, activation, out)[0]


def deep(dims: tuple[int, ...], activation: str, out: str) -> Model:
    """The L-layer network ``dims = (n_x, n[1], …, n[L])`` as a :class:`Model`: scratch's
    caches-and-backprop against :class:`DeepNetwork` and its own ``loss`` (BCE from logits,
    cross-entropy, or ½ squared error); the output ``predict_proba`` (``predict`` for a linear
    output)."""
    return Model(
        propagate=partial(SD.propagate, activation=activation, output=out),
        forward=partial(deep_output, activation=activation, out=out),
        make_module=partial(TD.DeepNetwork, dims, activation, out),
        param_spec=TD.param_spec(len(dims) - 1),
        loss_method="loss",
        output_method="predict" if out == "linear" else "predict_proba",
    )


__all__ = ["LOGREG_FORMS", "logreg", "shallow_output", "shallow", "deep_output", "deep"]
