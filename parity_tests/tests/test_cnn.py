"""``cnn``: the whole configuration grid against torch (the report runs a sub-grid), both forms
against each other, max-pool ties, finite differences of every scratch backward, the digits run
to >= 97% held-out accuracy, and the torch module's production surface."""

from __future__ import annotations

import itertools
from functools import partial

import numpy as np
import pytest
import torch

from parity_tests.api import check_finite_differences
from parity_tests.compare import assert_close, assert_parity
from parity_tests.concepts import cnn as C
from parity_tests.registry import seed_for
from parity_tests.tolerances import MOMENT_SE
from parity_tests.trajectory import check_training
from scratch import cnn as S
from torch_ref import cnn as T
from torch_ref.layout import images_to_course, images_to_torch, params_to_state_dict, state_dict_to_params

CONV_IDS = [C.conv_case("vectorized", *c)[len("conv-vectorized-") :] for c in C.CONV_GRID]
POOL_CASES = list(itertools.product(("vectorized", "loop"), S.POOL_MODES, C.POOL_GRID))


# --- the full grid against torch --------------------------------------------------------------
@pytest.mark.parametrize("config", C.CONV_GRID, ids=CONV_IDS)
def test_conv_grid_matches_torch(config, device: str, dtype: str) -> None:
    forward, gradient, _ = C.conv_checks("vectorized", *config)
    assert_parity([forward(device, dtype), gradient(device, dtype)])


@pytest.mark.parametrize("config", C.CONV_GRID[::5], ids=CONV_IDS[::5])
def test_conv_loop_form_matches_torch(config, device: str) -> None:
    forward, gradient, _ = C.conv_checks("loop", *config)
    assert_parity([forward(device, "float64"), gradient(device, "float64")])


@pytest.mark.parametrize(
    "form, mode, window", POOL_CASES, ids=[f"{a}-{b}-f{f}-s{s}" for a, b, (f, s) in POOL_CASES]
)
def test_pool_grid_matches_torch(form: str, mode: str, window, device: str, dtype: str) -> None:
    forward, gradient, _ = C.pool_checks(form, mode, *window)
    assert_parity([forward(device, dtype), gradient(device, dtype)])


# --- loop form == vectorized form -----------------------------------------------------------
@pytest.mark.parametrize("config", C.CONV_GRID, ids=CONV_IDS)
def test_conv_loop_equals_vectorized(config) -> None:
    f, s, p, c = config
    kw = C.conv_inputs(f, c, np.random.default_rng(seed_for("loop", *map(str, config))))
    Z, cache = S.conv_forward(**kw, stride=s, pad=p)
    Z_loop, cache_loop = S.conv_forward_loop(**kw, stride=s, pad=p)
    assert_close(Z_loop, Z, level="forward", name="Z")
    G = np.random.default_rng(1).standard_normal(Z.shape)
    for name, a, e in zip(
        ("dA_prev", "dW", "db"), S.conv_backward_loop(G, cache_loop), S.conv_backward(G, cache)
    ):
        assert_close(a, e, level="gradient", name=name)


@pytest.mark.parametrize("mode", S.POOL_MODES)
@pytest.mark.parametrize("window", C.POOL_GRID, ids=[f"f{f}-s{s}" for f, s in C.POOL_GRID])
def test_pool_loop_equals_vectorized(mode: str, window) -> None:
    A_prev = C.pool_inputs(True, np.random.default_rng(3))["A_prev"]  # many tied maxima
    A, cache = S.pool_forward(A_prev, *window, mode)
    A_loop, cache_loop = S.pool_forward_loop(A_prev, *window, mode)
    assert_close(A_loop, A, name="A")
    G = np.random.default_rng(4).standard_normal(A.shape)
    assert_close(S.pool_backward_loop(G, cache_loop), S.pool_backward(G, cache), level="gradient")
    # caches are interchangeable: each backward accepts the other form's cache
    assert_close(S.pool_backward(G, cache_loop), S.pool_backward_loop(G, cache), level="gradient")


def test_output_size_floors_when_the_stride_does_not_divide() -> None:
    A_prev = np.zeros((1, 7, 10, 1))
    Z, _ = S.conv_forward(A_prev, np.ones((3, 3, 1, 2)), np.zeros((1, 1, 1, 2)), stride=2)
    assert Z.shape == (1, 3, 4, 2)  # ⌊(7 − 3)/2⌋ + 1 = 3, ⌊(10 − 3)/2⌋ + 1 = 4 (3.5 floored)
    _, cache = S.conv_forward(np.ones((1, 7, 10, 1)), np.ones((3, 3, 1, 2)), np.zeros((1, 1, 1, 2)), 2)
    dA_prev = S.conv_backward(np.ones(Z.shape), cache)[0]
    assert np.all(dA_prev[:, :, 9] == 0) and np.any(dA_prev[:, :, 8] != 0)  # the uncovered column


