"""The public API under hostile and careless input: it never passes what it did not compare, and
every mistake a course learner makes gets a message that names the argument, what was expected
and what arrived (issue "the verifier never lies and never confuses")."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from parity_tests import (
    CheckResult,
    assert_parity,
    check_finite_differences,
    check_forward,
    check_gradients,
    check_training,
)
from scratch.logreg import cost_and_grads as logreg_propagate
from torch_ref.layout import BIAS, COLUMNS, TRANSPOSED
from torch_ref.logreg import PARAM_SPEC, LogisticRegression

RNG = np.random.default_rng(7)
N_X, M = 3, 8


def lr_inputs(**over: np.ndarray) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    inputs = {
        "w": rng.normal(size=(N_X, 1)),
        "b": np.zeros((1, 1)),
        "X": rng.normal(size=(N_X, M)),
        "Y": rng.integers(0, 2, size=(1, M)).astype(float),
    }
    return {**inputs, **over}


def course_propagate(w, b, X, Y):
    """The course's propagate: ``(grads, cost)``, with the cost as a (1, 1) array."""
    m = X.shape[1]
    A = 1 / (1 + np.exp(-(w.T @ X + b)))
    cost = -(Y @ np.log(A).T + (1 - Y) @ np.log(1 - A).T) / m  # (1, 1)
    dZ = A - Y
    return {"dw": X @ dZ.T / m, "db": np.sum(dZ, axis=1, keepdims=True) / m}, cost


def grads_only(w, b, X, Y):
    return course_propagate(w, b, X, Y)[0]


def torch_cost(w, b, X, Y):
    return F.binary_cross_entropy_with_logits(w.T @ X + b, Y)


def course_torch_cost(w, b, X, Y):
    """The course's own formula in torch: a (1, 1) cost."""
    A = torch.sigmoid(w.T @ X + b)
    return -(Y @ torch.log(A).T + (1 - Y) @ torch.log(1 - A).T) / X.shape[1]


# --- 2. NaN and "nothing compared" never pass ---------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_are_refused_with_the_argument_and_index(bad: float) -> None:
    X = lr_inputs()["X"].copy()
    X[1, 4] = bad
    for call in (
        lambda: check_gradients(grads_only, torch_cost, lr_inputs(X=X), wrt=["w", "b"]),
        lambda: check_forward(np.tanh, torch.tanh, {"X": X}),
    ):
        with pytest.raises(ValueError, match=r"inputs\['X'\]: contains (NaN|Inf) at index \(1, 4\)"):
            call()


def test_nan_outputs_on_both_sides_fail() -> None:
    """A function that returns NaN where torch does too is not "equal"."""
    Z = np.array([[-1.0, 0.5, 2.0]])
    with np.errstate(invalid="ignore"):
        result = check_forward(lambda Z: np.log(Z), lambda Z: torch.log(Z), {"Z": Z})
    assert not result.passed
    assert "not parity" in str(result)


def test_declared_non_finite_answers_pass_and_say_so() -> None:
    Z = np.array([[0.0, 0.5, 2.0]])
    result = check_forward(
        lambda Z: np.log(Z) if Z.all() else np.where(Z > 0, np.log(np.where(Z > 0, Z, 1)), -np.inf),
        torch.log,
        {"Z": Z},
        allow_nonfinite=True,
    )
    assert result.passed and "declared the expected answer" in str(result)


def test_a_check_without_records_never_passes() -> None:
    empty = CheckResult("user", "x", "forward", "cpu", "float64", [])
    assert not empty.passed and "nothing was compared" in str(empty)
    with pytest.raises(AssertionError, match="nothing was compared"):
        assert_parity(empty)


