"""torch_ref.layout: round trips between the course layout and torch's, and the converters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from parity_tests.compare import assert_close
from torch_ref import deep as TDeep
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
    module_spec,
    params_to_state_dict,
    rows_to_columns,
    scratch_params,
    state_dict_to_params,
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
    back = layer.scratch_params()
    assert all(np.array_equal(back[k], params[k]) for k in params)
    X = rng.standard_normal((3, 5))
    Z = rows_to_columns(to_numpy(layer(to_tensor(columns_to_rows(X)))))
    assert_close(Z, params["W"] @ X + params["b"], name="Z")


def test_logreg_converter_round_trip() -> None:
    params = {"w": np.array([[1.0], [2.0], [3.0]]), "b": np.array([[0.5]])}
    sd = params_to_state_dict(params, TL.PARAM_SPEC)
    assert sd["linear.weight"].shape == (1, 3) and sd["linear.bias"].shape == (1,)
    back = scratch_params(TL.LogisticRegression.from_scratch(params))
    assert all(np.array_equal(back[k], params[k]) for k in params)


def test_load_scratch_params_asserts_shapes_before_copying() -> None:
    model = TL.LogisticRegression(3)
    with pytest.raises(
        ValueError,
        match=r"params\['w'\]: shape \(4, 1\) converts to \(1, 4\), "
        r"but LogisticRegression.linear.weight has shape \(1, 3\)",
    ):
        load_scratch_params(model, {"w": np.zeros((4, 1)), "b": np.zeros((1, 1))})
    assert not torch.any(model.linear.weight)  # nothing was copied


# --- strict converters: as load_state_dict(strict=True) ------------------------------------------
DEEP = [3, 5, 4, 2]


def _deep_params() -> dict[str, np.ndarray]:
    return TDeep.DeepNetwork(DEEP, "tanh", "linear", dtype=torch.float64).scratch_params()


def test_params_to_state_dict_names_missing_and_unexpected_keys() -> None:
    p = _deep_params()
    spec = TDeep.param_spec(3)
    del p["b2"]
    p["W4"] = np.zeros((1, 2))
    with pytest.raises(ValueError, match=r"params: missing keys \['b2'\], unexpected keys \['W4'\]"):
        params_to_state_dict(p, spec)


def test_state_dict_to_params_names_missing_and_unexpected_keys() -> None:
    deeper = TDeep.DeepNetwork([3, 5, 4, 4, 2], "tanh", "linear").state_dict()
    with pytest.raises(ValueError, match=r"unexpected keys \['layers.3.bias', 'layers.3.weight'\]"):
        state_dict_to_params(deeper, TDeep.param_spec(3))  # a deeper network, not silently cut
    sd = TDeep.DeepNetwork(DEEP, "tanh", "linear").state_dict()
    del sd["layers.1.weight"]
    with pytest.raises(ValueError, match=r"state_dict: missing keys \['layers.1.weight'\]"):
        state_dict_to_params(sd, TDeep.param_spec(3))  # a ValueError naming it, not a KeyError
    # not strict: the extra layer is left out on purpose
    assert sorted(state_dict_to_params(deeper, TDeep.param_spec(3), strict=False)) == sorted(
        TDeep.param_spec(3)
    )


def test_entries_outside_the_specs_submodules_are_not_parameters() -> None:
    """A buffer such as a detector's threshold, or another submodule (a DQN's target network),
    is not one of the spec's parameters: it neither counts as unexpected nor is converted."""
    sd = {**TDeep.DeepNetwork(DEEP, "tanh", "linear").state_dict(), "epsilon": torch.tensor(0.5)}
    assert sorted(state_dict_to_params(sd, TDeep.param_spec(3))) == sorted(TDeep.param_spec(3))


def test_dtype_and_shape_errors_name_the_parameter() -> None:
    p = _deep_params()
    spec = TDeep.param_spec(3)
    with pytest.raises(TypeError, match=r"params\['W2'\]: expected a floating array, got dtype int64"):
        params_to_state_dict({**p, "W2": np.zeros((4, 5), dtype=np.int64)}, spec)
    with pytest.raises(
        ValueError,
        match=r"params\['b3'\] \(for 'layers.2.bias'\): b: expected a "
        r"course bias of shape \(n, 1\), got \(2,\)",
    ):
        params_to_state_dict({**p, "b3": np.zeros(2)}, spec)
    sd = params_to_state_dict(p, spec)
    with pytest.raises(
        TypeError,
        match=r"state_dict\['layers.0.weight'\] \(scratch 'W1'\): expected "
        r"a floating tensor, got dtype torch.int64",
    ):
        state_dict_to_params({**sd, "layers.0.weight": torch.zeros(5, 3, dtype=torch.int64)}, spec)
    with pytest.raises(
        ValueError,
        match=r"state_dict\['layers.1.bias'\] \(scratch 'b2'\): bias: "
        r"expected a 1-D array",
    ):
        state_dict_to_params({**sd, "layers.1.bias": torch.zeros(4, 1)}, spec)
    net = TDeep.DeepNetwork([3, 5, 2], "tanh", "linear")
    with pytest.raises(
        ValueError,
        match=r"DeepNetwork: the spec names keys it lacks "
        r"\['layers.2.bias', 'layers.2.weight'\]",
    ):
        load_scratch_params(net, p, spec)
    with pytest.raises(ValueError, match=r"params: missing keys \['W3', 'b3'\]"):
        load_scratch_params(
            TDeep.DeepNetwork(DEEP, "tanh", "linear"), {k: v for k, v in p.items() if k[1] != "3"}
        )


def test_from_scratch_is_one_generic_constructor() -> None:
    """Every module builds from scratch parameters the same way: sizes read off the shapes, the
    dtype the parameters', the other constructor arguments passed on."""
    p = {k: v.astype(np.float32) for k, v in _deep_params().items()}
    net = TDeep.DeepNetwork.from_scratch(p, "tanh", "linear")
    assert net.layer_dims == tuple(DEEP) and net.layers[0].weight.dtype == torch.float32
    assert all(np.array_equal(v, p[k]) for k, v in net.scratch_params().items())
    with pytest.raises(ValueError, match=r"params: expected 2-D W1, …, WL"):
        TDeep.DeepNetwork.from_scratch({"W1": np.zeros(3), "b1": np.zeros((1, 1))})
    with pytest.raises(TypeError, match="declares no parameter spec"):
        module_spec(torch.nn.Linear(2, 3))
