"""Property-based parity (hypothesis): forward and gradient parity of activations, losses and
the dense layer over random shapes and values, in float32 and float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch.nn import functional as F

from parity_tests import assert_parity, check_forward, check_gradients
from parity_tests.devices import DTYPES
from scratch import activations as SA
from scratch import dense as SD
from scratch import losses as SL
from torch_ref import activations as TA
from torch_ref import losses as TL
from torch_ref.layout import BIAS, COLUMNS

SETTINGS = settings(max_examples=25, deadline=None)
sides = st.integers(1, 7)
values = st.floats(-60, 60, allow_nan=False, width=64)


def matrices(rows=sides, cols=sides, elements=values):
    return st.tuples(rows, cols).flatmap(lambda s: arrays(np.float64, s, elements=elements))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(SA.ACTIVATIONS))
@SETTINGS
@given(Z=matrices(elements=st.one_of(values, st.sampled_from([0.0, 1e4, -1e4, 1e-8]))))
def test_activation_parity(name: str, dtype: str, Z: np.ndarray) -> None:
    g, g_prime = SA.ACTIVATIONS[name]
    f = TA.FUNCTIONS[name]
    assert_parity(check_forward(g, f, {"Z": Z}, dtype=dtype))
    assert_parity(
        check_gradients(lambda dA, Z: {"dZ": dA * g_prime(Z)}, f, {"Z": Z}, ["Z"], vjp=True, dtype=dtype)
    )


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(Z=matrices())
def test_softmax_parity(dtype: str, Z: np.ndarray) -> None:
    kw = {"layouts": {"Z": COLUMNS}, "output_layout": COLUMNS, "dtype": dtype}
    one_class = ("Z",) if Z.shape[0] == 1 else ()  # softmax over one class is 1 whatever Z is
    assert_parity(check_forward(SA.softmax, TA.softmax, {"Z": Z}, constant_in=one_class, **kw))
    assert_parity(
        check_gradients(
            lambda dA, Z: {"dZ": SA.softmax_backward(dA, SA.softmax(Z))},
            TA.softmax,
            {"Z": Z},
            ["Z"],
            vjp=True,
            **kw,
        )
    )


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(data=st.data(), n_prev=sides, n=sides, m=sides)
def test_dense_parity(dtype: str, data, n_prev: int, n: int, m: int) -> None:
    # 0 or at least 1e-3 in size: a factor of 1e-29 next to b = 1 is rounded away (no check could see it)
    unit = st.floats(-3, 3, allow_nan=False).filter(lambda v: v == 0 or abs(v) >= 1e-3)
    inputs = {
        "A_prev": data.draw(arrays(np.float64, (n_prev, m), elements=unit)),
        "W": data.draw(arrays(np.float64, (n, n_prev), elements=unit)),
        "b": data.draw(arrays(np.float64, (n, 1), elements=unit)),
    }
    kw = {"layouts": {"A_prev": COLUMNS, "b": BIAS}, "output_layout": COLUMNS, "dtype": dtype}

    def backward(dZ, A_prev, W, b):
        return dict(zip(("dA_prev", "dW", "db"), SD.dense_backward(dZ, SD.dense_forward(A_prev, W, b)[1])))

    # W A_prev + b reads neither factor when the other is all zeros (or subnormal: flushed to zero)
    def zero(a: np.ndarray) -> bool:
        return not (np.abs(a) >= np.finfo(dtype).tiny).any()

    zero_partner = (("W",) if zero(inputs["A_prev"]) else ()) + (("A_prev",) if zero(inputs["W"]) else ())
    assert_parity(
        check_forward(
            lambda A_prev, W, b: SD.dense_forward(A_prev, W, b)[0],
            F.linear,
            inputs,
            constant_in=zero_partner,
            **kw,
        )
    )
    assert_parity(
        check_gradients(
            backward,
            F.linear,
            inputs,
            ["A_prev", "W", "b"],
            grad_scale={"W": 1 / m, "b": 1 / m},
            vjp=True,
            **kw,
        )
    )


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(data=st.data(), n_y=sides, m=sides)
def test_loss_parity(dtype: str, data, n_y: int, m: int) -> None:
    batch = {"Y_hat": COLUMNS, "Z": COLUMNS, "Y": COLUMNS}
    Y_hat = data.draw(arrays(np.float64, (n_y, m), elements=values))
    Y = data.draw(arrays(np.float64, (n_y, m), elements=values))
    se = {"Y_hat": Y_hat, "Y": Y}
    assert_parity(
        check_forward(
            SL.squared_error, lambda Y_hat, Y: TL.SquaredErrorLoss()(Y_hat, Y), se, layouts=batch, dtype=dtype
        )
    )
    assert_parity(
        check_gradients(
            lambda Y_hat, Y: {"dY_hat": SL.squared_error_backward(Y_hat, Y)},
            lambda Y_hat, Y: TL.SquaredErrorLoss()(Y_hat, Y),
            se,
            ["Y_hat"],
            layouts=batch,
            dtype=dtype,
        )
    )
    logits = data.draw(arrays(np.float64, (1, m), elements=st.one_of(values, st.sampled_from([1e4, -1e4]))))
    labels = data.draw(arrays(np.float64, (1, m), elements=st.sampled_from([0.0, 1.0])))
    bce = {"Z": logits, "Y": labels}
    at_zero = ("Y",) if not logits.any() else ()  # at z = 0 the loss is log 2 for either label
    assert_parity(
        check_forward(
            SL.bce_with_logits, TL.bce_with_logits, bce, layouts=batch, dtype=dtype, constant_in=at_zero
        )
    )
    assert_parity(
        check_gradients(
            lambda Z, Y: {"dZ": SL.bce_with_logits_backward(Z, Y)},
            TL.bce_with_logits,
            bce,
            ["Z"],
            layouts=batch,
            dtype=dtype,
        )
    )
    k = n_y + 1
    classes = data.draw(arrays(np.int64, (m,), elements=st.integers(0, k - 1)))
    ce = {"Z": data.draw(arrays(np.float64, (k, m), elements=values)), "Y": SL.one_hot(classes, k)}
    assert_parity(
        check_forward(SL.softmax_cross_entropy, TL.softmax_cross_entropy, ce, layouts=batch, dtype=dtype)
    )
    assert_parity(
        check_gradients(
            lambda Z, Y: {"dZ": SL.softmax_cross_entropy_backward(Z, Y)},
            TL.softmax_cross_entropy,
            ce,
            ["Z"],
            layouts=batch,
            dtype=dtype,
        )
    )


def test_extreme_inputs_stay_finite_without_warnings() -> None:
    """|z| up to 1e4: no overflow warning (pytest turns RuntimeWarning into an error), no NaN."""
    Z = np.array([[-1e4, -800.0, 0.0, 800.0, 1e4]])
    for g, g_prime in SA.ACTIVATIONS.values():
        assert np.all(np.isfinite(g(Z))) and np.all(np.isfinite(g_prime(Z)))
    assert np.all(np.isfinite(SA.softmax(np.vstack([Z, -Z]))))
    Y = np.array([[1, 0, 1, 0, 1]])
    assert np.isfinite(SL.bce_with_logits(Z, Y)) and np.all(np.isfinite(SL.bce_with_logits_backward(Z, Y)))
    assert SL.binary_cross_entropy(np.array([[0.0, 1.0]]), np.array([[0, 1]])) == 0.0  # 0·log 0 = 0
    assert SL.binary_cross_entropy(np.array([[0.0]]), np.array([[1]])) == np.inf  # as the math says
    assert torch.isfinite(TL.bce_with_logits(torch.tensor([[1e4]]), torch.tensor([[0.0]])))


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(data=st.data(), n_x=sides, m=sides)
def test_logreg_parity(dtype: str, data, n_x: int, m: int) -> None:
    """Both of the notes' forms against torch's module, on random sizes, weights and labels."""
    from parity_tests.concepts.logreg import LAYOUTS
    from scratch import logreg as S
    from torch_ref import logreg as T

    unit = st.floats(-5, 5, allow_nan=False)
    inputs = {
        "w": data.draw(arrays(np.float64, (n_x, 1), elements=unit)),
        "b": data.draw(arrays(np.float64, (1, 1), elements=unit)),
        "X": data.draw(arrays(np.float64, (n_x, m), elements=unit)),
        "Y": data.draw(arrays(np.float64, (1, m), elements=st.sampled_from([0.0, 1.0]))),
    }

    def torch_cost(w, b, X, Y):
        model = T.LogisticRegression(n_x, device=X.device, dtype=X.dtype)
        return F.binary_cross_entropy_with_logits(
            torch.func.functional_call(model, {"linear.weight": w, "linear.bias": b}, (X,)), Y
        )

    for propagate in (S.cost_and_grads, S.cost_and_grads_loop):
        assert_parity(
            check_gradients(
                lambda w, b, X, Y, f=propagate: f({"w": w, "b": b}, X, Y)[1],
                torch_cost,
                inputs,
                ["w", "b"],
                layouts=LAYOUTS,
                dtype=dtype,
            )
        )