def test_training_on_no_batches_is_an_error() -> None:
    with pytest.raises(ValueError, match="batches: empty"):
        check_training(
            lambda p, X, Y: logreg_propagate(p, X, Y),
            LogisticRegression(N_X),
            lambda model, X, Y: F.binary_cross_entropy_with_logits(model(X), Y),
            {"w": np.zeros((N_X, 1)), "b": np.zeros((1, 1))},
            batches=[],
            param_spec=PARAM_SPEC,
            learning_rate=0.1,
        )


# --- 3. clear errors for the course's own code --------------------------------------------
def test_a_one_by_one_cost_is_a_cost() -> None:
    """The course's ``-(Y @ log(A).T + ...)/m`` is (1, 1): it is checked as a cost, not a VJP."""
    assert_parity(check_gradients(grads_only, course_torch_cost, lr_inputs(), wrt=["w", "b"]))


def test_a_vector_output_without_vjp_says_how() -> None:
    with pytest.raises(ValueError, match=r"returned shape \(1, 8\).*pass vjp=True"):
        check_gradients(lambda w, b, X, Y: {}, lambda w, b, X, Y: w.T @ X + b, lr_inputs(), wrt=["w"])


def test_grads_and_cost_returned_together_are_named() -> None:
    with pytest.raises(TypeError, match=r"returned a tuple of \(dict, ndarray\).*\(grads, cost\)"):
        check_gradients(course_propagate, torch_cost, lr_inputs(), wrt=["w", "b"])


def test_a_gradient_that_is_not_an_array_is_named() -> None:
    with pytest.raises(TypeError, match=r"the gradient of 'w' is a str"):
        check_gradients(lambda w, b, X, Y: {"dw": "oops", "db": b}, torch_cost, lr_inputs(), wrt=["w", "b"])


@pytest.mark.parametrize(
    "wrt, error, message",
    [
        ("wb", TypeError, r"got the string 'wb' \(did you mean \['w', 'b'\]\?\)"),
        ("W1", TypeError, r"such as \['W1'\], got the string 'W1'"),
        ([], ValueError, r"wrt: empty"),
        (["q"], ValueError, r"wrt: \['q'\] are not among the inputs"),
    ],
)
def test_wrt_is_a_list_of_input_names(wrt, error, message) -> None:
    with pytest.raises(error, match=message):
        check_gradients(grads_only, torch_cost, lr_inputs(), wrt=wrt)
    with pytest.raises(error, match=message):
        check_finite_differences(
            lambda w, b, X, Y: course_propagate(w, b, X, Y)[1], grads_only, lr_inputs(), wrt=wrt
        )


@pytest.mark.parametrize(
    "returns, message",
    [
        (lambda J: J.item(), r"returned a float; autograd needs a torch.Tensor"),
        (lambda J: {"J": J}, r"returned a dict; a gradient check needs one tensor"),
        (lambda J: J.detach().numpy(), r"returned a ndarray; autograd needs a torch.Tensor"),
        (lambda J: J.detach(), r"not attached to the inputs' autograd graph"),
    ],
)
def test_torch_references_that_autograd_cannot_use_are_named(returns, message) -> None:
    with pytest.raises(TypeError, match=message):
        check_gradients(
            grads_only, lambda w, b, X, Y: returns(torch_cost(w, b, X, Y)), lr_inputs(), wrt=["w", "b"]
        )


def test_forward_references_may_return_numbers_and_arrays() -> None:
    X = RNG.standard_normal((2, 3))
    assert_parity(check_forward(lambda X: float(np.sum(X)), lambda X: float(X.sum()), {"X": X}))
    assert_parity(check_forward(np.tanh, lambda X: torch.tanh(X).numpy(), {"X": X}))


def test_integer_labels_and_data_are_cast_to_the_run_dtype() -> None:
    inputs = lr_inputs(
        Y=np.random.default_rng(1).integers(0, 2, (1, M)),
        X=np.random.default_rng(2).integers(-3, 4, (N_X, M)),
    )
    for dtype in ("float64", "float32"):
        assert_parity(check_gradients(grads_only, torch_cost, inputs, wrt=["w", "b"], dtype=dtype))


