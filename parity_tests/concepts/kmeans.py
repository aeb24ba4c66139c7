"""Parity checks of ``kmeans``: :mod:`scratch.kmeans` (NumPy) == :mod:`torch_ref.kmeans`, and
both == scikit-learn's Lloyd given the same start.

k-means has no gradients; its parity levels are the algorithm's own steps:

- **forward** — seeding: k-means++ and random seeding fed the same uniform numbers choose the
  same examples (data with duplicates, whose zero weight must never be drawn); one step:
  assignment (with exact ties, won by the lowest index) and update (with an empty cluster, which
  keeps its centroid) give the same labels, distances, centroids and sizes.
- **trajectory** — Lloyd's iterations from the same seeds: labels, cluster sizes and tie counts
  identical and centroids and cost within the *forward* tolerance at every iteration (not
  widened per step: each iteration's centroids are means of identical sets, so nothing
  accumulates), the same iteration count, final labels and inertia; on synthetic blobs,
  standardized iris and digits, with the adjusted Rand index against the true labels of both
  sides and the clusters on a 2-D (PCA) projection.
- **oracle** — scikit-learn's ``KMeans(init=<the same seeds>, n_init=1, algorithm="lloyd",
  max_iter=t)`` gives the same centroids after every ``t``, and its full run the same labels,
  inertia and ``n_iter_``. scikit-learn breaks exact distance ties by rounding noise (which
  depends on its BLAS), so the real-data runs start from seeds whose runs have no ties
  (:data:`RUN_SEEDS`; a record asserts it). Raw iris has a tie at the first iteration, hence
  standardized iris; its tie is checked between the two sides in ``test_kmeans.py``.
- **property** — k-means++ against random seeding over 8 seeds on iris: every run equal on
  both sides; the cost of the seeds and the final inertia plotted for each (k-means++ seeds
  cost about half as much). Digits, 5 seeds, runs in ``pytest -m slow`` (4 s here).

Discrete outputs (indices, labels, sizes, counts) are compared exactly, values within the forward
tolerance (scikit-learn computes in float64 on the dtype-rounded data, as both sides do inside).
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np

from parity_tests import datasets
from parity_tests.compare import CheckResult, Comparison, compare, group_result
from parity_tests.devices import parity_mode
from parity_tests.registry import CheckUnavailable, ParityCheck, register, register_forward, seed_for
from parity_tests.tolerances import EXACT, Tolerance, tolerance
from scratch import kmeans as S
from torch_ref import kmeans as T
from torch_ref.layout import columns_to_rows, numpy_dtype, to_numpy, to_tensor

CONCEPT = "kmeans"
SEEDS = 8  # iris seeding runs per init in the registered property check
RUN_SEEDS = {"iris": 0, "digits": 2}
"""Seeds of the real-data trajectory and oracle runs (shared, so each run is computed once): their
runs have no tied assignment, which scikit-learn would break by rounding (digits' seeds 0, 3
and 4 have one or two)."""


# --- data -------------------------------------------------------------------------------------
def blobs(rng: np.random.Generator, m: int = 41, n: int = 3, k: int = 4) -> np.ndarray:
    """``m`` points around ``k`` random centres in ``n`` dimensions, the last 3 duplicated."""
    centres = rng.normal(scale=4.0, size=(k, n))
    X = centres[rng.integers(k, size=m - 3)] + rng.normal(size=(m - 3, n))
    return np.concatenate([X, X[-3:]])  # (m, n); duplicates weigh 0 once one is a seed


@functools.cache
def iris() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled iris, standardized per feature: ``X (150, 4)``, labels ``(150,)``."""
    try:
        from sklearn.datasets import load_iris
    except ImportError:
        raise CheckUnavailable("scikit-learn is not installed (pip install 'dlparity[data]')") from None
    data = load_iris()
    X = (data.data - data.data.mean(axis=0)) / data.data.std(axis=0)
    return X, data.target


@functools.cache
def digits() -> tuple[np.ndarray, np.ndarray]:
    """The bundled 8×8 digits as rows: ``X (1797, 64)`` in [0, 1], labels ``(1797,)``."""
    X, y = datasets.digits()
    return columns_to_rows(X), y


DATA = {"iris": (iris, 3), "digits": (digits, 10)}


# --- both sides' runs -------------------------------------------------------------------------
def uniforms(name: str, seed: int, init: str, k: int, m: int) -> np.ndarray:
    """The seeding's uniform numbers: ``k`` for k-means++, ``m`` for random."""
    return np.random.default_rng(seed_for(CONCEPT, name, init, str(seed))).random(
        k if init == "k-means++" else m
    )


