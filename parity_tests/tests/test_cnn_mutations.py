"""Typical convolution mistakes, made on purpose: each mutant edits one line of a copy of the
scratch CNN, runs the registered ``cnn`` checks it concerns (CPU, float64) in a subprocess, and
must fail *with a diagnosis that names the mistake* (:mod:`parity_tests.concepts._cnn_diagnose`).
The real tree is never touched. The diagnoses are also unit-tested in-process below.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from parity_tests.concepts import _cnn_diagnose as D
from parity_tests.tests.mutation import mutated_tree, run_in_tree
from parity_tests.tolerances import tolerance
from scratch import cnn as S

# (id, file, original line fragment, mutated fragment, case prefix, phrase the diagnosis must contain)
MUTANTS = [
    (
        "flipped-kernel",
        "scratch/_cnn_vectorized.py",
        "Z = cols.T @ W.reshape(-1, n_C)",
        "Z = cols.T @ W[::-1, ::-1].reshape(-1, n_C)",
        "conv-vectorized",
        "the kernel is flipped",
    ),
    (
        "pad-on-one-side",
        "scratch/_cnn_common.py",
        "X_pad[:, pad : pad + n_H, pad : pad + n_W, :] = X",
        "X_pad[:, :n_H, :n_W, :] = X",
        "conv-",
        "padded on one side only (all 2p after: bottom and right)",
    ),
    (
        "stride-ignored-in-backward",
        "scratch/_cnn_vectorized.py",
        "rows, columns = slice(i, i + stride * n_H, stride), slice(j, j + stride * n_W, stride)",
        "rows, columns = slice(i, i + n_H), slice(j, j + n_W)",
        "conv-vectorized",
        "the backward ignores the stride",
    ),
    (
        "db-summed-over-wrong-axes",
        "scratch/_cnn_vectorized.py",
        "db = (np.ones(len(dZ_rows), dtype=W.dtype) @ dZ_rows).reshape(1, 1, 1, n_C)",
        "db = np.sum(dZ, axis=(1, 2), keepdims=True)",
        "conv-vectorized",
        "db sums dZ over (n_H, n_W) instead of over (m, n_H, n_W)",
    ),
    (
        "dA_prev-cropped-from-one-side",
        "scratch/_cnn_loops.py",
        "dA_prev = dA_prev_pad[:, pad : pad + n_H_prev, pad : pad + n_W_prev, :]",
        "dA_prev = dA_prev_pad[:, :n_H_prev, :n_W_prev, :]",
        "conv-loop",
        "cropped from the wrong side",
    ),
    (
        "max-pool-gradient-to-every-tie",
        "scratch/_cnn_loops.py",
        "mask[np.unravel_index(np.argmax(x), x.shape)] = True",
        "mask |= x == np.max(x)",
        "pool-loop",
        "every tied maximum",
    ),
]

RUNNER = """
import json, sys
import parity_tests.concepts.cnn  # registers the cnn checks only (no other concept is imported)
from parity_tests.registry import _REGISTRY
out = []
for check in _REGISTRY.values():
    if not check.case.startswith(sys.argv[1]) or check.level not in ("forward", "gradient"):
        continue
    try:
        r = check.run("cpu", "float64")
        out.append({"id": check.id, "passed": r.passed, "text": str(r)})
    except Exception as exc:
        out.append({"id": check.id, "passed": False, "text": f"{type(exc).__name__}: {exc}"})
print(json.dumps(out))
"""


FAST = ("flipped-kernel", "max-pool-gradient-to-every-tie")  # the others are marked slow (~6 s each)


@pytest.mark.parametrize(
    "mutant",
    [m if m[0] in FAST else pytest.param(m, marks=pytest.mark.slow) for m in MUTANTS],
    ids=[m[0] for m in MUTANTS],
)
def test_mutant_is_caught_and_named(mutant, tmp_path: Path) -> None:
    _, file, old, new, prefix, phrase = mutant
    root = mutated_tree(tmp_path, file, old, new)
    results = run_in_tree(root, RUNNER, prefix)
    assert results, f"no registered cnn check starts with {prefix!r}"
    failed = [r for r in results if not r["passed"]]
    assert failed, f"mutant {mutant[0]} survived: every {prefix}* check passed"
    texts = "\n".join(r["text"] for r in failed)
    assert phrase in texts, f"no diagnosis names the mistake ({phrase!r}); got:\n{texts[:3000]}"


# --- the diagnoses themselves, in-process -------------------------------------------------------
RNG = np.random.default_rng(0)
A, W = RNG.standard_normal((2, 7, 10, 3)), RNG.standard_normal((3, 3, 3, 4))
B = RNG.standard_normal((1, 1, 1, 4))
TOL = tolerance("float64", "gradient")


def test_forward_diagnoses() -> None:
    assert D.conv_forward(S.conv_forward(A, W[::-1, ::-1], B, 2, 1)[0], A, W, B, 2, 1, TOL) == D.FLIPPED
    assert D.conv_forward(S.conv_forward(A, W, 0 * B, 2, 1)[0], A, W, B, 2, 1, TOL) == D.NO_BIAS
    shifted = S.conv_forward(np.pad(A, ((0, 0), (2, 0), (2, 0), (0, 0))), W, B, 1, 0)[0]
    assert "all 2p before" in D.conv_forward(shifted, A, W, B, 1, 1, TOL)
    assert D.conv_forward(S.conv_forward(A, W, B, 1, 1)[0], A, W, B, 2, 1, TOL) == D.STRIDE_SIZE.format(s=2)
    assert D.conv_forward(np.zeros((2, 3, 5, 4)), A, W, B, 2, 0, TOL) == D.CEIL_SIZE  # ⌈(10 − 3)/2⌉ + 1 = 5
    assert D.conv_forward(S.conv_forward(A, W, B, 2, 1)[0] + 1, A, W, B, 2, 1, TOL) is None  # unnamed


def test_backward_diagnoses() -> None:
    Z, cache = S.conv_forward(A, W, B, 2, 1)
    G = RNG.standard_normal(Z.shape)
    dA, dW, db = S.conv_backward(G, cache)
    assert D.conv_backward({"A_prev": dA, "W": dW, "b": db}, A, W, G, 2, 1, TOL) is None
    for axes, names in (((0, 1, 2, 3), "(m, n_H, n_W, n_C)"), ((1, 2), "(n_H, n_W)")):
        wrong = G.sum(axis=axes, keepdims=True)
        assert D.conv_backward({"b": wrong}, A, W, G, 2, 1, TOL) == D.DB_AXES.format(axes=names)
    flipped = S.conv_backward(G, S.conv_forward(A, W[::-1, ::-1], B, 2, 1)[1])[0]
    assert D.FLIPPED_BACKWARD in D.conv_backward({"A_prev": flipped}, A, W, G, 2, 1, TOL)


def test_max_pool_tie_diagnoses() -> None:
    A_ties = RNG.integers(0, 2, (2, 6, 7, 3)).astype(float)
    _, cache = S.pool_forward(A_ties, 2, 2)
    G = RNG.standard_normal((2, 3, 3, 3))
    right = S.pool_backward(G, cache)
    assert D.max_pool_backward(right, A_ties, 2, 2, G, TOL) is None
    for rule, text in (("all", D.ALL_TIES), ("last", D.LAST_TIE)):
        assert D.max_pool_backward(D._max_pool_vjp(A_ties, 2, 2, G, rule), A_ties, 2, 2, G, TOL) == text
