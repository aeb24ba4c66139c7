"""Parity checks of ``logreg``: loop form == vectorized form == torch, on forward, gradients,
training trajectories, and on real data against an independent solver's optimum.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch.nn import functional as F

from parity_tests import datasets
from parity_tests.registry import (
    register_finite_differences, register_forward, register_gradient, register_trajectory,
)
from parity_tests.torch_functional import module_function
from scratch import logreg as S
from torch_ref import logreg as T
from torch_ref.layout import COLUMNS

N_X, M = 4, 7


def model_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"w": rng.standard_normal((N_X, 1)), "b": rng.standard_normal((1, 1)),
            "X": rng.standard_normal((N_X, M)), "Y": (rng.random((1, M)) < 0.5).astype(float)}


# the torch module used as a function of its parameters (torch.func.functional_call)
proba, LAYOUTS = module_function(lambda: T.LogisticRegression(N_X, device="meta"), T.PARAM_SPEC,
                                 method="predict_proba")
logits, _ = module_function(lambda: T.LogisticRegression(N_X, device="meta"), T.PARAM_SPEC)
LAYOUTS = {**LAYOUTS, "X": COLUMNS, "Y": COLUMNS}


def torch_cost(w, b, X, Y):
    return F.binary_cross_entropy_with_logits(logits(X, w=w, b=b), Y)


register_forward("logreg", "predict_proba",
                 lambda w, b, X, Y: S.predict_proba({"w": w, "b": b}, X),
                 lambda w, b, X, Y: proba(X, w=w, b=b), model_inputs, layouts=LAYOUTS,
                 output_layout=COLUMNS)
register_forward("logreg", "cost", lambda w, b, X, Y: S.propagate({"w": w, "b": b}, X, Y)[0],
                 torch_cost, model_inputs, layouts=LAYOUTS, output_names=["J"])

FORMS = {"vectorized": S.propagate, "loop": S.propagate_loop}
for _form, _propagate in FORMS.items():
    def _grads(w, b, X, Y, propagate=_propagate):
        return propagate({"w": w, "b": b}, X, Y)[1]

    def _cost(w, b, X, Y, propagate=_propagate):
        return propagate({"w": w, "b": b}, X, Y)[0]

    register_gradient("logreg", _form, _grads, torch_cost, model_inputs, wrt=["w", "b"],
                      layouts=LAYOUTS)
    register_finite_differences("logreg", _form, _cost, _grads, model_inputs, wrt=["w", "b"])


def torch_loss(model, X, Y):
    return F.binary_cross_entropy_with_logits(model(X), Y)


def toy_problem(form: str, rng: np.random.Generator) -> dict[str, Any]:
    """60 full-batch steps on 30 random examples with a learnable direction, from random w."""
    X = rng.standard_normal((N_X, 30))
    Y = (rng.standard_normal((1, N_X)) @ X + 0.5 * rng.standard_normal((1, 30)) > 0).astype(float)
    return {"scratch_step": FORMS[form], "torch_model": T.LogisticRegression(N_X),
            "torch_loss": torch_loss,
            "init_params": {"w": rng.standard_normal((N_X, 1)) * 0.1, "b": np.zeros((1, 1))},
            "batches": [(X, Y)] * 60, "param_spec": T.PARAM_SPEC, "learning_rate": 0.5}


def breast_cancer_problem(form: str, steps: int) -> dict[str, Any]:
    """Full-batch gradient descent on the standardized breast-cancer data from zeros."""
    X, Y, _ = datasets.breast_cancer()
    return {"scratch_step": FORMS[form], "torch_model": T.LogisticRegression(X.shape[0]),
            "torch_loss": torch_loss, "init_params": S.initialize_with_zeros(X.shape[0]),
            "batches": [(X, Y)] * steps, "param_spec": T.PARAM_SPEC, "learning_rate": 1.0}


for _form in FORMS:
    register_trajectory("logreg", _form, lambda rng, f=_form: toy_problem(f, rng))
register_trajectory("logreg", "breast-cancer-vectorized",
                    lambda rng: breast_cancer_problem("vectorized", 300))
register_trajectory("logreg", "breast-cancer-loop", lambda rng: breast_cancer_problem("loop", 40))