# --- max-pool ties ---------------------------------------------------------------------------
@pytest.mark.parametrize("form", ["vectorized", "loop"])
@pytest.mark.parametrize("window", [(2, 2), (3, 1), (2, 1), (3, 3)])
def test_max_pool_tie_goes_to_exactly_one_first_maximum(form: str, window, device: str) -> None:
    """Equal values everywhere: each window's gradient lands on its top-left entry only."""
    f, s = window
    forward, backward = S.FORMS[form][2:]
    A_prev = np.full((2, 6, 7, 3), 1.5)
    A, cache = forward(A_prev, f, s, "max")
    G = np.random.default_rng(5).standard_normal(A.shape)
    expected = np.zeros_like(A_prev)
    n_H, n_W = A.shape[1:3]
    expected[:, 0 : s * n_H : s, 0 : s * n_W : s, :] += G  # the first maximum of window (h, w) is (h·s, w·s)
    dA_prev = backward(G, cache)
    assert_close(dA_prev, expected, level="gradient", name="dA_prev")
    assert_close(dA_prev.sum(), G.sum(), level="gradient", name="total gradient")
    x = torch.tensor(images_to_torch(A_prev), device=device, requires_grad=True)
    torch.nn.functional.max_pool2d(x, f, s).backward(torch.tensor(images_to_torch(G), device=device))
    assert_close(dA_prev, images_to_course(x.grad.cpu().numpy()), level="gradient", name="torch's")


def test_create_mask_from_window_marks_one_entry() -> None:
    mask = S.create_mask_from_window(np.array([[2.0, 5.0, 5.0], [5.0, 1.0, 0.0]]))
    assert mask.sum() == 1 and mask[0, 1]


# --- finite differences of every scratch backward (float64) ------------------------------------
FD_CONV = [(3, 2, 1, 2), (2, 1, 0, 1), (5, 3, 2, 2), (1, 2, 1, 2)]


@pytest.mark.parametrize("form", ["vectorized", "loop"])
@pytest.mark.parametrize("config", FD_CONV, ids=[f"f{f}-s{s}-p{p}-c{c}" for f, s, p, c in FD_CONV])
def test_conv_backward_finite_differences(form: str, config) -> None:
    f, s, p, c = config
    hp = {"form": form, "stride": s, "pad": p}
    inputs = C.conv_inputs(f, c, np.random.default_rng(6), shape=(2, 5, 6))
    assert_parity(
        check_finite_differences(
            partial(C.conv_z, **hp), partial(C.conv_grads, **hp), inputs, C.CONV_WRT, seed=7, vjp=True
        )
    )


@pytest.mark.parametrize("form", ["vectorized", "loop"])
@pytest.mark.parametrize("mode", S.POOL_MODES)
@pytest.mark.parametrize("window", [(2, 2), (3, 2), (2, 1), (2, 3)])
def test_pool_backward_finite_differences(form: str, mode: str, window) -> None:
    hp = {"form": form, "f": window[0], "stride": window[1], "mode": mode}
    inputs = C.pool_inputs(False, np.random.default_rng(8), shape=(2, 5, 6, 2))
    assert_parity(
        check_finite_differences(
            partial(C.pool_a, **hp), partial(C.pool_grads, **hp), inputs, ["A_prev"], seed=9, vjp=True
        )
    )


@pytest.mark.parametrize("form", ["vectorized", "loop"])
@pytest.mark.parametrize("mode", S.POOL_MODES)
def test_convnet_finite_differences(form: str, mode: str) -> None:
    config = S.ConvNetConfig(**{**C.NET_FD.to_dict(), "pool_mode": mode})
    inputs = C.net_inputs(config, np.random.default_rng(10))
    assert_parity(
        check_finite_differences(
            partial(C.net_cost, config=config, form=form),
            partial(C.net_grads, config=config, form=form),
            inputs,
            list(C.NET_PARAMS),
        )
    )


