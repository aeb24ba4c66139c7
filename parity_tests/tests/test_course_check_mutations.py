"""For every course function of ``logreg`` and ``shallow``: typical slips (a lost 1/m, a
transpose, a wrong derivative, a sign, keepdims lost, a wrong key, a contract) in an otherwise
correct solution FAIL, and the diagnosis names the slip. ``deep``: the ``_deep`` module."""

from __future__ import annotations

import ast
import types
from pathlib import Path

import pytest

from parity_tests.course import check_course, load_course_file
from parity_tests.course.common import FunctionResult

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "course"


def function_source(path: Path, name: str) -> str:
    text = path.read_text()
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return ast.get_source_segment(text, node)
    raise AssertionError(f"{path.name} defines no {name}")


def mutated(fixture: str, function: str, old: str, new: str) -> types.ModuleType:
    """The fixture loaded, with ``function`` redefined from its source with ``old`` -> ``new``
    (``old`` must occur exactly once in that function)."""
    path = FIXTURES / fixture
    module = load_course_file(path).module
    src = function_source(path, function)
    assert src.count(old) == 1, f"{old!r} occurs {src.count(old)} times in {function}"
    exec(compile(src.replace(old, new), str(path), "exec"), module.__dict__)
    return module


def check_one(module: types.ModuleType, function: str, part: str) -> FunctionResult:
    (result,) = check_course(module, part=part, functions=[function]).results
    return result


LR, SH = "logreg_solution.py", "shallow_solution.py"