def test_a_float32_result_in_a_float64_run_names_the_dtype() -> None:
    def float32_grads(w, b, X, Y):
        return {k: v.astype(np.float32) for k, v in grads_only(w, b, X, Y).items()}

    result = check_gradients(float32_grads, torch_cost, lr_inputs(), wrt=["w", "b"])
    assert not result.passed
    assert "returned float32 in a float64 run" in str(result)


def test_a_reference_that_ignores_a_parameter_is_blamed_not_the_learner() -> None:
    def forgot_b(w, b, X, Y):
        return F.binary_cross_entropy_with_logits(w.T @ X, Y)

    result = check_gradients(grads_only, forgot_b, lr_inputs(b=np.full((1, 1), 0.7)), wrt=["w", "b"])
    db = result.records[1]
    assert not db.passed and "the torch reference does not depend on 'b'" in db.diagnosis
    assert "branch of the derivative" not in str(result)


def test_assert_parity_refuses_what_is_not_a_result() -> None:
    with pytest.raises(TypeError, match="expected a CheckResult .* got str"):
        assert_parity("hello")
    with pytest.raises(ValueError, match="empty list"):
        assert_parity([])


def test_a_function_taking_a_params_dict_is_told_how_to_wrap_it() -> None:
    def propagate(params, X, Y):
        return grads_only(params["w"], params["b"], X, Y)

    with pytest.raises(TypeError, match=r"takes a parameter dict 'params': wrap it .*lambda w, b, X, Y"):
        check_gradients(propagate, torch_cost, lr_inputs(), wrt=["w", "b"])
    wrapped = lambda w, b, X, Y: propagate({"w": w, "b": b}, X, Y)  # noqa: E731 - what the message says
    assert_parity(check_gradients(wrapped, torch_cost, lr_inputs(), wrt=["w", "b"]))


# --- 4. check_training tests the learner's own update --------------------------------------
def bce_loss(model, X, Y):
    return F.binary_cross_entropy_with_logits(model(X), Y)


def _training(step, step_returns: str, lr: float = 0.1, lockstep: bool = False):
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((N_X, 20)), (rng.random((1, 20)) < 0.5).astype(float)
    return check_training(
        step,
        LogisticRegression(N_X),
        bce_loss,
        {"w": np.zeros((N_X, 1)), "b": np.zeros((1, 1))},
        [(X, Y)] * 5,
        param_spec=PARAM_SPEC,
        learning_rate=lr,
        step_returns=step_returns,
        lockstep=lockstep,
    )


def _learner_iteration(alpha_factor: float):
    def step(p, X, Y):
        J, g = logreg_propagate(p, X, Y)
        return J, {"w": p["w"] - alpha_factor * g["dw"], "b": p["b"] - alpha_factor * g["db"]}

    return step


def test_a_correct_learner_iteration_passes() -> None:
    assert_parity(_training(_learner_iteration(0.1), "params"))


def test_lockstep_compares_every_update_from_the_same_point() -> None:
    result = _training(_learner_iteration(0.1), "params", lockstep=True)
    assert_parity(result)
    assert all(r.name == "loss" or r.name.startswith("update of ") for r in result.records)
    bad = _training(_learner_iteration(0.1 * (1 + 1e-6)), "params", lockstep=True)
    assert not bad.passed and "first diverges at step 0 in update of w" in bad.diagnosis
    assert "constant factor of 1.000001" in bad.diagnosis


def test_a_learning_rate_applied_twice_is_named() -> None:
    result = _training(_learner_iteration(0.1 * 0.1), "params")
    assert not result.passed
    assert "first diverges at step 0" in result.diagnosis
    assert "the update is 0.1 × the reference's — is α = 0.1 applied twice?" in result.diagnosis


