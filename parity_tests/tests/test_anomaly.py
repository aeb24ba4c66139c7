"""``anomaly`` beyond the registered checks: log space keeps far outliers finite, the vectorized
threshold search equals the course's loop over candidates (tie rule included) on both sides,
torch's ``m − 1`` variance is the trap the parity catches, an independent SciPy computation
agrees on real data, the detectors find malignant cases after training on benign ones, the
torch modules convert and move like every other, and caller mistakes are refused by name.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from parity_tests.compare import assert_close, compare
from parity_tests.concepts.anomaly import BC_HIDDEN, BC_LEARNING_RATE, breast_cancer_split, spd
from parity_tests.tolerances import tolerance
from scratch import anomaly as S
from torch_ref import anomaly as T
from torch_ref.layout import load_scratch_params, state_dict_to_params, to_numpy, to_tensor

BC_TEST_STEPS = 400  # the registered run trains 150 steps


def t(a: np.ndarray, device: str = "cpu", dtype: str | None = None) -> torch.Tensor:
    return to_tensor(a, device, dtype)


# --- densities -------------------------------------------------------------------------------
def test_far_outliers_stay_finite_in_log_space(device: str, dtype: str) -> None:
    """At 10⁴σ, ``p(x)`` underflows to 0 on both sides while ``log p(x) = −½ Σ z² − …`` is finite."""
    mu, var = np.array([1.0, -2.0, 0.5]), np.array([0.5, 2.0, 1.5])
    X = np.vstack([mu, mu + 1e4 * np.sqrt(var)]).astype(dtype)
    mu, var = mu.astype(dtype), var.astype(dtype)
    expected = np.array([0.0, -0.5 * 3 * 1e8]) - 0.5 * np.sum(np.log(2 * np.pi * var.astype(np.float64)))
    s = S.gaussian_log_pdf(X, mu, var)
    r = to_numpy(T.gaussian_log_prob(t(X, device), t(mu, device), t(var, device)))
    for log_p in (s, r):
        assert np.all(np.isfinite(log_p)) and log_p.dtype == np.dtype(dtype)
        assert_close(log_p, expected, dtype=dtype, name="log p")
    assert S.gaussian_pdf(X, mu, var)[1] == 0.0 and np.exp(r[1]) == 0.0


def test_density_is_the_product_of_univariate_normals() -> None:
    rng = np.random.default_rng(1)
    mu, var = rng.normal(size=4), rng.uniform(0.5, 2, 4)
    X = mu + rng.normal(size=(6, 4))
    product = np.prod(np.exp(-((X - mu) ** 2) / (2 * var)) / np.sqrt(2 * np.pi * var), axis=1)
    assert_close(S.gaussian_pdf(X, mu, var), product, name="p")


def test_full_covariance_with_a_diagonal_sigma_is_the_diagonal_model(device: str) -> None:
    rng = np.random.default_rng(2)
    mu, var = rng.normal(size=3), rng.uniform(0.5, 2, 3)
    X = mu + 3 * rng.normal(size=(5, 3))
    diag = S.gaussian_log_pdf(X, mu, var)
    assert_close(S.multivariate_gaussian_log_pdf(X, mu, np.diag(var)), diag, level="gradient")
    full_t = T.multivariate_log_prob(t(X, device), t(mu, device), t(np.diag(var), device))
    assert_close(to_numpy(full_t), diag, level="gradient")


def test_variance_divides_by_m_and_torch_default_is_the_trap() -> None:
    """``σ² = 1/m Σ (x − μ)²`` as ``np.var``; ``torch.var``/``torch.cov`` default to ``m − 1``,
    which the registered estimate check would catch (off by ``m/(m−1)``)."""
    X = np.random.default_rng(3).normal(size=(7, 4))
    mu, var = S.estimate_gaussian(X)
    assert_close(var, np.var(X, axis=0), name="var")
    _, var_t = T.estimate_gaussian(t(X))
    assert_close(to_numpy(var_t), var, name="torch var, correction=0")
    assert not compare("var", var, to_numpy(t(X).var(dim=0)), tolerance("float64", "forward")).passed
    _, Sigma = S.estimate_multivariate_gaussian(X)
    assert_close(np.diag(Sigma), var, name="diag Σ")
    assert not compare("Sigma", Sigma, to_numpy(torch.cov(t(X).T)), tolerance("float64", "forward")).passed


def test_full_log_density_matches_scipy_on_breast_cancer() -> None:
    stats = pytest.importorskip("scipy.stats")
    X_train, X_val, *_ = breast_cancer_split()
    det = S.GaussianDetector("full").fit(X_train)
    ref = stats.multivariate_normal(det.mu_, det.Sigma_).logpdf(X_val)
    assert_close(det.scores(X_val), ref, name="log p vs scipy")


# --- the threshold ---------------------------------------------------------------------------
def exact_loop(scores: np.ndarray, y: np.ndarray, direction: str) -> tuple[float, float]:
    """The exact search as a plain loop (not the course's 1000-step grid: see scratch.anomaly): every
    distinct score in order of increasing flags, keeping a strictly better F1."""
    best_eps, best_f1 = None, -1.0
    for eps in sorted(set(scores.tolist()), reverse=direction == "above"):
        f1 = S.precision_recall_f1(y, S.flag(scores, eps, direction))[2]
        if f1 > best_f1:
            best_eps, best_f1 = eps, f1
    return best_eps, best_f1


@pytest.mark.parametrize("direction", ["below", "above"])
@pytest.mark.parametrize("seed", range(4))
def test_vectorized_threshold_equals_the_exact_loop(direction: str, seed: int, device: str) -> None:
    rng = np.random.default_rng(seed)
    y = (rng.random(50) < 0.3).astype(np.int64)
    y[:2] = (0, 1)
    scores = np.round(rng.normal(size=50) - 1.2 * y * S.DIRECTIONS[direction], 1)  # many ties
    eps, f1 = exact_loop(scores, y, direction)
    s = S.search_threshold(scores, y, direction)
    r = T.search_threshold(t(scores, device), t(y, device), direction)
    assert (s.epsilon, s.f1) == (eps, f1)
    assert (r.epsilon.item(), r.f1) == (eps, f1)
    assert len(s.candidates) == len(set(scores.tolist())) == len(r.candidates)


def test_ties_go_to_the_fewest_flags(device: str) -> None:
    """F1 = 2/3 both with 1 flag (tp 1) and with 4 flags (tp 2): the single flag wins."""
    scores, y = np.arange(1.0, 7.0), np.array([1, 0, 0, 1, 0, 0])
    s = S.search_threshold(scores, y)
    r = T.search_threshold(t(scores, device), t(y, device))
    assert s.f1s[0] == s.f1s[3] == s.f1 == r.f1 == 2 / 3
    assert s.epsilon == r.epsilon.item() == 1.0
    assert S.search_threshold(-scores, y, "above").epsilon == -1.0


def test_a_score_equal_to_epsilon_is_flagged(device: str) -> None:
    scores = np.array([1.0, 2.0, 3.0])
    assert S.flag(scores, 2.0).tolist() == [1, 1, 0] == T.flag(t(scores, device), 2.0).tolist()
    assert S.flag(scores, 2.0, "above").tolist() == [0, 1, 1]


def test_precision_recall_f1_edge_cases(device: str) -> None:
    y = np.array([0, 1, 1, 0])
    for flags, expected in [
        ((0, 0, 0, 0), (0.0, 0.0, 0.0)),
        ((0, 1, 1, 0), (1.0, 1.0, 1.0)),
        ((1, 1, 0, 0), (0.5, 0.5, 0.5)),
    ]:
        assert S.precision_recall_f1(y, np.array(flags)) == expected
        assert T.precision_recall_f1(t(y, device), t(np.array(flags), device)) == expected


# --- real data -------------------------------------------------------------------------------
@pytest.mark.parametrize("covariance_type", ["diagonal", "full"])
def test_gaussian_detector_flags_malignant_cases(covariance_type: str) -> None:
    X_train, X_val, y_val, X_test, y_test = breast_cancer_split()
    det = S.GaussianDetector(covariance_type).fit(X_train).fit_threshold(X_val, y_val)
    precision, recall, f1 = S.precision_recall_f1(y_test, det.predict(X_test))
    flag_all = 2 * y_test.sum() / (len(y_test) + y_test.sum())  # F1 of flagging every case: 0.49
    assert f1 > 0.75 > flag_all and recall > 0.9


def test_autoencoder_training_functions_agree_and_detect(dtype: str) -> None:
    """``AutoencoderDetector.fit`` and ``train_autoencoder`` from the same start: the same costs
    and final parameters (trajectory tolerance at the last step); both find malignant cases."""
    X_train, X_val, y_val, X_test, y_test = (
        a.astype(dtype) if a.dtype.kind == "f" else a for a in breast_cancer_split()
    )
    init = S.initialize_autoencoder(4, BC_HIDDEN, np.random.default_rng(0), np.dtype(dtype))
    det = S.AutoencoderDetector(BC_HIDDEN, learning_rate=BC_LEARNING_RATE, num_iterations=BC_TEST_STEPS).fit(
        X_train, init
    )
    model = T.Autoencoder.from_scratch(init, "tanh")
    costs = T.train_autoencoder(model, t(X_train), BC_TEST_STEPS, BC_LEARNING_RATE)
    last = tolerance(dtype, "trajectory", step=BC_TEST_STEPS - 1)
    assert compare("costs", det.costs_, costs, last).passed
    trained = state_dict_to_params(model.state_dict(), model.param_spec)
    for k, v in det.params_.items():
        assert compare(k, v, trained[k], last).passed, k
    det.fit_threshold(X_val, y_val)
    model.fit_threshold(t(X_val), t(y_val))
    f1_s = S.precision_recall_f1(y_test, det.predict(X_test))[2]
    f1_t = T.precision_recall_f1(t(y_test), model.predict(t(X_test)))[2]
    assert f1_s == f1_t and f1_s > 0.8
    assert det.costs_[-1] < 0.2 * det.costs_[0]


# --- torch modules ---------------------------------------------------------------------------
@pytest.mark.parametrize("covariance_type", ["diagonal", "full"])
def test_gaussian_detector_converts_and_moves(covariance_type: str, device: str, dtype: str) -> None:
    X = np.random.default_rng(4).normal(size=(9, 3)) @ spd(np.random.default_rng(5), 3)
    X = X.astype(dtype)
    s = S.GaussianDetector(covariance_type).fit(X)
    det = T.GaussianDetector(3, covariance_type, device=device, dtype=getattr(torch, dtype))
    assert det.mu.device.type == device and det.mu.dtype == getattr(torch, dtype)
    assert torch.isnan(det.epsilon) and repr(det).endswith(f"covariance_type={covariance_type!r})")
    standard = to_numpy(det(t(X, device)))  # reset_parameters: the standard normal
    assert_close(standard, S.gaussian_log_pdf(X, np.zeros(3, dtype), np.ones(3, dtype)), name="N(0, I)")
    load_scratch_params(det, s.params(), det.param_spec)
    assert_close(to_numpy(det(t(X, device))), s.scores(X), name="log p after loading")
    back = state_dict_to_params(det.state_dict(), det.param_spec)
    assert set(back) == set(s.params()) and all(np.array_equal(back[k], v) for k, v in s.params().items())
    fitted = T.GaussianDetector(3, covariance_type, device=device, dtype=getattr(torch, dtype))
    fitted.fit(t(X, device))
    assert_close(to_numpy(fitted(t(X, device))), s.scores(X), name="log p after fit")


def test_autoencoder_module() -> None:
    params = S.initialize_autoencoder(5, (3, 2, 3), np.random.default_rng(6))
    model = T.Autoencoder.from_scratch(params, "tanh")
    assert tuple(model.layer_dims) == (5, 3, 2, 3, 5) and torch.isnan(model.epsilon)
    X = np.random.default_rng(7).normal(size=(4, 5))
    assert_close(to_numpy(model.score(t(X))), S.reconstruction_error(params, X), name="e(x)")
    J, _ = S.autoencoder_propagate(params, X)
    assert_close(model.loss(t(X)).item(), J, name="J")


# --- bad input -------------------------------------------------------------------------------
X4 = np.random.default_rng(8).normal(size=(10, 4))
Y2 = np.r_[np.zeros(8), np.ones(2)]


@pytest.mark.parametrize("covariance_type", ["diagonal", "full"])
def test_bad_input_is_refused_by_name(covariance_type: str) -> None:
    s = S.GaussianDetector(covariance_type).fit(X4)
    r = T.GaussianDetector(4, covariance_type, dtype=torch.float64).fit(t(X4))
    with pytest.raises(
        ValueError,
        match=r"X: expected shape \(m, n\) = \(\*, 4\), got \(10, 3\); "
        r"the detector was fit on n=4",
    ):
        s.scores(X4[:, :3])
    with pytest.raises(ValueError, match=r"x: expected shape \(m, n\) = \(\*, 4\), got \(10, 3\)"):
        r(t(X4[:, :3]))
    nan = X4.copy()
    nan[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"X: contains NaN or Inf \(first at index \(2, 1\)"):
        S.GaussianDetector(covariance_type).fit(nan)
    with pytest.raises(ValueError, match="x: contains NaN or Inf"):
        T.GaussianDetector(4, covariance_type, dtype=torch.float64).fit(t(nan))
    for fit in (lambda: s.fit_threshold(X4, np.zeros(10)), lambda: r.fit_threshold(t(X4), t(np.zeros(10)))):
        with pytest.raises(ValueError, match=r"y_val: a validation set with one class only \(all 0\)"):
            fit()
    with pytest.raises(ValueError, match=r"labels must be 0 \(normal\) or 1 \(anomaly\), got values \[2"):
        s.fit_threshold(X4, np.r_[Y2[:-1], 2])
    with pytest.raises(ValueError, match=r"y_val: expected labels of shape \(m,\) = \(10,\), got \(9,\)"):
        s.fit_threshold(X4, Y2[:-1])
    with pytest.raises(ValueError, match="call fit_threshold"):
        s.predict(X4)
    with pytest.raises(ValueError, match="call fit_threshold"):
        r.predict(t(X4))


def test_degenerate_covariances_are_refused() -> None:
    constant = X4.copy()
    constant[:, 2] = 1.0
    with pytest.raises(ValueError, match=r"X: features \[2\] are constant"):
        S.estimate_gaussian(constant)
    with pytest.raises(ValueError, match=r"x: features \[2\] are constant"):
        T.GaussianDetector(4, dtype=torch.float64).fit(t(constant))
    with pytest.raises(ValueError, match=r"X: m=4 examples cannot give a full covariance of n=4"):
        S.estimate_multivariate_gaussian(X4[:4])
    with pytest.raises(ValueError, match=r"x: m=4 examples cannot give a full covariance of n=4"):
        T.estimate_multivariate_gaussian(t(X4[:4]))
    with pytest.raises(ValueError, match="Sigma: not positive definite"):  # a zero row in Σ
        S.GaussianDetector("full").fit(constant)
    with pytest.raises(ValueError, match="covariance: not positive definite"):
        T.GaussianDetector(4, "full", dtype=torch.float64).fit(t(constant))
    with pytest.raises(ValueError, match=r"Sigma: expected a symmetric \(n, n\) matrix"):
        S.multivariate_gaussian_log_pdf(X4, np.zeros(4), np.triu(np.ones((4, 4))) + np.eye(4))
    with pytest.raises(ValueError, match=r"mu, var: expected two \(n,\) vectors with var > 0"):
        S.gaussian_log_pdf(X4, np.zeros(4), -np.ones(4))


def test_bad_arguments_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="covariance_type: expected 'diagonal' or 'full', got 'tied'"):
        S.GaussianDetector("tied")
    with pytest.raises(ValueError, match="covariance_type: expected 'diagonal' or 'full', got 'tied'"):
        T.GaussianDetector(4, "tied")
    with pytest.raises(ValueError, match=r"direction: expected one of \['below', 'above'\], got 'up'"):
        S.search_threshold(np.arange(10.0), Y2, "up")
    with pytest.raises(ValueError, match=r"y: expected labels of shape \(m,\) = \(9,\), got \(10,\)"):
        S.search_threshold(np.arange(9.0), Y2)
    with pytest.raises(ValueError, match=r"y: expected labels of shape \(m,\) = \(9,\), got \(10,\)"):
        T.search_threshold(t(np.arange(9.0)), t(Y2))
    with pytest.raises(ValueError, match=r"layer_dims: an autoencoder maps n features back to n"):
        T.Autoencoder([4, 2, 3])
    with pytest.raises(ValueError, match=r"X: expected shape \(m, n\) = \(\*, 5\), got \(10, 4\)"):
        S.autoencoder_propagate(S.initialize_autoencoder(5, (2,), np.random.default_rng(0)), X4)
    with pytest.raises(ValueError, match="AutoencoderDetector: call fit"):
        S.AutoencoderDetector().scores(X4)
    with pytest.raises(TypeError, match="X: dtype float32 differs from the other arguments' float64"):
        S.GaussianDetector().fit(X4).scores(X4.astype(np.float32))
