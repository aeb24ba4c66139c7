"""Parity checks of ``similarity``: :mod:`scratch.similarity` == :mod:`torch_ref.similarity` ==
SciPy, for cosine, Euclidean, Pearson and Jaccard, pairs and pairwise matrices.

These are values with no parameters to train, so the levels that apply are:

- **forward** — each metric's pair, matrix and within-set matrix on random rows and on
  degenerate ones: zero vectors, vectors of norm 1e-10, 1e-30 and 1e30 (cosine), identical rows
  (Euclidean: exactly 0 apart), constant rows and affine copies (Pearson), empty and identical
  sets (Jaccard); and nearest-neighbour retrieval on the bundled digits — the top 5 of each of
  200 queries identical on both sides, by Euclidean distance and by Jaccard on binarized pixels
  (the data are multiples of 1/16, so both distances are exact and ties are real ties, won by the
  lowest index on both sides).
- **property** — where torch's built-ins follow another convention: ``F.cosine_similarity``'s
  ``eps`` clamp (it rescales vectors shorter than 1e-8; ``torch_ref`` matches the documented
  value) and ``torch.cdist``'s matrix-multiply mode (non-zero self-distances on data far from
  the origin; ``torch_ref`` and scratch give exactly 0).
- **oracle** — ``scipy.spatial.distance`` (``cosine``, ``euclidean``, ``correlation``,
  ``jaccard``, ``cdist``) against both sides, within the forward tolerance (SciPy computes in
  float64 on the dtype-rounded inputs).

No gradients: nothing in the course trains through these metrics.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from parity_tests import datasets
from parity_tests.compare import CheckResult, compare, group_result
from parity_tests.devices import parity_mode
from parity_tests.registry import CheckUnavailable, ParityCheck, register, register_forward, seed_for
from parity_tests.tolerances import EXACT, tolerance
from scratch import similarity as S
from torch_ref import similarity as T
from torch_ref.layout import columns_to_rows, numpy_dtype, to_numpy, to_tensor

CONCEPT = "similarity"
METRICS = ("cosine", "euclidean", "pearson", "jaccard")
N, N_SETS = 5, 9  # features of real vectors; items of binary vectors (sets)


def _fn(module: Any, metric: str, kind: str):
    name = {"pair": f"{metric}_similarity", "matrix": f"{metric}_matrix"}[kind]
    if metric == "euclidean" and kind == "pair":
        name = "euclidean_distance"
    elif metric == "pearson" and kind == "pair":
        name = "pearson_correlation"
    return getattr(module, name)


def outputs(module: Any, metric: str):
    """``fn(a, b, A, B) -> {"pair", "matrix", "within A"}`` for one metric on one side (the
    functions are looked up at each call, so a test can swap one for a broken version)."""

    def fn(a, b, A, B):
        pair, matrix = _fn(module, metric, "pair"), _fn(module, metric, "matrix")
        return {"pair": pair(a, b), "matrix": matrix(A, B), "within A": matrix(A)}

    return fn


# --- inputs -----------------------------------------------------------------------------------
def random_inputs(metric: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    if metric == "jaccard":
        return {
            k: (rng.random(shape) < 0.4).astype(float)
            for k, shape in (("a", N_SETS), ("b", N_SETS), ("A", (7, N_SETS)), ("B", (4, N_SETS)))
        }
    return {k: rng.standard_normal(shape) for k, shape in (("a", N), ("b", N), ("A", (7, N)), ("B", (4, N)))}


def degenerate_inputs(metric: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Each metric's documented edge cases, next to ordinary rows."""
    n = 7 if metric == "pearson" else N  # the float mean of seven 0.1s or 0.7s is not 0.1, 0.7
    y, z, zero = rng.standard_normal(n), rng.standard_normal(n), np.zeros(n)
    if metric == "cosine":  # zero vectors; norms 1e-10, 1e-30, 1e30; opposite and repeated rows
        A = [zero, y, 1e-10 * y, 1e-30 * y, 1e30 * y, -y, y, z]
        B, a, b = [y, zero, z, 3.5 * y], 1e-10 * y, y
    elif metric == "euclidean":  # identical rows (also at different indices) and zero rows
        A, B, a, b = [zero, y, y, -y, z, zero], [y, zero, z, y], y, y
    elif metric == "pearson":  # constant rows (0.1 is inexact in binary), affine copies
        A = [np.full(n, 0.1), np.full(n, 3.0), zero, y, 2 * y + 1, -y, 1e-30 * y, z]
        B, a, b = [y, np.full(n, 0.7), z], np.full(n, 0.7), y
    else:  # empty sets, identical sets, disjoint sets
        ones, half = np.ones(N_SETS), (np.arange(N_SETS) % 2).astype(float)
        A = [np.zeros(N_SETS), np.zeros(N_SETS), ones, half, 1 - half, half]
        B, a, b = [np.zeros(N_SETS), half, ones], np.zeros(N_SETS), np.zeros(N_SETS)
    return {
        "a": np.asarray(a, float),
        "b": np.asarray(b, float),
        "A": np.array(A, float),
        "B": np.array(B, float),
    }


