"""torch_ref.layout: round trips between the course layout and torch's, and the converters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from parity_tests.compare import assert_close
from torch_ref import dense as TD
from torch_ref import logreg as TL
from torch_ref.layout import (
    BIAS,
    COLUMNS,
    SAME,
    TRANSPOSED,
    bias_to_course,
    bias_to_torch,
    columns_to_rows,
    load_scratch_params,
    rows_to_columns,
    to_numpy,
    to_tensor,
)


@pytest.mark.parametrize("layout", [SAME, COLUMNS, TRANSPOSED])
def test_round_trip_2d(layout) -> None:
    a = np.arange(12.0).reshape(3, 4)
    assert np.array_equal(layout.to_course(layout.to_torch(a)), a)


def test_columns_are_examples() -> None:
    X = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])  # n_x = 2, m = 3
    rows = columns_to_rows(X)
    assert rows.shape == (3, 2)
    assert rows[2].tolist() == [3.0, 6.0]  # example 2 is column 2 of X
    assert np.array_equal(rows_to_columns(rows), X)


def test_bias_round_trip() -> None:
    b = np.array([[1.0], [2.0], [3.0]])
    assert bias_to_torch(b).shape == (3,)
    assert np.array_equal(bias_to_course(bias_to_torch(b)), b)
    assert np.array_equal(BIAS.to_course(BIAS.to_torch(b)), b)


def test_layout_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match=r"b: expected a course bias of shape \(n, 1\), got \(3,\)"):
        bias_to_torch(np.zeros(3))
    with pytest.raises(ValueError, match="X: expected a 2-D array"):
        columns_to_rows(np.zeros(3))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tensor_round_trip_keeps_values_and_dtype(dtype: str) -> None:
    a = np.random.default_rng(0).standard_normal((3, 2)).astype(dtype)
    t = to_tensor(a, "cpu", dtype)
    assert t.dtype == getattr(torch, dtype)
    back = to_numpy(t)
    assert back.dtype == a.dtype and np.array_equal(back, a)


def test_dense_converter_round_trip_and_prediction() -> None:
    rng = np.random.default_rng(1)
    params = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal((4, 1))}
    layer = TD.Dense.from_scratch(params)
    back = TD.from_state_dict(layer.state_dict())
    assert all(np.array_equal(back[k], params[k]) for k in params)
    X = rng.standard_normal((3, 5))
    Z = rows_to_columns(to_numpy(layer(to_tensor(columns_to_rows(X)))))
    assert_close(Z, params["W"] @ X + params["b"], name="Z")


def test_logreg_converter_round_trip() -> None:
    params = {"w": np.array([[1.0], [2.0], [3.0]]), "b": np.array([[0.5]])}
    sd = TL.to_state_dict(params)
    assert sd["linear.weight"].shape == (1, 3) and sd["linear.bias"].shape == (1,)
    back = TL.from_state_dict(TL.LogisticRegression.from_scratch(params).state_dict())
    assert all(np.array_equal(back[k], params[k]) for k in params)


def test_load_scratch_params_asserts_shapes_before_copying() -> None:
    model = TL.LogisticRegression(3)
    with pytest.raises(ValueError, match=r"params\['w'\]: shape \(4, 1\) converts to \(1, 4\), "
                                         r"but LogisticRegression.linear.weight has shape \(1, 3\)"):
        load_scratch_params(model, {"w": np.zeros((4, 1)), "b": np.zeros((1, 1))}, TL.PARAM_SPEC)
    with pytest.raises(ValueError, match="missing"):
        TL.to_state_dict({"w": np.zeros((3, 1))})
