"""``regression`` beyond the generic registry checks: linear regression trained by gradient
descent reaches the closed-form least-squares optimum (both sides), the MLP regressor's public
training functions agree step by step on real data and beat predicting the mean, parameters
round-trip between NumPy and torch, and caller mistakes are refused with clear errors.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from parity_tests.compare import assert_close, assert_parity, compare, group_result
from parity_tests.concepts.regression import DIABETES_MLP_DIMS
from parity_tests.datasets import diabetes
from parity_tests.tolerances import tolerance
from scratch import regression as S
from torch_ref import regression as T
from torch_ref.layout import COLUMNS, params_to_state_dict, to_numpy, to_tensor

EPS = np.finfo(np.float64).eps


def synthetic(rng: np.random.Generator, n_x: int = 3, n_y: int = 2, m: int = 40):
    """Noisy data from a random affine map with two outputs (distinct sizes 3, 2, 40)."""
    X = rng.standard_normal((n_x, m))
    W, b = rng.standard_normal((n_y, n_x)), rng.standard_normal((n_y, 1))
    Y = W @ X + b + 0.3 * rng.standard_normal((n_y, m))
    return X, Y


def problem(name: str):
    if name == "diabetes":
        return diabetes()
    return synthetic(np.random.default_rng(7))


def train_test_split(X: np.ndarray, Y: np.ndarray, rng: np.random.Generator, test: float = 0.2):
    """Columns shuffled by ``rng``; the last ``test`` fraction is held out."""
    idx = rng.permutation(X.shape[1])
    n_test = round(test * X.shape[1])
    tr, te = idx[:-n_test], idx[-n_test:]
    return X[:, tr], Y[:, tr], X[:, te], Y[:, te]


def theta_distance(params: dict[str, np.ndarray], optimum: dict[str, np.ndarray]) -> float:
    """``||Θ − Θ*||_F`` over ``Θ = [W b]``."""
    return float(np.sqrt(sum(np.sum((params[k] - optimum[k]) ** 2) for k in ("W", "b"))))


# --- the closed form itself ------------------------------------------------------------------
@pytest.mark.parametrize("data", ["diabetes", "synthetic"])
def test_least_squares_matches_scikit_learn(data: str) -> None:
    """``least_squares`` (lstsq on ``[X; 1]``) agrees with an independent solver."""
    linear_model = pytest.importorskip("sklearn.linear_model")
    X, Y = problem(data)
    ours = S.least_squares(X, Y)
    ref = linear_model.LinearRegression().fit(COLUMNS.to_torch(X), COLUMNS.to_torch(Y))
    W_ref = ref.coef_.reshape(ours["W"].shape)  # sklearn's coef_ (n_y, n_x) is W
    b_ref = ref.intercept_.reshape(ours["b"].shape)
    # two float64 solvers of the normal equations: one reduction more than a forward pass
    assert_close(ours["W"], W_ref, level="gradient", name="W")
    assert_close(ours["b"], b_ref, level="gradient", name="b")
    # and its gradient (the normal equations' residual) vanishes
    _, grads = S.linear_propagate(ours, X, Y)
    assert S.gradient_norm(grads) < 1e-12


def test_least_squares_recovers_an_exact_affine_map() -> None:
    rng = np.random.default_rng(3)
    W, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 1))
    X = rng.standard_normal((3, 10))
    fit = S.least_squares(X, W @ X + b)
    assert_close(fit["W"], W, name="W")
    assert_close(fit["b"], b, name="b")


# --- gradient descent reaches the closed form ------------------------------------------------
GRAD_TOL = 1e-8
MAX_ITERATIONS = 20_000
LEARNING_RATE = {"diabetes": 0.4, "synthetic": 0.3}


def train_to_tolerance(side: str, X: np.ndarray, Y: np.ndarray, lr: float) -> tuple[dict, int]:
    """Gradient descent from zeros until ``||∇J|| <= GRAD_TOL``; returns params and iterations."""
    n_x, n_y = X.shape[0], Y.shape[0]
    if side == "scratch":
        params, costs = S.train_linear(
            S.initialize_linear(n_x, n_y), X, Y, MAX_ITERATIONS, lr, grad_tol=GRAD_TOL
        )
        return params, len(costs)
    model = T.LinearRegression(n_x, n_y, dtype=torch.float64)
    costs = T.train(
        model,
        to_tensor(COLUMNS.to_torch(X)),
        to_tensor(COLUMNS.to_torch(Y)),
        MAX_ITERATIONS,
        lr,
        grad_tol=GRAD_TOL,
    )
    return model.scratch_params(), len(costs)


@pytest.mark.parametrize("side", ["scratch", "torch"])
@pytest.mark.parametrize("data", ["diabetes", "synthetic"])
def test_gradient_descent_converges_to_least_squares(data: str, side: str) -> None:
    """Where GD stops, ``||Θ − Θ*|| <= ||∇J(Θ)|| / λ_min(H)`` — the tolerance, derived.

    ``J(Θ) = 1/(2m) ||Θ X̃ − Y||²`` with ``X̃ = [X; 1]`` is quadratic with Hessian (per output
    row) ``H = 1/m X̃ X̃ᵀ``, so ``∇J(Θ) = (Θ − Θ*) H`` exactly and
    ``||∇J|| >= λ_min(H) ||Θ − Θ*||``. Stopping at ``||∇J|| <= ε = 1e-8`` therefore proves
    ``||Θ − Θ*|| <= ε / λ_min(H)`` (diabetes: λ_min ≈ 0.0086, so ≈ 1.2e-6 against
    ``||Θ*|| ≈ 0.9``). ``λ_min(H) = σ_min(X̃)² / m`` from the singular values. The only other
    error is rounding in ``Θ*`` and in the computed gradient: least squares loses about
    ``κ(H) ε_mach`` relative, so the slack ``1e3 · κ(H) · ε_mach · (1 + ||Θ*||)`` (≈ 1e-10 on
    diabetes) covers it with room and is 4 orders below the bound.
    This is a per-problem tolerance derived from the stopping rule, not a parity level, so it
    lives here rather than in ``tolerances.py``.
    """
    X, Y = problem(data)
    m = X.shape[1]
    optimum = S.least_squares(X, Y)
    sigma = np.linalg.svd(np.vstack([X, np.ones((1, m))]), compute_uv=False)
    lam_min, lam_max = sigma[-1] ** 2 / m, sigma[0] ** 2 / m
    lr = LEARNING_RATE[data]
    assert lr < 2 / lam_max, "the learning rate must be below 2/λ_max for GD to converge"

    params, iterations = train_to_tolerance(side, X, Y, lr)

    assert iterations < MAX_ITERATIONS, f"the stopping rule never fired in {MAX_ITERATIONS} steps"
    _, grads = S.linear_propagate(params, X, Y)
    g = S.gradient_norm(grads)  # recomputed in NumPy for either side's parameters
    assert g <= 1.01 * GRAD_TOL, f"stopped with ||∇J|| = {g:.3g} > {GRAD_TOL}"
    theta_norm = theta_distance(optimum, {k: np.zeros_like(v) for k, v in optimum.items()})
    bound = g / lam_min + 1e3 * (lam_max / lam_min) * EPS * (1 + theta_norm)
    distance = theta_distance(params, optimum)
    assert distance <= bound, (
        f"{side} GD on {data} stopped {distance:.3g} from the least-squares optimum, more than "
        f"the bound ||∇J||/λ_min = {g:.3g}/{lam_min:.3g} (+ rounding) = {bound:.3g}"
    )
    assert bound < 1e-4 * theta_norm  # the bound is tight enough to mean something


# --- the MLP regressor on real data ----------------------------------------------------------
MLP_STEPS, MLP_LR = 400, 0.1


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_mlp_on_diabetes_identical_trajectories_and_beats_the_mean(
    dtype: str, record_property: pytest.RecordProperty
) -> None:
    """``train_mlp`` and ``torch_ref.regression.train`` from the same weights: same cost at
    every step, same final weights; both predict held-out patients better than the mean."""
    np_dtype = np.dtype(dtype)
    X, Y = (a.astype(np_dtype) for a in diabetes())
    X_tr, Y_tr, X_te, Y_te = train_test_split(X, Y, np.random.default_rng(0))
    init = S.initialize_mlp(DIABETES_MLP_DIMS, np.random.default_rng(1), dtype=np_dtype)

    params, costs = S.train_mlp(init, X_tr, Y_tr, MLP_STEPS, MLP_LR, activation="tanh")
    model = T.MLPRegressor.from_scratch(init, "tanh")
    torch_costs = T.train(
        model, to_tensor(COLUMNS.to_torch(X_tr)), to_tensor(COLUMNS.to_torch(Y_tr)), MLP_STEPS, MLP_LR
    )

    assert len(costs) == len(torch_costs) == MLP_STEPS
    last = MLP_STEPS - 1
    records = [
        compare(
            "loss",
            np.array(costs),
            np.array(torch_costs),
            tolerance(dtype, "trajectory", step=last),
            step=last,
        )
    ]
    torch_params = model.scratch_params()
    records += [
        compare(k, params[k], torch_params[k], tolerance(dtype, "trajectory", step=last), step=last)
        for k in params
    ]
    assert_parity(group_result("regression", "diabetes-mlp-train", "trajectory", "cpu", dtype, records))

    baseline = S.rmse(np.full_like(Y_te, Y_tr.mean()), Y_te)  # predict the training mean
    rmse_scratch = S.rmse(S.predict(params, X_te, "tanh"), Y_te)
    with torch.no_grad():
        y_torch = COLUMNS.to_course(to_numpy(model(to_tensor(COLUMNS.to_torch(X_te)))))
    rmse_torch = S.rmse(y_torch, Y_te)
    record_property("rmse_mean_baseline", baseline)
    record_property("rmse_scratch", rmse_scratch)
    record_property("rmse_torch", rmse_torch)
    print(
        f"diabetes test RMSE ({dtype}, in standard deviations of y): mean {baseline:.3f}, "
        f"scratch MLP {rmse_scratch:.3f}, torch MLP {rmse_torch:.3f}"
    )
    assert costs[-1] < 0.5 * costs[0]  # it learned
    # better than the mean by a clear margin (the linear model reaches ≈ 0.7 here)
    assert rmse_scratch < 0.85 * baseline
    assert rmse_torch < 0.85 * baseline
    assert_close(rmse_scratch, rmse_torch, level="trajectory", dtype=dtype, step=last, name="RMSE")


# --- converters ------------------------------------------------------------------------------
def _predict_torch(model: torch.nn.Module, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return COLUMNS.to_course(to_numpy(model(to_tensor(COLUMNS.to_torch(X)))))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["linear", "mlp-relu"])
def test_trained_in_numpy_loads_into_torch_and_back(kind: str, dtype: str) -> None:
    np_dtype = np.dtype(dtype)
    X, Y = (a.astype(np_dtype) for a in diabetes())
    if kind == "linear":
        params, _ = S.train_linear(S.initialize_linear(10, dtype=np_dtype), X, Y, 50, 0.3)
        model = T.LinearRegression.from_scratch(params)
    else:
        init = S.initialize_mlp([10, 8, 1], np.random.default_rng(2), dtype=np_dtype)
        params, _ = S.train_mlp(init, X, Y, 50, 0.1, activation="relu")
        model = T.MLPRegressor.from_scratch(params, "relu")
    assert next(model.parameters()).dtype == getattr(torch, dtype)
    # the state_dict built by the converter is the model's, exactly
    sd = params_to_state_dict(params, model.param_spec)
    assert sd.keys() == model.state_dict().keys()
    assert all(torch.equal(sd[k], model.state_dict()[k]) for k in sd)
    # both predict the same
    Y_hat = S.predict(params, X, "relu")
    assert_parity(
        group_result(
            "regression",
            f"{kind}-numpy-to-torch",
            "forward",
            "cpu",
            dtype,
            [compare("Y_hat", Y_hat, _predict_torch(model, X), tolerance(dtype, "forward"))],
        )
    )
    # and back: bit-identical parameters
    back = model.scratch_params()
    assert back.keys() == params.keys()
    for k in params:
        assert back[k].dtype == params[k].dtype and np.array_equal(back[k], params[k]), k


@pytest.mark.parametrize("kind", ["linear", "mlp-tanh"])
def test_trained_in_torch_loads_into_numpy(kind: str) -> None:
    X, Y = diabetes()
    Xt, Yt = to_tensor(COLUMNS.to_torch(X)), to_tensor(COLUMNS.to_torch(Y))
    if kind == "linear":
        model = T.LinearRegression(10, dtype=torch.float64)
    else:
        model = T.MLPRegressor(
            [10, 6, 4, 1], "tanh", dtype=torch.float64, generator=torch.Generator().manual_seed(0)
        )
    T.train(model, Xt, Yt, 50, 0.1)
    params = model.scratch_params()
    record = compare(
        "Y_hat", S.predict(params, X, "tanh"), _predict_torch(model, X), tolerance("float64", "forward")
    )
    assert_parity(group_result("regression", f"{kind}-torch-to-numpy", "forward", "cpu", "float64", [record]))
    sd = params_to_state_dict(params, model.param_spec)
    assert all(torch.equal(sd[k], v) for k, v in model.state_dict().items())


def test_from_scratch_refuses_a_wrongly_shaped_parameter() -> None:
    params = S.initialize_mlp([3, 4, 2], np.random.default_rng(0))
    params["b1"] = np.zeros((3, 1))  # n[1] = 4
    with pytest.raises(ValueError, match=r"b1"):
        T.MLPRegressor.from_scratch(params)


# --- bad input -------------------------------------------------------------------------------
@pytest.fixture
def toy():
    rng = np.random.default_rng(0)
    X, Y = synthetic(rng, n_x=3, n_y=2, m=6)
    return X, Y, S.initialize_linear(3, 2), S.initialize_mlp([3, 4, 2], rng)


def test_mismatched_number_of_examples(toy) -> None:
    X, Y, lin, mlp = toy
    with pytest.raises(ValueError, match=r"Y: has 5 examples .* X has 6"):
        S.linear_propagate(lin, X, Y[:, :5])
    with pytest.raises(ValueError, match=r"Y: has 5 examples .* X has 6"):
        S.train_mlp(mlp, X, Y[:, :5], 3, 0.1)
    with pytest.raises(ValueError, match=r"Y: expected shape \(m, n_y\) = \(6, 2\), got \(5, 2\)"):
        T.train(T.LinearRegression(3, 2), torch.zeros(6, 3), torch.zeros(5, 2), 3, 0.1)


def test_wrong_shapes(toy) -> None:
    X, Y, lin, mlp = toy
    batch_first = r"X: expected shape \(n_x, m\) = \(3, \*\), got \(6, 3\).*batch-first"
    with pytest.raises(ValueError, match=batch_first):
        S.linear_propagate(lin, COLUMNS.to_torch(X), Y)
    with pytest.raises(ValueError, match=r"W\[1\] has shape \(4, 3\) but A\[0\] \(X\) has 2 rows"):
        S.mlp_forward(mlp, X[:2])
    with pytest.raises(ValueError, match=r"Y: expected shape \(n_y, m\) = \(2, \*\), got \(6,\).*1-D"):
        S.linear_propagate(lin, X, Y[0])
    with pytest.raises(ValueError, match=r"Y: expected shape \(n\[L\], m\) = \(2, 6\), got \(1, 6\)"):
        S.mlp_propagate(mlp, X, Y[:1])
    with pytest.raises(ValueError, match=r"b\[2\]: expected shape"):
        S.mlp_forward({**mlp, "b2": np.zeros((3, 1))}, X)
    with pytest.raises(
        ValueError, match=r"params: expected keys \['W1', 'b1', 'W2', 'b2'\], got \['W1', 'W2', 'b1'\]"
    ):
        S.mlp_forward({k: v for k, v in mlp.items() if k != "b2"}, X)
    with pytest.raises(ValueError, match=r"params: expected keys \['W', 'b'\]"):
        S.linear_propagate(mlp, X, Y)
    with pytest.raises(TypeError, match=r"X: dtype float32 differs"):
        S.linear_propagate(lin, X.astype(np.float32), Y)
    with pytest.raises(ValueError, match=r"X: contains NaN or Inf"):
        S.linear_propagate(lin, np.where(X > 1, np.nan, X), Y)
    with pytest.raises(ValueError, match=r"activation: unknown name 'softplus'"):
        S.mlp_forward(mlp, X, "softplus")
    with pytest.raises(ValueError, match=r"layer_dims: .* at least one hidden layer"):
        S.initialize_mlp([3, 2], np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"layer_dims: .* at least one hidden layer"):
        T.MLPRegressor([3, 0, 2])
    with pytest.raises(ValueError, match=r"X: expected shape \(m, n_x\) = \(\*, 3\), got \(3, 6\)"):
        T.train(T.MLPRegressor([3, 4, 2]), torch.zeros(3, 6), torch.zeros(6, 2), 3, 0.1)


@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), float("inf")])
def test_non_positive_learning_rate(toy, lr: float) -> None:
    X, Y, lin, mlp = toy
    with pytest.raises(ValueError, match=r"learning_rate: expected a positive finite number"):
        S.train_linear(lin, X, Y, 3, lr)
    with pytest.raises(ValueError, match=r"learning_rate: expected a positive finite number"):
        S.train_mlp(mlp, X, Y, 3, lr)
    with pytest.raises(ValueError, match=r"learning_rate: expected a positive finite number"):
        T.train(T.LinearRegression(3, 2), torch.zeros(6, 3), torch.zeros(6, 2), 3, lr)


def _failing_iteration(train, num_iterations: int) -> int:
    with pytest.raises(FloatingPointError, match=r"at iteration \d+ \(learning_rate=") as info:
        train(num_iterations)
    return int(re.search(r"at iteration (\d+)", str(info.value)).group(1))


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_diverging_training_stops_with_an_error_naming_the_step(kind: str) -> None:
    """A learning rate far above ``2/λ_max`` makes the cost overflow; both sides stop at the
    same iteration, and the iterations before it still run without an error."""
    X, Y = diabetes()
    Xt, Yt = to_tensor(COLUMNS.to_torch(X)), to_tensor(COLUMNS.to_torch(Y))
    lr = 5.0
    if kind == "linear":

        def scratch_train(n):
            return S.train_linear(S.initialize_linear(10), X, Y, n, lr)

        def torch_train(n):
            return T.train(T.LinearRegression(10, dtype=torch.float64), Xt, Yt, n, lr)
    else:
        init = S.initialize_mlp([10, 8, 1], np.random.default_rng(0))

        def scratch_train(n):
            return S.train_mlp(init, X, Y, n, lr, activation="relu")

        def torch_train(n):
            return T.train(T.MLPRegressor.from_scratch(init, "relu"), Xt, Yt, n, lr)

    step = _failing_iteration(scratch_train, 2000)
    assert step > 0
    assert len(scratch_train(step)[1]) == step  # no error before the named iteration
    assert _failing_iteration(torch_train, 2000) == step
    assert len(torch_train(step)) == step