for _metric in METRICS:
    register_forward(
        CONCEPT,
        f"{_metric}-random",
        outputs(S, _metric),
        outputs(T, _metric),
        functools.partial(random_inputs, _metric),
    )
    register_forward(
        CONCEPT,
        f"{_metric}-degenerate",
        outputs(S, _metric),
        outputs(T, _metric),
        functools.partial(degenerate_inputs, _metric),  # zero-variance vectors: r = 0
        constant_in=["a", "b"] if _metric == "pearson" else [],
    )


# --- property: torch's own conventions --------------------------------------------------------
def cosine_eps(device: str, dtype: str) -> CheckResult:
    """``F.cosine_similarity`` clamps each norm at ``eps = 1e-8``: it agrees with the documented
    cosine for ordinary vectors and not for short ones, where ``torch_ref`` does."""
    y = np.random.default_rng(seed_for(CONCEPT, "cosine-eps")).standard_normal(N)
    scales = np.array([1.0, 3e2, 1e-7, 1e-9, 1e-10, 1e-30])  # rows scale · y, each against y
    np_dtype, tol = numpy_dtype(dtype), tolerance(dtype, "forward")
    A, b = (scales[:, None] * y).astype(np_dtype), y.astype(np_dtype)
    documented = np.array([S.cosine_similarity(row, b) for row in A])  # all 1
    with parity_mode():
        At, bt = to_tensor(A, device, dtype), to_tensor(b, device, dtype)
        ours = to_numpy(T.cosine_similarity(At, bt.expand_as(At)))
        default = to_numpy(F.cosine_similarity(At, bt.expand_as(At), dim=-1))
    short = np.linalg.norm(A.astype(np.float64), axis=1) < 1e-8
    records = [
        compare("documented cosine (1 for every scale)", documented, np.ones(len(A)), tol),
        compare("torch_ref vs documented", ours, documented, tol),
        compare("F.cosine_similarity vs documented, norms >= 1e-8", default[~short], documented[~short], tol),
        compare(
            "F.cosine_similarity differs for norms < 1e-8 (its eps clamp)",
            float(np.all(np.abs(default[short] - 1) > 1e-3)),
            1.0,
            EXACT,
        ),
    ]
    metrics = {f"F.cosine_similarity({s:g}·y, y)": float(v) for s, v in zip(scales, default)}
    return group_result(CONCEPT, "cosine-eps", "property", device, dtype, records, {"metrics": metrics})


def cdist_mm_mode(device: str, dtype: str) -> CheckResult:
    """On 40 rows far from the origin, ``torch.cdist``'s default (matrix-multiply) mode leaves
    non-zero self-distances; scratch's expanded form and ``torch_ref`` give exactly 0, and
    ``torch_ref`` matches a float64 direct computation."""
    rng = np.random.default_rng(seed_for(CONCEPT, "cdist-mm-mode"))
    A = (1e3 + rng.standard_normal((40, N))).astype(numpy_dtype(dtype))  # > 25 rows: mm mode
    A64 = A.astype(np.float64)
    direct64 = np.sqrt(np.sum((A64[:, None, :] - A64[None, :, :]) ** 2, axis=2))
    scratch = S.euclidean_matrix(A)
    with parity_mode():
        At = to_tensor(A, device, dtype)
        ours = to_numpy(T.euclidean_matrix(At))
        default = to_numpy(torch.cdist(At, At))
    tol = tolerance(dtype, "forward")
    records = [
        compare("scratch self-distances", np.diag(scratch), np.zeros(len(A)), EXACT),
        compare("torch_ref self-distances", np.diag(ours), np.zeros(len(A)), EXACT),
        compare("torch_ref vs float64 direct", ours, direct64.astype(A.dtype), tol),
    ]
    metrics = {
        "cdist default: max self-distance": float(np.abs(np.diag(default)).max()),
        "cdist default: max error": float(np.abs(default - direct64).max()),
        "scratch expanded form: max error (data not centered)": float(np.abs(scratch - direct64).max()),
    }
    return group_result(CONCEPT, "cdist-mm-mode", "property", device, dtype, records, {"metrics": metrics})