@functools.lru_cache(maxsize=64)
def scratch_run(name: str, dtype: str, seed: int = 0, init: str = "k-means++"):
    """Seeds and :func:`scratch.kmeans.lloyd` on a real data set (cached: read only)."""
    load, k = DATA[name]
    X = load()[0].astype(numpy_dtype(dtype))
    u = uniforms(name, seed, init, k, X.shape[0])
    C0, idx = (S.kmeans_plusplus if init == "k-means++" else S.random_init)(X, k, u)
    return idx, S.lloyd(X, C0)


@functools.lru_cache(maxsize=64)
def torch_run(name: str, device: str, dtype: str, seed: int = 0, init: str = "k-means++"):
    """The same run on the torch side, seeded from the same uniform numbers (cached: read only)."""
    load, k = DATA[name]
    X = load()[0].astype(numpy_dtype(dtype))
    u = uniforms(name, seed, init, k, X.shape[0])
    with parity_mode():
        Xt = to_tensor(X, device, dtype)
        C0, idx = (T.kmeans_plusplus if init == "k-means++" else T.random_init)(Xt, k, u)
        return to_numpy(idx), T.lloyd(Xt, C0)


# --- comparisons ------------------------------------------------------------------------------
def summarize(steps: list[list[Comparison]]) -> tuple[list[Comparison], str | None]:
    """One record per quantity — its first failing iteration, else its closest call — and a
    diagnosis naming the first iteration where the sides part."""
    chosen: dict[str, Comparison] = {}
    first = None
    for recs in steps:
        for r in recs:
            old = chosen.get(r.name)
            if old is None or (old.passed and (not r.passed or r.tol_ratio > old.tol_ratio)):
                chosen[r.name] = r
            if not r.passed and first is None:
                first = f"the sides first differ at iteration {r.step}, in {r.name}"
    return list(chosen.values()), first


def compare_lloyd(
    s_idx: np.ndarray, s_res: S.LloydResult, t_idx: np.ndarray, t_res: T.LloydResult, tol: Tolerance
) -> tuple[list[Comparison], str | None]:
    """Seeds, every iteration (labels, sizes, ties, centroids, cost) and the final state."""
    steps = [
        [
            compare("labels", a.labels, to_numpy(b.labels), EXACT, step=t),
            compare("cluster sizes", a.counts, to_numpy(b.counts), EXACT, step=t),
            compare("ties", a.ties, b.ties, EXACT, step=t),
            compare("centroids", a.centroids, to_numpy(b.centroids), tol, step=t),
            compare("cost J", a.cost, b.cost, tol, step=t),
        ]
        for t, (a, b) in enumerate(zip(s_res.history, t_res.history), start=1)
    ]
    per_step, diagnosis = summarize(steps)
    records = [
        compare("seed indices", s_idx, t_idx, EXACT),
        compare("iterations", s_res.n_iter, t_res.n_iter, EXACT),
        *per_step,
        compare("final labels", s_res.labels, to_numpy(t_res.labels), EXACT),
        compare("inertia", s_res.inertia, t_res.inertia, tol),
    ]
    return records, diagnosis


def projection_figure(
    X: np.ndarray, labels: np.ndarray, centroids: dict[str, np.ndarray], title: str
) -> dict[str, Any]:
    """Clusters and centroids on the data's first two principal components."""
    mean = X.mean(axis=0)
    V = np.linalg.svd(X - mean, full_matrices=False)[2][:2].T  # (n, 2) principal directions
    P = (X - mean) @ V  # (m, 2)
    series = [
        {
            "label": f"cluster {j}",
            "x": P[labels == j, 0].tolist(),
            "y": P[labels == j, 1].tolist(),
            "kind": "scatter",
        }
        for j in np.unique(labels)
    ]
    for side, C in centroids.items():
        Q = (np.asarray(C, dtype=np.float64) - mean) @ V
        series.append(
            {"label": f"centroids ({side})", "x": Q[:, 0].tolist(), "y": Q[:, 1].tolist(), "kind": "scatter"}
        )
    return {
        "title": title,
        "xlabel": "principal component 1",
        "ylabel": "principal component 2",
        "series": series,
    }


# --- forward: seeding and one step ------------------------------------------------------------
def seeding_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    X = blobs(rng)
    return {"X": X, "u_pp": rng.random(4), "u_random": rng.random(X.shape[0])}


def scratch_seeding(X, u_pp, u_random):
    (C_pp, i_pp), (C_r, i_r) = S.kmeans_plusplus(X, 4, u_pp), S.random_init(X, 4, u_random)
    return {
        "k-means++ indices": i_pp,
        "k-means++ centroids": C_pp,
        "random indices": i_r,
        "random centroids": C_r,
    }


