"""``init``: explicit generators and dtypes, distributions on both sides, and symmetry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from parity_tests.compare import assert_parity, group_result
from parity_tests.concepts.init import (
    SHAPE,
    distribution_records,
    hidden_unit_spread,
    scratch_sample,
    symmetry_check,
    symmetry_data,
)
from scratch import init as SI
from scratch import shallow as SS
from torch_ref import init as TI
from torch_ref import shallow as TS
from torch_ref.layout import columns_to_rows, to_tensor


@pytest.mark.parametrize("name", sorted(SI.INITIALIZERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scratch_initializers_draw_in_the_requested_dtype(name, dtype):
    W = SI.INITIALIZERS[name]((4, 3), np.random.default_rng(0), dtype)
    assert W.shape == (4, 3) and W.dtype == dtype
    p = SI.initialize_parameters([3, 4, 2], np.random.default_rng(0), name, dtype)
    assert [k for k in p] == ["W1", "b1", "W2", "b2"]
    assert all(v.dtype == dtype for v in p.values())
    assert not np.any(p["b1"]) and not np.any(p["b2"])


def test_same_generator_state_same_draw_and_no_global_state():
    a = SI.he((5, 4), np.random.default_rng(7))
    np.random.seed(0)  # the global state must not matter
    b = SI.he((5, 4), np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="rng: expected a np.random.Generator"):
        SI.he((5, 4), 7)


def test_notes_default_is_randn_times_0_01():
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    np.testing.assert_array_equal(SI.random_normal((2, 2), rng_a), rng_b.standard_normal((2, 2)) * 0.01)


@pytest.mark.parametrize(
    "bad, error, match",
    [
        ({"initializer": "orthogonal"}, ValueError, "initializer: unknown name 'orthogonal'"),
        ({"dtype": np.float16}, TypeError, "dtype: expected float32 or float64"),
        ({"layer_dims": [3, 0, 1]}, ValueError, r"n\[1\] must be a positive integer"),
        ({"layer_dims": [3]}, ValueError, "expected at least"),
    ],
)
def test_bad_arguments(bad, error, match):
    kw = {
        "layer_dims": [3, 4, 1],
        "rng": np.random.default_rng(0),
        "initializer": "he",
        "dtype": np.float64,
        **bad,
    }
    with pytest.raises(error, match=match):
        SI.initialize_parameters(**kw)
    if "initializer" in bad:
        with pytest.raises(ValueError, match=match):
            TS.ShallowNetwork(3, 4, initializer=bad["initializer"])


@pytest.mark.parametrize("name", ["random", "xavier", "he"])
def test_torch_reset_parameters_is_reproducible_with_a_generator(name):
    nets = [
        TS.ShallowNetwork(3, 4, initializer=name, generator=torch.Generator().manual_seed(1))
        for _ in range(2)
    ]
    torch.testing.assert_close(nets[0].layer1.weight, nets[1].layer1.weight, rtol=0, atol=0)
    nets[0].reset_parameters(torch.Generator().manual_seed(2))
    assert not torch.equal(nets[0].layer1.weight, nets[1].layer1.weight)
    assert torch.count_nonzero(nets[0].layer1.bias) == 0


def test_the_distribution_check_has_power():
    """A He sample drawn with fan-out instead of fan-in (σ 18% too small) fails the check."""
    W = scratch_sample("he", "float64", 1) * np.sqrt(SHAPE[1] / SHAPE[0])
    result = group_result(
        "init",
        "wrong-fan",
        "property",
        "cpu",
        "float64",
        distribution_records("scratch", W, SI.weight_std("he", SHAPE)),
    )
    assert not result.passed
    failed = {r.name for r in result.records if not r.passed}
    assert {"scratch std", "scratch KS D vs N(0, σ²)"} <= failed


@pytest.mark.parametrize("name", ["xavier", "he", "lecun"])
def test_torch_initializers_match_nn_init_formulas(name):
    W = TI.init_weight(SHAPE, name, torch.Generator().manual_seed(0), dtype=torch.float64)
    assert abs(W.std().item() / SI.weight_std(name, SHAPE) - 1) < 0.02


def test_lecun_is_unit_variance_per_fan_in_drawn_in_the_target_dtype():
    """LeCun ``N(0, 1/n[l-1])``: the same draws as the standard normal scaled by ``1/√n[l-1]``,
    in float32 directly (no float64 draw then cast), and regression's MLP uses it."""
    from scratch import regression as SR

    W = SI.lecun((4, 9), np.random.default_rng(3), np.float32)
    ref = np.random.default_rng(3).standard_normal((4, 9), dtype=np.float32) * np.float32(1 / 3)
    np.testing.assert_array_equal(W, ref)
    assert SI.weight_std("lecun", (4, 9)) == pytest.approx(1 / 3)
    p = SR.initialize_mlp([9, 4, 2], np.random.default_rng(3), np.float32)
    np.testing.assert_array_equal(p["W1"], W)
    assert p["W2"].dtype == np.float32


# --- the notes' symmetry point -------------------------------------------------------------
@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_zero_init_keeps_hidden_units_identical_on_both_sides(activation):
    X, Y = symmetry_data(np.random.default_rng(0))
    results = {}
    for init in ("zeros", "random"):
        p0 = SS.initialize_parameters(3, 5, 1, np.random.default_rng(0), init)
        p, costs = SS.train(p0, X, Y, 100, 2.0, activation)
        net = TS.ShallowNetwork(
            3,
            5,
            1,
            activation,
            initializer=init,
            generator=torch.Generator().manual_seed(0),
            dtype=torch.float64,
        )
        TS.train(net, to_tensor(columns_to_rows(X)), to_tensor(columns_to_rows(Y)), 100, 2.0)
        q = net.scratch_params()
        results[init] = (
            hidden_unit_spread(p["W1"], p["b1"], p["W2"]),
            hidden_unit_spread(q["W1"], q["b1"], q["W2"]),
            costs,
        )
    assert results["zeros"][0] <= 1e-12 and results["zeros"][1] <= 1e-12
    assert results["random"][0] > 1e-3 and results["random"][1] > 1e-3
    if activation == "tanh":  # tanh(0) = 0: with zeros only b2 can move, W1 and W2 stay 0
        np.testing.assert_array_equal(
            p0["W1"] * 0,
            SS.train(
                SS.initialize_parameters(3, 5, 1, np.random.default_rng(0), "zeros"), X, Y, 20, 2.0, "tanh"
            )[0]["W1"],
        )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_registered_symmetry_check(dtype):
    assert_parity(symmetry_check("cpu", dtype))