register(ParityCheck(CONCEPT, "cosine-eps", "property", cosine_eps))
register(ParityCheck(CONCEPT, "cdist-mm-mode", "property", cdist_mm_mode))


# --- oracle: SciPy ----------------------------------------------------------------------------
def scipy_oracle(device: str, dtype: str) -> CheckResult:
    """SciPy's distances (as similarities: ``1 − d`` for cosine, correlation and Jaccard)."""
    try:
        from scipy.spatial import distance
    except ImportError:
        raise CheckUnavailable("SciPy is not installed (pip install 'dlparity[test]')") from None
    rng = np.random.default_rng(seed_for(CONCEPT, "scipy"))
    np_dtype, tol = numpy_dtype(dtype), tolerance(dtype, "forward")
    records = []
    for metric, scipy_name in zip(METRICS, ("cosine", "euclidean", "correlation", "jaccard")):
        inputs = {k: v.astype(np_dtype) for k, v in random_inputs(metric, rng).items()}
        if metric == "jaccard":  # an empty set in each matrix, and two in the pair
            inputs["A"][0] = inputs["B"][0] = inputs["a"][:] = inputs["b"][:] = 0
        x = {k: v.astype(bool) if metric == "jaccard" else v.astype(np.float64) for k, v in inputs.items()}
        D_pair = getattr(distance, scipy_name)(x["a"], x["b"])
        D = distance.cdist(x["A"], x["B"], scipy_name)
        expected = (
            {"pair": D_pair, "matrix": D} if metric == "euclidean" else {"pair": 1 - D_pair, "matrix": 1 - D}
        )
        got = {"scratch": outputs(S, metric)(**inputs)}
        with parity_mode():
            got["torch"] = {
                k: to_numpy(v)
                for k, v in outputs(T, metric)(
                    **{k: to_tensor(v, device, dtype) for k, v in inputs.items()}
                ).items()
            }
        records += [
            compare(
                f"{metric} {kind} ({side}) vs scipy",
                np.asarray(got[side][kind]),
                np.asarray(expected[kind]),
                tol,
            )
            for side in ("scratch", "torch")
            for kind in ("pair", "matrix")
        ]
    return group_result(CONCEPT, "scipy", "oracle", device, dtype, records)


register(ParityCheck(CONCEPT, "scipy", "oracle", scipy_oracle))


# --- forward: nearest neighbours on digits ----------------------------------------------------
QUERY_STEP, TOP = 9, 5  # every 9th image is a query (200 of 1797); top 5 neighbours


def digits_retrieval(device: str, dtype: str) -> CheckResult:
    """Top-5 most similar images per query, by Euclidean distance and by Jaccard on pixels
    >= 8/16, identical on both sides; precision@5 (neighbours of the query's digit) reported."""
    X, labels = datasets.digits()
    X = columns_to_rows(X).astype(numpy_dtype(dtype))  # (1797, 64), multiples of 1/16
    q = np.arange(0, X.shape[0], QUERY_STEP)  # (200,) query indices
    binary = (X >= 0.5).astype(X.dtype)  # pixels 8..16 of 16
    scratch = {
        "euclidean": S.top_k(S.euclidean_matrix(X[q], X), TOP, largest=False, exclude=q),
        "jaccard": S.top_k(S.jaccard_matrix(binary[q], binary), TOP, exclude=q),
    }
    with parity_mode():
        Xt, Bt = to_tensor(X, device, dtype), to_tensor(binary, device, dtype)
        qt = torch.as_tensor(q, device=device)
        ours = {
            "euclidean": T.top_k(T.euclidean_matrix(Xt[qt], Xt), TOP, largest=False, exclude=qt),
            "jaccard": T.top_k(T.jaccard_matrix(Bt[qt], Bt), TOP, exclude=qt),
        }
    records, metrics = [], {}
    for metric, idx in scratch.items():
        records.append(compare(f"{metric} top-{TOP} indices", idx, to_numpy(ours[metric]), EXACT))
        for side, found in (("scratch", idx), ("torch", to_numpy(ours[metric]))):
            metrics[f"{metric} precision@{TOP} ({side})"] = float(
                np.mean(labels[found] == labels[q][:, None])
            )
    return group_result(CONCEPT, "digits-retrieval", "forward", device, dtype, records, {"metrics": metrics})


register(ParityCheck(CONCEPT, "digits-retrieval", "forward", digits_retrieval))
