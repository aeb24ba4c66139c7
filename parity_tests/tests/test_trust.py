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
    return check_training(
        step,
        torch_logreg.LogisticRegression(3),
        _loss,
        init,
        [(X, Y)] * steps,
        param_spec=torch_logreg.PARAM_SPEC,
        learning_rate=lr,
        dtype=dtype,
        lockstep=lockstep,
        **kw,
    )


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
    """The parameters move less than the trajectory tolerance, but each step's update is
    compared relative to its own size: the × 7 is caught at the first step (it was
    INCONCLUSIVE, and before that a PASS)."""
    result = _train(_times7, logreg.zero_params(3), lr, dtype)
    assert result.status == "FAIL" and result.extra["first_divergence"] == (0, "update of w")
    assert "off by a constant factor of 7" in result.diagnosis
    late = [r.step for r in result.records if r.name in ("w", "b") and not r.passed]
    assert all(t > 0 for t in late)  # the parameters alone: blind at step 0, some not for long
    with pytest.raises(AssertionError, match="update of w"):
        assert_parity(result)
    assert_parity(_train(logreg.cost_and_grads, logreg.zero_params(3), lr, dtype))


def test_an_update_lost_in_the_parameters_rounding_is_inconclusive() -> None:
    """float32 parameters of size 1 at α = 1e-9: each update (~1e-10) is below half an ulp of
    the parameter (6e-8), so neither side's parameters ever change — no comparison can tell a
    right gradient from a wrong one."""
    ones = {"w": np.ones((3, 1)), "b": np.ones((1, 1))}
    for step in (logreg.cost_and_grads, _times7):
        result = _train(step, ones, 1e-9, "float32", steps=5)
        assert result.status == "INCONCLUSIVE" and "too small against the tolerance" in result.diagnosis
        blind = [r for r in result.records if r.inconclusive]
        assert [r.name for r in blind] == ["sensitivity of w", "sensitivity of b"]
        text = blind[0].diagnosis
        assert "learning_rate=1e-09" in text and "largest single-step update is 0" in text
        assert "largest distance from the start is 0" in text and "(rtol=" in text
        with pytest.raises(AssertionError, match="sensitivity of w"):
            assert_parity(result)
    locked = _train(logreg.cost_and_grads, ones, 1e-9, "float32", lockstep=True, steps=5)
    assert locked.status == "INCONCLUSIVE" and "distance from the start" not in str(locked)


def _deep_grid_run(times_db1: float = 1.0, lockstep: bool = False):
    """``deep``'s registered ``lr0.05-h5-tanh-random`` run in float32 (15 steps from
    ``randn · 0.01``: ``b1`` moves 4.4e-7, 0.012× its trajectory tolerance), ``db1`` × a factor."""
    from parity_tests.concepts import deep
    from parity_tests.registry import _rng

    config = next(c for c in deep.GRID if deep.grid_case(c) == "lr0.05-h5-tanh-random")
    problem = deep.grid_problem(config, _rng("deep", deep.grid_case(config)))
    problem.pop("plot_group")
    step = problem.pop("scratch_step")

    def scaled(params, X, Y):
        cost, grads = step(params, X, Y)
        return cost, {**grads, "db1": grads["db1"] * times_db1}

    return check_training(scaled, dtype="float32", lockstep=lockstep, **problem)


@pytest.mark.parametrize("lockstep", [False, True])
def test_a_wrong_vanishing_gradient_in_a_float32_deep_run_is_caught(lockstep: bool) -> None:
    """× 7 on ``db1`` alone, where ``b1``'s whole movement is below the trajectory tolerance: the
    parameter comparison cannot see it (it was INCONCLUSIVE), the update comparison can."""
    right = _deep_grid_run(1.0, lockstep)
    assert_parity(right)
    assert right.extra["sensitivity"]["b1"] >= 10 * MIN_SENSITIVITY
    wrong = _deep_grid_run(7.0, lockstep)
    assert wrong.status == "FAIL" and wrong.extra["first_divergence"] == (0, "update of b1")
    assert "off by a constant factor of 7" in wrong.diagnosis
    if not lockstep:
        assert next(r for r in wrong.records if r.name == "b1").passed


def test_a_correct_learner_at_a_usable_learning_rate_passes_and_reports_its_sensitivity() -> None:
    result = _train(logreg.cost_and_grads, logreg.zero_params(3), 0.5, "float32")
    assert_parity(result)
    assert min(result.extra["sensitivity"].values()) > 100 * MIN_SENSITIVITY


def test_the_same_learner_at_a_usable_learning_rate_fails() -> None:
    result = _train(_times7, logreg.zero_params(3), 0.1, "float32")
    assert result.status == "FAIL" and result.extra["first_divergence"][0] == 0


