"""Diagnoses that name the fix (issue 19): a bad cache is blamed on the function that built it,
not on the correct function that reads it; an exception inside a course helper becomes the
contract its caller broke; ``m`` from the wrong axis is named; the hidden layers are wide enough
for a wrong hidden derivative to show. The one-line slips themselves are in the MUTANTS of
``test_course_check_mutations*.py``; here, what a whole file's report says about them."""

from __future__ import annotations

import types

import numpy as np
import pytest

from parity_tests.course import blame, check_course, deep, deep_backward, shallow
from parity_tests.diagnose import diagnose
from parity_tests.tests.test_course_check_mutations import mutated
from parity_tests.tolerances import tolerance

DP = "deep_solution.py"
TOL = tolerance("float64", "gradient")
E = np.random.default_rng(0).standard_normal((4, 5))


def _report(function: str, old: str, new: str) -> dict[str, object]:
    results = check_course(mutated(DP, function, old, new), part="deep").results
    return {r.name: r for r in results}


def test_a_cache_holding_A_is_blamed_on_the_activation_not_its_reader() -> None:
    r = _report("sigmoid", "cache = Z", "cache = A")
    assert r["sigmoid"].status == "FAIL"
    assert "its cache holds A = sigmoid(Z) instead of Z" in r["sigmoid"].diagnosis
    for reader in ("sigmoid_backward", "linear_activation_backward", "L_model_backward"):
        assert r[reader].passed, (reader, r[reader].diagnosis)
        assert any("course's cache" in n for n in r[reader].notes), r[reader].notes
    assert r["linear_activation_forward"].diagnosis == "uses sigmoid, which fails: fix that first"
    assert "L_model_forward" in r["L_layer_model"].diagnosis


def test_swapped_cache_order_is_blamed_on_the_forward_and_explained_where_it_raises() -> None:
    r = _report(
        "linear_activation_forward",
        "cache = (linear_cache, activation_cache)",
        "cache = (activation_cache, linear_cache)",
    )
    assert "its cache is (activation_cache, linear_cache)" in r["linear_activation_forward"].diagnosis
    assert r["linear_activation_backward"].passed and r["L_model_backward"].passed
    assert r["L_model_forward"].diagnosis == "uses linear_activation_forward, which fails: fix that first"
    # the trainers run the learner's own chain: the TypeError inside sigmoid_backward is the
    # contract linear_activation_backward was handed, and the fix is in the forward
    own = r["L_layer_model"].own_diagnosis
    assert own.startswith(
        "linear_activation_backward passed sigmoid_backward a tuple as its cache; "
        "sigmoid_backward's cache is Z"
    ), own
    assert "check the order of cache = (linear_cache, activation_cache) in linear_activation_forward" in own
    assert "TypeError: bad operand type for unary -: 'tuple', in sigmoid_backward" in own


def test_a_course_helper_imported_from_another_file_is_not_blamed() -> None:
    """``sigmoid_backward`` from the course's ``dnn_utils`` (another file) raising on a tuple: the
    learner's caller broke its contract."""
    helper = types.ModuleType("dnn_utils")
    exec(
        compile(
            "import numpy as np\ndef sigmoid_backward(dA, cache):\n    Z = cache\n"
            "    s = 1 / (1 + np.exp(-Z))\n    return dA * s * (1 - s)\n",
            "dnn_utils.py",
            "exec",
        ),
        helper.__dict__,
    )
    mine = {"sigmoid_backward": helper.sigmoid_backward}
    exec(
        compile(
            "def linear_activation_backward(dA, cache, activation):\n"
            "    linear_cache, activation_cache = cache\n"
            "    return sigmoid_backward(dA, activation_cache)\n",
            "mine.py",
            "exec",
        ),
        mine,
    )
    A, W, b, Z = np.ones((5, 7)), np.ones((4, 5)), np.ones((4, 1)), np.ones((4, 7))
    with pytest.raises(TypeError) as info:
        mine["linear_activation_backward"](Z, (Z, (A, W, b)), "sigmoid")
    text = blame.explain(info.value, "linear_activation_backward", mine["linear_activation_backward"])
    assert text.startswith("linear_activation_backward passed sigmoid_backward a tuple as its cache")
    assert "in linear_activation_forward" in text


def test_a_helper_that_got_its_contract_and_still_raised_is_not_explained_away() -> None:
    def relu_backward(dA: np.ndarray, cache: np.ndarray) -> np.ndarray:
        return dA[cache.T > 0]  # its own bug: the mask's shape

    def linear_activation_backward(dA: np.ndarray, cache: tuple, activation: str) -> np.ndarray:
        return relu_backward(dA, cache[1])

    Z = np.ones((4, 7))
    with pytest.raises(IndexError) as info:
        linear_activation_backward(Z, ((Z, Z, Z), Z), "relu")
    assert blame.explain(info.value, "linear_activation_backward", linear_activation_backward) is None


@pytest.mark.parametrize(
    "factor, inputs, phrase",
    [
        (
            7 / 5,
            {"A_prev": (5, 7)},
            "m is taken from the wrong axis: the factor 1.4 = 7/5 is m/n[l−1] — m = A_prev.shape[1]",
        ),
        (5 / 7, {"X": (5, 7)}, "the factor 0.714286 = 5/7 is n_x/m — m = X.shape[1]"),
        (
            7.0,
            {"Y": (1, 7)},
            "factor of m (m=7): the 1/m of the cost J = 1/m Σ L is missing — or m = Y.shape[0] = 1",
        ),
    ],
)
def test_m_from_the_wrong_axis_is_named_by_input_shapes(factor: float, inputs: dict, phrase: str) -> None:
    assert phrase in diagnose(E * factor, E, TOL, m=7, inputs=inputs)


def test_without_inputs_a_ratio_stays_an_unnamed_factor() -> None:
    assert diagnose(E * 1.4, E, TOL, m=7) == "off by a constant factor of 1.4 (every entry scaled alike)"
    assert "wrong axis" not in diagnose(E * 1.3, E, TOL, m=7, inputs={"X": (5, 7)})


def test_every_backward_runs_with_hidden_layers_at_least_two_units_wide() -> None:
    """σ′ instead of ReLU′ in the hidden layers (a real notebook's L_model_backward) needs width to
    show: these are the sizes L_model_backward, linear_activation_backward, the trainers and
    backward_propagation are checked with."""
    A_prev, W, b = deep.layer_data("linear_activation_backward")
    sizes = {
        "L_model_backward": deep.DIMS,
        "linear_activation_backward": (A_prev.shape[0], W.shape[0], 1),
        **deep_backward.TRAINERS,
        "backward_propagation": (shallow.N_X, shallow.N_H, shallow.N_Y),
    }
    for name, dims in sizes.items():
        assert all(n >= 2 for n in dims[1:-1]), (name, dims)
