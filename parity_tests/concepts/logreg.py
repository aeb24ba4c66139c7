"""Parity checks of ``logreg``: loop form == vectorized form == torch, on forward, gradients,
training trajectories, and on real data against an independent solver's optimum.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from parity_tests import datasets, metrics
from parity_tests.concepts import _networks as networks
from parity_tests.registry import (
    CheckUnavailable,
    Model,
    model_problem,
    register_model,
    register_optimum,
    register_served,
    register_trajectory,
)
from scratch import logreg as S
from torch_ref.layout import COLUMNS

N_X, M = 4, 7


def model_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "w": rng.standard_normal((N_X, 1)),
        "b": rng.standard_normal((1, 1)),
        "X": rng.standard_normal((N_X, M)),
        "Y": (rng.random((1, M)) < 0.5).astype(float),
    }


FORMS = networks.LOGREG_FORMS


def model(form: str, n_x: int = N_X) -> Model:
    """Logistic regression in one of the notes' two forms against :class:`LogisticRegression`
    (declared in :func:`parity_tests.concepts._networks.logreg`, which the course checker reads too)."""
    return networks.logreg(form, n_x)


LAYOUTS = model("vectorized").input_layouts()
"""How the model's inputs convert for torch (``w`` transposed, ``b`` a bias, batches as rows)."""


def toy_problem(rng: np.random.Generator) -> dict[str, Any]:
    """60 full-batch steps on 30 random examples with a learnable direction, from random w."""
    X = rng.standard_normal((N_X, 30))
    Y = (rng.standard_normal((1, N_X)) @ X + 0.5 * rng.standard_normal((1, 30)) > 0).astype(float)
    return {
        "init_params": {"w": rng.standard_normal((N_X, 1)) * 0.1, "b": np.zeros((1, 1))},
        "batches": [(X, Y)] * 60,
        "learning_rate": 0.5,
    }


def breast_cancer_problem(steps: int, rng: np.random.Generator) -> dict[str, Any]:
    """Full-batch gradient descent on the standardized breast-cancer data from zeros."""
    X, Y, _ = datasets.breast_cancer()
    return {
        "init_params": S.zero_params(X.shape[0]),
        "batches": [(X, Y)] * steps,
        "learning_rate": 1.0,
        "metrics": metrics.accuracy(S.predict_labels, X, Y),
    }


for _form in FORMS:
    register_model(
        "logreg",
        _form,
        model(_form),
        model_inputs,
        half=("forward", "gradient"),
        trajectories={_form: toy_problem},
    )
register_served("logreg", "proba", model("vectorized"), model_inputs, quick=("onnx", "safetensors"))
register_trajectory(
    "logreg",
    "breast-cancer-vectorized",
    model_problem(model("vectorized", 4), partial(breast_cancer_problem, 300)),
)
register_trajectory(
    "logreg", "breast-cancer-loop", model_problem(model("loop", 4), partial(breast_cancer_problem, 20))
)  # ~30 ms a step


def breast_cancer_optimum(rng: np.random.Generator) -> dict[str, Any]:
    """The optimum problem (:func:`~parity_tests.registry.register_optimum`): from zeros, full-batch
    gradient descent on the standardized breast-cancer data, against scikit-learn's unpenalized
    L-BFGS optimum."""
    try:
        from sklearn.linear_model import LogisticRegression as SkLogisticRegression
    except ImportError:
        raise CheckUnavailable("scikit-learn is not installed (pip install 'dlparity[data]')") from None
    X, Y, _ = datasets.breast_cancer()
    X_rows = COLUMNS.to_torch(X)  # scikit-learn, like torch, wants examples as rows
    solver = SkLogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(X_rows, Y.ravel())
    return {
        "X": X,
        "Y": Y,
        "init_params": S.zero_params(X.shape[0]),
        "learning_rate": 4.0,  # 4 < 2 / λ_max(H) at w = 0 for these features
        "max_steps": 20_000,
        "optimum": {"w": solver.coef_.reshape(-1, 1), "b": solver.intercept_.reshape(1, 1)},
        "metrics": metrics.accuracy(S.predict_labels, X, Y),
        "solver_metrics": {"train_accuracy_solver": float(solver.score(X_rows, Y.ravel()))},
    }


register_optimum("logreg", "breast-cancer", model("vectorized", 4), breast_cancer_optimum)
