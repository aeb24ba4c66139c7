"""``kmeans``: seeding, the tie and empty-cluster rules, the stopping rule, the estimator and
module APIs, bad input on both sides, ARI against scikit-learn, and that the registered checks
fail when the scratch side is broken. (The parity itself is in the registered checks.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from parity_tests.compare import assert_close, assert_parity, group_result
from parity_tests.concepts import kmeans as C
from parity_tests.registry import _REGISTRY
from parity_tests.tolerances import tolerance
from scratch import kmeans as S
from torch_ref import kmeans as T
from torch_ref.layout import params_to_state_dict, state_dict_to_params, to_numpy, to_tensor

X_SMALL = np.array([[0.0, 0.0], [0.0, 1.0], [9.0, 9.0], [9.0, 8.0], [0.5, 0.0]])


def torch_of(X: np.ndarray, device: str = "cpu") -> torch.Tensor:
    return to_tensor(X, device, X.dtype)


# --- seeding ----------------------------------------------------------------------------------
def test_kmeans_plusplus_follows_the_prefix_sum_rule(device: str) -> None:
    X = np.array([[0.0], [1.0], [3.0], [0.0]])  # row 3 duplicates row 0: weight 0 once 0 is chosen
    # first: ⌊0.1 · 4⌋ = 0; D² = [0, 1, 9, 0], prefix sums [0, 1, 10, 10]
    for u1, expected in ((0.0, 1), (0.0999, 1), (0.1, 2), (0.99, 2)):  # u1 · 10 vs the sums
        for idx in (
            S.kmeans_plusplus(X, 2, [0.1, u1])[1],
            to_numpy(T.kmeans_plusplus(torch_of(X, device), 2, [0.1, u1])[1]),
        ):
            assert idx.tolist() == [0, expected], (u1, idx)


def test_seeding_never_draws_a_zero_weight_example_and_refuses_too_few_distinct() -> None:
    X = np.array([[1.0, 2.0]] * 4 + [[5.0, 5.0]])
    for u in np.linspace(0, 0.999, 7):
        assert S.kmeans_plusplus(X, 2, [0.3, u])[1].tolist() == [1, 4]
        assert T.kmeans_plusplus(torch_of(X), 2, [0.3, u])[1].tolist() == [1, 4]
    with pytest.raises(ValueError, match="X: has only 2 distinct examples, fewer than k=3"):
        S.kmeans_plusplus(X, 3, [0.3, 0.5, 0.5])
    with pytest.raises(ValueError, match="X: has only 2 distinct examples, fewer than k=3"):
        T.kmeans_plusplus(torch_of(X), 3, [0.3, 0.5, 0.5])


def test_random_init_takes_the_k_smallest_uniforms() -> None:
    u = np.array([0.9, 0.2, 0.5, 0.1, 0.7])
    assert S.random_init(X_SMALL, 3, u)[1].tolist() == [3, 1, 2]
    assert T.random_init(torch_of(X_SMALL), 3, u)[1].tolist() == [3, 1, 2]


# --- the two steps: ties and empty clusters ---------------------------------------------------
def test_rounding_ties_go_to_the_lowest_index_on_both_sides(device: str) -> None:
    X, C0 = np.array([[0.3]]), np.array([[0.5], [0.1]])  # 0.3 is midway in real arithmetic
    assert np.argmin(np.abs(X - C0.T)) == 1  # rounding makes 0.1 look closer: 0.19999… < 0.2
    assert S.assign(X, C0)[0].tolist() == [0]
    assert T.assign(torch_of(X, device), torch_of(C0, device))[0].tolist() == [0]
    assert S.lloyd(X, C0, max_iter=1).history[0].ties == 1


def test_an_empty_cluster_keeps_its_centroid(device: str) -> None:
    X, C0 = X_SMALL, np.array([[0.0, 0.0], [100.0, 100.0], [9.0, 9.0]])
    labels, _ = S.assign(X, C0)
    new, sizes = S.update(X, labels, C0)
    labels_t, _ = T.assign(torch_of(X, device), torch_of(C0, device))
    new_t, sizes_t = T.update(torch_of(X, device), labels_t, torch_of(C0, device))
    assert sizes.tolist() == to_numpy(sizes_t).tolist() == [3, 0, 2]
    assert new[1].tolist() == to_numpy(new_t)[1].tolist() == [100.0, 100.0]


# --- Lloyd ------------------------------------------------------------------------------------
def test_lloyd_stops_on_unchanged_labels_on_tol_and_on_max_iter() -> None:
    pytest.importorskip("sklearn")
    X, y = C.iris()
    C0 = S.kmeans_plusplus(X, 3, [0.5, 0.2, 0.8])[0]
    full = S.lloyd(X, C0, tol=0.0)
    assert np.array_equal(full.history[-1].labels, full.history[-2].labels)  # strict convergence
    assert np.array_equal(full.labels, full.history[-1].labels)
    assert S.lloyd(X, C0, tol=1e6).n_iter == 1  # any shift is below a huge tolerance
    assert S.lloyd(X, C0, max_iter=2, tol=0.0).n_iter == 2
    costs = [h.cost for h in full.history]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(costs, costs[1:]))  # J never increases
    assert full.inertia == pytest.approx(S.inertia(X, full.centroids), rel=1e-12)
    assert full.inertia <= costs[-1] * (1 + 1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_outputs_keep_the_data_dtype(dtype: str, device: str) -> None:
    X = X_SMALL.astype(dtype)
    km = S.KMeans(k=2).fit(X, u=[0.1, 0.5])
    assert km.cluster_centers_.dtype == X.dtype and km.history_[0].centroids.dtype == X.dtype
    module = T.KMeans(2, 2, device=device, dtype=getattr(torch, dtype)).fit(torch_of(X, device), u=[0.1, 0.5])
    assert module.centroids.dtype == getattr(torch, dtype) and module.centroids.device.type == device
    assert_close(to_numpy(module.centroids), km.cluster_centers_, dtype=dtype)
    assert module(torch_of(X, device)).tolist() == km.predict(X).tolist() == km.labels_.tolist()


def test_raw_iris_with_a_tie_agrees_on_both_sides() -> None:
    """Unstandardized iris (decimals) has an exact tie at the first iteration."""
    load_iris = pytest.importorskip("sklearn.datasets").load_iris

    X = load_iris().data
    u = np.random.default_rng(0).random(3)
    C0, s_idx = S.kmeans_plusplus(X, 3, u)
    s_res = S.lloyd(X, C0)
    C0t, t_idx = T.kmeans_plusplus(torch_of(X), 3, u)
    t_res = T.lloyd(torch_of(X), C0t)
    assert s_res.history[0].ties == 1
    records, _ = C.compare_lloyd(s_idx, s_res, to_numpy(t_idx), t_res, tolerance("float64", "forward"))
    assert_parity(group_result("kmeans", "raw-iris", "trajectory", "cpu", "float64", records))


def test_adjusted_rand_index_equals_scikit_learns() -> None:
    adjusted_rand_score = pytest.importorskip("sklearn.metrics").adjusted_rand_score

    rng = np.random.default_rng(5)
    for _ in range(5):
        a, b = rng.integers(4, size=60), rng.integers(3, size=60)
        assert S.adjusted_rand_index(a, b) == pytest.approx(adjusted_rand_score(a, b), abs=1e-12)
    assert S.adjusted_rand_index([0, 0, 1, 2], [5, 5, 3, 1]) == 1.0  # same partition, renamed


# --- the module -------------------------------------------------------------------------------
def test_module_state_dict_round_trips_through_scratch(device: str) -> None:
    centroids = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])
    module = T.KMeans.from_scratch(centroids, device=device)
    assert module.centroids.device.type == device and module.centroids.dtype == torch.float64
    assert np.array_equal(state_dict_to_params(module.state_dict(), T.PARAM_SPEC)["centroids"], centroids)
    clone = T.KMeans(2, 3, device=device, dtype=torch.float64)
    assert not clone.centroids.any()  # reset_parameters: zeros until fit
    clone.load_state_dict(params_to_state_dict({"centroids": centroids}, T.PARAM_SPEC))
    x = torch.tensor([[0.0, 0.9, 2.2], [2.5, 4.0, 5.0]], device=device, dtype=torch.float64)
    assert clone(x).tolist() == module(x).tolist() == [0, 1]
    assert "k=2, n_features=3, init='k-means++'" in repr(module)


def test_module_draws_its_uniforms_from_its_generator() -> None:
    X = torch_of(np.random.default_rng(0).standard_normal((30, 2)))
    fit = [T.KMeans(3, 2, generator=torch.Generator().manual_seed(7)).fit(X) for _ in range(2)]
    assert torch.equal(fit[0].seed_indices_, fit[1].seed_indices_)
    assert torch.equal(fit[0].centroids, fit[1].centroids)


def test_module_exports() -> None:
    module = T.KMeans.from_scratch(np.array([[0.0, 1.0], [5.0, 5.0], [9.0, 0.0]]))
    x = torch.tensor([[0.1, 0.9], [8.0, 1.0], [5.0, 4.0], [4.0, 4.0]], dtype=torch.float64)
    exported = torch.export.export(module, (x,)).module()
    assert torch.equal(exported(x), module(x))


# --- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [0, -1, 6, 2.5, True])
def test_k_outside_1_to_m_is_refused(k) -> None:
    with pytest.raises(ValueError, match=r"k: expected an integer with 1 <= k <= m = 5"):
        S.KMeans(k).fit(X_SMALL)
    with pytest.raises(ValueError, match=r"k: expected .*1 <= k <= m = 5|k: expected a positive integer"):
        T.KMeans(k, 2).fit(torch_of(X_SMALL))


def test_bad_data_is_named_on_both_sides() -> None:
    bad = X_SMALL.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"X: contains NaN or Inf \(first at index \(2, 1\)"):
        S.KMeans(2).fit(bad)
    with pytest.raises(ValueError, match="X: contains NaN or Inf"):
        T.KMeans(2, 2).fit(torch_of(bad))
    with pytest.raises(
        ValueError,
        match=r"centroids: expected \(k, n\) = \(\*, 2\) to match X of "
        r"shape \(5, 2\), got \(2, 3\)",
    ):
        S.assign(X_SMALL, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"centroids: expected \(k, n\) = \(\*, 2\)"):
        T.assign(torch_of(X_SMALL), torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"X: expected examples as rows \(m, 3\), got shape \(5, 2\)"):
        T.KMeans(2, 3)(torch_of(X_SMALL))
    with pytest.raises(ValueError, match=r"u: expected 2 uniform numbers in \[0, 1\)"):
        S.kmeans_plusplus(X_SMALL, 2, [0.5, 1.0])
    with pytest.raises(ValueError, match=r"u: expected 5 uniform numbers in \[0, 1\)"):
        T.random_init(torch_of(X_SMALL), 2, [0.5, 0.1])
    with pytest.raises(ValueError, match=r"labels: expected 5 integers in \[0, 2\)"):
        S.update(X_SMALL, np.array([0, 1, 2, 0, 1]), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"init: expected 'k-means\+\+' or 'random'"):
        S.KMeans(2, init="forgy")
    with pytest.raises(TypeError, match="X: expected a floating tensor"):
        T.assign(torch.ones(3, 2, dtype=torch.int64), torch.ones(2, 2))


# --- the registered checks detect a broken scratch side ---------------------------------------
def _highest_index_wins(X64, C64):
    labels, d, ties = ORIGINAL_ASSIGN(X64, C64[::-1])
    return C64.shape[0] - 1 - labels, d, ties


def _empty_cluster_moves_to_origin(X64, labels, C64):
    C_new, counts = ORIGINAL_UPDATE(X64, labels, C64)
    return np.where(counts[:, None] > 0, C_new, 0.0), counts


ORIGINAL_ASSIGN, ORIGINAL_UPDATE = S._assign, S._update
MUTANTS = [  # (check id, scratch attribute, broken replacement)
    ("kmeans-step-ties-empty-forward", "_assign", _highest_index_wins),
    ("kmeans-step-ties-empty-forward", "_update", _empty_cluster_moves_to_origin),
]


@pytest.mark.parametrize("check_id, attr, broken", MUTANTS, ids=["tie-highest", "empty-to-0"])
def test_registered_check_catches_a_broken_scratch_side(check_id, attr, broken, monkeypatch) -> None:
    check = _REGISTRY[check_id]
    assert check.run("cpu", "float64").passed
    monkeypatch.setattr(S, attr, broken)
    assert not check.run("cpu", "float64").passed


@pytest.mark.slow
def test_digits_seeding_comparison() -> None:
    """The report's property check runs on iris (8 seeds; k-means++ seeds cost half as much as
    random ones there); this runs digits, 5 seeds (4% less: in 64 dimensions all digits are
    about equally far apart)."""
    pytest.importorskip("sklearn")
    result = C.seeding_comparison("digits", 5, "cpu", "float64")
    assert_parity(result)
    metrics = result.extra["metrics"]
    assert metrics["mean seeding cost, k-means++"] < metrics["mean seeding cost, random"]
