"""``dlparity check`` on course 3, week 1 (k-means, anomaly detection): correct solutions pass
and their part is told; one-line slips FAIL with their diagnosis; the checks follow the course's
conventions where dlparity's own modules differ (an empty cluster's NaN, a constant feature's
σ² = 0, select_threshold's 1000-step grid with ``p < ε``); the checker's data avoid the near-ties
that would make a discrete answer a rounding matter; the supplied ``utils.multivariate_gaussian``
passes the check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from parity_tests.compare import assert_close
from parity_tests.course import anomaly, check_course, helpers, kmeans
from parity_tests.course.catalogue import CATALOGUE, detect, entry_for
from parity_tests.course.common import FunctionResult, Learner
from parity_tests.tests.test_course_check_mutations import FIXTURES, check_one, mutated

KM, AN, AD = "kmeans_solution.py", "anomaly_solution.py", "anomaly_density.py"
PARTS = {KM: "kmeans", AN: "anomaly", AD: "anomaly"}


@pytest.mark.parametrize(
    "fixture, part, names",
    [
        (
            KM,
            "kmeans",
            {"find_closest_centroids", "compute_centroids", "run_kMeans", "kMeans_init_centroids"},
        ),
        (AN, "anomaly", {"estimate_gaussian", "select_threshold"}),
        (AD, "anomaly", {"estimate_gaussian", "multivariate_gaussian"}),
    ],
)
def test_correct_solutions_pass(fixture: str, part: str, names: set[str]) -> None:
    report = check_course(FIXTURES / fixture)  # contained, as `dlparity check` runs it
    assert report.passed and report.exit_status == 0, str(report)
    assert report.detection.part == part and report.detection.version is None
    assert {r.name for r in report.results} == names
    if fixture != AD:  # `from utils import *`, absent: the density is supplied, the data loader is not run
        assert "supplied by dlparity: utils (absent): multivariate_gaussian" in str(report)


# (fixture, function, old, new, phrase the diagnosis must contain)
MUTANTS = [
    (
        KM,
        "find_closest_centroids",
        "np.argmin(distance)",
        "np.argmax(distance)",
        "np.argmax where the course takes np.argmin",
    ),
    (KM, "find_closest_centroids", "np.argmin(distance)", "np.argmin(distance) + 1", "indices from 1"),
    (KM, "find_closest_centroids", "return idx", "return None", "returns None — not implemented yet?"),
    (
        KM,
        "compute_centroids",
        "np.mean(points, axis=0)",
        "np.mean(points, axis=1)",
        "the mean over the wrong axis: np.mean(points, axis=1)",
    ),
    (KM, "compute_centroids", "np.mean(points, axis=0)", "np.mean(points)", "np.mean without axis=0"),
    (
        KM,
        "compute_centroids",
        "np.mean(points, axis=0)",
        "np.sum(points, axis=0)",
        "the sum of the cluster's examples, not their mean",
    ),
    (
        KM,
        "compute_centroids",
        "np.mean(points, axis=0)",
        "np.mean(points, axis=0) if len(points) else 0",
        "the empty cluster 2 gets 0: the course's np.mean of no examples is NaN",
    ),
    (
        KM,
        "kMeans_init_centroids",
        "np.random.permutation(X.shape[0])",
        "np.arange(X.shape[0])",
        "the first K examples X[:K], not a random choice",
    ),
    (
        KM,
        "kMeans_init_centroids",
        "np.random.permutation(X.shape[0])",
        "np.random.permutation(X.shape[0])[::-1]",
        "K examples of X, but not the course's draw",
    ),
    (
        KM,
        "kMeans_init_centroids",
        "randidx = np.random.permutation(X.shape[0])",
        "randidx = np.zeros(X.shape[0], dtype=int)",
        "an example is chosen twice",
    ),
    (
        KM,
        "kMeans_init_centroids",
        "    randidx =",
        "    np.random.seed(7)\n    randidx =",
        "the same examples under two seeds: does it seed NumPy's generator itself?",
    ),
    (
        KM,
        "run_kMeans",
        "    plt.show()",
        "    idx = find_closest_centroids(X, centroids)\n    plt.show()",
        "idx is the assignment to the returned centroids",
    ),
    (
        KM,
        "run_kMeans",
        "for i in range(max_iters):",
        "for i in range(max_iters - 1):",
        "one iteration fewer than max_iters",
    ),
    (
        KM,
        "run_kMeans",
        "        centroids = compute_centroids(X, idx, K)",
        "        compute_centroids(X, idx, K)",
        "the centroids never move",
    ),
    (
        KM,
        "run_kMeans",
        "return centroids, idx",
        "return idx, centroids",
        "returned (idx, centroids); the course returns (centroids, idx)",
    ),
    (
        AN,
        "estimate_gaussian",
        "var = 1 / m * np.sum",
        "var = 1 / (m - 1) * np.sum",
        "divides by m − 1 (ddof=1",
    ),
    (
        AN,
        "estimate_gaussian",
        "var = 1 / m * np.sum((X - mu) ** 2, axis=0)",
        "var = np.std(X, axis=0)",
        "the standard deviation σ, not the variance σ²",
    ),
    (
        AN,
        "estimate_gaussian",
        "mu = 1 / m * np.sum(X, axis=0)\n    var = 1 / m * np.sum((X - mu) ** 2, axis=0)",
        "mu = np.mean(X, axis=1)\n    var = np.var(X, axis=1)",
        "the mean over the wrong axis",
    ),
    (AN, "estimate_gaussian", "return mu, var", "return None", "returns None — not implemented yet?"),
    (
        AN,
        "select_threshold",
        "predictions = (p_val < epsilon)",
        "predictions = (p_val <= epsilon)",
        "flags p_val ≤ ε; the course flags p_val < ε",
    ),
    (
        AN,
        "select_threshold",
        "prec = tp / (tp + fp)",
        "prec = tp / (tp + fn)",
        "precision computed as tp / (tp + fn), which is the recall",
    ),
    (
        AN,
        "select_threshold",
        "rec = tp / (tp + fn)",
        "rec = tp / (tp + fp)",
        "recall computed as tp / (tp + fp), which is the precision",
    ),
    (AN, "select_threshold", "if F1 > best_F1:", "if F1 >= best_F1:", "keeps the last ε with the best F1"),
    (AN, "select_threshold", "if F1 > best_F1:", "if False:", "the template's best_epsilon = 0"),
    (AD, "multivariate_gaussian", "np.exp(-0.5 *", "np.exp(-1 *", "the exponent lacks the −½"),
    (
        AD,
        "multivariate_gaussian",
        "(2 * np.pi) ** (-k / 2) * np.linalg.det(var) ** (-0.5) *",
        "",
        "the normalizer (2π)^(−n/2) det(Σ)^(−½) is missing",
    ),
    (
        AD,
        "multivariate_gaussian",
        "var = np.diag(var)",
        "var = np.diag(var ** 2)",
        "var is used as the standard deviation σ",
    ),
]


@pytest.mark.parametrize(
    "fixture, function, old, new, phrase", MUTANTS, ids=[f"{m[1]}:{m[4][:40]}" for m in MUTANTS]
)
def test_slip_fails_with_its_diagnosis(fixture: str, function: str, old: str, new: str, phrase: str) -> None:
    result = check_one(mutated(fixture, function, old, new), function, PARTS[fixture])
    assert result.status == "FAIL", result.to_dict()
    assert phrase in (result.diagnosis or ""), (phrase, result.diagnosis)


def test_every_function_has_three_slips() -> None:
    for part in ("kmeans", "anomaly"):
        counts = {
            e.name: sum(m[1] == e.name for m in MUTANTS) for e in CATALOGUE[part] if e.name != "kMeans_init"
        }  # the same check as kMeans_init_centroids
        assert all(n >= 3 for n in counts.values()), counts


def test_a_slip_that_raises_on_a_later_case_keeps_the_first_diagnosis() -> None:
    """The mean over axis=1 runs on clusters of n examples (named there) and raises on the others."""
    result = check_one(
        mutated(KM, "compute_centroids", "np.mean(points, axis=0)", "np.mean(points, axis=1)"),
        "compute_centroids",
        "kmeans",
    )
    assert result.error is None and result.slip.startswith("the mean over the wrong axis")
    assert any(n.startswith("in a later case: compute_centroids raised ValueError") for n in result.notes)


def test_precision_and_recall_swapped_compute_the_course_F1() -> None:
    """F1 = 2PR / (P + R) is symmetric: a file that swaps precision and recall is right."""
    module = mutated(
        AN,
        "select_threshold",
        "prec = tp / (tp + fp)\n        rec = tp / (tp + fn)",
        "prec = tp / (tp + fn)\n        rec = tp / (tp + fp)",
    )
    assert check_one(module, "select_threshold", "anomaly").passed


def test_kMeans_init_by_either_name_and_a_run_kMeans_without_plot_progress() -> None:
    module = mutated(
        KM, "kMeans_init_centroids", "def kMeans_init_centroids(X, K):", "def kMeans_init(X, K):"
    )
    assert check_one(module, "kMeans_init", "kmeans").passed
    module = mutated(
        KM, "run_kMeans", "max_iters=10, plot_progress=False):", "max_iters=10):\n    plot_progress = False"
    )
    result = check_one(module, "run_kMeans", "kmeans")
    assert result.passed and len(result.checks) == kmeans.MAX_ITERS, result.to_dict()


def test_the_parts_are_told_from_the_names() -> None:
    km = mutated(KM, "run_kMeans", "m, n = X.shape", "m, n = X.shape")
    an = mutated(AN, "estimate_gaussian", "m, n = X.shape", "m, n = X.shape")
    own = {k: v for k, v in vars(km).items() if k in {e.name for e in CATALOGUE["kmeans"]}}
    assert detect(own, Learner(own)).part == "kmeans"
    own = {"estimate_gaussian": an.estimate_gaussian, "select_threshold": an.select_threshold}
    det = detect(own, Learner(own))
    assert det.part == "anomaly" and det.reasons == ["estimate_gaussian", "select_threshold"]
    both = {"estimate_gaussian": an.estimate_gaussian, "find_closest_centroids": km.find_closest_centroids}
    assert detect(both, Learner(both)).tied == ["kmeans", "anomaly"]


# --- the course's conventions, and data with no near-ties ------------------------------------
def test_an_empty_cluster_is_NaN_as_the_course_has_it() -> None:
    X = np.array([[0.0, 1.0, 2.0], [2.0, 3.0, 4.0], [5.0, 5.0, 5.0]])
    C = kmeans.means(X, np.array([0, 0, 2]), 3)
    assert_close(C[[0, 2]], np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]]))
    assert np.isnan(C[1]).all()


def test_kMeans_init_reference_is_the_course_permutation() -> None:
    _, X = kmeans.data("kMeans_init", m=11)
    for seed in (0, 1, 12345):
        np.random.seed(seed)
        course = X[np.random.permutation(X.shape[0])[: kmeans.K]]
        assert_close(kmeans.course_draw(X, kmeans.K, seed), course)


def test_run_kMeans_data_move_for_five_iterations_without_ties_or_empty_clusters() -> None:
    X, initial = kmeans.run_data()
    steps = kmeans.lloyd_history(X, initial, kmeans.MAX_ITERS)  # raises if a cluster empties
    moving = sum(not np.array_equal(a[1], b[1]) for a, b in zip([(None, initial)] + steps, steps))
    assert moving == 5
    for C in [initial] + [c for _, c in steps]:
        D = np.sort(np.linalg.norm(X[:, None] - C[None], axis=2), axis=1)  # (m, K)
        assert np.min((D[:, 1] - D[:, 0]) / D[:, 1]) > 1e-3  # the nearest centroid is clear


def test_select_threshold_reference_is_the_course_loop_with_a_unique_best() -> None:
    for y_val, p_val in (anomaly.validation_set(), anomaly.on_grid()):
        ref = anomaly.threshold(y_val, p_val)
        course = anomaly.scan(y_val, p_val)
        for k in ref:
            assert_close(ref[k], course[k], name=k)
        best_sets = set()
        for e in anomaly.course_grid(p_val):
            flags = p_val < e
            tp, fp = int(np.sum(flags & (y_val == 1))), int(np.sum(flags & (y_val == 0)))
            fn = int(np.sum(~flags & (y_val == 1)))
            if tp and abs(2 * tp / (2 * tp + fp + fn) - ref["best_F1"]) < 1e-12:
                best_sets.add((tp, fp, fn))
        assert len(best_sets) == 1, best_sets  # one set of flags reaches the best F1


def test_on_grid_densities_make_le_and_lt_differ() -> None:
    y_val, p_val = anomaly.on_grid()
    grid = anomaly.course_grid(p_val)
    assert np.isin(p_val[p_val < p_val.max()], grid).all()
    lt, le = anomaly.scan(y_val, p_val), anomaly.scan(y_val, p_val, flag="<=")
    assert lt["best_F1"] == pytest.approx(le["best_F1"], rel=1e-12)
    assert lt["best_epsilon"] > le["best_epsilon"]  # ≤ reaches the same flags one grid step earlier


def test_constant_feature_variance_is_zero_as_the_course_has_it() -> None:
    X = np.array([[1.0, 3.0], [2.0, 3.0], [4.0, 3.0]])
    ref = anomaly.gaussian(X)
    assert_close(ref["var"], np.array([14 / 9, 0.0]))
    assert_close(ref["mu"], np.array([7 / 3, 3.0]))


# --- the supplied course helper --------------------------------------------------------------
def test_supplied_multivariate_gaussian_passes_the_check() -> None:
    result = FunctionResult("multivariate_gaussian", "anomaly", "multivariate_gaussian")
    entry_for("multivariate_gaussian", "anomaly").check(Learner(helpers.MODULES["utils"]), result)
    assert result.passed and len(result.checks) == 2, (result.diagnosis, result.to_dict()["worst"])
    assert helpers.family("utils") == "utils"
    assert "multivariate_gaussian" in helpers.as_module("utils").__dict__


def test_an_anomaly_file_that_calls_the_supplied_density_passes(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text(
        "import numpy as np\nfrom utils import multivariate_gaussian, load_data, visualize_fit\n"
        "def estimate_gaussian(X):\n    return X.mean(axis=0), X.var(axis=0)\n"
        "def select_threshold(y_val, p_val):\n"
        "    best_epsilon, best_F1 = 0, 0\n"
        "    step_size = (max(p_val) - min(p_val)) / 1000\n"
        "    for epsilon in np.arange(min(p_val), max(p_val), step_size):\n"
        "        pred = p_val < epsilon\n"
        "        tp = np.sum(pred & (y_val == 1))\n"
        "        F1 = 2 * tp / (np.sum(pred) + np.sum(y_val == 1))\n"
        "        if F1 > best_F1:\n            best_epsilon, best_F1 = epsilon, F1\n"
        "    return best_epsilon, best_F1\n"
    )
    report = check_course(path)
    assert report.passed, str(report)
    text = str(report)
    assert "supplied by dlparity: utils (absent): multivariate_gaussian" in text
    assert "utils: load_data (a data loader), visualize_fit (plotting)" in text