@pytest.mark.parametrize("mode", S.POOL_MODES)
def test_convnet_forms_agree(mode: str) -> None:
    inputs = C.net_inputs(C.NETS[mode], np.random.default_rng(11))
    J, grads = C.net_cost(config=C.NETS[mode], **inputs), C.net_grads(config=C.NETS[mode], **inputs)
    J_loop = C.net_cost(config=C.NETS[mode], form="loop", **inputs)
    grads_loop = C.net_grads(config=C.NETS[mode], form="loop", **inputs)
    assert_close(J_loop, J, name="J")
    for k in grads:
        assert_close(grads_loop[k], grads[k], level="gradient", name=k)


# --- the digits ----------------------------------------------------------------------------
def _digits_run(steps: int, dtype: str, device: str = "cpu", config: S.ConvNetConfig = C.DIGITS_CONFIG):
    problem = C.digits_problem(steps, np.random.default_rng(seed_for("cnn", "digits-max")), config)
    return check_training(device=device, dtype=dtype, concept="cnn", case="digits", **problem)


def test_digits_trajectory_reaches_97_percent_held_out() -> None:
    """500 steps of 32 (~11 epochs) on 1,437 training digits: identical trajectories, and both
    sides classify >= 97% of the 360 held-out digits (the report's run is 40 steps; CUDA runs the
    registered one, and the slow float32 test below)."""
    result = _digits_run(500, "float64")
    assert_parity(result)
    acc = result.extra["metrics"]
    assert acc["test_accuracy_scratch"] >= 0.97 and acc["test_accuracy_torch"] >= 0.97, acc
    assert acc["test_accuracy_scratch"] == acc["test_accuracy_torch"], acc


@pytest.mark.slow
def test_digits_trajectory_float32(device: str) -> None:
    """200 float32 steps stay in parity (float32 runs separate eventually: see ``DIGITS_STEPS``)."""
    result = _digits_run(200, "float32", device)
    assert_parity(result)
    assert result.extra["metrics"]["test_accuracy_scratch"] >= 0.9


def test_digits_images_layout() -> None:
    X, labels = C.digits_images()
    assert X.shape == (1797, 8, 8, 1) and labels.shape == (1797,)
    assert X.min() == 0 and X.max() == 1


# --- the torch module ------------------------------------------------------------------------
def test_param_spec_round_trips_and_permutes_flatten_order() -> None:
    config = C.NETS["max"]
    params = S.initialize_convnet(config, np.random.default_rng(12))
    params["W3"] = np.arange(params["W3"].size, dtype=float).reshape(params["W3"].shape)
    spec = T.param_spec(config.flat_shape)
    sd = params_to_state_dict(params, spec)
    back = state_dict_to_params(sd, spec)
    assert all(np.array_equal(back[k], params[k]) for k in params)
    n_H, n_W, n_C = config.flat_shape  # (1, 2, 4): course column (h, w, c) is torch's c·n_H·n_W + h·n_W + w
    h, w, c = 0, 1, 3
    assert sd["fc.weight"][2, c * n_H * n_W + h * n_W + w] == params["W3"][2, (h * n_W + w) * n_C + c]


def test_convnet_module_surface() -> None:
    net = T.ConvNet(
        (7, 9, 2),
        (3, 4),
        n_y=5,
        pool_mode="avg",
        generator=torch.Generator().manual_seed(0),
        dtype=torch.float64,
    )
    assert "pool_mode='avg'" in repr(net) and "channels=(3, 4)" in repr(net)
    assert net.conv1.weight.dtype == torch.float64 and net.flat_shape == (1, 2, 4)
    assert all(torch.all(b == 0) for b in (net.conv1.bias, net.conv2.bias, net.fc.bias))
    meta = T.ConvNet((7, 9, 2), (3, 4), n_y=5, device="meta")
    assert meta.fc.weight.device.type == "meta"
    x = torch.zeros(4, 2, 7, 9, dtype=torch.float64)
    assert net.predict(x).shape == (4,) and net.predict_proba(x).sum(dim=1).allclose(
        torch.ones(4, dtype=torch.float64)
    )


def test_he_initialization_std() -> None:
    """Both sides draw the filters with the fan-in ``f·f·n_C_prev`` of ``nn.init.kaiming_normal_``."""
    config = S.ConvNetConfig(input_shape=(8, 8, 1), channels=(64, 128))
    W2 = S.initialize_convnet(config, np.random.default_rng(13))["W2"]
    net = T.ConvNet.from_config(config, generator=torch.Generator().manual_seed(13))
    expected = np.sqrt(2 / (3 * 3 * 64))
    n = W2.size  # 73,728 draws: the standard error of a std is σ/√(2n) ≈ 0.26%
    for std in (W2.std(), net.conv2.weight.detach().std().item()):
        assert abs(std / expected - 1) < MOMENT_SE / np.sqrt(2 * n)
