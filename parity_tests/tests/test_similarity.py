"""``similarity``: the documented values on degenerate inputs, the numerics of the expanded
Euclidean form, torch's own conventions (``eps`` clamps, ``cdist``'s mm mode, ``corrcoef``'s
NaN), retrieval ties, bad input on both sides, and that each registered check fails when the
scratch side is broken."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from parity_tests.compare import assert_close
from parity_tests.concepts import similarity as C
from parity_tests.registry import _REGISTRY
from scratch import similarity as S
from torch_ref import similarity as T
from torch_ref.layout import to_numpy, to_tensor

RNG = np.random.default_rng(11)
Y = RNG.standard_normal(5)


def both(metric: str, A: np.ndarray, B: np.ndarray | None, device: str, dtype: str):
    """The matrix of ``metric`` on both sides (``B`` omitted = within ``A``)."""
    A = A.astype(dtype)
    s = getattr(S, f"{metric}_matrix")(A, None if B is None else B.astype(dtype))
    At = to_tensor(A, device, dtype)
    t = getattr(T, f"{metric}_matrix")(At, None if B is None else to_tensor(B.astype(dtype), device, dtype))
    assert t.dtype == getattr(torch, dtype) and t.device.type == device
    return s, to_numpy(t)


# --- documented values ------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1e-170, 1e-30, 1e-10, 1.0, 1e30, 1e170])
def test_cosine_is_scale_invariant_without_overflow(scale: float, device: str) -> None:
    dtype = "float64" if abs(np.log10(scale)) > 35 else "float32"
    A = np.stack([scale * Y, -scale * Y, np.zeros(5)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow/underflow/invalid warning on either side
        s, t = both("cosine", A, Y[None, :], device, dtype)
    for got in (s, t):
        assert_close(got[:, 0], np.array([1.0, -1.0, 0.0]), dtype=dtype)


def test_zero_vector_has_cosine_0_even_with_itself(device: str) -> None:
    zero = np.zeros(4)
    assert S.cosine_similarity(zero, zero) == 0
    assert T.cosine_similarity(torch.zeros(4, device=device), torch.zeros(4, device=device)) == 0
    s, t = both("cosine", np.zeros((3, 4)), None, device, "float64")
    assert not s.any() and not t.any()


def test_constant_vectors_have_pearson_0(device: str) -> None:
    A = np.array([[0.1] * 7, [3.0] * 7, [0.0] * 7, list(range(7))])
    assert float(np.mean(A[0])) != 0.1  # why "constant" is tested exactly, not via the mean
    s, t = both("pearson", A, None, device, "float64")
    for got in (s, t):
        assert not got[:3].any() and not got[:, :3].any() and got[3, 3] == pytest.approx(1, abs=1e-15)
    assert S.pearson_correlation(A[0], A[3]) == 0
    assert float(T.pearson_correlation(torch.tensor(A[0]), torch.tensor(A[3]))) == 0


def test_pearson_of_affine_copies_is_plus_minus_1(device: str) -> None:
    s, t = both("pearson", np.stack([Y, 2 * Y + 1, -3 * Y]), None, device, "float64")
    for got in (s, t):
        assert_close(got, np.array([[1, 1, -1], [1, 1, -1], [-1, -1, 1.0]]))


def test_jaccard_of_empty_sets_is_1_and_sets_agree_with_vectors() -> None:
    assert S.jaccard_sets(set(), []) == 1.0
    assert S.jaccard_sets({"a", "b", "c"}, {"b", "c", "d", "e"}) == 2 / 5
    vocab = ["a", "b", "c", "d", "e"]
    a, b = [w in {"a", "b", "c"} for w in vocab], [w in {"b", "c", "d", "e"} for w in vocab]
    assert S.jaccard_similarity(a, b) == 2 / 5
    assert float(T.jaccard_similarity(torch.tensor(a), torch.tensor(b))) == pytest.approx(2 / 5)
    assert S.jaccard_similarity(np.zeros(3, bool), np.zeros(3, bool)) == 1.0
    assert T.jaccard_similarity(torch.zeros(3, dtype=torch.bool), torch.zeros(3, dtype=torch.bool)) == 1


def test_jaccard_dtype_follows_the_input() -> None:
    B = np.array([[1, 0, 1], [0, 0, 0]])
    assert S.jaccard_matrix(B).dtype == np.float64
    assert S.jaccard_matrix(B.astype(np.float32)).dtype == np.float32
    assert T.jaccard_matrix(torch.tensor(B, dtype=torch.bool)).dtype == torch.get_default_dtype()
    assert T.jaccard_matrix(torch.tensor(B, dtype=torch.float64)).dtype == torch.float64


# --- the expanded Euclidean form --------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_identical_rows_are_exactly_0_apart_and_d_is_never_nan(dtype: str, device: str) -> None:
    rng = np.random.default_rng(3)
    A = 1e3 + rng.standard_normal((30, 6))  # far from the origin: the expanded form cancels
    A[7], A[19] = A[2], A[2]  # identical rows at other indices
    s, t = both("euclidean", A, A[[2, 5]].copy(), device, dtype)
    for got in (s, t):
        assert np.all(np.isfinite(got)) and np.all(got >= 0)
        assert got[2, 0] == got[7, 0] == got[19, 0] == got[5, 1] == 0
    within, _ = both("euclidean", A, None, device, dtype)
    assert np.all(np.diag(within) == 0) and np.array_equal(within, within.T)


def test_expanded_form_clamps_negative_squares_at_0() -> None:
    a = np.array([[0.1, 0.2, 0.3]])
    b = a * (1 + 1e-16)  # equal up to rounding: a2 + b2 − 2ab may come out below 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # sqrt of a negative would warn
        d = S.euclidean_matrix(a, b)
    assert d[0, 0] >= 0 and np.isfinite(d[0, 0])


def test_matrix_entries_equal_the_pair_functions() -> None:
    A, B = RNG.standard_normal((6, 5)), RNG.standard_normal((3, 5))
    for metric in ("cosine", "euclidean", "pearson"):
        M = getattr(S, f"{metric}_matrix")(A, B)
        pair = C._fn(S, metric, "pair")
        assert_close(M, np.array([[pair(a, b) for b in B] for a in A]), name=metric)
    Ab, Bb = RNG.random((6, 8)) < 0.5, RNG.random((3, 8)) < 0.5
    assert_close(S.jaccard_matrix(Ab, Bb), np.array([[S.jaccard_similarity(a, b) for b in Bb] for a in Ab]))


# --- torch's own conventions ------------------------------------------------------------------
def test_torch_builtins_differ_where_documented(device: str) -> None:
    y = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, device=device)
    assert float(F.cosine_similarity(1e-10 * y, y, dim=0)) == pytest.approx(0.0374, abs=1e-4)
    assert float(T.cosine_similarity(1e-10 * y, y)) == 1.0
    assert float(F.pairwise_distance(y[None], y[None])) > 0  # its eps = 1e-6 on the difference
    assert float(T.euclidean_distance(y, y)) == 0
    R = torch.corrcoef(torch.stack([torch.full_like(y, 0.5), y]))
    assert torch.isnan(R[0, 1])
    assert float(T.pearson_correlation(torch.full_like(y, 0.5), y)) == 0


def test_cdist_default_mode_loses_self_distances_ours_do_not() -> None:
    A = torch.tensor(1e3 + np.random.default_rng(0).standard_normal((40, 5)), dtype=torch.float32)
    assert float(torch.cdist(A, A).diagonal().abs().max()) > 0  # the STYLE trap, > 25 rows
    assert float(T.euclidean_matrix(A).diagonal().abs().max()) == 0


# --- retrieval --------------------------------------------------------------------------------
def test_top_k_breaks_ties_by_the_lowest_index_on_both_sides(device: str) -> None:
    S_ = np.array([[0.5, 0.9, 0.5, 0.9, 0.1], [1.0, 1.0, 1.0, 0.0, 1.0]])
    expected = [[1, 3, 0], [0, 1, 2]]
    assert S.top_k(S_, 3).tolist() == expected
    assert T.top_k(torch.tensor(S_, device=device), 3).tolist() == expected
    assert S.top_k(S_, 2, largest=False, exclude=np.array([4, 3])).tolist() == [[0, 2], [0, 1]]
    got = T.top_k(
        torch.tensor(S_, device=device), 2, largest=False, exclude=torch.tensor([4, 3], device=device)
    )
    assert got.tolist() == [[0, 2], [0, 1]]


# --- bad input --------------------------------------------------------------------------------
def test_bad_input_is_named_on_both_sides() -> None:
    A, B = np.ones((3, 4)), np.ones((2, 5))
    with pytest.raises(ValueError, match=r"B: has 5 features but A has 4.*\(3, 4\).*\(2, 5\)"):
        S.cosine_matrix(A, B)
    with pytest.raises(ValueError, match=r"B: expected \(m_b, 4\)"):
        T.cosine_matrix(torch.ones(3, 4), torch.ones(2, 5))
    with pytest.raises(ValueError, match="NaN"):
        S.euclidean_matrix(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="NaN"):
        T.euclidean_matrix(torch.tensor([[1.0, float("nan")]]))
    with pytest.raises(ValueError, match=r"A: expected a matrix of row vectors.*reshape"):
        S.pearson_matrix(np.ones(4))
    with pytest.raises(ValueError, match=r"b: has 3 features but a has 4"):
        S.cosine_similarity(np.ones(4), np.ones(3))
    with pytest.raises(ValueError, match=r"x2: has shape \(3,\)"):
        T.cosine_similarity(torch.ones(4), torch.ones(3))
    with pytest.raises(ValueError, match=r"A: binary vectors hold only 0 and 1, got values \[2\]"):
        S.jaccard_matrix(np.array([[0, 2, 1]]))
    with pytest.raises(ValueError, match="A: binary vectors hold only 0 and 1"):
        T.jaccard_matrix(torch.tensor([[0, 2, 1]]))
    with pytest.raises(TypeError, match="complex"):
        S.cosine_matrix(np.ones((2, 2), complex))
    with pytest.raises(TypeError, match="x1: expected a floating tensor"):
        T.cosine_similarity(torch.ones(3, dtype=torch.int64), torch.ones(3))
    with pytest.raises(ValueError, match=r"k: expected 1 <= k <= 4"):
        S.top_k(np.ones((2, 5)), 5, exclude=np.array([0, 1]))


# --- the registered checks detect a broken scratch side ---------------------------------------
JACCARD = S.jaccard_matrix


def _no_refinement(A, B=None):
    """The expanded form without recomputing the pairs within its rounding bound."""
    B = A if B is None else B
    return np.sqrt(np.maximum(np.sum(A * A, 1)[:, None] + np.sum(B * B, 1)[None] - 2 * A @ B.T, 0))


MUTANTS = [  # (case, scratch attribute, broken replacement)
    (
        "cosine-degenerate",
        "_unit",  # torch's eps clamp instead of scaling first
        lambda A: A / np.maximum(np.sqrt(np.sum(A * A, axis=-1, keepdims=True)), 1e-8),
    ),
    ("cdist-mm-mode", "euclidean_matrix", _no_refinement),
    ("pearson-degenerate", "_centered", lambda A: A - np.mean(A, axis=-1, keepdims=True)),
    (
        "jaccard-degenerate",
        "jaccard_matrix",  # empty sets given 0
        lambda A, B=None: JACCARD(A, B) * (np.asarray(A).sum(1) > 0)[:, None],
    ),
]


@pytest.mark.parametrize("case, attr, broken", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_registered_check_catches_a_broken_scratch_side(case, attr, broken, monkeypatch) -> None:
    check = next(c for c in _REGISTRY.values() if c.concept == "similarity" and c.case == case)
    for dtype in ("float32", "float64"):
        assert check.run("cpu", dtype).passed
    monkeypatch.setattr(S, attr, broken)
    for dtype in ("float32", "float64"):
        with np.errstate(over="ignore", invalid="ignore"):  # the broken code may overflow
            assert not check.run("cpu", dtype).passed, dtype
