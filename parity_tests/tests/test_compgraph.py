"""The computation-graph engine beyond the registered per-op checks: the notes' worked example,
edge values (vs torch), graph mechanics (accumulation, reuse, ``no_grad``, ``zero_grad``, depth),
drawing, broadcasting properties (hypothesis), models vs hand-written backprop, bad input."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

from parity_tests.api import check_forward, check_gradients
from parity_tests.compare import assert_close, assert_parity
from parity_tests.concepts.compgraph import OpCase, engine_forward, engine_grads, has_vector_output, torch_op
from scratch import compgraph as S
from scratch import logreg as SL
from scratch.compgraph import Tensor, no_grad
from torch_ref import deep as TD
from torch_ref.layout import to_numpy


def tt(a, requires_grad: bool = True) -> torch.Tensor:
    return torch.tensor(np.asarray(a), requires_grad=requires_grad)


# --- the notes' example: z = w1 x1 + w2 x2 + b → a = σ(z) → L(a, y) --------------------------
@pytest.mark.parametrize("y", [0.0, 1.0])
def test_notes_example_chain_rule(y: float) -> None:
    x1, x2 = 1.5, -0.5
    w1, w2, b = Tensor(0.8, "w1"), Tensor(-1.2, "w2"), Tensor(0.1, "b")
    z = w1 * x1 + w2 * x2 + b
    a = z.sigmoid()
    L = -(y * a.log() + (1 - y) * (1 - a).log())
    L.backward()
    av = 1 / (1 + np.exp(-(0.8 * x1 - 1.2 * x2 + 0.1)))
    da = -y / av + (1 - y) / (1 - av)  # ∂L/∂a
    dz = da * av * (1 - av)  # ∂L/∂z = ∂L/∂a · ∂a/∂z, ∂a/∂z = a(1 − a)
    assert_close(a.data, av, name="a")
    assert_close(a.grad, da, level="gradient")
    assert_close(z.grad, dz, level="gradient")
    assert_close(z.grad, av - y, level="gradient")  # the notes' dz = a − y
    assert_close(w1.grad, x1 * dz, level="gradient")  # ∂L/∂w1 = x1 · dz
    assert_close(w2.grad, x2 * dz, level="gradient")
    assert_close(b.grad, dz, level="gradient")
    # and torch.autograd agrees
    tw1, tw2, tb = tt(0.8), tt(-1.2), tt(0.1)
    ta = torch.sigmoid(tw1 * x1 + tw2 * x2 + tb)
    (-(y * torch.log(ta) + (1 - y) * torch.log(1 - ta))).backward()
    for mine, ref in [(w1, tw1), (w2, tw2), (b, tb)]:
        assert_close(mine.grad, to_numpy(ref.grad), level="gradient")


# --- edge values, each against torch ----------------------------------------------------------
def _both(fn_engine, fn_torch, x: np.ndarray, G: np.ndarray | None = None):
    """Values and gradients of one unary function on both sides (float64)."""
    t = Tensor(x)
    out = fn_engine(t)
    out.backward(G if G is not None else np.ones_like(out.data))
    tx = tt(x)
    tout = fn_torch(tx)
    tout.backward(torch.from_numpy(G if G is not None else np.ones_like(out.data)))
    return out.data, t.grad, to_numpy(tout), to_numpy(tx.grad)


EDGES = {
    "log-at-0": (Tensor.log, torch.log, [0.0, 1e-300, 2.0]),  # −inf, gradient +inf
    "log-negative": (Tensor.log, torch.log, [-1.0, 3.0]),  # nan
    "relu-at-0": (Tensor.relu, torch.relu, [-0.0, 0.0, 1e-300, -1e-300, 2.0]),  # ReLU'(0) = 0
    "sigmoid-saturated": (Tensor.sigmoid, torch.sigmoid, [-1e4, -800.0, 0.0, 800.0, 1e4]),
    "tanh-saturated": (Tensor.tanh, torch.tanh, [-1e4, 0.0, 1e4]),
    "exp-overflow": (Tensor.exp, torch.exp, [800.0, -800.0, 0.0]),  # inf / 0, silently
    "reciprocal-of-0": (lambda t: 1.0 / t, lambda t: 1.0 / t, [0.0, -0.0, 2.0]),
    "sqrt-at-0": (lambda t: t**0.5, lambda t: t**0.5, [0.0, 4.0]),  # gradient inf
}


def _assert_same_edges(a: np.ndarray, b: np.ndarray, level: str, name: str) -> None:
    """NaN, +inf and −inf at exactly torch's positions (compared as such: equal non-finite
    values are not parity for ``assert_close``), the finite entries within tolerance."""
    for kind, test in (("NaN", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf)):
        assert np.array_equal(test(a), test(b)), f"{name}: {kind} at {test(a)}, torch {test(b)}"
    finite = np.isfinite(b)
    assert finite.any() or not np.isfinite(a).any()
    assert_close(a[finite], b[finite], level=level, name=name)


@pytest.mark.parametrize("name", list(EDGES))
def test_edge_values_match_torch(name: str) -> None:
    fe, ft, values = EDGES[name]
    out, grad, tout, tgrad = _both(fe, ft, np.array(values))
    _assert_same_edges(out, tout, "forward", "value")  # inf/NaN must sit where torch has them
    _assert_same_edges(grad, tgrad, "gradient", "grad")


def test_log_at_zero_is_minus_inf_with_infinite_gradient() -> None:
    x = Tensor(np.array([0.0]))
    y = x.log()
    y.backward(np.ones(1))
    assert y.data[0] == -np.inf and x.grad[0] == np.inf


def test_relu_subgradient_at_exactly_zero_is_zero() -> None:
    x = Tensor(np.zeros((2, 3)))
    x.relu().sum().backward()
    assert np.array_equal(x.grad, np.zeros((2, 3)))


def test_division_by_zero_matches_torch_in_both_operands() -> None:
    a, b = np.array([1.0, -1.0, 0.0, 2.0]), np.array([0.0, 0.0, 0.0, 4.0])
    ta, tb = Tensor(a), Tensor(b)
    q = ta / tb
    q.backward(np.ones(4))
    ra, rb = tt(a), tt(b)
    (ra / rb).backward(torch.ones(4, dtype=torch.float64))
    np.testing.assert_array_equal(q.data, to_numpy(ra / rb))  # inf, −inf, nan, 0.5
    np.testing.assert_array_equal(ta.grad, to_numpy(ra.grad))
    np.testing.assert_array_equal(tb.grad, to_numpy(rb.grad))


# --- graph mechanics ------------------------------------------------------------------------
def test_tensor_used_twice_accumulates_both_paths() -> None:
    x = Tensor(np.array([[1.5, -2.0, 0.5]]))
    y = (x * x + x.exp() * x).sum()  # dy/dx = 2x + eˣ + x eˣ
    y.backward()
    xv = x.data
    assert_close(x.grad, 2 * xv + np.exp(xv) + xv * np.exp(xv), level="gradient")


def test_node_reused_many_times_matches_torch() -> None:
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((3, 1))
    X = rng.standard_normal((3, 4))
    w, s = Tensor(w0), None
    tw, ts = tt(w0), None
    for k in range(500):  # the same leaf and the same intermediate feed 1,000 operations
        h = w * X
        s = h if s is None else s + h * (k % 3) + w
        th = tw * torch.from_numpy(X)
        ts = th if ts is None else ts + th * (k % 3) + tw
    G = rng.standard_normal((3, 4))
    s.backward(G)
    ts.backward(torch.from_numpy(G))
    assert_close(w.grad, to_numpy(tw.grad), level="gradient")


def test_graph_ten_thousand_nodes_deep_needs_no_recursion() -> None:
    depth = 10_000
    assert depth > sys.getrecursionlimit()
    x0 = np.array([[0.3, -0.2]])
    x, h = Tensor(x0), None
    tx, th = tt(x0), None
    h, th = x, tx
    for _ in range(depth // 2):  # 2 nodes per iteration
        h = (h * 0.999).tanh()
        th = torch.tanh(th * 0.999)
    assert len(S.topological_order(h)) == depth + 1
    h.sum().backward()
    th.sum().backward()
    assert_close(h.data, to_numpy(th))
    assert_close(x.grad, to_numpy(tx.grad), level="gradient")
    # drawing is iterative too; it also lists the 5,000 constants 0.999
    assert len(S.to_text(h).splitlines()) == depth + depth // 2 + 1


def test_backward_twice_accumulates_leaves_but_not_intermediates() -> None:
    x = Tensor(np.array([1.0, 2.0]))
    h = x * x
    y = (h * 3.0).sum()
    y.backward()
    y.backward()  # like torch with retain_graph=True: leaves get 2×, h.grad stays ∂y/∂h
    np.testing.assert_array_equal(x.grad, 2 * 6 * x.data)
    np.testing.assert_array_equal(h.grad, [3.0, 3.0])
    x.zero_grad()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])
    y.backward()
    np.testing.assert_array_equal(x.grad, 6 * x.data)


def test_no_grad_records_nothing_and_restores() -> None:
    x = Tensor(np.array([1.0, 2.0]))
    with no_grad():
        assert not S.is_grad_enabled()
        y = (x * 2.0).exp()
    assert S.is_grad_enabled()
    assert not y.requires_grad and y._parents == () and y.grad is None
    assert_close(y.data, np.exp(2 * x.data))
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()
    with pytest.raises(KeyError), no_grad():  # an exception inside still restores recording
        {}["missing"]
    assert S.is_grad_enabled()
    z = (x * 2.0).sum()  # recording again
    z.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_constants_get_no_gradient_and_are_not_traversed() -> None:
    x, c = Tensor(np.ones((2, 3))), Tensor(np.full((2, 3), 2.0), requires_grad=False)
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad, c.data)


def test_float32_stays_float32_everywhere() -> None:
    rng = np.random.default_rng(1)
    params = {
        "W1": rng.standard_normal((4, 3)).astype(np.float32),
        "b1": np.zeros((4, 1), np.float32),
        "W2": rng.standard_normal((1, 4)).astype(np.float32),
        "b2": np.zeros((1, 1), np.float32),
    }
    X = rng.standard_normal((3, 5)).astype(np.float32)
    J, grads = S.mlp_propagate(params, X, np.array([[0, 1, 1, 0, 1]]))
    assert J.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())


# --- drawing ---------------------------------------------------------------------------------
def _notes_graph():
    w1, x1, b = Tensor(0.5, "w1"), Tensor(2.0, 'x"1', requires_grad=False), Tensor(-1.0, "b")
    a = (w1 * x1 + b).sigmoid()
    a.label = "a"
    a.backward()
    return a


def test_dot_rendering_shows_nodes_ops_values_and_gradients() -> None:
    dot = S.to_dot(_notes_graph())
    assert dot.startswith("digraph compgraph {") and dot.rstrip().endswith("}")
    boxes = [line for line in dot.splitlines() if "shape=box" in line]
    ops = [line for line in dot.splitlines() if "shape=ellipse" in line]
    assert len(boxes) == 6 and len(ops) == 3  # w1, x1, w1·x1, b, +, σ; mul, add, sigmoid
    assert sorted(o.split('label="')[1].split('"')[0] for o in ops) == ["add", "mul", "sigmoid"]
    assert dot.count("->") == 3 + 2 + 2 + 1  # op → result, inputs → op
    assert 'x\\"1' in dot  # quotes escaped
    assert "grad 0.5" in dot and "grad 0.25" in dot  # z = 0: ∂a/∂z = ¼, ∂a/∂w1 = x1 · ¼ = ½
    assert "grad None" in dot  # the constant x1


def test_text_rendering_one_line_per_node_inputs_first() -> None:
    lines = S.to_text(_notes_graph()).splitlines()
    assert len(lines) == 6
    assert lines[-1].startswith("n5 = sigmoid(") and "'a'" in lines[-1]
    assert any("const" in line and "x" in line for line in lines)


# --- broadcasting properties (hypothesis), against torch through the parity API -------------
BINARY = ["add", "sub", "mul", "div"]


@settings(max_examples=30, deadline=None)
@given(
    op=st.sampled_from(BINARY),
    dtype=st.sampled_from(["float64", "float32"]),
    shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4),
    seed=st.integers(0, 2**32 - 1),
)
def test_binary_ops_broadcast_like_torch(op: str, dtype: str, shapes, seed: int) -> None:
    case = OpCase(f"{op}-{shapes.input_shapes}", op, shapes.input_shapes, positive=op == "div")
    rng = np.random.default_rng(seed)
    inputs = {
        n: (rng.uniform(0.5, 2, s) if case.positive else rng.standard_normal(s))
        for n, s in zip("ab", case.shapes)
    }
    assert_parity(check_forward(engine_forward(case), torch_op(case), inputs, dtype=dtype))
    assert_parity(
        check_gradients(
            engine_grads(case),
            torch_op(case),
            inputs,
            ["a", "b"],
            dtype=dtype,
            seed=seed,
            vjp=has_vector_output(case),
        )
    )


@settings(max_examples=30, deadline=None)
@given(
    op=st.sampled_from(["sum", "mean"]),
    shape=array_shapes(min_dims=1, max_dims=4, max_side=4),
    data=st.data(),
    keepdims=st.booleans(),
    dtype=st.sampled_from(["float64", "float32"]),
)
def test_reductions_over_random_axes_like_torch(op, shape, data, keepdims, dtype) -> None:
    axes = data.draw(
        st.lists(
            st.integers(-len(shape), len(shape) - 1), unique_by=lambda a: a % len(shape), max_size=len(shape)
        )
    )
    axis = None if not axes else axes[0] if len(axes) == 1 else tuple(axes)
    case = OpCase(f"{op}-{shape}", op, (shape,), {"axis": axis, "keepdims": keepdims})
    inputs = {"a": np.random.default_rng(len(shape)).standard_normal(shape)}
    assert_parity(check_forward(engine_forward(case), torch_op(case), inputs, dtype=dtype))
    assert_parity(
        check_gradients(
            engine_grads(case),
            torch_op(case),
            inputs,
            ["a"],
            dtype=dtype,
            seed=3,
            vjp=has_vector_output(case),
        )
    )


@settings(max_examples=20, deadline=None)
@given(
    shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    seed=st.integers(0, 2**32 - 1),
)
def test_unbroadcast_sums_back_to_each_operands_shape(shapes, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = (Tensor(rng.standard_normal(s)) for s in shapes.input_shapes)
    out = a * b
    assert out.shape == shapes.result_shape
    out.backward(np.ones(out.shape))
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    # every entry of b was multiplied by some entries of a: its gradient is their sum
    assert_close(b.grad.sum(), (np.broadcast_to(a.data, out.shape)).sum(), level="gradient")


# --- models on the engine vs hand-written backprop -----------------------------------------
def _labels(rng: np.random.Generator, m: int) -> np.ndarray:
    return (rng.random((1, m)) < 0.5).astype(np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_engine_logreg_equals_handwritten_logreg(dtype) -> None:
    rng = np.random.default_rng(2)
    params = {"w": rng.standard_normal((4, 1)).astype(dtype), "b": rng.standard_normal((1, 1)).astype(dtype)}
    X, Y = rng.standard_normal((4, 7)).astype(dtype), _labels(rng, 7).astype(dtype)
    J_engine, g_engine = S.logreg_propagate(params, X, Y)
    J_hand, g_hand = SL.cost_and_grads(params, X, Y)
    assert_close(J_engine, J_hand, name="J")
    for k in ("dw", "db"):
        assert g_engine[k].dtype == dtype
        assert_close(g_engine[k], g_hand[k], level="gradient", name=k)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_engine_mlp_equals_handwritten_shallow(activation: str) -> None:
    shallow = pytest.importorskip("scratch.shallow")
    rng = np.random.default_rng(3)
    params = {
        "W1": rng.standard_normal((4, 3)),
        "b1": rng.standard_normal((4, 1)),
        "W2": rng.standard_normal((1, 4)),
        "b2": rng.standard_normal((1, 1)),
    }
    X, Y = rng.standard_normal((3, 5)), _labels(rng, 5)
    J_engine, g_engine = S.mlp_propagate(params, X, Y, activation)
    J_hand, g_hand = shallow.propagate(params, X, Y, activation)
    assert_close(J_engine, J_hand, name="J")
    for k in g_hand:
        assert_close(g_engine[k], g_hand[k], level="gradient", name=k)


def test_engine_mlp_equals_handwritten_deep() -> None:
    deep = pytest.importorskip("scratch.deep")
    rng = np.random.default_rng(4)
    dims = [3, 5, 4, 1]
    params = {}
    for k in range(1, len(dims)):
        params[f"W{k}"] = rng.standard_normal((dims[k], dims[k - 1]))
        params[f"b{k}"] = rng.standard_normal((dims[k], 1))
    X, Y = rng.standard_normal((3, 6)), _labels(rng, 6)
    J_engine, g_engine = S.mlp_propagate(params, X, Y, "relu")
    J_hand, g_hand = deep.propagate(params, X, Y, "relu", "sigmoid")
    assert_close(J_engine, J_hand, name="J")
    assert sorted(g_hand) == sorted(g_engine)
    for k in g_hand:
        assert_close(g_engine[k], g_hand[k], level="gradient", name=k)


def test_torch_reference_converters_round_trip() -> None:
    """The engine MLP's torch reference is the production ``DeepNetwork`` (sigmoid output)."""
    rng = np.random.default_rng(5)
    params = {
        "W1": rng.standard_normal((4, 3)),
        "b1": rng.standard_normal((4, 1)),
        "W2": rng.standard_normal((1, 4)),
        "b2": rng.standard_normal((1, 1)),
    }
    model = TD.DeepNetwork.from_scratch(params, "relu", "sigmoid")
    assert "layer_dims=[3, 4, 1], activation='relu', output='sigmoid'" in repr(model)
    back = model.scratch_params()
    for k, value in params.items():
        np.testing.assert_array_equal(back[k], value)
    with pytest.raises(ValueError, match="activation"):
        TD.DeepNetwork([3, 4, 1], "gelu")
    with pytest.raises(ValueError, match="layer_dims"):
        TD.DeepNetwork([3])


