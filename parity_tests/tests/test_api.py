"""The public verification API on a learner's own code: records, diagnoses, devices, dtypes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from parity_tests import (
    assert_parity,
    check_finite_differences,
    check_forward,
    check_gradients,
    check_training,
)
from scratch import logreg
from torch_ref import logreg as torch_logreg
from torch_ref.layout import BIAS, COLUMNS

RNG = np.random.default_rng(3)
X = RNG.standard_normal((3, 6))
Y = (RNG.random((1, 6)) < 0.5).astype(float)


def my_sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_check_forward_on_a_user_function(device: str, dtype: str) -> None:
    result = check_forward(my_sigmoid, torch.sigmoid, {"z": X}, device=device, dtype=dtype)
    assert result.passed and result.device == device and result.dtype == dtype
    assert result.records[0].shape_actual == (3, 6)


def test_check_gradients_with_layouts_and_upstream(device: str, dtype: str) -> None:
    def my_linear_backward(dZ, A_prev, W, b):  # per-parameter gradients of Σ Z ⊙ dZ
        return {"dA_prev": W.T @ dZ, "dW": dZ @ A_prev.T, "db": dZ.sum(axis=1, keepdims=True)}

    result = check_gradients(
        my_linear_backward,
        F.linear,
        {"A_prev": X, "W": RNG.standard_normal((4, 3)), "b": np.zeros((4, 1))},
        wrt=["A_prev", "W", "b"],
        layouts={"A_prev": COLUMNS, "b": BIAS},
        output_layout=COLUMNS,
        vjp=True,
        device=device,
        dtype=dtype,
    )
    assert_parity(result)
    assert [r.name for r in result.records] == ["dA_prev", "dW", "db"]


def test_a_transposed_gradient_is_named() -> None:
    def wrong(dZ, A_prev, W, b):
        return {"dA_prev": W.T @ dZ, "dW": A_prev @ dZ.T, "db": dZ.sum(axis=1, keepdims=True)}

    result = check_gradients(
        wrong,
        F.linear,
        {"A_prev": X, "W": RNG.standard_normal((4, 3)), "b": np.zeros((4, 1))},
        wrt=["A_prev", "W", "b"],
        layouts={"A_prev": COLUMNS, "b": BIAS},
        output_layout=COLUMNS,
        vjp=True,
    )
    assert not result.passed
    assert result.records[1].diagnosis.startswith("transposed: shape (3, 4), expected (4, 3)")
    with pytest.raises(AssertionError, match="transposed"):
        assert_parity(result)


def test_finite_differences_catch_a_wrong_derivative() -> None:
    def tanh_backward(dA, z):
        return {"dz": dA * (1 - np.tanh(z))}  # should be 1 − tanh²

    good = check_finite_differences(
        np.tanh, lambda dA, z: {"dz": dA * (1 - np.tanh(z) ** 2)}, {"z": X}, wrt=["z"], vjp=True
    )
    bad = check_finite_differences(np.tanh, tanh_backward, {"z": X}, wrt=["z"], vjp=True)
    assert good.passed and not bad.passed


def _loss(model, Xt, Yt):
    return F.binary_cross_entropy_with_logits(model(Xt), Yt)


def test_check_training_names_first_divergence_step_and_parameter(device: str) -> None:
    def late_bug(params, X, Y):  # correct for 5 steps, then drops the 1/m of dw
        cost, grads = logreg.cost_and_grads(params, X, Y)
        late_bug.calls += 1
        if late_bug.calls > 5:
            grads = {"dw": grads["dw"] * X.shape[1], "db": grads["db"]}
        return cost, grads

    late_bug.calls = 0
    result = check_training(
        late_bug,
        torch_logreg.LogisticRegression(3),
        _loss,
        logreg.zero_params(3),
        [(X, Y)] * 10,
        param_spec=torch_logreg.PARAM_SPEC,
        learning_rate=0.1,
        device=device,
    )
    assert not result.passed
    assert result.extra["first_divergence"] == (5, "w")
    assert result.diagnosis.startswith("first diverges at step 5 in w (the loss still matches")
    assert "factor of m (m=6)" in result.diagnosis


def test_check_training_passes_for_both_logreg_forms(device: str, dtype: str) -> None:
    for step in (logreg.cost_and_grads, logreg.cost_and_grads_loop):
        result = check_training(
            step,
            torch_logreg.LogisticRegression(3),
            _loss,
            logreg.zero_params(3),
            [(X, Y)] * 20,
            param_spec=torch_logreg.PARAM_SPEC,
            learning_rate=0.5,
            device=device,
            dtype=dtype,
        )
        assert_parity(result)
        assert len(result.extra["scratch_loss"]) == 20


def test_api_argument_errors() -> None:
    with pytest.raises(ValueError, match=r"wrt: \['v'\] are not among the inputs"):
        check_gradients(lambda **k: {}, torch.sigmoid, {"z": X}, wrt=["v"])
    with pytest.raises(ValueError, match="device: expected 'cpu' or 'cuda'"):
        check_forward(my_sigmoid, torch.sigmoid, {"z": X}, device="tpu")
    with pytest.raises(TypeError, match="dtype: expected one of"):
        check_forward(my_sigmoid, torch.sigmoid, {"z": X}, dtype="int8")


def test_loop_equals_vectorized_directly() -> None:
    """The notes' two forms give the same cost and gradients (float64, to rounding)."""
    from parity_tests.compare import compare
    from parity_tests.tolerances import tolerance

    params = {"w": RNG.standard_normal((3, 1)), "b": np.array([[0.2]])}
    c1, g1 = logreg.cost_and_grads_loop(params, X, Y)
    c2, g2 = logreg.cost_and_grads(params, X, Y)
    tol = tolerance("float64", "gradient")
    records = [compare("J", c1, c2, tol)] + [compare(k, g1[k], g2[k], tol) for k in g1]
    assert all(r.passed for r in records), "\n".join(map(str, records))


