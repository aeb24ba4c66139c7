"""``dlparity check`` on course 5 week 1: *Building a Recurrent Neural Network – Step by Step*
(part ``rnn``) and *Dinosaurus Island* (part ``charlm``). Correct files pass in every version;
one-bug files (mutants) FAIL with the slip named; detection tells Dinosaur Island's
``model``/``optimize`` from logistic regression's; the course's published expected values come
out of the checker's references; the supplied ``utils`` agree with torch."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest

from parity_tests.course import charlm, check_course, helpers, load_course_file
from parity_tests.course import rnn as course_rnn
from parity_tests.course.catalogue import detect
from parity_tests.course.common import FunctionResult, Learner
from parity_tests.course.runner import own_functions
from parity_tests.tests.test_course_check_mutations import FIXTURES, check_one, function_source

RNN, D18, D21 = "rnn_solution.py", "dinos_2018.py", "dinos_2021.py"
RNN_FUNCTIONS = [
    "rnn_cell_forward",
    "rnn_forward",
    "lstm_cell_forward",
    "lstm_forward",
    "rnn_cell_backward",
    "rnn_backward",
    "lstm_cell_backward",
    "lstm_backward",
]
CHARLM_FUNCTIONS = ["clip", "sample", "optimize", "model"]


def mutated(fixture: str, function: str, *edits: tuple[str, str]) -> types.ModuleType:
    """The fixture loaded, ``function`` redefined with each ``old -> new`` (each ``old`` once)."""
    path = FIXTURES / fixture
    module = load_course_file(path).module
    src = function_source(path, function)
    for old, new in edits:
        assert src.count(old) == 1, f"{old!r} occurs {src.count(old)} times in {function}"
        src = src.replace(old, new)
    exec(compile(src, str(path), "exec"), module.__dict__)
    return module


@pytest.mark.parametrize(
    ("fixture", "part", "names"),
    [(RNN, "rnn", RNN_FUNCTIONS), (D18, "charlm", CHARLM_FUNCTIONS), (D21, "charlm", CHARLM_FUNCTIONS)],
)
def test_correct_files_pass(fixture: str, part: str, names: list[str]) -> None:
    report = check_course(load_course_file(FIXTURES / fixture).module)
    assert report.detection.part == part
    assert [r.name for r in report.results] == names
    for r in report.results:
        assert r.passed, (r.name, r.diagnosis, r.to_dict()["worst"])


def test_a_dinosaur_file_is_checked_contained_with_its_version_and_supplied_utils() -> None:
    report = check_course(FIXTURES / D18)
    text = str(report)
    assert "part: charlm" in text and "2018–2020 (model(data, …))" in text
    assert "utils (absent)" in text and "rnn_backward" in text
    assert all(r.passed for r in report.results), text


def test_model_and_optimize_alone_are_dinosaur_island_not_logistic_regression() -> None:
    functions = own_functions(load_course_file(FIXTURES / D21).module.__dict__)
    only = {k: functions[k] for k in ("model", "optimize")}
    det = detect(only, Learner(only))
    assert det.part == "charlm" and det.assigned == {"model": "charlm", "optimize": "charlm"}
    assert det.version is not None and det.version.startswith("2021 on")
    logreg = own_functions(load_course_file(FIXTURES / "logreg_solution.py").module.__dict__)
    only = {k: logreg[k] for k in ("model", "optimize")}
    assert detect(only, Learner(only)).part == "logreg"


# (fixture, function, edits, phrase the diagnosis must contain)
MUTANTS = [
    (
        RNN,
        "lstm_cell_forward",
        [("c_next = ft * c_prev + it * cct", "c_next = it * c_prev + ft * cct")],
        "forget and update gates are swapped",
    ),
    (
        RNN,
        "rnn_cell_forward",
        [
            (
                "yt_pred = softmax(np.dot(Wya, a_next) + by)",
                "z = np.dot(Wya, a_next) + by\n    "
                "yt_pred = np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True)",
            )
        ],
        "softmax over the wrong axis",
    ),
    (RNN, "rnn_forward", [("a_next = a0", "a_next = np.zeros((n_a, m))")], "starts from zeros instead of a0"),
    (
        RNN,
        "rnn_cell_backward",
        [("dtanh = (1 - a_next ** 2) * da_next", "dtanh = (1 - a_prev ** 2) * da_next")],
        "tanh′ from the wrong array: 1 − a_prev²",
    ),
    (
        RNN,
        "rnn_cell_backward",
        [("dtanh = (1 - a_next ** 2) * da_next", "dtanh = (1 - a_next) * da_next")],
        "tanh′ written as 1 − a_next",
    ),
    (
        RNN,
        "rnn_backward",
        [
            (
                "rnn_cell_backward(da[:, :, t] + da_prevt, caches[t])",
                "rnn_cell_backward(da[:, :, t], caches[t])",
            )
        ],
        "da_prev is not carried back",
    ),
    (
        RNN,
        "lstm_backward",
        [
            (
                "lstm_cell_backward(da[:, :, t] + da_prevt, dc_prevt, caches[t])",
                "lstm_cell_backward(da[:, :, t], dc_prevt, caches[t])",
            )
        ],
        "da_prev is not carried back",
    ),
    (
        RNN,
        "lstm_backward",
        [
            (
                'da_prevt, dc_prevt = gradients["da_prev"], gradients["dc_prev"]',
                'da_prevt = gradients["da_prev"]',
            )
        ],
        "dc_prev is not carried back",
    ),
    (
        RNN,
        "rnn_cell_backward",
        [('return {"dxt"', 'return None and {"dxt"')],
        "returns None — not implemented yet?",
    ),
    (
        RNN,
        "rnn_cell_forward",
        [("return a_next, yt_pred, cache", "return None")],
        "returns None — not implemented yet?",
    ),
    (
        D18,
        "clip",
        [("np.clip(gradient, -maxValue, maxValue, out=gradient)", "np.clip(gradient, -maxValue, maxValue)")],
        "nothing is clipped",
    ),
    (
        D18,
        "clip",
        [
            ("np.clip(gradient, -maxValue, maxValue, out=gradient)", "pass"),
            (
                'gradients = {"dWaa": dWaa, "dWax": dWax, "dWya": dWya, "db": db, "dby": dby}',
                "gradients = {k: np.clip(v, -maxValue, maxValue) for k, v in gradients.items()}",
            ),
        ],
        "clips them in place",
    ),
    (D18, "sample", [("np.random.seed(counter + seed)", "pass")], "does not seed"),
    (D18, "sample", [("        seed += 1\n", "")], "seed, seed + 2, seed + 4"),
    (D18, "optimize", [("gradients = clip(gradients, 5)", "pass")], "the gradients are not clipped"),
    (
        D18,
        "optimize",
        [
            (
                "update_parameters(parameters, gradients, learning_rate)",
                "update_parameters(parameters, gradients, 0.01)",
            )
        ],
        "learning_rate 0.01, not the argument",
    ),
    (
        D18,
        "model",
        [("curr_loss, gradients, a_prev = optimize(", "curr_loss, gradients, _ = optimize(")],
        "is a_prev carried from one name to the next",
    ),
]


@pytest.mark.parametrize(
    ("fixture", "function", "edits", "phrase"), MUTANTS, ids=[f"{m[1]}-{m[3][:24]}" for m in MUTANTS]
)
def test_mutant_fails_with_its_diagnosis(fixture: str, function: str, edits: list, phrase: str) -> None:
    part = "rnn" if fixture == RNN else "charlm"
    result = check_one(mutated(fixture, function, *edits), function, part)
    assert result.status == "FAIL"
    assert phrase in (result.diagnosis or ""), result.diagnosis


def test_a_copying_clip_passes_in_the_2021_version() -> None:
    module = mutated(
        D21,
        "clip",
        ("np.clip(gradient, -maxValue, maxValue, out=gradient)", "pass"),
        (
            'gradients = {"dWaa": dWaa, "dWax": dWax, "dWya": dWya, "db": db, "dby": dby}',
            "gradients = {k: np.clip(v, -maxValue, maxValue) for k, v in gradients.items()}",
        ),
    )
    assert check_one(module, "clip", "charlm").passed


# --- the course's published expected outputs, through the checker's references ----------------------
PRINTED = 5e-9  # half a unit in the 8th decimal: the notebooks print these to 8 decimals


def _course_rnn_draws(steps: int | None) -> tuple[np.ndarray, np.ndarray, dict]:
    """The notebook's test draws: ``np.random.seed(1)``, then x (or xt), a0 (a_prev), Waa, Wax, Wya,
    ba, by."""
    np.random.seed(1)
    x = np.random.randn(3, 10, steps) if steps else np.random.randn(3, 10)[:, :, None]
    a0 = np.random.randn(5, 10)
    p = {
        "Waa": np.random.randn(5, 5),
        "Wax": np.random.randn(5, 3),
        "Wya": np.random.randn(2, 5),
        "ba": np.random.randn(5, 1),
        "by": np.random.randn(2, 1),
    }
    return x, a0, p


def test_rnn_cell_forward_and_rnn_forward_published_values() -> None:
    x, a_prev, p = _course_rnn_draws(None)
    ref = course_rnn.reference("rnn", x, a_prev, p)
    np.testing.assert_allclose(
        ref["a"][4, :4, 0], [0.59584544, 0.18141802, 0.61311866, 0.99808218], rtol=0, atol=PRINTED
    )
    np.testing.assert_allclose(
        ref["y"][1, :4, 0], [0.9888161, 0.01682021, 0.21140899, 0.36817467], rtol=0, atol=PRINTED
    )
    x, a0, p = _course_rnn_draws(4)
    ref = course_rnn.reference("rnn", x, a0, p)
    np.testing.assert_allclose(
        ref["a"][4][1], [-0.99999375, 0.77911235, -0.99861469, -0.99833267], rtol=0, atol=PRINTED
    )
    np.testing.assert_allclose(
        ref["y"][1][3], [0.79560373, 0.86224861, 0.11118257, 0.81515947], rtol=0, atol=PRINTED
    )


def test_lstm_forward_published_values() -> None:
    np.random.seed(1)
    x, a0 = np.random.randn(3, 10, 7), np.random.randn(5, 10)
    p = {}
    for k in ("Wf", "bf", "Wi", "bi", "Wo", "bo", "Wc", "bc"):
        p[k] = np.random.randn(5, 5 + 3) if k[0] == "W" else np.random.randn(5, 1)
    p["Wy"], p["by"] = np.random.randn(2, 5), np.random.randn(2, 1)
    ref = course_rnn.reference("lstm", x, a0, p)  # c0 = 0, as lstm_forward starts
    # the course's printed values to 13 digits: rtol 1e-12 holds them, while any CPU's or BLAS's
    # rounding (~1e-15) stays far inside it
    np.testing.assert_allclose(ref["a"][4][3][6], 0.1721177675329, rtol=1e-12)
    np.testing.assert_allclose(ref["y"][1][4][3], 0.9508734618501, rtol=1e-12)
    np.testing.assert_allclose(ref["c"][1][2][1], -0.8555449167182, rtol=1e-12)


def test_clip_published_values() -> None:
    np.random.seed(3)
    grads = {
        "dWax": np.random.randn(5, 3) * 10,
        "dWaa": np.random.randn(5, 5) * 10,
        "dWya": np.random.randn(2, 5) * 10,
        "db": np.random.randn(5, 1) * 10,
        "dby": np.random.randn(2, 1) * 10,
    }
    out = charlm.clipped(grads, 10)
    np.testing.assert_allclose(
        [out["dWaa"][1][2], out["dWax"][3][1], out["db"][4][0]], [10.0, -10.0, 10.0], rtol=1e-12
    )
    np.testing.assert_allclose(out["dWya"][1][2], 0.2971381536102, rtol=1e-12)
    np.testing.assert_allclose(out["dby"][1][0], 8.45833407, rtol=0, atol=PRINTED)
    out = charlm.clipped(grads, 5)
    np.testing.assert_allclose(
        [out["dWaa"][1][2], out["dWax"][3][1], out["dby"][1][0]], [5.0, -5.0, 5.0], rtol=1e-12
    )


def test_sample_published_indices_2021() -> None:
    np.random.seed(24)
    n_a, vocab = 100, 27
    p = {
        "Wax": np.random.randn(n_a, vocab),
        "Waa": np.random.randn(n_a, n_a),
        "Wya": np.random.randn(vocab, n_a),
        "b": np.random.randn(n_a, 1),
        "by": np.random.randn(vocab, 1),
    }
    published = [23, 16, 26, 26, 24, 3, 21, 1, 7, 24, 15, 3, 25, 20, 6, 13, 10, 8, 20, 12, 2, 0]
    assert charlm.sampled(p, 0) == published


# --- the supplied utils against torch ---------------------------------------------------------------
def test_supplied_utils_rnn_forward_and_backward_match_torch() -> None:
    rng = np.random.default_rng(7)
    p = charlm.params(rng, 6)
    a_prev = rng.normal(0.0, 0.5, (6, 1))
    X, Y = charlm.example("minmi")
    utils = helpers.MODULES["utils"]
    loss, cache = utils["rnn_forward"](X, Y, a_prev, p)
    grads, a = utils["rnn_backward"](X, Y, p, cache)
    ref = charlm.step(p, X, Y, a_prev, 0.1, max_value=np.inf)
    np.testing.assert_allclose(loss, ref["loss"], rtol=1e-12)
    for k, v in ref["grads"].items():
        np.testing.assert_allclose(grads[k], v, rtol=1e-10, atol=1e-13, err_msg=k)
    np.testing.assert_allclose(a[len(X) - 1], ref["a_last"], rtol=1e-12)
    mine = {k: v.copy() for k, v in p.items()}
    utils["update_parameters"](mine, ref["clipped"], 0.1)  # in place, as the course's
    for k, v in ref["params"].items():
        np.testing.assert_allclose(mine[k], v, rtol=1e-12, atol=1e-15, err_msg=k)


def test_supplied_rnn_utils_softmax_is_down_each_column() -> None:
    z = np.array([[0.0, 1.0], [1.0, 3.0]])
    np.testing.assert_allclose(helpers.MODULES["rnn_utils"]["softmax"](z).sum(axis=0), [1.0, 1.0], rtol=1e-12)
    assert helpers.family("rnn_utils") == "rnn_utils"
    assert helpers.family("shakespeare_utils") == "shakespeare_utils"


def test_backward_without_a_working_lstm_forward_is_not_a_crash() -> None:
    module = load_course_file(FIXTURES / RNN).module
    functions = own_functions(module.__dict__)
    del functions["lstm_cell_forward"]
    result = FunctionResult("lstm_cell_backward", "rnn", "lstm_cell_backward")
    with pytest.raises(Exception, match="needs a working lstm_cell_forward"):
        course_rnn.check_lstm_cell_backward(Learner(functions), result)


def test_fixture_folder_has_no_dinos_txt() -> None:
    assert not (FIXTURES / "dinos.txt").exists()  # model's check writes its own, in a temporary folder
    assert Path.cwd().exists()