# --- bad input: errors name the operation, the shapes and the dtypes -----------------------
def test_shapes_that_do_not_broadcast_name_op_and_shapes() -> None:
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((4,)))
    for op, fn in [
        ("add", lambda: a + b),
        ("sub", lambda: a - b),
        ("mul", lambda: a * b),
        ("div", lambda: a / b),
    ]:
        with pytest.raises(ValueError, match=rf"{op}: shapes \(2, 3\) and \(4,\) do not broadcast"):
            fn()


def test_matmul_shape_errors() -> None:
    with pytest.raises(ValueError, match=r"matmul: .* got shapes \(2, 3\) and \(2, 3\)"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"matmul: .*\(3,\)"):
        Tensor(np.ones((3,))) @ Tensor(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"matmul: batch dimensions of \(2, 3, 4\) and \(5, 4, 2\)"):
        Tensor(np.ones((2, 3, 4))) @ Tensor(np.ones((5, 4, 2)))


def test_backward_on_non_scalar_needs_an_upstream_gradient() -> None:
    y = Tensor(np.ones((2, 3))) * 2.0
    with pytest.raises(ValueError, match=r"backward: called on a non-scalar of shape \(2, 3\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"shape \(2, 3\) and dtype float64, got \(3, 2\)"):
        y.backward(np.ones((3, 2)))
    with pytest.raises(ValueError, match="dtype float64, got .* float32"):
        y.backward(np.ones((2, 3), np.float32))


def test_mixing_dtypes_is_refused() -> None:
    a32, a64 = Tensor(np.ones((2, 3), np.float32)), Tensor(np.ones((3,)))
    with pytest.raises(TypeError, match=r"mul: dtypes differ, float32 \(2, 3\) and float64 \(3,\)"):
        a32 * a64
    with pytest.raises(TypeError, match=r"matmul: dtypes differ"):
        a32 @ Tensor(np.ones((3, 2)))
    with pytest.raises(TypeError, match="add: dtypes differ"):
        a32 + np.ones(3)  # a float64 array does not silently upcast a float32 graph
    assert (a32 + 1.5).dtype == np.float32  # Python numbers take the tensor's dtype


def test_integer_data_is_refused() -> None:
    with pytest.raises(
        TypeError,
        match=r"Tensor 'n': expected float32 or float64 data, got int64 "
        r"of shape \(2, 3\)",
    ):
        Tensor(np.ones((2, 3), np.int64), "n")
    with pytest.raises(TypeError, match=r"add: operand of dtype int64 and shape \(3,\)"):
        Tensor(np.ones(3)) + np.arange(3)
    with pytest.raises(TypeError, match="float32 or float64"):
        Tensor(np.ones(2, np.float16))


def test_other_bad_arguments() -> None:
    x = Tensor(np.ones((3, 4)))
    with pytest.raises(TypeError, match="pow: the exponent must be a Python int or float"):
        x ** Tensor(2.0)
    with pytest.raises(ValueError, match=r"sum: axis=2 is invalid for shape \(3, 4\)"):
        x.sum(axis=2)
    with pytest.raises(ValueError, match=r"mean: axis=\(0, 0\) is invalid"):
        x.mean(axis=(0, 0))
    with pytest.raises(ValueError, match=r"reshape: cannot reshape shape \(3, 4\) \(12 entries\)"):
        x.reshape(5, 2)
    with pytest.raises(ValueError, match=r"transpose: axes \(0, 0\)"):
        x.transpose(0, 0)
    with pytest.raises(IndexError, match=r"getitem: index .* for shape \(3, 4\)"):
        x[5]
    with pytest.raises(TypeError, match="getitem: index with a NumPy array"):
        x[Tensor(np.zeros(1))]
    with pytest.raises(ValueError, match="activation: expected one of"):
        S.mlp_propagate(
            {"W1": np.ones((1, 3)), "b1": np.ones((1, 1))}, np.ones((3, 2)), np.ones((1, 2)), "gelu"
        )
    with pytest.raises(ValueError, match=r"params: expected keys \['W1', 'b1'\], got \['W1', 'c1'\]"):
        S.mlp_propagate({"W1": np.ones((1, 3)), "c1": np.ones((1, 1))}, np.ones((3, 2)), np.ones((1, 2)))