def torch_seeding(X, u_pp, u_random):
    (C_pp, i_pp), (C_r, i_r) = T.kmeans_plusplus(X, 4, u_pp), T.random_init(X, 4, u_random)
    return {
        "k-means++ indices": i_pp,
        "k-means++ centroids": C_pp,
        "random indices": i_r,
        "random centroids": C_r,
    }


def step_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Integer points (distances exact in any order): (1, 0, 0) and (1, 5, 2) are equally far
    from centroids 0 and 1; centroid 2 is far from everything and stays empty."""
    X = np.array([[0, 0, 0], [2, 0, 0], [1, 0, 0], [1, 5, 2], [7, 7, 1], [8, 6, 1], [0, 1, 0]], float)
    C = np.array([[0, 0, 0], [2, 0, 0], [50, 50, 50], [8, 7, 1]], float)
    return {"X": X, "C": C}


def scratch_step(X, C):
    labels, d = S.assign(X, C)
    C_new, counts = S.update(X, labels, C)
    return {"labels": labels, "distances": d, "centroids": C_new, "sizes": counts}


def torch_step(X, C):
    labels, d = T.assign(X, C)
    C_new, counts = T.update(X, labels, C)
    return {"labels": labels, "distances": d, "centroids": C_new, "sizes": counts}


register_forward(CONCEPT, "seeding", scratch_seeding, torch_seeding, seeding_inputs)
register_forward(CONCEPT, "step-ties-empty", scratch_step, torch_step, step_inputs)


# --- trajectory -------------------------------------------------------------------------------
def blobs_trajectory(device: str, dtype: str) -> CheckResult:
    """Lloyd on 41 synthetic points (k = 4), every iteration compared."""
    rng = np.random.default_rng(seed_for(CONCEPT, "blobs"))
    X = blobs(rng).astype(numpy_dtype(dtype))
    u = rng.random(4)
    C0, s_idx = S.kmeans_plusplus(X, 4, u)
    s_res = S.lloyd(X, C0)
    with parity_mode():
        C0, t_idx = T.kmeans_plusplus(to_tensor(X, device, dtype), 4, u)
        t_res = T.lloyd(to_tensor(X, device, dtype), C0)
    records, diagnosis = compare_lloyd(s_idx, s_res, to_numpy(t_idx), t_res, tolerance(dtype, "forward"))
    extra = {"scratch_loss": [h.cost for h in s_res.history], "torch_loss": [h.cost for h in t_res.history]}
    return group_result(CONCEPT, "blobs", "trajectory", device, dtype, records, extra, diagnosis)


def data_trajectory(name: str, device: str, dtype: str) -> CheckResult:
    """Lloyd on a real data set from k-means++ seeds; ARI against the true labels on both sides."""
    X, y = DATA[name][0]()
    seed = RUN_SEEDS[name]
    (s_idx, s_res), (t_idx, t_res) = scratch_run(name, dtype, seed), torch_run(name, device, dtype, seed)
    records, diagnosis = compare_lloyd(s_idx, s_res, t_idx, t_res, tolerance(dtype, "forward"))
    metrics = {
        "ARI_scratch": S.adjusted_rand_index(y, s_res.labels),
        "ARI_torch": S.adjusted_rand_index(y, to_numpy(t_res.labels)),
        "inertia_scratch": s_res.inertia,
        "inertia_torch": t_res.inertia,
        "iterations": s_res.n_iter,
        "seed": seed,
    }
    figure = projection_figure(
        X,
        s_res.labels,
        {"scratch": s_res.centroids, "torch": to_numpy(t_res.centroids)},
        f"k-means on {name} (k = {DATA[name][1]}), PCA projection",
    )
    extra = {
        "scratch_loss": [h.cost for h in s_res.history],
        "torch_loss": [h.cost for h in t_res.history],
        "metrics": metrics,
        "figure": figure,
    }
    return group_result(CONCEPT, name, "trajectory", device, dtype, records, extra, diagnosis)


register(ParityCheck(CONCEPT, "blobs", "trajectory", blobs_trajectory))
for _name in DATA:
    register(ParityCheck(CONCEPT, _name, "trajectory", functools.partial(data_trajectory, _name)))


# --- oracle: scikit-learn ---------------------------------------------------------------------
def sklearn_oracle(name: str, device: str, dtype: str) -> CheckResult:
    """scikit-learn's Lloyd from the same seeds, stopped after every ``t``, vs both sides.

    scikit-learn runs in float64 on the dtype-rounded data, as both sides compute internally.
    """
    try:
        from sklearn.cluster import KMeans as SkKMeans
        from sklearn.exceptions import ConvergenceWarning
    except ImportError:
        raise CheckUnavailable("scikit-learn is not installed (pip install 'dlparity[test]')") from None
    load, k = DATA[name]
    X64 = load()[0].astype(numpy_dtype(dtype)).astype(np.float64)
    seed = RUN_SEEDS[name]
    (s_idx, s_res), (_, t_res) = scratch_run(name, dtype, seed), torch_run(name, device, dtype, seed)
    tol = tolerance(dtype, "forward")

    def fit(max_iter: int):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return SkKMeans(k, init=X64[s_idx], n_init=1, algorithm="lloyd", max_iter=max_iter, tol=1e-4).fit(
                X64
            )

    steps = []
    for t in range(1, s_res.n_iter + 1):
        sk = fit(t).cluster_centers_
        steps.append(
            [
                compare("centroids (scratch) vs sklearn", s_res.history[t - 1].centroids, sk, tol, step=t),
                compare(
                    "centroids (torch) vs sklearn", to_numpy(t_res.history[t - 1].centroids), sk, tol, step=t
                ),
            ]
        )
    records, diagnosis = summarize(steps)
    full = fit(300)
    for side, res in (("scratch", s_res), ("torch", t_res)):
        labels = res.labels if side == "scratch" else to_numpy(res.labels)
        records += [
            compare(f"labels ({side}) vs sklearn", labels, full.labels_, EXACT),
            compare(f"inertia ({side}) vs sklearn", res.inertia, full.inertia_, tol),
            compare(f"iterations ({side}) vs sklearn", res.n_iter, full.n_iter_, EXACT),
        ]
    ties = sum(h.ties for h in s_res.history)
    records.append(compare("tied assignments (sklearn breaks ties by rounding: must be 0)", ties, 0, EXACT))
    metrics = {"iterations": s_res.n_iter, "seed": seed, "inertia_sklearn": float(full.inertia_)}
    return group_result(
        CONCEPT, f"{name}-sklearn", "oracle", device, dtype, records, {"metrics": metrics}, diagnosis
    )


for _name in DATA:
    register(ParityCheck(CONCEPT, f"{_name}-sklearn", "oracle", functools.partial(sklearn_oracle, _name)))


# --- property: k-means++ against random seeding -----------------------------------------------
def seeding_comparison(name: str, seeds: int, device: str, dtype: str) -> CheckResult:
    """Both seedings over ``seeds`` seeds: each run equal on both sides; the cost of the seeds
    (``J`` of the first assignment) and the final inertia shown for each."""
    tol = tolerance(dtype, "forward")
    records, series, metrics = [], [], {}
    for init in ("k-means++", "random"):
        runs = [
            (scratch_run(name, dtype, s, init), torch_run(name, device, dtype, s, init)) for s in range(seeds)
        ]
        s_res, t_res = [r[0][1] for r in runs], [r[1][1] for r in runs]
        values = {
            "seeding cost": ([r.history[0].cost for r in s_res], [r.history[0].cost for r in t_res]),
            "final inertia": ([r.inertia for r in s_res], [r.inertia for r in t_res]),
        }
        records += [
            compare(
                f"{init} final labels",
                np.stack([r.labels for r in s_res]),
                np.stack([to_numpy(r.labels) for r in t_res]),
                EXACT,
            ),
            compare(f"{init} iterations", [r.n_iter for r in s_res], [r.n_iter for r in t_res], EXACT),
        ]
        for quantity, (s_values, t_values) in values.items():
            records.append(compare(f"{init} {quantity}", s_values, t_values, tol))
            metrics[f"mean {quantity}, {init}"] = float(np.mean(s_values))
            series += [
                {
                    "label": f"{quantity}, {init} ({side})",
                    "x": [float(s) for s in range(seeds)],
                    "y": [float(v) for v in vals],
                    "kind": "scatter",
                }
                for side, vals in (("scratch", s_values), ("torch", t_values))
            ]
        metrics[f"mean iterations, {init}"] = float(np.mean([r.n_iter for r in s_res]))
    figure = {
        "title": f"k-means on {name}: k-means++ vs random seeding",
        "xlabel": "seed",
        "ylabel": "cost J (seeds) and inertia (converged)",
        "series": series,
    }
    return group_result(
        CONCEPT, f"{name}-seeding", "property", device, dtype, records, {"metrics": metrics, "figure": figure}
    )


register(
    ParityCheck(CONCEPT, "iris-seeding", "property", functools.partial(seeding_comparison, "iris", SEEDS))
)
