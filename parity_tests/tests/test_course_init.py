"""``dlparity check`` on course 2 week 1 ("Initialization"): a correct notebook passes with its
``init_utils`` helpers supplied, and its ``model`` is told from logistic regression's by the
signature; one-bug files fail with the bug named (He with the fan-out among them); the draws are
the course's; the supplied ``init_utils`` agree with torch."""

from __future__ import annotations

import types
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from parity_tests.course import check_course, helpers, initialization
from parity_tests.course import references as R
from parity_tests.course.catalogue import detect, model_form
from parity_tests.course.common import Learner
from parity_tests.tests.test_course_check_mutations import FIXTURES, check_one, mutated
from parity_tests.tolerances import tolerance
from parity_tests.trajectory import check_training, torch_trajectory
from scratch import deep

INIT = "init_solution.py"


def test_a_correct_notebook_passes_with_init_utils_supplied() -> None:
    report = check_course(FIXTURES / INIT)
    assert report.passed and report.exit_status == 0, str(report)
    assert report.detection.part == "init"
    signature = "model(X, Y, learning_rate, num_iterations, print_cost, initialization)"
    assert signature in report.detection.reasons  # not logistic regression's model
    assert [r.name for r in report.results] == [
        "initialize_parameters_zeros",
        "initialize_parameters_random",
        "initialize_parameters_he",
        "model",
    ]
    text = str(report)
    assert (
        "init_utils (absent): sigmoid, relu, compute_loss, forward_propagation, backward_propagation" in text
    )
    assert "init_utils: load_dataset (a data loader), plot_decision_boundary (plotting), predict_dec" in text
    r = {x.name: x for x in report.results}
    for name in ("initialize_parameters_random", "initialize_parameters_he"):
        assert any("np.random.seed(3)), and its values equal the course's draws" in n for n in r[name].notes)
    assert any('initialization="he"' in n for n in r["model"].notes)


def _module(source: str) -> types.ModuleType:
    module = types.ModuleType("mine")
    exec(source, module.__dict__)
    return module


def test_model_is_told_by_its_signature() -> None:
    init = _module(
        "def model(X, Y, learning_rate=0.01, num_iterations=15000, print_cost=True, "
        "initialization='he'):\n    pass\n"
    )
    logreg = _module(
        "def model(X_train, Y_train, X_test, Y_test, num_iterations=2000, learning_rate=0.5, "
        "print_cost=False):\n    pass\n"
    )
    assert detect({"model": init.model}, Learner({})).part == "init"
    assert detect({"model": logreg.model}, Learner({})).part == "logreg"
    # Regularization's model is neither: not checked, never a false FAIL as logistic regression's
    assert model_form(["X", "Y", "learning_rate", "num_iterations", "print_cost", "lambd"]) is None
    reg = _module(
        "def model(X, Y, learning_rate=0.3, num_iterations=30000, print_cost=True, lambd=0, "
        "keep_prob=1):\n    pass\n"
    )
    report = check_course(reg)
    assert not report.results and report.not_checked[0][0] == "model"


# (function, old, new, phrase the diagnosis must contain)
MUTANTS = [
    (
        "initialize_parameters_he",
        "np.sqrt(2. / layers_dims[l - 1])",
        "np.sqrt(2. / layers_dims[l])",
        "scaled by √(2/n[l]) (fan-out); He uses √(2/n[l−1]), the fan-in: * np.sqrt(2 / layers_dims[l - 1])",
    ),
    (
        "initialize_parameters_he",
        "np.sqrt(2. / layers_dims[l - 1])",
        "np.sqrt(1. / layers_dims[l - 1])",
        "scaled by 1/√n[l−1] (Xavier)",
    ),
    (
        "initialize_parameters_he",
        " * np.sqrt(2. / layers_dims[l - 1])",
        "",
        "the scale (* np.sqrt(2. / layers_dims[l - 1])) is missing",
    ),
    ("initialize_parameters_random", " * 10", "", "the scale (* 10) is missing"),
    ("initialize_parameters_random", " * 10", " * 0.01", "scaled by 0.01"),
    (
        "initialize_parameters_random",
        "np.random.randn(layers_dims[l], layers_dims[l - 1])",
        "np.random.randn(layers_dims[l - 1], layers_dims[l])",
        "transposed",
    ),
    (
        "initialize_parameters_random",
        "np.zeros((layers_dims[l], 1))",
        "np.ones((layers_dims[l], 1))",
        "the course starts every bias at zero",
    ),
    (
        "initialize_parameters_zeros",
        "np.zeros((layers_dims[l], layers_dims[l - 1]))",
        "np.ones((layers_dims[l], layers_dims[l - 1]))",
        "not all zeros",
    ),
    (
        "initialize_parameters_zeros",
        "for l in range(1, L):",
        "for l in range(1, L - 1):",
        "missing ['W3', 'b3']",
    ),
    (
        "model",
        "update_parameters(parameters, grads, learning_rate)",
        "update_parameters(parameters, grads, 3 * learning_rate)",
        "a learning rate of 0.15 instead of α = 0.05",
    ),
]


