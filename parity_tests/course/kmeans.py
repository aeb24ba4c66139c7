"""Course part ``kmeans`` (Machine Learning Specialization, course 3 "Unsupervised Learning", week 1:
K-means clustering): how each function is checked against :mod:`torch_ref.kmeans`.

The course's layout: examples are rows, ``X (m, n)``, ``centroids (K, n)``, ``idx (m,)`` with
``idx[i] ∈ {0, …, K−1}``. Sizes are distinct and non-square (``m = 13``, ``n = 3``, ``K = 4``) so
an axis slip cannot hide; the data are continuous draws, so no example is (nearly) as far from two
centroids and the course's ``np.argmin`` and torch's lowest-index rule agree.

Where the course's convention differs from dlparity's own k-means, the learner is checked by the
course's, and a note says so:

- an **empty cluster**: the course's ``np.mean`` of no examples is NaN (with a RuntimeWarning);
  dlparity's :func:`torch_ref.kmeans.update` keeps the previous centroid. ``compute_centroids``
  is checked by the course's NaN; ``run_kMeans``'s data never empty a cluster;
- the **initialization**: the course draws ``randidx = np.random.permutation(X.shape[0])`` from
  NumPy's global generator and takes ``X[randidx[:K]]``. Under a fixed seed that permutation is
  handed to :func:`torch_ref.kmeans.random_init` as uniform numbers ranking the examples in its
  order, so torch picks the same examples by dlparity's own rule;
- **run_kMeans** runs ``max_iters`` iterations (no early stop) and returns the last assignment,
  made *before* the last update. :func:`torch_ref.kmeans.lloyd` stops at a fixed point, whose
  later iterations repeat it; its history holds, for each iteration, the assignment and the
  centroids after that update: both are compared iteration by iteration.

Example:
    >>> import numpy as np
    >>> assignment(np.array([[0.0, 0.0], [5.0, 5.0]]), np.array([[4.0, 4.0], [0.0, 1.0]])).tolist()
    [1, 0]
    >>> means(np.array([[0.0, 2.0], [2.0, 4.0]]), np.array([0, 0]), 2)  # cluster 1 is empty
    array([[ 1.,  3.],
           [nan, nan]])
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import torch

from parity_tests.compare import compare
from parity_tests.course.common import (
    ContractError,
    FunctionResult,
    Learner,
    LearnerError,
    array,
    name_slip,
    returned,
    tol,
    unpack,
)
from parity_tests.devices import parity_mode
from parity_tests.registry import seed_for
from torch_ref import kmeans as TK

M, N, K = 13, 3, 4
MAX_ITERS = 10  # the course's default max_iters
EMPTY = 2  # the cluster left empty in compute_centroids' third case


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.float64))


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def assignment(X: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """torch's ``idx (m,)``: the nearest centroid of each row, exact distances (no ``cdist`` matmul)."""
    with parity_mode():
        return _np(TK.assign(_t(X), _t(centroids))[0])


def means(X: np.ndarray, idx: np.ndarray, K: int) -> np.ndarray:
    """torch's centroids ``(K, n)`` for ``idx``, an empty cluster NaN as the course's ``np.mean``."""
    with parity_mode():
        C, counts = TK.update(
            _t(X), torch.as_tensor(idx, dtype=torch.int64), torch.zeros(K, X.shape[1], dtype=torch.float64)
        )
    C = _np(C)
    C[_np(counts) == 0] = np.nan  # the course's np.mean of no examples
    return C


