"""Break a scratch backward on purpose (a sign, a 1/m, a transpose, a branch) and check that the
registered parity checks fail *and* that their diagnosis names the mistake.

Each mutant edits one line of a copy of the sources in a temporary folder and runs that
concept's registered checks (CPU, float64) in a subprocess, so the real tree is never touched.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from parity_tests.tests.mutation import mutated_tree, run_in_tree

# (id, file, original line fragment, mutated fragment, concept, phrase the diagnosis must contain)
MUTANTS = [
    (
        "dense-dW-missing-1/m",
        "scratch/dense.py",
        "dW = (dZ @ A_prev.T) / m",
        "dW = (dZ @ A_prev.T)",
        "dense",
        "factor of m (m=5): the 1/m of the cost",
    ),
    (
        "dense-dW-transposed",
        "scratch/dense.py",
        "dW = (dZ @ A_prev.T) / m",
        "dW = (A_prev @ dZ.T) / m",
        "dense",
        "transposed",
    ),
    (
        "dense-db-summed-over-everything",
        "scratch/dense.py",
        "db = np.sum(dZ, axis=1, keepdims=True) / m",
        "db = np.sum(dZ) / m",
        "dense",
        "keepdims=True",
    ),
    (
        "dense-dA_prev-sign",
        "scratch/dense.py",
        "dA_prev = W.T @ dZ",
        "dA_prev = -W.T @ dZ",
        "dense",
        "sign is flipped",
    ),
    (
        "logreg-dZ-sign",
        "scratch/logreg.py",
        "dZ = A - Y  # (1, m)",
        "dZ = Y - A  # (1, m)",
        "logreg",
        "sign is flipped",
    ),
    (
        "logreg-loop-dw-missing-1/m",
        "scratch/logreg.py",
        '{"dw": dw / m, "db": db / m}',
        '{"dw": dw, "db": db / m}',
        "logreg",
        "the 1/m of the cost J = 1/m Σ L is missing",
    ),
    (
        "logreg-db-missing-1/m",
        "scratch/logreg.py",
        "db = np.sum(dZ, axis=1, keepdims=True) / m  # (1, 1)",
        "db = np.sum(dZ, axis=1, keepdims=True)  # (1, 1)",
        "logreg",
        "wrong only in the bias",
    ),
    (
        "relu-prime-at-0",
        "scratch/activations.py",
        "return (Z > 0).astype(Z.dtype)",
        "return (Z >= 0).astype(Z.dtype)",
        "activations",
        "inputs at exactly 0",
    ),
    (
        "leaky-relu-prime-negative-branch",
        "scratch/activations.py",
        "np.where(Z > 0, Z.dtype.type(1), Z.dtype.type(slope))",
        "np.where(Z > 0, Z.dtype.type(1), Z.dtype.type(0))",
        "activations",
        "negative inputs",
    ),
    (
        "squared-error-without-half",
        "scratch/losses.py",
        "np.sum((Y_hat - Y) ** 2) / (2 * m)",
        "np.sum((Y_hat - Y) ** 2) / m",
        "losses",
        "factor of 2",
    ),
    (
        "gd-ascends",
        "scratch/gd.py",
        "p - p.dtype.type(alpha) * dp",
        "p + p.dtype.type(alpha) * dp",
        "gd",
        "first diverges at step 0",
    ),
]

RUNNER = """
import json, sys
from parity_tests.registry import all_checks
out = []
for check in all_checks([sys.argv[1]]):
    if "breast-cancer" in check.case or check.slow:  # real-data runs add time, not coverage
        continue
    try:
        r = check.run("cpu", "float64")
        out.append({"id": check.id, "passed": r.passed,
                    "text": str(r)})
    except Exception as exc:
        out.append({"id": check.id, "passed": False, "text": f"{type(exc).__name__}: {exc}"})
print(json.dumps(out))
"""


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_mutant_is_caught_and_named(mutant, tmp_path: Path) -> None:
    _, file, old, new, concept, phrase = mutant
    root = mutated_tree(tmp_path, file, old, new)
    results = run_in_tree(root, RUNNER, concept)
    failed = [r for r in results if not r["passed"]]
    assert failed, f"mutant {mutant[0]} survived: every {concept} check passed"
    texts = "\n".join(r["text"] for r in failed)
    assert phrase in texts, f"no diagnosis names the mistake ({phrase!r}); got:\n{texts[:3000]}"


# Update rules checked step by step (issue 20): a testbed's agents compared only by the bands of
# their figures let a sample average divided by N + 1 pass. These run only the checks whose id
# contains the given fragment (the testbed's), so they stay quick.
# (id, file, original line fragment, mutated fragment, concept, check-id fragment, phrase)
UPDATE_MUTANTS = [
    (
        "bandit-sample-average-N+1",
        "scratch/rl/bandit.py",
        "Q[rows, a] += (R - Q[rows, a]) / N[rows, a]",
        "Q[rows, a] += (R - Q[rows, a]) / (N[rows, a] + 1)",
        "rl",
        "testbed",
        "the step size is 1/(N + 1), not 1/N",
    ),
    (
        "gradient-bandit-baseline-off-by-one",
        "scratch/rl/bandit.py",
        "R_bar += (R - R_bar) / (t + 1)",
        "R_bar += (R - R_bar) / (t + 2)",
        "rl",
        "testbed",
        "with baseline: the gradient bandit first differs at step 0",
    ),
    (
        "gradient-bandit-update-sign",
        "scratch/rl/bandit.py",
        "H -= alpha * advantage * pi",
        "H += alpha * advantage * pi",
        "rl",
        "testbed",
        "with baseline: the gradient bandit first differs at step 1",
    ),  # step 0 has R − R̄ = 0
]

FILTERED_RUNNER = RUNNER.replace(
    "for check in all_checks([sys.argv[1]]):",
    "for check in [c for c in all_checks([sys.argv[1]]) if sys.argv[2] in c.id]:",
)


@pytest.mark.parametrize("mutant", UPDATE_MUTANTS, ids=[m[0] for m in UPDATE_MUTANTS])
def test_update_rule_mutant_is_caught_step_by_step(mutant, tmp_path: Path) -> None:
    _, file, old, new, concept, only, phrase = mutant
    root = mutated_tree(tmp_path, file, old, new)
    results = run_in_tree(root, FILTERED_RUNNER, concept, only)
    assert results, f"no {concept} check id contains {only!r}"
    failed = [r for r in results if not r["passed"]]
    assert any(r["id"].endswith("-trajectory") for r in failed), (
        f"mutant {mutant[0]} survived every step-by-step check:\n"
        + "\n".join(r["text"] for r in results)[:3000]
    )
    texts = "\n".join(r["text"] for r in failed)
    assert phrase in texts, f"no diagnosis names the mistake ({phrase!r}); got:\n{texts[:3000]}"
