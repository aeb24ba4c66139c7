"""Caller mistakes get a ValueError/TypeError naming the argument, the expectation and what
arrived — never a broadcasting accident or a silent wrong answer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scratch import activations, dense, gd, logreg, losses
from torch_ref import dense as torch_dense
from torch_ref import gd as torch_gd
from torch_ref import logreg as torch_logreg
from torch_ref import regression as torch_regression
from torch_ref import shallow as torch_shallow
from torch_ref.layout import columns_to_rows

RNG = np.random.default_rng(0)
PARAMS = {"w": RNG.standard_normal((3, 1)), "b": np.zeros((1, 1))}
X = RNG.standard_normal((3, 5))
Y = np.array([[0, 1, 1, 0, 1]])


@pytest.mark.parametrize("fn", [logreg.cost_and_grads, logreg.cost_and_grads_loop])
class TestLogreg:
    def test_batch_first_X_is_named(self, fn) -> None:
        with pytest.raises(
            ValueError,
            match=r"X: expected shape \(n_x, m\) = \(3, \*\), got \(5, 3\); "
            r"it looks batch-first",
        ):
            fn(PARAMS, columns_to_rows(X), Y)  # batch first, as torch wants it

    def test_mismatched_lengths(self, fn) -> None:
        with pytest.raises(ValueError, match=r"Y: has 4 examples \(columns\) but X has 5"):
            fn(PARAMS, X, Y[:, :4])

    def test_labels_outside_0_1(self, fn) -> None:
        with pytest.raises(ValueError, match=r"Y: binary labels must be 0 or 1, got values \[2.0\]"):
            fn(PARAMS, X, np.array([[0, 1, 2, 0, 1]]))

    @pytest.mark.parametrize("bad", [np.nan, np.inf])
    def test_nan_inf(self, fn, bad: float) -> None:
        Xb = X.copy()
        Xb[1, 2] = bad
        with pytest.raises(ValueError, match=r"X: contains NaN or Inf \(first at index \(1, 2\)"):
            fn(PARAMS, Xb, Y)

    def test_complex(self, fn) -> None:
        with pytest.raises(TypeError, match="X: expected a real floating array, got complex dtype"):
            fn(PARAMS, X.astype(complex), Y)

    def test_non_numeric(self, fn) -> None:
        with pytest.raises(TypeError, match="X: expected a numeric array, got dtype <U"):
            fn(PARAMS, X.astype(str), Y)

    def test_empty_batch(self, fn) -> None:
        with pytest.raises(ValueError, match=r"X: empty batch \(m = 0 examples\)"):
            fn(PARAMS, np.zeros((3, 0)), np.zeros((1, 0)))

    def test_mixed_dtypes_are_not_silently_upcast(self, fn) -> None:
        with pytest.raises(TypeError, match="X: dtype float64 differs from the other arguments' float32"):
            fn({k: v.astype(np.float32) for k, v in PARAMS.items()}, X, Y)

    def test_wrong_parameter_shape(self, fn) -> None:
        with pytest.raises(ValueError, match=r"w: expected shape \(n_x, 1\) = \(\*, 1\), got \(1, 3\)"):
            fn({"w": np.zeros((1, 3)), "b": np.zeros((1, 1))}, X, Y)


def test_dense_names_the_layer_operands() -> None:
    with pytest.raises(
        ValueError,
        match=r"A_prev: expected shape \(n\[l-1\], m\) = \(3, \*\) to match W "
        r"of shape \(4, 3\), got \(5, 3\); it looks batch-first",
    ):
        dense.dense_forward(np.zeros((5, 3)), np.zeros((4, 3)), np.zeros((4, 1)))
    with pytest.raises(ValueError, match=r"b: expected shape \(n\[l\], 1\) = \(4, 1\), got \(4,\)"):
        dense.dense_forward(np.zeros((3, 5)), np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(ValueError, match=r"W\[2\]: expected shape"):
        dense.check_layer(np.zeros((3, 5)), np.zeros(4), np.zeros((4, 1)), layer="[2]")
    Z, cache = dense.dense_forward(np.zeros((3, 5)), np.zeros((4, 3)), np.zeros((4, 1)))
    with pytest.raises(ValueError, match=r"dZ: expected shape \(n\[l\], m\) = \(4, 5\), got \(5, 4\)"):
        dense.dense_backward(np.zeros((5, 4)), cache)


def test_losses_refuse_bad_labels_and_shapes() -> None:
    A = np.full((1, 3), 0.5)
    with pytest.raises(ValueError, match=r"Y: binary labels must be 0 or 1, got values \[-1.0\]"):
        losses.binary_cross_entropy(A, np.array([[0, 1, -1]]))
    with pytest.raises(ValueError, match=r"A: probabilities must lie in \[0, 1\]"):
        losses.binary_cross_entropy(np.array([[0.5, 1.5, 0.2]]), np.array([[0, 1, 1]]))
    with pytest.raises(
        ValueError, match=r"Y: expected the shape of Y_hat \(n_y, m\) = \(1, 3\), got \(3, 1\)"
    ):
        losses.squared_error(A, np.zeros((3, 1)))
    with pytest.raises(ValueError, match="Y: each column must be one-hot"):
        losses.softmax_cross_entropy(np.zeros((3, 2)), np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"labels: class indices must lie in \[0, 2\] for k=3"):
        losses.one_hot(np.array([0, 3]), 3)


def test_activation_names_and_values() -> None:
    with pytest.raises(ValueError, match=r"activation: unknown name 'relu6'; expected one of"):
        activations.get_activation("relu6")
    with pytest.raises(ValueError, match="Z: contains NaN or Inf"):
        activations.sigmoid(np.array([np.nan]))
    with pytest.raises(TypeError, match="Z: expected float32 or float64, got float16"):
        activations.tanh(np.zeros(2, dtype=np.float16))


@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), float("inf")])
def test_learning_rate_must_be_positive_finite(lr: float) -> None:
    with pytest.raises(ValueError, match="learning_rate: expected a positive finite number"):
        gd.gd_update({"w": np.zeros(2)}, {"dw": np.zeros(2)}, lr)
    with pytest.raises(ValueError, match="learning_rate: expected a positive finite number"):
        torch_gd.make_optimizer([torch.nn.Parameter(torch.zeros(2))], lr)


def test_gd_stops_on_a_nan_cost_naming_the_iteration() -> None:
    costs = iter([1.0, 0.5, float("nan")])
    with pytest.raises(FloatingPointError, match="cost became nan at iteration 2"):
        gd.gradient_descent({"w": np.zeros(1)}, lambda p: (next(costs), {"dw": np.ones(1)}), 0.1, 10)


def test_gd_update_names_missing_and_misshapen_gradients() -> None:
    with pytest.raises(ValueError, match=r"grads: missing 'dW' for parameter 'W'"):
        gd.gd_update({"W": np.zeros((2, 2))}, {"dw": np.zeros((2, 2))}, 0.1)
    with pytest.raises(ValueError, match=r"grads\['dW'\]: expected shape \(2, 2\) of W, got \(2,\)"):
        gd.gd_update({"W": np.zeros((2, 2))}, {"dW": np.zeros(2)}, 0.1)


def test_torch_train_checks_batch_first_shapes() -> None:
    model = torch_logreg.LogisticRegression(3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"X: expected shape \(m, n_x\) = \(\*, 3\), got \(3, 5\)"):
        torch_logreg.train(
            model, torch.zeros(3, 5, dtype=torch.float64), torch.zeros(5, 1, dtype=torch.float64), 1, 0.1
        )


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: torch_logreg.LogisticRegression(0), "n_x"),
        (lambda: torch_logreg.LogisticRegression(2.5), "n_x"),
        (lambda: torch_shallow.ShallowNetwork(3, 0), "n_h"),
        (lambda: torch_regression.LinearRegression(3, 0), "n_y"),
        (lambda: torch_dense.Dense(0, 3), "in_features"),
    ],
)
def test_torch_modules_refuse_non_positive_sizes(make, name: str) -> None:
    with pytest.raises(ValueError, match=f"{name}: expected a positive integer"):
        make()


def test_torch_train_refuses_non_binary_labels_and_empty_batches() -> None:
    model = torch_logreg.LogisticRegression(3, dtype=torch.float64)
    X = torch.zeros(4, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="Y: binary labels must be 0 or 1"):
        torch_logreg.train(model, X, torch.full((4, 1), 2.0, dtype=torch.float64), 1, 0.1)
    with pytest.raises(ValueError, match=r"X: empty batch \(m = 0 examples\)"):
        torch_logreg.train(model, X[:0], torch.zeros(0, 1, dtype=torch.float64), 1, 0.1)


def test_the_finite_check_takes_finite_data_whose_sum_overflows_and_refuses_nan_and_inf() -> None:
    """The NaN/Inf check looks at every entry: finite data whose sum would overflow is taken
    (a check by summing must never refuse it), and NaN, +Inf, −Inf and Inf − Inf are refused."""
    from scratch._validate import as_float_array

    huge = np.full((4, 3), np.finfo(np.float32).max, dtype=np.float32)  # sum overflows to inf
    assert as_float_array("X", huge) is huge
    for bad in (np.nan, np.inf, -np.inf):
        x = np.ones((4, 3))
        x[2, 1] = bad
        with pytest.raises(ValueError, match=r"X: contains NaN or Inf \(first at index \(2, 1\)"):
            as_float_array("X", x)
    mixed = np.array([np.inf, -np.inf])  # sums to NaN
    with pytest.raises(ValueError, match="NaN or Inf"):
        as_float_array("X", mixed)