@pytest.mark.parametrize(
    "step, message",
    [
        (
            lambda p, X, Y: logreg_propagate(p, X, Y)[::-1],
            r"swapped \(the course's propagate returns \(grads, cost\)\)",
        ),
        (lambda p, X, Y: logreg_propagate(p, X, Y)[1], r"returned a dict; expected \(cost, gradients"),
        (lambda p, X, Y: (np.zeros((2, 2)), logreg_propagate(p, X, Y)[1]), r"cost of shape \(2, 2\)"),
    ],
)
def test_a_step_returning_the_wrong_things_is_named(step, message) -> None:
    with pytest.raises(TypeError, match=message):
        _training(step, "grads")


def test_a_step_returning_params_in_grads_mode_says_which_mode() -> None:
    with pytest.raises(ValueError, match=r"pass step_returns='params'"):
        _training(_learner_iteration(0.1), "grads")


def test_training_refuses_non_finite_batches() -> None:
    def step(p, X, Y):
        return logreg_propagate(p, X, Y)

    X = np.ones((N_X, 4))
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"batches\[0\]\[0\] \(X\): contains NaN at index \(2, 1\)"):
        check_training(
            step,
            LogisticRegression(N_X),
            bce_loss,
            {"w": np.zeros((N_X, 1)), "b": np.zeros((1, 1))},
            [(X, np.ones((1, 4)))],
            param_spec=PARAM_SPEC,
            learning_rate=0.1,
        )


def test_nd_batches_must_name_their_layout() -> None:
    with pytest.raises(ValueError, match=r"batch_layouts: X has shape \(4, 2, 2, 1\)"):
        check_training(
            lambda p, X, Y: (0.0, {}),
            LogisticRegression(N_X),
            lambda m, X, Y: X.sum(),
            {"w": np.zeros((N_X, 1)), "b": np.zeros((1, 1))},
            [(np.zeros((4, 2, 2, 1)), np.zeros((1, 4)))],
            param_spec=PARAM_SPEC,
            learning_rate=0.1,
        )


def test_the_harness_handles_a_4d_image_input() -> None:
    """Forward and gradient checks on an image batch (m, n_H, n_W, n_C) against an NCHW torch
    function through the IMAGES layout; a layout mix-up is named as its permutation."""
    from torch_ref.layout import IMAGES

    A = RNG.standard_normal((2, 5, 4, 3))  # (m, n_H, n_W, n_C)
    w = RNG.standard_normal((1, 1, 1, 3))  # a per-channel scale in the course layout

    def scale(A, w):
        return A * w

    def torch_scale(A, w):  # A (m, C, H, W), w (1, 1, 1, C) -> (1, C, 1, 1)
        return A * w.permute(0, 3, 1, 2)

    inputs = {"A": A, "w": w}
    assert_parity(check_forward(scale, torch_scale, inputs, layouts={"A": IMAGES}, output_layout=IMAGES))

    def backward(G, A, w):
        return {"dA": G * w, "dw": np.sum(G * A, axis=(0, 1, 2), keepdims=True)}

    assert_parity(
        check_gradients(
            backward, torch_scale, inputs, ["A", "w"], layouts={"A": IMAGES}, output_layout=IMAGES, vjp=True
        )
    )
    wrong = check_forward(
        lambda A, w: (A * w).transpose(0, 3, 1, 2),
        torch_scale,
        inputs,
        layouts={"A": IMAGES},
        output_layout=IMAGES,
    )
    assert not wrong.passed and "with axes (0, 3, 1, 2)" in str(wrong)


def test_layouts_name_the_transpose_for_the_course() -> None:
    """Sanity of the layouts used above (w is a column vector, TRANSPOSED for nn.Linear)."""
    assert TRANSPOSED.to_torch(np.zeros((3, 1))).shape == (1, 3)
    assert BIAS.to_torch(np.zeros((4, 1))).shape == (4,)
    assert COLUMNS.to_torch(np.zeros((3, 5))).shape == (5, 3)