@pytest.mark.parametrize("function, old, new, phrase", MUTANTS, ids=[f"{m[0]}:{m[3][:40]}" for m in MUTANTS])
def test_slip_fails_with_its_diagnosis(function: str, old: str, new: str, phrase: str) -> None:
    result = check_one(mutated(INIT, function, old, new), function, "init")
    assert result.status == "FAIL", result.to_dict()
    assert phrase in (result.diagnosis or ""), (phrase, result.diagnosis)


def test_draws_in_another_order_are_said() -> None:
    result = check_one(
        mutated(INIT, "initialize_parameters_he", "np.random.seed(3)", "np.random.seed(4)"),
        "initialize_parameters_he",
        "init",
    )
    assert result.passed, result.diagnosis
    assert any("not the course's draws" in n for n in result.notes), result.notes


def test_published_expected_outputs_are_reproduced_by_the_references() -> None:
    printed = dict(rtol=0, atol=5e-9)  # printed to 8 decimals: half a unit in the last digit
    he = initialization.course_draws("initialize_parameters_he", [2, 4, 1])
    np.testing.assert_allclose(
        he["W1"],
        [
            [1.78862847, 0.43650985],
            [0.09649747, -1.8634927],
            [-0.2773882, -0.35475898],
            [-0.08274148, -0.62700068],
        ],
        **printed,
    )
    np.testing.assert_allclose(he["W2"], [[-0.03098412, -0.33744411, -0.92904268, 0.62552248]], **printed)
    rnd = initialization.course_draws("initialize_parameters_random", [3, 2, 1])
    np.testing.assert_allclose(
        rnd["W1"],
        [[17.88628473, 4.36509851, 0.96497468], [-18.63492703, -2.77388203, -3.54758979]],
        **printed,
    )
    np.testing.assert_allclose(rnd["W2"], [[-0.82741481, -6.27000677]], **printed)


def test_the_supplied_init_utils_agree_with_torch() -> None:
    """init_utils' forward, loss and backward (dlparity's stand-ins) against the torch network the
    ``model`` check trains: LINEAR→RELU→LINEAR→RELU→LINEAR→SIGMOID."""
    u = helpers.MODULES["init_utils"]
    X, Y = initialization.model_data()
    rng = np.random.default_rng(5)
    dims = initialization.MODEL_DIMS
    p = {
        f"{c}{layer}": rng.normal(0.0, 0.7, (dims[layer], dims[layer - 1] if c == "W" else 1))
        for layer in range(1, len(dims))
        for c in "Wb"
    }
    a3, cache = u["forward_propagation"](X, p)
    net = R.deep_net(p)
    fwd, grad = tolerance("float64", "forward"), tolerance("float64", "gradient")
    np.testing.assert_allclose(a3, R.forward_values(net, X)["A3"], rtol=fwd.rtol, atol=fwd.atol)
    ref = R.cost_and_grads(net, X, Y)
    np.testing.assert_allclose(u["compute_loss"](a3, Y), ref["cost"], rtol=fwd.rtol, atol=fwd.atol)
    g = u["backward_propagation"](X, Y, cache)
    for k in ("dW1", "db1", "dW2", "db2", "dW3", "db3"):
        np.testing.assert_allclose(g[k], ref[k], rtol=grad.rtol, atol=grad.atol, err_msg=k)
    new = u["update_parameters"](dict(p), g, 0.1)
    np.testing.assert_allclose(new["W2"], p["W2"] - 0.1 * g["dW2"])
    assert helpers.family("init_utils") == "init_utils" and "predict_dec" in helpers.NOT_SUPPLIED


def test_the_course_trains_torch_with_the_harness_runner() -> None:
    """The torch run the course's trainers are held to is check_training's reference side
    (trajectory.torch_trajectory): the same losses step for step, from the same start."""
    X, Y = initialization.model_data()
    rng = np.random.default_rng(6)
    dims = initialization.MODEL_DIMS
    p = {
        f"{c}{layer}": rng.normal(0.0, 0.7, (dims[layer], dims[layer - 1] if c == "W" else 1))
        for layer in range(1, len(dims))
        for c in "Wb"
    }
    net = R.deep_net(p)
    params, losses = torch_trajectory(
        net, R.cross_entropy, p, [(X, Y)] * 6, param_spec=net.param_spec, learning_rate=0.05
    )
    assert len(params) == 7 and len(losses) == 6
    for k, v in p.items():
        np.testing.assert_array_equal(params[0][k], v, err_msg=k)
    result = check_training(
        partial(deep.propagate, activation="relu", output="sigmoid"),
        R.deep_net(p),
        R.cross_entropy,
        p,
        [(X, Y)] * 6,
        param_spec=net.param_spec,
        learning_rate=0.05,
    )
    assert result.status == "PASS", result.diagnosis
    np.testing.assert_array_equal(result.extra["torch_loss"], losses)


def test_the_init_notebook_is_checked_as_a_notebook(tmp_path: Path) -> None:
    """The same code as notebook cells, ``%matplotlib inline`` and a cell that trains included."""
    import json

    code = (FIXTURES / INIT).read_text().split("\n\n\n")
    cells = [
        {
            "cell_type": "code",
            "metadata": {},
            "outputs": [],
            "execution_count": None,
            "source": ("%matplotlib inline\n" if i == 0 else "") + c,
        }
        for i, c in enumerate(code)
    ]
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "Initialization.ipynb"
    path.write_text(json.dumps(nb))
    report = check_course(path)
    assert report.passed and report.detection.part == "init", str(report)