@pytest.mark.parametrize(
    "trained_for, lockstep, status",
    [
        (3000, False, "FAIL"),
        (3000, True, "FAIL"),  # |db| ~ 2e-4: the flip is caught at step 0
        (20000, False, "INCONCLUSIVE"),  # |db| ~ 3e-6, a sum of 40 terms that cancel: see below
        (20000, True, "FAIL"),  # from the same point, without drift, the flip still shows
    ],
)
def test_flipped_db_from_trained_weights_never_passes(trained_for: int, lockstep: bool, status: str) -> None:
    """Logistic regression from trained weights, float32, α = 0.5, db's sign flipped: it failed
    to fail before (issue 20). After 20000 steps ``db`` is a sum of 40 terms that cancel to
    ~3e-6, computed in float32 to within about itself: running free (the update tolerance widens
    with the drift), no comparison can then tell ``db`` from ``−db``, and the check says so —
    for the correct learner too."""
    result = _train(_flipped_db, dict(_trained(trained_for)), 0.5, "float32", lockstep)
    assert result.status == status
    with pytest.raises(AssertionError):
        assert_parity(result)
    right = _train(logreg.cost_and_grads, dict(_trained(trained_for)), 0.5, "float32", lockstep)
    if status == "FAIL":
        assert "b" in result.extra["first_divergence"][1]
    for blind_run in [result, right] if status == "INCONCLUSIVE" else []:
        blind = [r for r in blind_run.records if r.inconclusive]
        assert [r.name for r in blind] == ["sensitivity of b"]
        assert "learning_rate=0.5" in blind[0].diagnosis and "× its tolerance" in blind[0].diagnosis
    if trained_for == 3000:
        assert_parity(right)
    else:
        assert right.status == "INCONCLUSIVE"


def test_a_parameter_declared_still_is_held_to_staying() -> None:
    zeros = logreg.zero_params(3)
    moving = _train(logreg.cost_and_grads, zeros, 0.5, "float64", still=["b"])
    assert moving.status == "FAIL" and "declared still, but the reference moved it" in str(moving)
    with pytest.raises(ValueError, match=r"still: expected parameter names"):
        _train(logreg.cost_and_grads, zeros, 0.5, "float64", still=["q"])


# --- where a trajectory cannot see a gradient, the check that proves it ------------------------
_ONES = {"w": np.ones((3, 1)), "b": np.ones((1, 1))}


def test_verified_by_names_the_gradient_check_instead_of_claiming_the_parameter() -> None:
    proof = {"w": "logreg-vectorized-cost-gradient", "b": "logreg-loop-cost-gradient"}
    result = _train(logreg.cost_and_grads, _ONES, 1e-9, "float32", steps=5, verified_by=proof)
    assert_parity(result)
    assert "it is proven by check logreg-vectorized-cost-gradient" in result.diagnosis
    assert "b: this run cannot see its gradient" in result.diagnosis
    assert all("proven by check" in r.note for r in result.records if r.name.endswith("w"))
    sensitive = _train(
        logreg.cost_and_grads, logreg.zero_params(3), 0.5, "float32", verified_by=proof
    )  # where the run does see it, it is checked, not noted
    assert_parity(sensitive)
    assert sensitive.diagnosis is None and not any(r.note for r in sensitive.records)


@pytest.mark.parametrize(
    "proof, message",
    [
        ({"w": "logreg-nowhere-gradient"}, "names check 'logreg-nowhere-gradient', which is not registered"),
        ({"w": "logreg-vectorized-forward"}, "does not compare the gradient of 'w'"),
        ({"w": "deep-sigmoid-sigmoid-cost-gradient"}, "does not compare the gradient of 'w'"),
        ({"w": "logreg-vectorized-cost-finite-difference"}, r"runs in \['float64'\], not float32"),
        ({"q": "logreg-vectorized-cost-gradient"}, "verified_by: expected parameter names"),
    ],
)
def test_verified_by_is_validated(proof: dict, message: str) -> None:
    from parity_tests.registry import all_checks

    all_checks(["logreg", "deep"])
    with pytest.raises(ValueError, match=message):
        _train(logreg.cost_and_grads, _ONES, 1e-9, "float32", steps=2, verified_by=proof)


def test_the_report_counts_inconclusive_apart_and_never_as_a_pass() -> None:
    from parity_tests.registry import ParityCheck
    from parity_tests.report import run_checks, summary_table

    def blind(device: str, dtype: str):
        return _train(logreg.cost_and_grads, _ONES, 1e-9, dtype, steps=2)

    rows = run_checks(
        [ParityCheck("logreg", "blind", "trajectory", blind, dtypes=("float32",))],
        ["cpu"],
        ["float32"],
        progress=False,
    )
    assert [r.verdict for r in rows] == ["INCONCLUSIVE"]
    assert "too small against the tolerance" in rows[0].diagnosis
    head, _, line = summary_table(rows).splitlines()
    assert head.split()[1:5] == ["checks", "passed", "failed", "inconclusive"]
    assert line.split()[1:5] == ["1", "0", "0", "1"]


