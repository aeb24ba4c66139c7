"""A check that cannot fail does not PASS (issue 20): updates below the tolerance, a negative
tolerance, an input nobody reads, a broadcast that hides a shape, a failing torch reference."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from parity_tests import assert_parity, check_forward, check_gradients, check_training
from parity_tests.api import ReferenceCallError
from parity_tests.tolerances import MIN_SENSITIVITY, Tolerance
from scratch import logreg
from torch_ref import logreg as torch_logreg
from torch_ref.layout import BIAS, COLUMNS

RNG = np.random.default_rng(20)
X = RNG.standard_normal((3, 40))
Y = (X[0:1] + 0.5 * X[1:2] + 0.3 * RNG.standard_normal((1, 40)) > 0).astype(float)


def _loss(model, Xt, Yt):
    return F.binary_cross_entropy_with_logits(model(Xt), Yt)


def _train(step, init, lr: float, dtype: str, lockstep: bool = False, steps: int = 20, **kw):
    return check_training(step, torch_logreg.LogisticRegression(3), _loss, init, [(X, Y)] * steps,
                          param_spec=torch_logreg.PARAM_SPEC, learning_rate=lr, dtype=dtype,
                          lockstep=lockstep, **kw)


def _times7(params, X, Y):
    cost, grads = logreg.cost_and_grads(params, X, Y)
    return cost, {k: 7 * g for k, g in grads.items()}


def _flipped_db(params, X, Y):
    cost, grads = logreg.cost_and_grads(params, X, Y)
    return cost, {"dw": grads["dw"], "db": -grads["db"]}


@functools.cache
def _trained(steps: int) -> tuple[tuple[str, np.ndarray], ...]:
    params = logreg.zero_params(3)
    for _ in range(steps):
        _, grads = logreg.cost_and_grads(params, X, Y)
        params = {k: params[k] - 0.5 * grads["d" + k] for k in params}
    return tuple(params.items())


# --- 1. updates below the tolerance -----------------------------------------------------------
@pytest.mark.parametrize("dtype, lr", [("float32", 1e-6), ("float64", 1e-12)])
def test_gradients_times_7_at_a_tiny_learning_rate_do_not_pass(dtype: str, lr: float) -> None:
    result = _train(_times7, logreg.zero_params(3), lr, dtype)
    assert not result.passed  # INCONCLUSIVE, or FAIL where the 6× surplus adds up past the bound
    text = str(result)
    assert f"learning_rate={lr:g}" in text and "largest distance from the start" in text
    assert "the tolerance (rtol=" in text and "INCONCLUSIVE sensitivity of w" in text
    with pytest.raises(AssertionError, match="sensitivity of w"):
        assert_parity(result)
    short = _train(_times7, logreg.zero_params(3), lr, dtype, steps=5)
    assert short.status == "INCONCLUSIVE" and "too small against the tolerance" in short.diagnosis


def test_the_same_learner_at_a_usable_learning_rate_fails() -> None:
    result = _train(_times7, logreg.zero_params(3), 0.1, "float32")
    assert result.status == "FAIL" and result.extra["first_divergence"][0] == 0


def test_a_correct_learner_at_a_usable_learning_rate_passes_and_reports_its_sensitivity() -> None:
    result = _train(logreg.cost_and_grads, logreg.zero_params(3), 0.5, "float32")
    assert_parity(result)
    assert min(result.extra["sensitivity"].values()) > 100 * MIN_SENSITIVITY


@pytest.mark.parametrize("trained_for, lockstep, status", [
    (3000, False, "FAIL"), (3000, True, "FAIL"),  # |db| ~ 2e-4: the flip is caught at step 0
    (20000, False, "INCONCLUSIVE"),  # |db| ~ 3e-6, below float32's gradient atol: b hardly moves
    (20000, True, "FAIL"),  # the flipped db pushes b away from the optimum until it shows
])
def test_flipped_db_from_trained_weights_never_passes(trained_for: int, lockstep: bool,
                                                      status: str) -> None:
    """Logistic regression from trained weights, float32, α = 0.5, db's sign flipped: it failed
    to fail before (issue 20). Where no comparison can tell db from −db the check says so."""
    result = _train(_flipped_db, dict(_trained(trained_for)), 0.5, "float32", lockstep)
    assert result.status == status
    with pytest.raises(AssertionError):
        assert_parity(result)
    if status == "FAIL":
        assert "b" in result.extra["first_divergence"][1]
    else:
        blind = [r for r in result.records if r.inconclusive]
        assert [r.name for r in blind][-1] == "sensitivity of b"
        assert "learning_rate=0.5" in blind[-1].diagnosis and "× the tolerance" in blind[-1].diagnosis


def test_a_parameter_declared_still_is_held_to_staying() -> None:
    zeros = logreg.zero_params(3)
    moving = _train(logreg.cost_and_grads, zeros, 0.5, "float64", still=["b"])
    assert moving.status == "FAIL" and "declared still, but the reference moved it" in str(moving)
    with pytest.raises(ValueError, match=r"still: expected a list of parameter names"):
        _train(logreg.cost_and_grads, zeros, 0.5, "float64", still=["q"])


# --- 2. a tolerance that cannot mean anything -------------------------------------------------
@pytest.mark.parametrize("rtol, atol, bad", [
    (-1e-9, -1e-12, "rtol=-1e-09"), (1e-9, -1e-12, "atol=-1e-12"), (float("nan"), 0.0, "rtol=nan"),
    (0.0, float("inf"), "atol=inf")])
def test_negative_nan_and_infinite_tolerances_are_refused(rtol: float, atol: float, bad: str) -> None:
    with pytest.raises(ValueError, match=f"Tolerance: {bad} must be a finite number >= 0"):
        Tolerance(rtol, atol)


def test_the_hostile_negative_tolerance_case_is_refused() -> None:
    with pytest.raises(ValueError, match=r"rtol=-1e-09"):
        check_forward(lambda x: 2 * np.tanh(x), torch.tanh, {"x": X}, tol=Tolerance(-1e-9, -1e-12))
    with pytest.raises(TypeError, match=r"tol: expected a parity_tests.tolerances.Tolerance"):
        check_gradients(lambda x: {"dx": 2 * (1 - np.tanh(x) ** 2)}, lambda x: torch.tanh(x).sum(),
                        {"x": X}, wrt=["x"], tol=(-1e-9, -1e-12))


# --- 8. inputs nobody reads, hidden broadcasts, failing references ------------------------------
def test_an_input_that_neither_side_reads_is_reported() -> None:
    result = check_forward(lambda X, Y: np.tanh(X), lambda X, Y: torch.tanh(X), {"X": X, "Y": Y})
    assert result.status == "INCONCLUSIVE"
    rec = [r for r in result.records if r.inconclusive]
    assert [r.name for r in rec] == ["input 'Y'"]
    assert "changed neither the scratch nor the torch output" in rec[0].diagnosis


def test_inputs_read_by_either_side_are_not_reported() -> None:
    relu_prime = check_forward(lambda Z: (Z > 0).astype(Z.dtype), lambda Z: (Z > 0).to(Z.dtype),
                               {"Z": X})  # a step function: a small change would not show
    assert_parity(relu_prime)
    squared = check_forward(lambda Z: Z ** 2, lambda Z: Z ** 2, {"Z": X})  # even in Z
    assert_parity(squared)
    one_side = check_forward(lambda X, Y: np.tanh(X) + 0 * Y, lambda X, Y: torch.tanh(X) + Y,
                             {"X": X, "Y": Y})
    assert one_side.status == "FAIL"  # torch reads Y, scratch does not: the values differ


def test_a_mis_shaped_input_for_its_layout_names_the_input() -> None:
    W, b = RNG.standard_normal((4, 3)), np.zeros((4, 1))
    with pytest.raises(ValueError, match=r"inputs\['A_prev'\]: shape \(2, 3, 40\) does not fit "
                                         r"layouts\['A_prev'\] = columns"):
        check_forward(lambda A_prev, W, b: W @ A_prev + b, F.linear,
                      {"A_prev": np.stack([X, X]), "W": W, "b": b},
                      layouts={"A_prev": COLUMNS, "b": BIAS}, output_layout=COLUMNS)


def test_an_error_inside_the_torch_reference_names_the_input_shapes() -> None:
    W, b = RNG.standard_normal((4, 2)), np.zeros((4, 1))  # W should be (4, 3)
    with pytest.raises(ReferenceCallError, match=r"torch_fn: linear raised RuntimeError: .* on the inputs "
                                                 r"A_prev \(3, 40\) -> torch \(40, 3\), W \(4, 2\), "
                                                 r"b \(4, 1\) -> torch \(4,\)"):
        check_forward(lambda A_prev, W, b: W @ A_prev + b, F.linear, {"A_prev": X, "W": W, "b": b},
                      layouts={"A_prev": COLUMNS, "b": BIAS}, output_layout=COLUMNS)
    with pytest.raises(ReferenceCallError, match=r"W \(4, 2\)"):
        check_gradients(lambda A_prev, W, b: {}, lambda A_prev, W, b: F.linear(A_prev, W, b).sum(),
                        {"A_prev": X, "W": W, "b": b}, wrt=["W"],
                        layouts={"A_prev": COLUMNS, "b": BIAS})
