"""``dlparity check`` on course 4 week 1 ("Convolution model – Step by Step"): a correct learner
file passes and is told apart from the other parts; one-bug files fail with the bug named; the
torch references reproduce the notebook's published expected outputs; the course's max-pool tie
rule (every tied maximum) is the one the learner is held to."""

from __future__ import annotations

import linecache
import types
from pathlib import Path

import numpy as np
import pytest

from parity_tests.course import check_course, conv, load_course_file
from parity_tests.tests.test_course_check_mutations import FIXTURES, function_source
from parity_tests.tolerances import tolerance
from scratch import cnn

GRADIENT = tolerance("float64", "gradient")

CONV = "conv_solution.py"
ONE_MAX = "mask = (np.arange(x.size) == np.argmax(x)).reshape(x.shape)"  # np.argmax: the first maximum only


def mutant(fixture: str, function: str, pairs: list[tuple[str, str]]) -> types.ModuleType:
    """The fixture loaded, with ``function`` redefined after each ``old -> new`` (each ``old``
    occurring exactly once in it)."""
    path = FIXTURES / fixture
    module = load_course_file(path).module
    text = path.read_text()
    src = new_src = function_source(path, function)
    for old, new in pairs:
        assert src.count(old) == 1, f"{old!r} occurs {src.count(old)} times in {function}"
        new_src = new_src.replace(old, new)
    text = text.replace(src, new_src)
    name = f"{path}#mutant"  # tracebacks show the mutated lines, at their lines in the file
    linecache.cache[name] = (len(text), None, text.splitlines(True), name)
    padded = "\n" * text[: text.index(new_src)].count("\n") + new_src
    exec(compile(padded, name, "exec"), module.__dict__)
    return module


def test_a_correct_file_passes_as_the_conv_part() -> None:
    report = check_course(FIXTURES / CONV)
    assert report.passed and report.exit_status == 0, str(report)
    assert report.detection.part == "conv"
    assert [r.name for r in report.results] == [
        "zero_pad",
        "conv_single_step",
        "conv_forward",
        "pool_forward",
        "conv_backward",
        "create_mask_from_window",
        "distribute_value",
        "pool_backward",
    ]
    pool = next(r for r in report.results if r.name == "pool_backward")
    assert conv.TIES_NOTE in pool.notes  # the course's tie rule is said
    assert any("pad 0" in rec.name for r in report.results for rec in r.records)  # a pad-0 case is run


# (function, [(old, new), …], phrase the diagnosis must contain)
MUTANTS = [
    ("conv_forward", [("weights = W[:, :, :, c]", "weights = W[::-1, ::-1, :, c]")], "the kernel is flipped"),
    (
        "conv_forward",
        [("for h in range(n_H):", "for h in range(0, n_H, stride):")],
        "the stride is applied twice",
    ),
    ("conv_forward", [("vert_start = h * stride", "vert_start = h")], "the stride is not applied"),
    (
        "conv_single_step",
        [("Z = np.sum(s) + b.item()", "Z = np.sum(s + b)")],
        "the bias is added to every element before the sum (counted f·f·n_C_prev = 36 times)",
    ),
    ("conv_single_step", [("Z = np.sum(s) + b.item()", "Z = np.sum(s)")], "without + b"),
    ("conv_single_step", [("b.item()", "float(b)")], "use np.squeeze(b) or b.item()"),
    ("conv_single_step", [("b.item()", "b")], "Z is a (1, 1, 1) array, not a number"),
    ("zero_pad", [("((0, 0), (pad, pad), (pad, pad), (0, 0))", "pad")], "every axis is padded"),
    (
        "pool_forward",
        [("A[i, h, w, c] = np.mean(a_prev_slice)", "A[i, h, w, c] = np.sum(a_prev_slice) / f")],
        "divides by f instead of f·f",
    ),
    ("pool_forward", [('elif mode == "average":', 'elif mode == "avg":')], 'test mode == "average"'),
    (
        "conv_backward",
        [("da_prev_pad[pad:pad + n_H_prev, pad:pad + n_W_prev, :]", "da_prev_pad[pad:-pad, pad:-pad, :]")],
        "[pad:-pad] keeps nothing when pad = 0",
    ),
    (
        "conv_backward",
        [("dW[:, :, :, c] += a_slice * dZ[i, h, w, c]", "dW[:, :, :, c] += a_slice * dZ[i, h, w, c] / m")],
        "dW and db are divided by m",
    ),
    ("create_mask_from_window", [("mask = x == np.max(x)", ONE_MAX)], "ties routed to one maximum"),
    (
        "distribute_value",
        [("average = dz / (n_H * n_W)", "average = dz / (n_H + n_W)")],
        "dz is divided by n_H + n_W",
    ),
    (
        "pool_backward",
        [("vert_start = h * stride", "vert_start = h"), ("horiz_start = w * stride", "horiz_start = w")],
        "pool_backward ignores the stride",
    ),
    (
        "pool_backward",
        [
            (
                "mask = create_mask_from_window(a_prev_slice)",
                "mask = a_prev_slice == a_prev_slice.flat[np.argmax(a_prev_slice)]\n"
                "                        mask = mask & (np.cumsum(mask).reshape(mask.shape) == 1)",
            )
        ],
        "ties routed to one maximum",
    ),
    (
        "conv_forward",
        [("vert_start = h * stride", "vert_start = h * stride * stride")],
        "it runs with stride 1 but not with stride 2: a window a_slice_prev runs past the padded input",
    ),
]