# --- 2. a tolerance that cannot mean anything -------------------------------------------------
@pytest.mark.parametrize(
    "rtol, atol, bad",
    [
        (-1e-9, -1e-12, "rtol=-1e-09"),
        (1e-9, -1e-12, "atol=-1e-12"),
        (float("nan"), 0.0, "rtol=nan"),
        (0.0, float("inf"), "atol=inf"),
    ],
)
def test_negative_nan_and_infinite_tolerances_are_refused(rtol: float, atol: float, bad: str) -> None:
    with pytest.raises(ValueError, match=f"Tolerance: {bad} must be a finite number >= 0"):
        Tolerance(rtol, atol)


def test_the_hostile_negative_tolerance_case_is_refused() -> None:
    with pytest.raises(ValueError, match=r"rtol=-1e-09"):
        check_forward(lambda x: 2 * np.tanh(x), torch.tanh, {"x": X}, tol=Tolerance(-1e-9, -1e-12))
    with pytest.raises(TypeError, match=r"tol: expected a parity_tests.tolerances.Tolerance"):
        check_gradients(
            lambda x: {"dx": 2 * (1 - np.tanh(x) ** 2)},
            lambda x: torch.tanh(x).sum(),
            {"x": X},
            wrt=["x"],
            tol=(-1e-9, -1e-12),
        )


# --- 8. inputs nobody reads, hidden broadcasts, failing references ------------------------------
def test_an_input_that_neither_side_reads_is_reported() -> None:
    result = check_forward(lambda X, Y: np.tanh(X), lambda X, Y: torch.tanh(X), {"X": X, "Y": Y})
    assert result.status == "INCONCLUSIVE"
    rec = [r for r in result.records if r.inconclusive]
    assert [r.name for r in rec] == ["input 'Y'"]
    assert "changed neither the scratch nor the torch output" in rec[0].diagnosis


def test_inputs_read_by_either_side_are_not_reported() -> None:
    relu_prime = check_forward(
        lambda Z: (Z > 0).astype(Z.dtype), lambda Z: (Z > 0).to(Z.dtype), {"Z": X}
    )  # a step function: a small change would not show
    assert_parity(relu_prime)
    squared = check_forward(lambda Z: Z**2, lambda Z: Z**2, {"Z": X})  # even in Z
    assert_parity(squared)
    one_side = check_forward(
        lambda X, Y: np.tanh(X) + 0 * Y, lambda X, Y: torch.tanh(X) + Y, {"X": X, "Y": Y}
    )
    assert one_side.status == "FAIL"  # torch reads Y, scratch does not: the values differ


def test_a_mis_shaped_input_for_its_layout_names_the_input() -> None:
    W, b = RNG.standard_normal((4, 3)), np.zeros((4, 1))
    with pytest.raises(
        ValueError,
        match=r"inputs\['A_prev'\]: shape \(2, 3, 40\) does not fit "
        r"layouts\['A_prev'\] = columns",
    ):
        check_forward(
            lambda A_prev, W, b: W @ A_prev + b,
            F.linear,
            {"A_prev": np.stack([X, X]), "W": W, "b": b},
            layouts={"A_prev": COLUMNS, "b": BIAS},
            output_layout=COLUMNS,
        )


def test_an_error_inside_the_torch_reference_names_the_input_shapes() -> None:
    W, b = RNG.standard_normal((4, 2)), np.zeros((4, 1))  # W should be (4, 3)
    with pytest.raises(
        ReferenceCallError,
        match=r"torch_fn: linear raised RuntimeError: .* on the inputs "
        r"A_prev \(3, 40\) -> torch \(40, 3\), W \(4, 2\), "
        r"b \(4, 1\) -> torch \(4,\)",
    ):
        check_forward(
            lambda A_prev, W, b: W @ A_prev + b,
            F.linear,
            {"A_prev": X, "W": W, "b": b},
            layouts={"A_prev": COLUMNS, "b": BIAS},
            output_layout=COLUMNS,
        )
    with pytest.raises(ReferenceCallError, match=r"W \(4, 2\)"):
        check_gradients(
            lambda A_prev, W, b: {},
            lambda A_prev, W, b: F.linear(A_prev, W, b).sum(),
            {"A_prev": X, "W": W, "b": b},
            wrt=["W"],
            layouts={"A_prev": COLUMNS, "b": BIAS},
        )
