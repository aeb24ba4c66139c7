"""Parity checks of ``logreg``: loop form == vectorized form == torch, on forward, gradients,
training trajectories, and on real data against an independent solver's optimum.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from parity_tests import datasets, metrics
from parity_tests.compare import CheckResult, compare, group_result
from parity_tests.concepts import _networks as networks
from parity_tests.devices import parity_mode
from parity_tests.registry import (
    CheckUnavailable,
    Model,
    ParityCheck,
    model_problem,
    register,
    register_model,
    register_served,
    register_trajectory,
)
from parity_tests.tolerances import OPTIMUM_GRAD_TOL, tolerance
from scratch import logreg as S
from scratch.gd import gd_update
from torch_ref import logreg as T
from torch_ref.layout import COLUMNS, numpy_dtype, to_tensor, torch_dtype

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


def breast_cancer_optimum(device: str, dtype: str) -> CheckResult:
    """Scratch (vectorized) and torch, trained to convergence, against scikit-learn's
    unpenalized L-BFGS optimum; accuracies go into ``extra["metrics"]``."""
    try:
        from sklearn.linear_model import LogisticRegression as SkLogisticRegression
    except ImportError:
        raise CheckUnavailable("scikit-learn is not installed (pip install 'dlparity[data]')") from None
    X, Y, _ = datasets.breast_cancer()
    X_rows = COLUMNS.to_torch(X)  # scikit-learn, like torch, wants examples as rows
    solver = SkLogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(X_rows, Y.ravel())
    optimum = {"w": solver.coef_.reshape(-1, 1), "b": solver.intercept_.reshape(1, 1)}
    np_dtype, lr = numpy_dtype(dtype), 4.0  # 4 < 2 / λ_max(H) at w = 0 for these features
    Xs, Ys = X.astype(np_dtype), Y.astype(np_dtype)
    params = {k: v.astype(np_dtype) for k, v in S.zero_params(X.shape[0]).items()}
    steps = 0  # the number of updates made, so that torch makes exactly as many
    while steps < 20_000:
        _, grads = S.cost_and_grads(params, Xs, Ys)
        if max(float(np.abs(g).max()) for g in grads.values()) < OPTIMUM_GRAD_TOL[dtype]:
            break
        params = gd_update(params, grads, lr)
        steps += 1
    model = T.LogisticRegression(X.shape[0], device=device, dtype=torch_dtype(dtype))
    with parity_mode():
        Xt = to_tensor(COLUMNS.to_torch(Xs), device, dtype)
        Yt = to_tensor(COLUMNS.to_torch(Ys), device, dtype)
        T.train(model, Xt, Yt, steps, lr)
        torch_params = model.scratch_params()
        torch_acc = float((model.predict(Xt) == Yt).double().mean())
    tol = tolerance(dtype, "optimum")
    records = [
        compare(f"{name} ({side}) vs solver", got[name], optimum[name], tol)
        for side, got in (("scratch", params), ("torch", torch_params))
        for name in ("w", "b")
    ]
    scores = {
        "steps": steps,
        "train_accuracy_scratch": float(np.mean(S.predict_labels(params, Xs) == Ys)),
        "train_accuracy_torch": torch_acc,
        "train_accuracy_solver": float(solver.score(X_rows, Y.ravel())),
    }
    return group_result(
        "logreg", "breast-cancer", "optimum", device, dtype, records, extra={"metrics": scores}
    )


register(ParityCheck("logreg", "breast-cancer", "optimum", breast_cancer_optimum))