@pytest.mark.parametrize("function, pairs, phrase", MUTANTS, ids=[f"{m[0]}:{m[2][:40]}" for m in MUTANTS])
def test_slip_fails_with_its_diagnosis(function: str, pairs: list[tuple[str, str]], phrase: str) -> None:
    (result,) = check_course(mutant(CONV, function, pairs), part="conv", functions=[function]).results
    assert result.status == "FAIL", result.to_dict()
    assert phrase in (result.diagnosis or ""), (phrase, result.diagnosis)


def test_a_mask_on_one_maximum_is_blamed_first_and_named_in_pool_backward() -> None:
    module = mutant(CONV, "create_mask_from_window", [("mask = x == np.max(x)", ONE_MAX)])
    r = {x.name: x for x in check_course(module, part="conv").results}
    assert r["pool_backward"].diagnosis == "uses create_mask_from_window, which fails: fix that first"
    assert "ties routed to one maximum" in r["pool_backward"].own_diagnosis
    assert r["pool_forward"].passed and r["conv_backward"].passed


def test_the_untouched_template_says_not_implemented() -> None:
    module = types.ModuleType("template")
    exec(
        "import numpy as np\n"
        "def zero_pad(X, pad):\n    X_pad = None\n    return X_pad\n"
        "def conv_forward(A_prev, W, b, hparameters):\n    (m, n_H_prev, n_W_prev, n_C_prev) = None\n"
        "    return None, None\n"
        "def distribute_value(dz, shape):\n    pass\n",
        module.__dict__,
    )
    r = {x.name: x for x in check_course(module, part="conv").results}
    assert all(x.status == "FAIL" for x in r.values())
    for name in ("zero_pad", "distribute_value"):
        assert "None — not implemented yet?" in r[name].diagnosis, r[name].diagnosis
        assert "Traceback" not in r[name].diagnosis
    back = r["conv_forward"].diagnosis
    assert "the template's `… = None` placeholder" in back and "not implemented yet?" in back, back


def test_a_backward_reading_a_test_cells_global_is_not_checkable(tmp_path: Path) -> None:
    """A learner's conv_backward that reads W from a variable of a test cell: dlparity does not run
    that cell, so the function cannot be checked — which the report says, naming W and the line."""
    text = (FIXTURES / CONV).read_text()
    unpacked = "    (A_prev, W, b, hparameters) = cache\n"
    text = text.replace(unpacked, unpacked.replace(" W,", " _,"))  # its W: the global the last line sets
    text += "\nW = np.random.randn(3, 3, 4, 8)\n"
    path = tmp_path / "conv_global.py"
    path.write_text(text)
    r = {x.name: x for x in check_course(path).results}
    back = r["conv_backward"]
    assert back.status == "NOT CHECKABLE" and back.needs == ["W"]
    line = text.splitlines().index("W = np.random.randn(3, 3, 4, 8)") + 1
    assert back.diagnosis == f"needs W (set at line {line}, which dlparity does not run)", back.diagnosis
    assert r["conv_forward"].passed


# --- the references -------------------------------------------------------------------------------
def test_the_course_tie_rule_is_torchs_where_no_window_holds_a_tie() -> None:
    """Without ties the course's mask rule (unfold/fold) equals autograd of max_pool2d and
    dlparity's own pooling; with ties it sends dA to every tied maximum, and they to the first."""
    for case in conv.POOL_CASES:
        A_prev, f, s = conv.pool_data(case, "test")
        dA = np.random.default_rng(0).normal(size=conv.pool_ref(A_prev, f, s, "max")["A"].shape)
        assert not conv.has_ties(A_prev, f, s)
        rule = conv.course_max_pool_backward(A_prev, dA, f, (s, s))
        first = conv.pool_ref(A_prev, f, s, "max", dA, ties="first")["dA_prev"]
        np.testing.assert_allclose(rule, first, rtol=GRADIENT.rtol, atol=GRADIENT.atol)  # fold's sum order
        _, cache = cnn.pool_forward_loop(A_prev, f, s, "max")
        np.testing.assert_allclose(
            cnn.pool_backward_loop(dA, cache), first, rtol=GRADIENT.rtol, atol=GRADIENT.atol
        )
    x = np.array([[[[1.0], [3.0]], [[3.0], [2.0]]]])  # (1, 2, 2, 1): two tied maxima
    dA = np.full((1, 1, 1, 1), 5.0)
    assert conv.course_max_pool_backward(x, dA, 2, (2, 2)).ravel().tolist() == [0.0, 5.0, 5.0, 0.0]
    assert conv.pool_ref(x, 2, 2, "max", dA, ties="first")["dA_prev"].ravel().tolist() == [0.0, 5.0, 0.0, 0.0]