def lloyd_history(X: np.ndarray, initial: np.ndarray, T: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(idx, centroids)`` after each of ``T`` iterations from ``initial``, as the course's loop
    runs them: torch's Lloyd history, its fixed point repeated once it stops."""
    with parity_mode():
        run = TK.lloyd(_t(X), _t(initial), max_iter=T, tol=0.0)
    steps = [(_np(h.labels), _np(h.centroids)) for h in run.history]
    if any(int(c.min()) == 0 for c in (h.counts for h in run.history)):
        raise AssertionError(
            "run_kMeans' data emptied a cluster: the course's NaN and torch's kept centroid would differ"
        )
    return steps + [steps[-1]] * (T - len(steps))


def course_draw(X: np.ndarray, K: int, seed: int) -> np.ndarray:
    """The course's ``X[np.random.permutation(m)[:K]]`` after ``np.random.seed(seed)``, picked by
    torch: the permutation's order as the uniform numbers of :func:`torch_ref.kmeans.random_init`."""
    perm = np.random.RandomState(seed).permutation(X.shape[0])  # the stream np.random.seed(seed) gives
    u = np.empty(X.shape[0])
    u[perm] = np.arange(X.shape[0]) / X.shape[0]  # argsort(u) is perm
    with parity_mode():
        return _np(TK.random_init(_t(X), K, u)[0])


def data(name: str, m: int = M, n: int = N) -> tuple[np.random.Generator, np.ndarray]:
    rng = np.random.default_rng(seed_for("kmeans", name))
    return rng, rng.normal(0.0, 2.0, (m, n)) + np.array([1.0, -2.0, 3.0][:n])


def _labels(sizes: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """``idx`` with cluster ``k`` holding ``sizes[k]`` examples, in a shuffled order."""
    return rng.permutation(np.repeat(np.arange(len(sizes)), sizes))


def _cases(result: FunctionResult, cases: list[Callable[[], None]]) -> None:
    """Run the cases in order; once one has failed, a later one that raises (a slip that runs on
    the first case's data but not on another's) is a note, so the first failure's diagnosis stays."""
    for case in cases:
        try:
            case()
        except (LearnerError, ContractError) as exc:
            if any(not c.passed for c in result.checks):
                result.notes.append(f"in a later case: {exc}")
                return
            raise


# --- find_closest_centroids ------------------------------------------------------------------
def check_find_closest_centroids(learner: Learner, result: FunctionResult) -> None:
    rng, X = data("find_closest_centroids")
    cases = {
        "random centroids": rng.normal(0.0, 2.0, (K, N)) + np.array([1.0, -2.0, 3.0]),
        "centroids at examples": X[[7, 2, 11, 4]],
    }  # as kMeans_init gives them: a distance of 0

    def run(case: str, C: np.ndarray) -> None:
        out = returned(
            learner.call_course("find_closest_centroids", ["X", "centroids"], [X, C]),
            "find_closest_centroids",
            "idx",
        )
        idx = array(out, "idx")
        if idx.dtype.kind == "f":
            note = (
                "idx has dtype float64; the course's is int (np.zeros(X.shape[0], dtype=int)): "
                "X[idx == k] works, but indexing with it (centroids[idx]) does not"
            )
            if note not in result.notes:
                result.notes.append(note)
        ref = assignment(X, C)
        result.add(case, "forward", [compare("idx", idx, ref, tol("forward"))])
        D = np.linalg.norm(X[:, None, :] - C[None, :, :], axis=2)  # (m, K)
        name_slip(
            result,
            {"idx": idx},
            [
                (
                    "the farthest centroid: np.argmax where the course takes np.argmin of the distances",
                    lambda: {"idx": np.argmax(D, axis=1)},
                ),
                (
                    "indices from 1: the course's idx[i] is in 0, …, K−1 (np.argmin's index, no + 1)",
                    lambda: {"idx": ref + 1},
                ),
                (
                    "idx is still the template's np.zeros(X.shape[0], dtype=int): not implemented yet?",
                    lambda: {"idx": np.zeros(M, dtype=int)},
                ),
            ],
            "forward",
        )

    _cases(result, [lambda c=c, C=C: run(c, C) for c, C in cases.items()])


# --- compute_centroids -----------------------------------------------------------------------
def check_compute_centroids(learner: Learner, result: FunctionResult) -> None:
    rng, _ = data("compute_centroids")
    # 1: every cluster holds n examples — the one layout in which the course's loop with the mean
    #    over the wrong axis (np.mean(points, axis=1), (n,) values) still runs, so it is named;
    # 2: clusters of distinct sizes, so a division by n (or anything but |C_k|) shows;
    # 3: cluster EMPTY holds no example: the course's np.mean gives NaN.
    layouts = {
        "clusters of n examples": ((N,) * K, K),
        "clusters of distinct sizes": ((1, 2, 4, 6), K),
        "an empty cluster": ((3, 2, 0, 5, 3), K + 1),
    }

    def run(case: str, sizes: tuple[int, ...], k: int) -> None:
        idx = _labels(sizes, rng)
        X = rng.normal(0.0, 2.0, (idx.size, N)) + np.array([1.0, -2.0, 3.0])
        out = returned(
            learner.call_course("compute_centroids", ["X", "idx", "K"], [X, idx, k]),
            "compute_centroids",
            "centroids",
        )
        got = array(out, "the returned centroids")
        ref = means(X, idx, k)
        empty = 0 in sizes
        if empty:
            result.notes.append(
                f"cluster {EMPTY} is empty in one case: checked by the course's "
                "convention, np.mean of no examples = NaN (dlparity's own k-means "
                "keeps the previous centroid instead)"
            )
        result.add(case, "forward", [compare("centroids", got, ref, tol("forward"), allow_nonfinite=empty)])
        pts = [X[idx == j] for j in range(k)]

        def per_cluster(f: Callable[[np.ndarray], np.ndarray]) -> dict[str, np.ndarray]:
            return {"centroids": np.stack([np.broadcast_to(f(p), (N,)) for p in pts])}

        slips = [
            (
                "the mean over the wrong axis: np.mean(points, axis=1) averages each example's features; "
                "the course's centroid is np.mean(points, axis=0), the mean of the cluster's examples",
                lambda: per_cluster(lambda p: np.mean(p, axis=1)),
            ),
            (
                "the mean of all the cluster's values (np.mean without axis=0): one number per centroid",
                lambda: per_cluster(lambda p: np.mean(p)),
            ),
            (
                "the sum of the cluster's examples, not their mean (divide by the number of examples in it)",
                lambda: per_cluster(lambda p: np.sum(p, axis=0)),
            ),
            (
                "centroids are still the template's np.zeros((K, n)): not implemented yet?",
                lambda: {"centroids": np.zeros((k, N))},
            ),
        ]
        if empty:
            slips.append(
                (
                    f"the empty cluster {EMPTY} gets 0: the course's np.mean of no examples is "
                    "NaN (a RuntimeWarning), and dlparity checks by the course",
                    lambda: {"centroids": np.where(np.isnan(ref), 0.0, ref)},
                )
            )
        name_slip(result, {"centroids": got}, slips, "forward")

    _cases(result, [lambda c=c, s=s, k=k: run(c, s, k) for c, (s, k) in layouts.items()])


# --- kMeans_init_centroids -------------------------------------------------------------------
def check_kMeans_init(learner: Learner, result: FunctionResult) -> None:
    """Both of the course's names (``kMeans_init_centroids``; ``kMeans_init``) by one check."""
    name = result.name
    _, X = data("kMeans_init", m=11)
    seeds = [seed_for("kmeans", "init", str(i)) for i in range(2)]
    got = []
    for s in seeds:
        out = returned(learner.call_course(name, ["X", "K"], [X, K], seed=s), name, "centroids")
        got.append(array(out, "the returned centroids"))
        ref = course_draw(X, K, s)
        result.add(f"seed {s}", "forward", [compare("centroids", got[-1], ref, tol("forward"))])
    result.notes.append(
        "checked under np.random.seed: the course's draw is "
        "X[np.random.permutation(X.shape[0])[:K]], the same examples for the same seed"
    )
    if result.passed:
        return
    c = next(g for g, check in zip(got, result.checks) if not check.passed)
    name_slip(
        result,
        {"centroids": c},
        [
            (
                "the first K examples X[:K], not a random choice: the course takes "
                "randidx = np.random.permutation(X.shape[0]); centroids = X[randidx[:K]]",
                lambda: {"centroids": X[:K]},
            )
        ],
        "forward",
    )
    if result.slip or c.shape != (K, N):
        return
    rows = [np.flatnonzero(np.all(X == r, axis=1)) for r in c]
    if any(r.size == 0 for r in rows):
        result.slip = "its centroids are not examples of X: the course's are K examples, X[randidx[:K]]"
    elif len({int(r[0]) for r in rows}) < K:
        result.slip = (
            "an example is chosen twice (a draw with replacement): the course's "
            "np.random.permutation(X.shape[0])[:K] gives K distinct examples"
        )
    elif len(got) == 2 and np.array_equal(got[0], got[1]):
        result.slip = (
            "the same examples under two seeds: does it seed NumPy's generator itself? The "
            "course draws from the global one: randidx = np.random.permutation(X.shape[0])"
        )
    else:
        result.slip = (
            "K examples of X, but not the course's draw for the same seed: the course takes "
            "randidx = np.random.permutation(X.shape[0]); centroids = X[randidx[:K]] "
            "(another generator call draws other examples)"
        )


# --- run_kMeans ------------------------------------------------------------------------------
def run_data() -> tuple[np.ndarray, np.ndarray]:
    """``X (19, 2)`` in four blobs and a poor start (the four examples furthest left): a draw whose
    Lloyd run moves for five iterations and never empties a cluster (``test_course_kmeans_anomaly``
    asserts both)."""
    rng = np.random.default_rng(seed_for("kmeans", "run_kMeans", "2"))
    centres = np.array([[1.0, 1.5], [5.0, 2.0], [3.0, 6.0], [7.0, 6.5]])
    X = np.vstack([rng.normal(c, 1.0, (s, 2)) for c, s in zip(centres, (5, 6, 4, 4))])
    X = X[rng.permutation(len(X))]
    return X, X[np.argsort(X[:, 0])[:4]]


def _new_figures() -> Callable[[], None]:
    """Close, afterwards, the figures a call opens (the course's run_kMeans calls plt.figure)."""
    plt = sys.modules.get("matplotlib.pyplot")
    before = set(plt.get_fignums()) if plt else set()

    def close() -> None:
        if plt:
            for f in set(plt.get_fignums()) - before:
                plt.close(f)

    return close


def check_run_kMeans(learner: Learner, result: FunctionResult) -> None:
    X, initial = run_data()
    steps = lloyd_history(X, initial, MAX_ITERS)
    for t in range(1, MAX_ITERS + 1):
        if not _iteration(learner, result, X, initial, steps, t):
            return


def _iteration(
    learner: Learner,
    result: FunctionResult,
    X: np.ndarray,
    initial: np.ndarray,
    steps: list[tuple[np.ndarray, np.ndarray]],
    t: int,
) -> bool:
    """Compare ``run_kMeans(X, initial, max_iters=t)`` with torch's iteration ``t``; name the slip
    where it first differs. ``True`` when it equals."""
    close = _new_figures()
    try:
        out = learner.call_course(
            "run_kMeans", ["X", "initial_centroids", "max_iters", "plot_progress"], [X, initial, t, False]
        )
    finally:
        close()
    C, idx = unpack(out, ("centroids", "idx"), "run_kMeans")
    if np.ndim(C) == 1 and np.ndim(idx) == 2:
        raise ContractError("run_kMeans returned (idx, centroids); the course returns (centroids, idx)")
    C, idx = array(C, "the returned centroids"), array(idx, "the returned idx")
    ref_idx, ref_C = steps[t - 1]
    recs = [
        compare("idx", idx, ref_idx, tol("forward"), step=t),
        compare("centroids", C, ref_C, tol("trajectory", t), step=t),
    ]
    result.add(f"max_iters={t}", "trajectory", recs)
    if all(r.passed for r in recs):
        return True
    previous = steps[t - 2] if t > 1 else (idx, initial)  # t = 1, no iteration run: any idx
    slips = [
        (
            "idx is the assignment to the returned centroids (assigned again after the loop); the "
            "course returns the last assignment, made before the last update",
            lambda: {"idx": assignment(X, C), "centroids": ref_C},
        ),
        (
            "the centroids never move: the result of compute_centroids is not kept "
            "(centroids = compute_centroids(X, idx, K))",
            lambda: {"centroids": initial, "idx": assignment(X, initial)},
        ),
        (
            "one iteration fewer than max_iters (range(1, max_iters)?)",
            lambda: {"idx": previous[0], "centroids": previous[1]},
        ),
    ]
    if t < MAX_ITERS:
        slips.append(
            ("one iteration more than max_iters", lambda: {"idx": steps[t][0], "centroids": steps[t][1]})
        )
    name_slip(result, {"idx": idx, "centroids": C}, slips, "trajectory")
    if not result.slip:
        result.slip = (
            f"first differs after iteration {t} of max_iters={t}: the course's loop is "
            "idx = find_closest_centroids(X, centroids); centroids = "
            "compute_centroids(X, idx, K), max_iters times"
        )
    return False