def test_check_training_reports_metrics_of_both_sides() -> None:
    from parity_tests import metrics

    result = check_training(
        logreg.cost_and_grads,
        torch_logreg.LogisticRegression(3),
        _loss,
        logreg.zero_params(3),
        [(X, Y)] * 30,
        param_spec=torch_logreg.PARAM_SPEC,
        learning_rate=0.5,
        dtype="float32",
        metrics=metrics.accuracy(logreg.predict_labels, X, Y),
    )
    m = result.extra["metrics"]
    assert set(m) == {"train_accuracy_scratch", "train_accuracy_torch"}
    assert m["train_accuracy_scratch"] == m["train_accuracy_torch"] > 0.5


def test_gradients_against_a_torch_module_parameters() -> None:
    """A learner's 2-layer backward checked against the production ShallowNetwork itself."""
    from parity_tests import module_function
    from torch_ref.shallow import PARAM_SPEC, ShallowNetwork

    def my_backward(dZ2, X, W1, b1, W2, b2):  # upstream dZ2 on the logits Z2 (1, m)
        A1 = np.tanh(W1 @ X + b1)
        dZ1 = W2.T @ dZ2 * (1 - A1**2)
        return {
            "dW1": dZ1 @ X.T,
            "db1": dZ1.sum(axis=1, keepdims=True),
            "dW2": dZ2 @ A1.T,
            "db2": dZ2.sum(axis=1, keepdims=True),
            "dX": W1.T @ dZ1,
        }

    fn, layouts = module_function(lambda: ShallowNetwork(3, 4, 1, "tanh", device="meta"), PARAM_SPEC)
    inputs = {
        "X": X,
        "W1": RNG.standard_normal((4, 3)),
        "b1": RNG.standard_normal((4, 1)),
        "W2": RNG.standard_normal((1, 4)),
        "b2": RNG.standard_normal((1, 1)),
    }
    result = check_gradients(
        my_backward,
        fn,
        inputs,
        wrt=["X", "W1", "b1", "W2", "b2"],
        layouts={**layouts, "X": COLUMNS},
        output_layout=COLUMNS,
        vjp=True,
    )
    assert_parity(result)
    with pytest.raises(TypeError, match=r"unexpected arguments \['Q'\]"):
        fn(Q=torch.zeros(1))