# (fixture, function, old, new, phrase the diagnosis must contain)
MUTANTS = [
    (LR, "sigmoid", "np.exp(-z))", "np.exp(z))", "sign in the exponent"),
    (LR, "sigmoid", "1 / (1 + np.exp(-z))", "1 / 1 + np.exp(-z)", "parentheses"),
    (LR, "sigmoid", "1 / (1 + np.exp(-z))", "np.tanh(z)", "tanh(z) instead of σ(z)"),
    (LR, "initialize_with_zeros", "np.zeros((dim, 1))", "np.zeros((1, dim))", "transposed"),
    (LR, "initialize_with_zeros", "b = 0.", "b = np.zeros((1, 1))", "the course's b is the number 0.0"),
    (LR, "initialize_with_zeros", "b = 0.", "b = 0", "a float: b = 0."),
    (LR, "initialize_with_zeros", "np.zeros((dim, 1))", "np.zeros((dim, 1), dtype=int)", "dtype int64"),
    (LR, "propagate", "dw = 1 / m * np.dot", "dw = np.dot", "factor of m (m=7): the 1/m of the cost"),
    (LR, "propagate", "np.dot(X, (A - Y).T)", "np.dot(A - Y, X.T)", "transposed"),
    (
        LR,
        "propagate",
        "cost = np.squeeze(np.array(cost))",
        "cost = np.array(cost).reshape(1, 1)",
        "is a (1, 1) array, not a number",
    ),
    (LR, "propagate", "db = 1 / m * np.sum(A - Y)", "db = np.sum(A - Y)", "factor of m (m=7)"),
    (LR, "propagate", "cost = -1 / m *", "cost = 1 / m *", "sign is flipped"),
    (LR, "propagate", "Y * np.log(A) + (1 - Y) * np.log(1 - A)", "Y * np.log(A)", "(1 − y)·log(1 − a) term"),
    (LR, "optimize", "w = w - learning_rate * dw", "w = w + learning_rate * dw", "sign is flipped"),
    (LR, "optimize", "w = w - learning_rate * dw", "w = w - dw", "α = 0.05 is not applied"),
    (LR, "optimize", "b = b - learning_rate * db", "b = b", "in b: b never changes"),
    (
        LR,
        "optimize",
        "if i % 100 == 0:",
        "if i % 100 == 1:",
        "the course records the cost at i = 0, 100, 200",
    ),
    (LR, "predict", "if A[0, i] > 0.5:", "if A[0, i] <= 0.5:", "the comparison is reversed"),
    (LR, "predict", "A = sigmoid(np.dot(w.T, X) + b)", "A = np.dot(w.T, X) + b", "thresholds z = wᵀX + b"),
    (LR, "predict", "return Y_prediction", "return Y_prediction.astype(int)", "dtype int64"),
    (LR, "predict", "return Y_prediction", "return Y_prediction.ravel()", "shape (7,) instead of (1, 7)"),
    (LR, "model", "predict(w, b, X_test)", "predict(w, b, X_train)", "the training set's predictions"),
    (LR, "model", '"costs": costs,', '"cost": costs,', "has no key 'costs'"),
    (LR, "model", 'w = params["w"]', "w = w", "in w: w never changes"),
    (SH, "layer_sizes", "n_x = X.shape[0]", "n_x = X.shape[1]", "the number of examples m"),
    (SH, "layer_sizes", "n_h = 4", "n_h = 5", "sets the hidden layer size n_h = 4"),
    (SH, "layer_sizes", "return (n_x, n_h, n_y)", "return (n_x, n_y, n_h)", "the order (n_x, n_y, n_h)"),
    (
        SH,
        "initialize_parameters",
        "np.random.randn(n_h, n_x) * 0.01",
        "np.random.randn(n_h, n_x)",
        "the scale (* 0.01) is missing",
    ),
    (SH, "initialize_parameters", "np.random.randn(n_h, n_x)", "np.random.randn(n_x, n_h)", "transposed"),
    (
        SH,
        "initialize_parameters",
        "b1 = np.zeros((n_h, 1))",
        "b1 = np.zeros(n_h)",
        "shape (300,) instead of (300, 1)",
    ),
    (
        SH,
        "initialize_parameters",
        "W2 = np.random.randn(n_y, n_h) * 0.01",
        "W2 = np.zeros((n_y, n_h))",
        "symmetry is never broken",
    ),
    (SH, "initialize_parameters", "np.random.randn(n_h, n_x)", "np.random.rand(n_h, n_x)", "uniform"),
    (SH, "forward_propagation", "A1 = np.tanh(Z1)", "A1 = sigmoid(Z1)", "σ in the hidden layer"),
    (SH, "forward_propagation", "Z2 = np.dot(W2, A1) + b2", "Z2 = np.dot(W2, A1)", "without + b2"),
    (SH, "forward_propagation", "A2 = sigmoid(Z2)", "A2 = np.tanh(Z2)", "tanh at the output"),
    (SH, "compute_cost", "cost = - np.sum(logprobs) / m", "cost = - np.sum(logprobs)", "factor of m (m=7)"),
    (SH, "compute_cost", "cost = - np.sum(logprobs) / m", "cost = np.sum(logprobs) / m", "sign is flipped"),
    (SH, "compute_cost", " + np.multiply(np.log(1 - A2), 1 - Y)", "", "(1 − y)·log(1 − a) term"),
    (
        SH,
        "compute_cost",
        "cost = float(np.squeeze(cost))",
        "cost = np.reshape(cost, (1, 1))",
        "is a (1, 1) array, not a number",
    ),
    (SH, "backward_propagation", "(1 - np.power(A1, 2))", "(1 - A1)", "1 − A1²"),
    (
        SH,
        "backward_propagation",
        "dW2 = np.dot(dZ2, A1.T) / m",
        "dW2 = np.dot(dZ2, A1.T)",
        "factor of m (m=5)",
    ),
    (
        SH,
        "backward_propagation",
        "db1 = np.sum(dZ1, axis=1, keepdims=True) / m",
        "db1 = np.sum(dZ1, axis=1) / m",
        "shape (4,) instead of (4, 1)",
    ),
    (SH, "backward_propagation", "dZ2 = A2 - Y", "dZ2 = Y - A2", "sign is flipped"),
    (
        SH,
        "backward_propagation",
        "m = X.shape[1]",
        "m = X.shape[0]",
        "m is taken from the wrong axis: the factor 1.66667 = 5/3 is m/n_x — m = X.shape[1]",
    ),
    (
        SH,
        "backward_propagation",
        "(1 - np.power(A1, 2))",
        "(1 - np.power(cache['Z1'], 2))",
        "the derivative is computed from Z instead of A: tanh′ = 1 − A1²",
    ),
    (SH, "compute_cost", "m = Y.shape[1]", "m = Y.shape[0]", "or m = Y.shape[0] = 1 where m = Y.shape[1]"),
    (
        SH,
        "update_parameters",
        "W1 = W1 - learning_rate * dW1",
        "W1 = W1 + learning_rate * dW1",
        "sign is flipped",
    ),
    (SH, "update_parameters", "W2 = W2 - learning_rate * dW2", "W2 = W2 - dW2", "α = 0.3 is not applied"),
    (
        SH,
        "update_parameters",
        "b1 = b1 - learning_rate * db1",
        "b1 = b1 - learning_rate * db2",
        "b1 is updated with grads['db2']",
    ),
    (SH, "update_parameters", "b2 = b2 - learning_rate * db2", "b2 = b2", "b2 is returned unchanged"),
    (
        SH,
        "nn_model",
        "parameters = update_parameters(parameters, grads)",
        "update_parameters(parameters, grads)",
        "never changes",
    ),
    (
        SH,
        "nn_model",
        "initialize_parameters(n_x, n_h, n_y)",
        "initialize_parameters(n_x, 4, n_y)",
        "by its argument n_h=5",
    ),
    (
        SH,
        "nn_model",
        "update_parameters(parameters, grads)",
        "update_parameters(parameters, grads, 0.12)",
        "a learning rate of 0.12 instead of α = 1.2",
    ),
    (SH, "predict", "predictions = (A2 > 0.5)", "predictions = A2", "values other than 0 and 1"),
    (SH, "predict", "predictions = (A2 > 0.5)", "predictions = (A2 <= 0.5)", "the comparison is reversed"),
    (SH, "predict", "predictions = (A2 > 0.5)", "predictions = (A2 > 0.5).T", "transposed"),
]
PARTS = {LR: "logreg", SH: "shallow"}


@pytest.mark.parametrize(
    "fixture, function, old, new, phrase", MUTANTS, ids=[f"{m[1]}:{m[4][:40]}" for m in MUTANTS]
)
def test_slip_fails_with_its_diagnosis(fixture: str, function: str, old: str, new: str, phrase: str) -> None:
    result = check_one(mutated(fixture, function, old, new), function, PARTS[fixture])
    assert result.status == "FAIL", result.to_dict()
    assert phrase in (result.diagnosis or ""), (phrase, result.diagnosis)


def test_every_function_has_three_slips() -> None:
    from parity_tests.course.catalogue import CATALOGUE

    for fixture, part in PARTS.items():
        counts = {e.name: sum(m[0] == fixture and m[1] == e.name for m in MUTANTS) for e in CATALOGUE[part]}
        assert all(n >= 3 for n in counts.values()), counts


def test_costs_every_iteration_are_accepted() -> None:
    """The course's convention is every 100 iterations; recording every iteration passes too."""
    result = check_one(mutated(LR, "optimize", "if i % 100 == 0:", "if True:"), "optimize", "logreg")
    assert result.passed, result.to_dict()