# Values the notebook prints in full (a float64 repr), written here to 13-14 significant digits:
# rtol 1e-12 holds them to the course's figure while the rounding of any CPU or BLAS (~1e-15
# relative for these sums) stays far inside it; no digit a machine decides is pinned.
FULL = dict(rtol=1e-12, atol=0)
PRINTED = dict(rtol=0, atol=5e-9)  # arrays printed to 8 decimals: half a unit in the last digit


def test_published_expected_outputs_are_reproduced_by_the_references() -> None:
    np.random.seed(1)
    x = np.random.randn(4, 3, 3, 2)
    x_pad = conv.pad_ref(x, 3)
    assert x.shape == (4, 3, 3, 2) and x_pad.shape == (4, 9, 9, 2)
    np.testing.assert_allclose(
        x[1, 1], [[0.90085595, -0.68372786], [-0.12289023, -0.93576943], [-0.26788808, 0.53035547]], **PRINTED
    )
    assert not x_pad[1, 1].any()

    np.random.seed(1)
    a_slice_prev, W, b = np.random.randn(4, 4, 3), np.random.randn(4, 4, 3), np.random.randn(1, 1, 1)
    np.testing.assert_allclose(conv.single_step_ref(a_slice_prev, W, b), -6.9990894506802, **FULL)

    np.random.seed(1)
    A_prev, W, b = np.random.randn(2, 5, 7, 4), np.random.randn(3, 3, 4, 8), np.random.randn(1, 1, 1, 8)
    Z = conv.conv_ref(A_prev, W, b, stride=2, pad=1)["Z"]
    np.testing.assert_allclose(Z.mean(), 0.5511276474567, **FULL)
    np.testing.assert_allclose(
        Z[0, 2, 1],
        [-2.17796037, 8.07171329, -0.5772704, 3.36286738, 4.48113645, -2.89198428, 10.99288867, 3.03171932],
        **PRINTED,
    )

    np.random.seed(1)
    A_prev = np.random.randn(2, 5, 5, 3)
    A = conv.pool_ref(A_prev, f=3, stride=1, mode="max")["A"]
    assert A.shape == (2, 3, 3, 3)
    np.testing.assert_allclose(
        A[1, 1],
        [
            [1.96710175, 0.84616065, 1.27375593],
            [1.96710175, 0.84616065, 1.23616403],
            [1.62765075, 1.12141771, 1.2245077],
        ],
        **PRINTED,
    )

    np.random.seed(1)
    A_prev, W, b = np.random.randn(10, 4, 4, 3), np.random.randn(2, 2, 3, 8), np.random.randn(1, 1, 1, 8)
    Z = conv.conv_ref(A_prev, W, b, stride=2, pad=2)["Z"]
    grads = conv.conv_ref(A_prev, W, b, stride=2, pad=2, dZ=Z)  # the notebook backpropagates dZ = Z
    np.testing.assert_allclose(grads["dA_prev"].mean(), 1.4524377775388, **FULL)
    np.testing.assert_allclose(grads["dW"].mean(), 1.7269914583139, **FULL)
    np.testing.assert_allclose(grads["db"].mean(), 7.8392325646168, **FULL)

    np.random.seed(1)
    x = np.random.randn(2, 3)
    t = conv._t(x)
    assert (t == t.max()).numpy().tolist() == [[True, False, False], [False, False, False]]
    np.testing.assert_allclose(conv.distribute_ref(2, (2, 2)), [[0.5, 0.5], [0.5, 0.5]], **FULL)

    np.random.seed(1)
    A_prev = np.random.randn(5, 5, 3, 2)
    dA = np.random.randn(5, 4, 2, 2)
    np.testing.assert_allclose(dA.mean(), 0.145713902729, **PRINTED)
    dA_prev1 = conv.pool_ref(A_prev, f=2, stride=1, mode="max", dA=dA)["dA_prev"]
    dA_prev2 = conv.pool_ref(A_prev, f=2, stride=1, mode="average", dA=dA)["dA_prev"]
    np.testing.assert_allclose(dA_prev1[1, 1], [[0.0, 0.0], [5.05844394, -1.68282702], [0.0, 0.0]], **PRINTED)
    np.testing.assert_allclose(
        dA_prev2[1, 1],
        [[0.08485462, 0.2787552], [1.26461098, -0.25749373], [1.17975636, -0.53624893]],
        **PRINTED,
    )
