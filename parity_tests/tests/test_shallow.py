"""``shallow`` beyond the generic registry: real data, converters, compile/export, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from parity_tests.compare import assert_parity, compare, group_result
from parity_tests.datasets import planar_flower
from parity_tests.tolerances import tolerance
from scratch import logreg
from scratch import shallow as S
from torch_ref import shallow as T
from torch_ref.layout import (
    columns_to_rows,
    params_to_state_dict,
    rows_to_columns,
    state_dict_to_params,
    to_numpy,
    to_tensor,
)


def _params(rng: np.random.Generator, dtype=np.float64) -> dict[str, np.ndarray]:
    return S.initialize_parameters(3, 4, 1, rng, "xavier", dtype)


# --- real data: the planar flower ----------------------------------------------------------
def test_planar_flower_needs_a_hidden_layer():
    """4 tanh hidden units reach ~90% on the flower; logistic regression stays near 47%."""
    X, Y = planar_flower()
    steps = 5000
    p0 = S.initialize_parameters(2, 4, 1, np.random.default_rng(2))
    p, costs = S.train(p0, X, Y, steps, 1.2, "tanh")
    scratch_acc = float(np.mean(S.predict(p, X, "tanh") == Y))

    net = T.ShallowNetwork.from_scratch(p0, "tanh")
    torch_costs = T.train(net, torch.tensor(columns_to_rows(X)), torch.tensor(columns_to_rows(Y)), steps, 1.2)
    torch_acc = float((net.predict(torch.tensor(columns_to_rows(X))).numpy() == columns_to_rows(Y)).mean())
    q, _ = logreg.train(logreg.zero_params(2), X, Y, 2000, 0.1)
    logreg_acc = float(np.mean(logreg.predict_labels(q, X) == Y))
    print(
        f"planar flower: shallow scratch {scratch_acc:.3f}, torch {torch_acc:.3f}; "
        f"logistic regression {logreg_acc:.3f}"
    )
    assert scratch_acc >= 0.88 and torch_acc == scratch_acc
    assert 0.40 <= logreg_acc <= 0.55
    tol = tolerance("float64", "trajectory", step=steps - 1)
    assert_parity(
        group_result(
            "shallow",
            "flower-costs",
            "trajectory",
            "cpu",
            "float64",
            [compare("loss", costs, torch_costs, tol)],
        )
    )
    assert_parity(
        group_result(
            "shallow",
            "flower-params",
            "trajectory",
            "cpu",
            "float64",
            [compare(k, p[k], v, tol) for k, v in net.scratch_params().items()],
        )
    )


# --- converters ----------------------------------------------------------------------------
def test_converters_round_trip_exactly():
    p = _params(np.random.default_rng(0))
    back = state_dict_to_params(params_to_state_dict(p, T.PARAM_SPEC), T.PARAM_SPEC)
    assert sorted(back) == sorted(p)
    for k in p:
        np.testing.assert_array_equal(back[k], p[k])
    sd = params_to_state_dict(p, T.ShallowNetwork.from_scratch(p).param_spec)
    assert tuple(sd["layer1.bias"].shape) == (4,) and tuple(sd["layer1.weight"].shape) == (4, 3)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_trained_in_numpy_predicts_identically_in_torch_and_back(dtype):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, 50)).astype(dtype)
    Y = (X[0:1] * X[1:2] > 0).astype(dtype)
    p, _ = S.train(_params(rng, np.dtype(dtype)), X, Y, 200, 1.0, "tanh")
    net = T.ShallowNetwork.from_scratch(p, "tanh")
    assert net.layer1.weight.dtype == getattr(torch, dtype)
    A2_torch = rows_to_columns(to_numpy(net.predict_proba(torch.from_numpy(columns_to_rows(X)))))
    A2, _ = S.forward_propagation(X, p, "tanh")
    assert_parity(
        group_result(
            "shallow",
            "numpy->torch",
            "forward",
            "cpu",
            dtype,
            [compare("A2", A2, A2_torch, tolerance(dtype, "forward"))],
        )
    )
    np.testing.assert_array_equal(
        S.predict(p, X, "tanh"), rows_to_columns(to_numpy(net.predict(torch.from_numpy(columns_to_rows(X)))))
    )
    # and back: a torch-trained network predicts identically in NumPy
    T.train(net, torch.from_numpy(columns_to_rows(X)), torch.from_numpy(columns_to_rows(Y)), 50, 1.0)
    q = net.scratch_params()
    np.testing.assert_array_equal(
        S.predict(q, X, "tanh"), rows_to_columns(to_numpy(net.predict(torch.from_numpy(columns_to_rows(X)))))
    )


def test_module_repr_and_factory_kwargs():
    net = T.ShallowNetwork(3, 4, activation="relu", initializer="he", dtype=torch.float64)
    assert "n_h=4" in repr(net) and "activation='relu'" in repr(net) and "initializer='he'" in repr(net)
    assert net.layer2.weight.dtype == torch.float64
    assert torch.count_nonzero(net.layer1.bias) == 0


# --- torch.export (compile is tested once, in test_deep.py) --------------------------------
def test_export_matches_eager():
    net = T.ShallowNetwork.from_scratch(_params(np.random.default_rng(3)), "tanh")
    x = torch.from_numpy(columns_to_rows(np.random.default_rng(4).standard_normal((3, 6))))
    exported = torch.export.export(net, (x,))
    with torch.no_grad():
        eager, out = net(x), exported.module()(x)
    assert_parity(
        group_result(
            "shallow",
            "export",
            "forward",
            "cpu",
            "float64",
            [compare("z2", to_numpy(out), to_numpy(eager), tolerance("float64", "forward"))],
        )
    )


# --- bad input -----------------------------------------------------------------------------
@pytest.fixture
def data():
    rng = np.random.default_rng(5)
    return _params(rng), rng.standard_normal((3, 5)), np.array([[0, 1, 1, 0, 1]])


def test_unknown_activation(data):
    p, X, Y = data
    with pytest.raises(ValueError, match="activation: unknown name 'softplus'"):
        S.propagate(p, X, Y, "softplus")
    with pytest.raises(ValueError, match="activation: unknown name 'softplus'"):
        T.ShallowNetwork(3, 4, activation="softplus")


def test_sizes_that_do_not_chain(data):
    p, X, Y = data
    p = {**p, "W2": np.zeros((1, 5))}
    with pytest.raises(ValueError, match=r"W\[2\] has shape \(1, 5\) but A\[1\] has 4 rows"):
        S.forward_propagation(X, p)
    with pytest.raises(ValueError, match=r"X: expected shape \(n_x, m\) = \(3, \*\), got \(2, 5\)"):
        S.forward_propagation(X[:2], data[0])


@pytest.mark.parametrize(
    "Y, message",
    [
        (np.array([[0, 1, 1, 0]]), "Y: has 4 examples"),
        (np.array([0, 1, 1, 0, 1]), "got a 1-D array"),
        (np.array([[0, 1, 2, 0, 1]]), r"binary labels must be 0 or 1, got values \[2.0\]"),
    ],
)
def test_bad_labels(data, Y, message):
    p, X, _ = data
    with pytest.raises(ValueError, match=message):
        S.propagate(p, X, Y)


@pytest.mark.parametrize("lr", [0, -0.1, float("nan"), float("inf")])
def test_learning_rate_must_be_positive_finite(data, lr):
    p, X, Y = data
    with pytest.raises(ValueError, match="learning_rate: expected a positive finite number"):
        S.train(p, X, Y, 3, lr)
    net = T.ShallowNetwork.from_scratch(p)
    with pytest.raises(ValueError, match="learning_rate: expected a positive finite number"):
        T.train(
            net,
            torch.from_numpy(columns_to_rows(X)),
            torch.from_numpy(columns_to_rows(Y.astype(float))),
            3,
            lr,
        )


def test_blow_up_stops_naming_the_iteration(data):
    p, X, Y = data
    with pytest.raises(FloatingPointError, match="at iteration [0-9]+"):
        S.train({**p, "W1": p["W1"] * 1e3}, X * 1e100, Y, 20, 1e200, "relu")
    net = T.ShallowNetwork.from_scratch({**p, "W1": p["W1"] * 1e3}, "relu")
    with pytest.raises(FloatingPointError, match="at iteration [0-9]+"):
        T.train(
            net, to_tensor(columns_to_rows(X * 1e100)), to_tensor(columns_to_rows(Y.astype(float))), 20, 1e200
        )
