"""``rnn``: the cell equals the layer, the converter round-trips, bad input is refused clearly,
clipping follows torch's rule, and forward/gradient parity holds for random sizes (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from parity_tests.api import check_forward, check_gradients
from parity_tests.compare import assert_close, assert_parity
from parity_tests.concepts.rnn import checks as C
from parity_tests.concepts.rnn.common import SEQUENCE, all_names, core_names, layer_layouts, torch_layer
from scratch import rnn as S
from torch_ref import rnn as T
from torch_ref.layout import sequence_to_batch_first, sequence_to_torch, to_numpy

N_X, N_A, M, T_X, N_Y = 3, 4, 5, 6, 2


def _params(cell: str, rng: np.random.Generator, dtype=np.float64) -> dict[str, np.ndarray]:
    p = S.initialize_parameters(N_X, N_A, N_Y, cell, rng, dtype)
    return {k: (v + rng.standard_normal(v.shape) * 0.3).astype(dtype) for k, v in p.items()}


@pytest.mark.parametrize("cell", S.CELLS)
def test_layer_is_the_cell_looped_over_time(cell: str) -> None:
    rng = np.random.default_rng(0)
    p = _params(cell, rng)
    x, a0 = rng.standard_normal((N_X, M, T_X)), rng.standard_normal((N_A, M))
    c0 = rng.standard_normal((N_A, M))
    da, dc_last = rng.standard_normal((N_A, M, T_X)), rng.standard_normal((N_A, M))
    if cell == "rnn":
        a, cache = S.rnn_forward(x, a0, p)
        grads = S.rnn_backward(da, cache)
    else:
        a, c, cache = S.lstm_forward(x, a0, c0, p)
        grads = S.lstm_backward(da, cache, dc_last)
    at, ct, caches = a0, c0, []
    for t in range(T_X):
        if cell == "rnn":
            at, cache_t = S.rnn_cell_forward(x[:, :, t], at, p)
        else:
            at, ct, cache_t = S.lstm_cell_forward(x[:, :, t], at, ct, p)
            assert_close(ct, c[:, :, t], level="forward", name=f"c<{t + 1}>")
        assert_close(at, a[:, :, t], level="forward", name=f"a<{t + 1}>")
        caches.append(cache_t)
    da_next, dc_next = np.zeros((N_A, M)), dc_last
    total = {k: 0.0 for k in core_names(cell)}
    for t in reversed(range(T_X)):
        if cell == "rnn":
            g = S.rnn_cell_backward(da[:, :, t] + da_next, caches[t])
        else:
            g = S.lstm_cell_backward(da[:, :, t] + da_next, dc_next, caches[t])
            dc_next = g["dc_prev"]
        assert_close(g["dxt"], grads["dx"][:, :, t], level="gradient", name=f"dx<{t + 1}>")
        da_next = g["da_prev"]
        for k in total:
            total[k] = total[k] + g[f"d{k}"]
    assert_close(da_next, grads["da0"], level="gradient", name="da0")
    if cell == "lstm":
        assert_close(dc_next, grads["dc0"], level="gradient", name="dc0")
    for k, v in total.items():
        assert_close(v, grads[f"d{k}"], level="gradient", name=f"d{k}")


@pytest.mark.parametrize("cell", S.CELLS)
def test_converter_round_trips_and_sums_torch_biases(cell: str) -> None:
    rng = np.random.default_rng(1)
    p = _params(cell, rng)
    back = T.state_dict_to_course(T.course_to_state_dict(p, cell), cell)
    assert sorted(back) == sorted(p)
    for k in p:
        np.testing.assert_array_equal(back[k], p[k], err_msg=k)
    # a torch model with both biases non-zero: the course sees b_ih + b_hh, and computes the same
    model = T.SequenceModel(N_X, N_A, N_Y, cell, course_bias=False, dtype=torch.float64)
    with torch.no_grad():
        model.rnn.bias_ih_l0.normal_()
        model.rnn.bias_hh_l0.normal_()
    course = T.state_dict_to_course(model.state_dict(), cell)
    x = rng.standard_normal((N_X, M, T_X))
    with torch.no_grad():
        ours = to_numpy(model.predict_proba(torch.from_numpy(sequence_to_torch(x))))
    theirs = S.predict_proba(course, x, cell, last_only=False)
    assert_close(theirs, SEQUENCE.to_course(ours), level="forward", name="ŷ")


def test_lstm_gate_order_is_torchs_i_f_g_o() -> None:
    """Only the forget gate's bias set: torch's rows n_a:2n_a (its ``f`` block) hold it."""
    p = {k: np.zeros_like(v) for k, v in _params("lstm", np.random.default_rng(2)).items()}
    p["bf"][:] = 1.0
    sd = T.course_to_state_dict(p, "lstm")
    expected = np.zeros(4 * N_A)
    expected[N_A : 2 * N_A] = 1.0
    np.testing.assert_array_equal(sd["rnn.bias_ih_l0"].numpy(), expected)


def test_course_bias_freezes_bias_hh_so_sgd_moves_one_bias() -> None:
    model = T.SequenceModel(N_X, N_A, N_Y, "rnn")
    assert not model.rnn.bias_hh_l0.requires_grad and model.rnn.bias_ih_l0.requires_grad
    assert float(model.rnn.bias_hh_l0.abs().sum()) == 0.0
    assert "course_bias=True" in repr(model)


def test_state_layout_round_trips() -> None:
    a0 = np.arange(20.0).reshape(N_A, M)
    assert T.STATE.to_torch(a0).shape == (1, M, N_A)
    np.testing.assert_array_equal(T.STATE.to_course(T.STATE.to_torch(a0)), a0)


# --- bad input ---------------------------------------------------------------------------------
def _rnn_params() -> dict[str, np.ndarray]:
    return _params("rnn", np.random.default_rng(3))


def test_time_first_input_is_named() -> None:
    x = np.zeros((T_X, M, N_X))  # torch's (T_x, m, n_x)
    with pytest.raises(ValueError, match=r"x: expected shape \(n_x, m, T_x\).*time-first"):
        S.rnn_forward(x, np.zeros((N_A, M)), _rnn_params())


def test_batch_first_input_is_named() -> None:
    x = np.zeros((M, T_X, N_X))  # (m, T_x, n_x)
    with pytest.raises(ValueError, match="batch-first"):
        S.rnn_forward(x, np.zeros((N_A, M)), _rnn_params())


def test_mismatched_a0_and_c0_are_refused() -> None:
    x = np.zeros((N_X, M, T_X))
    with pytest.raises(ValueError, match=r"a0: expected shape \(n_a, m\).*\(4, 5\), got \(5, 4\)"):
        S.rnn_forward(x, np.zeros((M, N_A)), _rnn_params())
    p = _params("lstm", np.random.default_rng(4))
    with pytest.raises(ValueError, match=r"c0: expected shape"):
        S.lstm_forward(x, np.zeros((N_A, M)), np.zeros((N_A, M + 1)), p)


def test_empty_sequence_is_refused() -> None:
    with pytest.raises(ValueError, match=r"empty sequence \(T_x = 0"):
        S.rnn_forward(np.zeros((N_X, M, 0)), np.zeros((N_A, M)), _rnn_params())


def test_parameter_shapes_must_match_n_a_and_n_x() -> None:
    p = _rnn_params()
    with pytest.raises(ValueError, match=r"Waa: expected shape \(n_a, n_a\)"):
        S.rnn_forward(np.zeros((N_X, M, T_X)), np.zeros((N_A, M)), {**p, "Waa": np.zeros((N_A, N_A + 1))})
    with pytest.raises(ValueError, match=r"ba: expected shape \(n_a, 1\)"):
        S.rnn_forward(np.zeros((N_X, M, T_X)), np.zeros((N_A, M)), {**p, "ba": np.zeros((N_A,))})
    with pytest.raises(ValueError, match=r"x: expected shape \(n_x, m, T_x\) = \(3, \*, T_x\)"):
        S.rnn_forward(np.zeros((N_X + 2, M, T_X)), np.zeros((N_A, M)), p)
    q = _params("lstm", np.random.default_rng(5))
    with pytest.raises(ValueError, match=r"Wo: expected shape \(n_a, n_a \+ n_x\)"):
        S.lstm_forward(
            np.zeros((N_X, M, T_X)), np.zeros((N_A, M)), np.zeros((N_A, M)), {**q, "Wo": np.zeros((N_A, N_X))}
        )
    with pytest.raises(ValueError, match="params: missing 'Wc'"):
        S.propagate(
            {k: v for k, v in q.items() if k != "Wc"},
            np.zeros((N_X, M, T_X)),
            np.eye(N_Y)[:, [0] * M],
            "lstm",
        )
    with pytest.raises(ValueError, match=r"Y: expected shape \(n_y, m, T_x\)"):
        S.propagate(q, np.zeros((N_X, M, T_X)), np.zeros((N_Y, M, T_X + 1)), "lstm")


def test_mixed_dtypes_and_bad_cell_are_refused() -> None:
    p = _rnn_params()
    with pytest.raises(TypeError, match="x: dtype float32 differs"):
        S.rnn_forward(np.zeros((N_X, M, T_X), np.float32), np.zeros((N_A, M)), p)
    with pytest.raises(ValueError, match="cell: expected one of"):
        S.propagate(p, np.zeros((N_X, M, T_X)), np.zeros((N_Y, M)), "gru")
    with pytest.raises(ValueError, match="cell: expected one of"):
        T.SequenceModel(N_X, N_A, N_Y, "gru")


def test_torch_module_names_the_layout() -> None:
    model = T.SequenceModel(N_X, N_A, N_Y)
    with pytest.raises(ValueError, match=r"x: expected shape \(T_x, m, n_x\).*sequence_to_torch"):
        model(torch.zeros(N_X, M, T_X))
    with pytest.raises(ValueError, match="params: expected keys"):
        T.course_to_state_dict({"Wax": np.zeros((N_A, N_X))}, "rnn")
    with pytest.raises(ValueError, match="converts to shape"):
        T.load_course_params(T.SequenceModel(N_X + 1, N_A, N_Y), _rnn_params())


# --- clipping ----------------------------------------------------------------------------------
def test_clipping_matches_torch_and_leaves_small_gradients_alone() -> None:
    for dtype in ("float32", "float64"):
        assert_parity(C.clipping_check("cpu", dtype))
    g = {"dW": np.array([[0.3, -0.4]])}  # norm 0.5
    np.testing.assert_array_equal(S.clip_by_global_norm(g, 1.0)[0]["dW"], g["dW"])
    np.testing.assert_array_equal(S.clip_by_value({"dW": np.array([[7.0, -9.0]])}, 5)["dW"], [[5.0, -5.0]])
    with pytest.raises(ValueError, match="max_norm"):
        S.clip_by_global_norm(g, 0.0)


# --- random sizes (hypothesis) -----------------------------------------------------------------
sizes = st.tuples(st.integers(1, 5), st.integers(1, 6), st.integers(1, 4), st.integers(1, 7))


@pytest.mark.parametrize("cell", S.CELLS)
@settings(max_examples=12, deadline=None)
@given(sizes=sizes, seed=st.integers(0, 2**31 - 1))
def test_layer_parity_for_random_sizes(cell: str, sizes: tuple[int, int, int, int], seed: int) -> None:
    n_x, n_a, m, T_x = sizes
    rng = np.random.default_rng(seed)
    p = S.initialize_parameters(n_x, n_a, 2, cell, rng)
    inputs = {k: p[k] for k in core_names(cell)}
    inputs |= {"x": rng.standard_normal((n_x, m, T_x)), "a0": rng.standard_normal((n_a, m))}
    if cell == "lstm":
        inputs["c0"] = rng.standard_normal((n_a, m))
    states = ["a0", "c0"] if cell == "lstm" else ["a0"]
    for dtype in ("float64", "float32"):
        assert_parity(
            check_forward(
                C.layer_hidden(cell),
                torch_layer(cell, "a", n_x, n_a),
                inputs,
                layouts=layer_layouts(cell),
                output_layout=SEQUENCE,
                dtype=dtype,
            )
        )
        assert_parity(
            check_gradients(
                C.layer_vjp(cell),
                torch_layer(cell, "a", n_x, n_a),
                inputs,
                ["x", *states, *core_names(cell)],
                layouts=layer_layouts(cell),
                output_layout=SEQUENCE,
                dtype=dtype,
                vjp=True,
                seed=seed,
            )
        )


# --- the torch module on every device ------------------------------------------------------------
@pytest.mark.parametrize("cell", S.CELLS)
def test_module_forward_states_and_sampling_on_device(cell: str, device: str, dtype: str) -> None:
    rng = np.random.default_rng(6)
    p = {k: v.astype(dtype) for k, v in _params(cell, rng).items()}
    model = T.SequenceModel.from_scratch(p, cell, device=device)
    x = rng.standard_normal((N_X, M, T_X)).astype(dtype)
    xt = torch.as_tensor(sequence_to_torch(x), device=device)
    hs, _ = model.states(xt)
    with torch.no_grad():
        out, _ = model.rnn(xt)
    assert_close(np.stack([to_numpy(h) for h in hs]), to_numpy(out), level="forward", name="states")
    assert_close(
        S.predict_proba(p, x, cell, last_only=False),
        SEQUENCE.to_course(to_numpy(model.predict_proba(xt))),
        level="forward",
        name="ŷ",
    )
    uniforms = rng.random(40)
    np.testing.assert_array_equal(
        S.sample(p, 1, uniforms.astype(dtype), cell), to_numpy(model.sample(1, torch.as_tensor(uniforms)))
    )
    assert sequence_to_batch_first(x).shape == (M, T_X, N_X) and set(all_names(cell)) == set(p)


@pytest.mark.parametrize("cell", S.CELLS)
def test_cudnn_checks_are_cuda_only_and_their_code_runs(cell: str) -> None:
    """The cuDNN checks run on CUDA alone; their code is exercised here on the CPU, where the
    cuDNN switch does nothing (torch's CPU kernels vs scratch, at the cuDNN tolerance)."""
    from parity_tests.registry import all_checks
    from parity_tests.tolerances import kernel_tolerance

    registered = {c.id: c for c in all_checks(["rnn"])}
    for level in ("forward", "gradient"):
        check = registered[f"rnn-{cell}-cudnn-{level}"]
        assert check.cuda_only and not check.runs_on("cpu") and check.runs_on("cuda")
        result = check.run("cpu", "float32")
        assert_parity(result)
        tol = kernel_tolerance("cudnn-rnn", "float32", level)
        assert result.records and all((r.rtol, r.atol) == (tol.rtol, tol.atol) for r in result.records)
        assert tol.rtol >= 1e-3  # the kernel's own tolerance, not the policy's float32 one


@pytest.mark.parametrize("cell", S.CELLS)
def test_ordinary_checks_leave_cudnn_off_and_restore_it(cell: str) -> None:
    """On CUDA the ordinary checks must run torch's own kernels: the torch function sees
    cuDNN disabled, and the flag comes back afterwards."""
    seen = []
    fn = torch_layer(cell)
    before = torch.backends.cudnn.enabled
    cls = torch.nn.LSTM if cell == "lstm" else torch.nn.RNN
    original = cls.forward

    def spy(self, *args, **kwargs):
        seen.append(torch.backends.cudnn.enabled)
        return original(self, *args, **kwargs)

    cls.forward = spy
    try:
        n_x, n_a, m, T_x = 3, 4, 2, 5
        params = {
            k: torch.as_tensor(v)
            for k, v in S.initialize_parameters(n_x, n_a, 2, cell, np.random.default_rng(0)).items()
            if k in core_names(cell)
        }
        a0 = torch.zeros(1, m, n_a, dtype=torch.float64)
        state = {"a0": a0, "c0": a0} if cell == "lstm" else {"a0": a0}
        fn(torch.zeros(T_x, m, n_x, dtype=torch.float64), **state, **params)
    finally:
        cls.forward = original
    assert seen and not any(seen)
    assert torch.backends.cudnn.enabled is before


@pytest.mark.parametrize("cell", S.CELLS)
def test_the_course_converter_works_wherever_a_spec_does(cell: str) -> None:
    """``SequenceModel.param_spec`` is a Converter: the generic layout functions take it, both
    ways, and hold it to strict keys."""
    from torch_ref.layout import (
        Converter,
        load_scratch_params,
        params_to_state_dict,
        scratch_params,
        state_dict_to_params,
    )

    params = S.initialize_parameters(3, 4, 2, cell, np.random.default_rng(1))
    model = T.SequenceModel(3, 4, 2, cell, dtype=torch.float64)
    assert isinstance(model.param_spec, Converter)
    load_scratch_params(model, params)
    back = scratch_params(model)
    assert sorted(back) == sorted(params)
    for k in params:
        np.testing.assert_array_equal(back[k], params[k])
    sd = params_to_state_dict(params, model.param_spec)
    assert set(sd) == set(model.state_dict())
    with pytest.raises(ValueError, match="missing"):
        state_dict_to_params({k: v for k, v in sd.items() if k != "head.bias"}, model.param_spec)
    with pytest.raises(ValueError, match="params: expected keys"):
        load_scratch_params(model, {k: v for k, v in params.items() if k != "by"})


@pytest.mark.parametrize("cell", S.CELLS)
def test_forward_states_are_read_only_views_so_the_cache_stays_true(cell: str) -> None:
    """The layer returns its states without a copy; changing them in place must not silently
    change what the backward reads, so they are read-only."""
    rng = np.random.default_rng(3)
    p = S.initialize_parameters(3, 4, 2, cell, rng)
    x, a0 = rng.standard_normal((3, 5, 6)), np.zeros((4, 5))
    core = {k: p[k] for k in core_names(cell)}
    states = [S.rnn_forward(x, a0, core)[0]] if cell == "rnn" else list(S.lstm_forward(x, a0, a0, core)[:2])
    for s in states:
        assert s.shape == (4, 5, 6) and not s.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            s[0, 0, 0] = 1.0
        assert s.copy().flags.writeable
