"""``deep`` beyond the generic registry: every layer's ``dA``, the fast step, the shared config,
converters, ``torch.compile``/``torch.export``, real data (digits) and bad input."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from parity_tests.compare import assert_close, assert_parity, compare, group_result
from parity_tests.concepts.deep import DIGITS_CONFIG
from parity_tests.datasets import digits
from parity_tests.devices import parity_mode
from parity_tests.tolerances import tolerance
from scratch import deep as S
from scratch._deep_fast import TrainingStep
from scratch.dense import dense_backward
from torch_ref import deep as T
from torch_ref.layout import (
    columns_to_rows,
    params_to_state_dict,
    rows_to_columns,
    state_dict_to_params,
    to_numpy,
    to_tensor,
)

DIMS = (3, 6, 5, 4, 2)  # L = 4, every W[l] non-square, m = 7 below


def _net(rng, dtype=np.float64, dims=DIMS, init="he"):
    return S.initialize_parameters_deep(dims, rng, init, dtype)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_layers_dA_dW_db_against_autograd(activation, dtype):
    """Random upstream ``dZ[L]``; each hidden ``A[l]`` of the torch module is captured with a
    forward hook and its gradient compared with the scratch ``dA[l]`` (per example)."""
    rng = np.random.default_rng(0)
    p = _net(rng, np.dtype(dtype))
    X = rng.standard_normal((DIMS[0], 7)).astype(dtype)
    G = rng.standard_normal((DIMS[-1], 7)).astype(dtype)  # upstream dZ[L] (per example)
    _, caches = S.L_model_forward(X, p, activation, "softmax")
    grads = S.backward_from_output(G, caches)

    net = T.DeepNetwork.from_scratch(p, activation, "softmax")
    A = {}
    for layer, g in enumerate(net.activations, start=1):
        g.register_forward_hook(lambda mod, inp, out, layer=layer: A.__setitem__(layer, out))
    x = to_tensor(columns_to_rows(X), requires_grad=True)
    with parity_mode():
        z = net(x)
        for a in A.values():
            a.retain_grad()
        (z * to_tensor(columns_to_rows(G))).sum().backward()
    m = X.shape[1]
    tol = tolerance(dtype, "gradient")
    records = [compare("dA0", grads["dA0"], rows_to_columns(to_numpy(x.grad)), tol)]
    records += [
        compare(f"dA{layer}", grads[f"dA{layer}"], rows_to_columns(to_numpy(a.grad)), tol)
        for layer, a in A.items()
    ]
    for layer, linear in enumerate(net.layers, start=1):
        records.append(compare(f"dW{layer}", grads[f"dW{layer}"], to_numpy(linear.weight.grad) / m, tol))
        records.append(
            compare(f"db{layer}", grads[f"db{layer}"], to_numpy(linear.bias.grad).reshape(-1, 1) / m, tol)
        )
    assert len(records) == 1 + 3 + 2 * 4
    assert_parity(group_result("deep", f"every-layer-{activation}", "gradient", "cpu", dtype, records))


@pytest.mark.parametrize("output, dims", [("sigmoid", (3, 6, 5, 1)), ("softmax", DIMS), ("linear", DIMS)])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_step_equals_the_reference_and_keeps_the_dtype(output, dims, activation, dtype):
    rng = np.random.default_rng(1)
    p = _net(rng, dtype, dims)
    X = rng.standard_normal((dims[0], 9)).astype(dtype)
    labels = rng.integers(0, dims[-1] if output == "softmax" else 2, 9)
    if output == "linear":
        labels = rng.standard_normal((dims[-1], 9)).astype(dtype)
    Y = S.prepare_labels(
        labels if output != "sigmoid" else labels.reshape(1, -1), dims[-1], output, 9, np.dtype(dtype)
    )
    cost, grads = S.propagate(p, X, Y, activation, output)
    step = TrainingStep(dims, 9, dtype, activation, output)
    fast_cost, fast = step.cost_and_grads(p, X, Y)
    name = np.dtype(dtype).name
    tol = tolerance(name, "forward")
    records = [compare("J", fast_cost, cost, tol)]
    records += [compare(k, fast[k], grads[k], tol) for k in grads]
    assert_parity(group_result("deep", "fast-step", "forward", "cpu", name, records))
    assert all(g.dtype == dtype for g in fast.values())
    q = {k: v.copy() for k, v in p.items()}
    step.step(q, X, Y, 0.1)
    for k in p:
        np.testing.assert_allclose(q[k], p[k] - dtype(0.1) * grads["d" + k], rtol=tol.rtol, atol=tol.atol)
        assert q[k].dtype == dtype


def test_config_is_accepted_by_both_sides():
    config = S.Config(
        layer_dims=(4, 6, 3),
        activation="tanh",
        output="softmax",
        initializer="xavier",
        learning_rate=0.3,
        num_iterations=12,
        batch_size=5,
        seed=3,
    )
    for cfg in (config, config.to_dict()):
        net = T.DeepNetwork.from_config(cfg, dtype=torch.float64)
        assert net.layer_dims == (4, 6, 3) and net.activation_names == ("tanh",)
        assert "initializer='xavier'" in repr(net) and "output='softmax'" in repr(net)
    assert S.Config.from_dict(config.to_dict()) == config
    rng = np.random.default_rng(0)
    X, labels = rng.standard_normal((4, 15)), rng.integers(0, 3, 15)
    p, costs = S.train(config, X, labels)  # initialized from config.seed
    p0 = S.initialize_parameters_deep(config.layer_dims, np.random.default_rng(config.seed), "xavier")
    net = T.DeepNetwork.from_scratch(p0, "tanh", "softmax")
    torch_costs = T.train(net, to_tensor(columns_to_rows(X)), torch.from_numpy(labels), config)
    tol = tolerance("float64", "trajectory", step=11)
    records = [compare("loss", costs, torch_costs, tol)]
    records += [compare(k, p[k], v, tol) for k, v in net.scratch_params().items()]
    assert_parity(group_result("deep", "config-train", "trajectory", "cpu", "float64", records))


def test_converters_round_trip_and_predict_identically():
    rng = np.random.default_rng(2)
    p = _net(rng)
    spec = T.param_spec(len(DIMS) - 1)
    back = state_dict_to_params(params_to_state_dict(p, spec), spec)
    for k in p:
        np.testing.assert_array_equal(back[k], p[k])
    X = rng.standard_normal((3, 20))
    net = T.DeepNetwork.from_scratch(p, "relu", "softmax")
    np.testing.assert_array_equal(
        S.predict(p, X, "relu", "softmax").ravel(), net.predict(to_tensor(columns_to_rows(X))).numpy()
    )


def test_torch_compile_and_export_match_eager():
    """One small compile (g++; ~20 s on first use) and an export, both against eager."""
    p = _net(np.random.default_rng(3), np.float32)
    net = T.DeepNetwork.from_scratch(p, "relu", "softmax")
    x = torch.from_numpy(columns_to_rows(np.random.default_rng(4).standard_normal((3, 8)).astype(np.float32)))
    with torch.no_grad():
        eager = to_numpy(net(x))
        exported = to_numpy(torch.export.export(net, (x,)).module()(x))
        compiled = to_numpy(torch.compile(net)(x))
    tol = tolerance("float32", "forward")
    assert_parity(
        group_result(
            "deep",
            "compile-export",
            "forward",
            "cpu",
            "float32",
            [compare("export", exported, eager, tol), compare("compile", compiled, eager, tol)],
        )
    )


def test_digits_accuracy_on_held_out_examples():
    """Train on 1500 digits (minibatches of 250), test on the other 297, both sides."""
    X, labels = digits()
    config = replace(DIGITS_CONFIG, num_iterations=600, batch_size=250)
    p0 = S.initialize_parameters_deep(config.layer_dims, np.random.default_rng(0), "he")
    p, costs = S.train(config, X[:, :1500], labels[:1500], params=p0)
    net = T.DeepNetwork.from_scratch(p0, "relu", "softmax")
    torch_costs = T.train(
        net, to_tensor(columns_to_rows(X[:, :1500])), torch.from_numpy(labels[:1500]), config
    )
    acc = float(np.mean(S.predict(p, X[:, 1500:], "relu", "softmax") == labels[1500:]))
    torch_acc = float((net.predict(to_tensor(columns_to_rows(X[:, 1500:]))).numpy() == labels[1500:]).mean())
    print(f"digits held-out accuracy: scratch {acc:.3f}, torch {torch_acc:.3f}")
    assert acc >= 0.9 and abs(acc - torch_acc) <= 1 / 297
    tol = tolerance("float64", "trajectory", step=len(costs) - 1)
    assert_parity(
        group_result(
            "deep", "digits-costs", "trajectory", "cpu", "float64", [compare("loss", costs, torch_costs, tol)]
        )
    )


# --- the course's per-layer functions, by their course names and meanings ------------------
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu", "linear", "softmax"])
def test_linear_activation_backward_has_the_course_signature(activation):
    """``linear_activation_backward(dA, cache, activation) -> (dA_prev, dW, db)``: ``dZ = dA * g'(Z)``
    (the softmax's Jacobian, the identity for linear), then ``linear_backward`` — checked
    against autograd through ``g(W A_prev + b)`` with the same upstream ``dA``."""
    rng = np.random.default_rng(6)
    A_prev, W, b = rng.standard_normal((3, 7)), rng.standard_normal((4, 3)), rng.standard_normal((4, 1))
    dA = rng.standard_normal((4, 7))
    A, cache = S.linear_activation_forward(A_prev, W, b, activation)
    dA_prev, dW, db = S.linear_activation_backward(dA, cache, activation)
    tA_prev, tW, tb = (to_tensor(a, requires_grad=True) for a in (A_prev, W, b))
    Z = tW @ tA_prev + tb
    g = {
        "linear": lambda z: z,
        "softmax": lambda z: torch.softmax(z, dim=0),
        "leaky_relu": torch.nn.functional.leaky_relu,
    }.get(activation, getattr(torch, activation, None))
    tA = g(Z)
    (tA * to_tensor(dA)).sum().backward()
    m = A_prev.shape[1]
    tol = tolerance("float64", "gradient")
    assert_parity(
        group_result(
            "deep",
            f"course-layer-{activation}",
            "gradient",
            "cpu",
            "float64",
            [
                compare("A", A, to_numpy(tA), tolerance("float64", "forward")),
                compare("dA_prev", dA_prev, to_numpy(tA_prev.grad), tol),
                compare("dW", dW, to_numpy(tW.grad) / m, tol),  # dW, db are gradients of J = 1/m Σ L
                compare("db", db, to_numpy(tb.grad) / m, tol),
            ],
        )
    )


def test_linear_backward_is_the_dense_layers_and_the_old_trap_is_gone():
    rng = np.random.default_rng(7)
    A_prev, W, b = rng.standard_normal((3, 5)), rng.standard_normal((4, 3)), np.zeros((4, 1))
    dZ = rng.standard_normal((4, 5))
    _, cache = S.linear_activation_forward(A_prev, W, b, "relu")
    for ours, dense in zip(S.linear_backward(dZ, cache), dense_backward(dZ, (A_prev, W, b))):
        np.testing.assert_array_equal(ours, dense)
    with pytest.raises(TypeError):  # the course signature: no layer number, an activation name
        S.linear_activation_backward(dZ, cache, "relu", 1)


@pytest.mark.parametrize("output", ["sigmoid", "softmax", "linear"])
def test_course_compute_cost_from_AL_equals_the_cost_from_logits(output):
    dims = {"sigmoid": (3, 4, 1), "softmax": (3, 4, 3), "linear": (3, 4, 2)}[output]
    rng = np.random.default_rng(8)
    p = _net(rng, dims=dims)
    X = rng.standard_normal((3, 6))
    Y = {
        "sigmoid": (rng.random((1, 6)) < 0.5).astype(float),
        "softmax": S.prepare_labels(rng.integers(0, 3, 6), 3, "softmax", 6, np.dtype(np.float64)),
        "linear": rng.standard_normal((2, 6)),
    }[output]
    AL, caches = S.L_model_forward(X, p, "tanh", output)
    assert_close(S.compute_cost(AL, Y, output), S.cost_from_logits(caches[-1].Z, Y, output), name="J")


def test_linear_output_is_regressions_mlp():
    """``output="linear"``: ``Ŷ = Z[L]``, ``J = 1/(2m) Σ (ŷ − y)²``, ``dZ[L] = Ŷ − Y``; the torch
    module gives the same cost and gradients, and ``predict`` returns ``Ŷ`` on both sides."""
    rng = np.random.default_rng(9)
    dims = (3, 5, 4, 2)
    p = S.initialize_parameters_deep(dims, rng, "lecun")
    X, Y = rng.standard_normal((3, 7)), rng.standard_normal((2, 7))
    J, grads = S.propagate(p, X, Y, "tanh", "linear")
    net = T.DeepNetwork.from_scratch(p, "tanh", "linear")
    loss = net.loss(to_tensor(columns_to_rows(X)), to_tensor(columns_to_rows(Y)))
    loss.backward()
    tol = tolerance("float64", "gradient")
    records = [compare("J", J, loss.item(), tolerance("float64", "forward"))]
    for layer, linear in enumerate(net.layers, start=1):
        records.append(compare(f"dW{layer}", grads[f"dW{layer}"], to_numpy(linear.weight.grad), tol))
        records.append(
            compare(f"db{layer}", grads[f"db{layer}"], to_numpy(linear.bias.grad).reshape(-1, 1), tol)
        )
    with torch.no_grad():
        Y_hat = rows_to_columns(to_numpy(net.predict(to_tensor(columns_to_rows(X)))))
    records.append(
        compare("Y_hat", S.predict(p, X, "tanh", "linear"), Y_hat, tolerance("float64", "forward"))
    )
    assert_parity(group_result("deep", "linear-output", "gradient", "cpu", "float64", records))
    with pytest.raises(ValueError, match="predict_proba: a linear output"):
        net.predict_proba(to_tensor(columns_to_rows(X)))
    with pytest.raises(ValueError, match=r"Y: has 6 examples \(columns\) but X has 7"):
        S.propagate(p, X, Y[:, :6], "tanh", "linear")


def test_diverging_propagate_returns_an_infinite_cost_and_no_gradients():
    p = {"W1": np.full((1, 2), 1e200), "b1": np.zeros((1, 1))}  # Ŷ = Z[1] overflows
    with np.errstate(over="ignore", invalid="ignore"):  # as gradient_descent runs it
        J, grads = S.propagate(p, np.full((2, 4), 1e200), np.zeros((1, 4)), "relu", "linear")
    assert np.isinf(J) and grads == {}


# --- bad input -----------------------------------------------------------------------------
def test_layer_sizes_that_do_not_chain_name_the_layer_and_both_shapes():
    p = _net(np.random.default_rng(0), dims=(2, 4, 1))
    p["W2"] = np.zeros((1, 3))
    X = np.zeros((2, 5))
    with pytest.raises(ValueError, match=r"W\[2\] has shape \(1, 3\) but A\[1\] has 4 rows"):
        S.L_model_forward(X, p)
    p = _net(np.random.default_rng(0), dims=(2, 4, 1))
    with pytest.raises(ValueError, match=r"W\[1\] has shape \(4, 2\) but A\[0\] \(X\) has 3 rows"):
        S.L_model_forward(np.zeros((3, 5)), p)
    with pytest.raises(ValueError, match=r"b\[1\]: expected shape \(n\[1\], 1\) = \(4, 1\)"):
        S.L_model_forward(X, {**p, "b1": np.zeros((4,))})
    with pytest.raises(ValueError, match="params: expected keys"):
        S.L_model_forward(X, {"W1": p["W1"], "b1": p["b1"], "W3": p["W2"], "b3": p["b2"]})


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"layer_dims": (3, 0, 1)}, r"n\[1\] must be a positive integer"),
        ({"activation": "swish"}, "activation: unknown name 'swish'"),
        ({"layer_dims": (3, 4, 4, 1), "activation": ("relu",)}, "expected one name or 2 names"),
        ({"output": "logistic"}, "output: expected one of"),
        ({"layer_dims": (3, 4, 2)}, "a sigmoid output needs n"),
        ({"initializer": "ones"}, "initializer: unknown name"),
        ({"learning_rate": 0.0}, "learning_rate: expected a positive finite number"),
        ({"learning_rate": float("nan")}, "learning_rate: expected a positive finite number"),
        ({"learning_rate": -1}, "learning_rate: expected a positive finite number"),
        ({"batch_size": 0}, "batch_size: expected a positive integer"),
    ],
)
def test_bad_config(kw, match):
    with pytest.raises(ValueError, match=match):
        S.Config(**{"layer_dims": (3, 4, 1), **kw})


def test_bad_config_on_the_torch_side():
    with pytest.raises(ValueError, match="activation: unknown name 'swish'"):
        T.DeepNetwork([3, 4, 1], "swish")
    with pytest.raises(ValueError, match="layer_dims"):
        T.DeepNetwork([3, -4, 1])
    with pytest.raises(ValueError, match="learning_rate: expected a positive finite number"):
        T.train(
            T.DeepNetwork([3, 4, 1]),
            torch.zeros(5, 3),
            torch.zeros(5, 1),
            {"learning_rate": float("inf"), "num_iterations": 1},
        )
    with pytest.raises(ValueError, match="unknown keys"):
        S.Config.from_dict({"layer_dims": (3, 1), "momentum": 0.9})


@pytest.mark.parametrize(
    "Y, match",
    [
        (np.array([0, 1, 3, 1, 0]), r"labels: class indices must lie in \[0, 2\]"),
        (np.array([[0, 1, 2, 1]]), r"class indices of shape \(5,\) or \(1, 5\)"),
        (np.zeros((2, 5)), r"Y: expected shape \(n\[L\], m\) = \(3, 5\)"),
        (np.full((3, 5), 0.5), "each column must be one-hot"),
    ],
)
def test_bad_softmax_labels(Y, match):
    p = _net(np.random.default_rng(0), dims=(2, 4, 3))
    with pytest.raises(ValueError, match=match):
        S.propagate(p, np.zeros((2, 5)), Y, "relu", "softmax")


def test_bad_labels_on_the_torch_side():
    net = T.DeepNetwork([2, 4, 3], output="softmax")
    with pytest.raises(ValueError, match=r"class indices must lie in \[0, 2\]"):
        T.train(
            net, torch.zeros(5, 2), torch.tensor([0, 1, 3, 1, 0]), {"learning_rate": 0.1, "num_iterations": 1}
        )
    with pytest.raises(ValueError, match="binary labels must be 0 or 1"):
        T.train(
            T.DeepNetwork([2, 4, 1]),
            torch.zeros(5, 2),
            torch.full((5, 1), 2.0),
            {"learning_rate": 0.1, "num_iterations": 1},
        )


def test_binary_labels_must_be_0_or_1():
    p = _net(np.random.default_rng(0), dims=(2, 4, 1))
    with pytest.raises(ValueError, match="binary labels must be 0 or 1"):
        S.propagate(p, np.zeros((2, 3)), np.array([[0, 2, 1]]), "relu", "sigmoid")


def test_nan_loss_stops_training_naming_the_step_on_both_sides():
    config = S.Config(layer_dims=(2, 4, 1), activation="relu", learning_rate=1e200, num_iterations=20)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((2, 6)) * 1e10, np.array([[0, 1, 1, 0, 1, 0]])
    p0 = _net(rng, dims=(2, 4, 1))
    with pytest.raises(FloatingPointError, match=r"cost became nan at step [0-9]+"):
        S.train(config, X, Y, params=p0)
    net = T.DeepNetwork.from_scratch(p0, "relu")
    with pytest.raises(FloatingPointError, match=r"cost became nan at step [0-9]+"):
        T.train(net, to_tensor(columns_to_rows(X)), to_tensor(columns_to_rows(Y.astype(float))), config)
