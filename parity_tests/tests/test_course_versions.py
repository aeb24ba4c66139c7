"""``dlparity check`` on every released version of the course's first three assignments: a file
correct for its version passes, its header names the version, and every function it defines is
checked — the 2017–2020 contracts (``compute_cost(A2, Y, parameters)``, ``b = 0`` an int,
``grads["dA" + str(l + 1)]``, trainers returning only ``parameters``) as well as the 2021 ones.

The learner files (``fixtures/course/versions/``) import their helpers from the course's modules
as learners do (``from dnn_utils_v2 import sigmoid, …``). They are checked twice: with small
correct stand-ins of those modules written beside them (:data:`STUBS`, the course's contracts),
and alone in an empty folder, where dlparity itself must supply the helpers (its helper supply,
:mod:`parity_tests.course.helpers`).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from parity_tests.course import check_course
from parity_tests.course.report import CourseReport

VERSIONS = Path(__file__).resolve().parent / "fixtures" / "course" / "versions"

LOGREG = ["sigmoid", "initialize_with_zeros", "propagate", "optimize", "predict", "model"]
SHALLOW = [
    "layer_sizes",
    "initialize_parameters",
    "forward_propagation",
    "compute_cost",
    "backward_propagation",
    "update_parameters",
    "nn_model",
    "predict",
]
STEPS = [
    "initialize_parameters",
    "initialize_parameters_deep",
    "linear_forward",
    "linear_activation_forward",
    "L_model_forward",
    "compute_cost",
    "linear_backward",
    "linear_activation_backward",
    "L_model_backward",
    "update_parameters",
]
APP = ["two_layer_model", "L_layer_model"]

# (learner file, part, the version's years as the header shows them, the functions checked)
CASES = [
    ("logreg_2017.py", "logreg", "2017–2020", LOGREG),
    ("logreg_2021.ipynb", "logreg", "2021 on", LOGREG),
    ("shallow_2017.py", "shallow", "2017–2020", SHALLOW),
    ("shallow_2021.py", "shallow", "2021 on", SHALLOW),
    ("deep_2017.py", "deep", "2017–2018", STEPS),
    ("deep_2018.py", "deep", "2018–2020", STEPS),
    ("deep_2021.ipynb", "deep", "2021 on", STEPS),
    ("deep_app_2017.py", "deep", "2017–2020", APP),
    ("deep_app_2021.py", "deep", "2021 on", APP),
]
IDS = [c[0] for c in CASES]

# --- the course's helper modules, as small correct stand-ins with the course's contracts ----------
_ACTIVATIONS = """import numpy as np


def sigmoid(Z):
    A = 1 / (1 + np.exp(-Z))
    return A, Z


def relu(Z):
    return np.maximum(0, Z), Z


def sigmoid_backward(dA, cache):
    s = 1 / (1 + np.exp(-cache))
    return dA * s * (1 - s)


def relu_backward(dA, cache):
    dZ = np.array(dA, copy=True)
    dZ[cache <= 0] = 0
    return dZ
"""
_LAYERS = (
    _ACTIVATIONS
    + """

def load_data():
    raise OSError("datasets/train_catvnoncat.h5: not in the tests")


def initialize_parameters(n_x, n_h, n_y):
    np.random.seed(1)
    return {"W1": np.random.randn(n_h, n_x) * 0.01, "b1": np.zeros((n_h, 1)),
            "W2": np.random.randn(n_y, n_h) * 0.01, "b2": np.zeros((n_y, 1))}


def initialize_parameters_deep(layer_dims):
    np.random.seed(1)
    parameters = {}
    for l in range(1, len(layer_dims)):
        n, n_prev = layer_dims[l], layer_dims[l - 1]
        parameters["W" + str(l)] = np.random.randn(n, n_prev) / np.sqrt(n_prev)
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


def linear_forward(A, W, b):
    return W.dot(A) + b, (A, W, b)


def linear_activation_forward(A_prev, W, b, activation):
    Z, linear_cache = linear_forward(A_prev, W, b)
    A, activation_cache = sigmoid(Z) if activation == "sigmoid" else relu(Z)
    return A, (linear_cache, activation_cache)


def L_model_forward(X, parameters):
    caches, A, L = [], X, len(parameters) // 2
    for l in range(1, L):
        A, cache = linear_activation_forward(A, parameters["W" + str(l)], parameters["b" + str(l)], "relu")
        caches.append(cache)
    AL, cache = linear_activation_forward(A, parameters["W" + str(L)], parameters["b" + str(L)], "sigmoid")
    caches.append(cache)
    return AL, caches


def compute_cost(AL, Y):
    m = Y.shape[1]
    return np.squeeze(-np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m)


def linear_backward(dZ, cache):
    A_prev, W, b = cache
    m = A_prev.shape[1]
    return W.T.dot(dZ), dZ.dot(A_prev.T) / m, np.sum(dZ, axis=1, keepdims=True) / m


def linear_activation_backward(dA, cache, activation):
    linear_cache, activation_cache = cache
    backward = sigmoid_backward if activation == "sigmoid" else relu_backward
    return linear_backward(backward(dA, activation_cache), linear_cache)


def L_model_backward(AL, Y, caches):
    grads, L = {}, len(caches)
    dA = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    for l in reversed(range(L)):
        dA, grads["dW" + str(l + 1)], grads["db" + str(l + 1)] = linear_activation_backward(
            dA, caches[l], "sigmoid" if l == L - 1 else "relu")
        grads["dA" + str(l)] = dA
    return grads


def update_parameters(parameters, grads, learning_rate):
    parameters = dict(parameters)
    for l in range(len(parameters) // 2):
        parameters["W" + str(l + 1)] = parameters["W" + str(l + 1)] - learning_rate * grads["dW" + str(l + 1)]
        parameters["b" + str(l + 1)] = parameters["b" + str(l + 1)] - learning_rate * grads["db" + str(l + 1)]
    return parameters


def predict(X, y, parameters):
    AL, _ = L_model_forward(X, parameters)
    return (AL > 0.5).astype(float)
"""
)
_PLANAR = """import numpy as np


def sigmoid(x):
    s = 1 / (1 + np.exp(-x))
    return s


def load_planar_dataset():
    raise OSError("the flower dataset is not drawn in the tests")


def plot_decision_boundary(model, X, y):
    raise RuntimeError("no plotting in the tests")
"""
_LR_UTILS = """def load_dataset():
    raise OSError("datasets/train_catvnoncat.h5: not in the tests")
"""
_TESTS = '"""The course\'s test cases: the learner files import them; the checks need none."""\n'
STUBS = {
    "dnn_utils_v2.py": _ACTIVATIONS,
    "dnn_utils.py": _ACTIVATIONS,
    "dnn_app_utils_v2.py": _LAYERS,
    "dnn_app_utils_v3.py": _LAYERS,
    "planar_utils.py": _PLANAR,
    "lr_utils.py": _LR_UTILS,
    "testCases_v2.py": _TESTS,
    "testCases_v3.py": _TESTS,
    "testCases_v4a.py": _TESTS,
    "testCases.py": _TESTS,
    "public_tests.py": _TESTS,
}


@pytest.fixture(autouse=True)
def _fresh_helper_modules() -> Iterator[None]:
    """A helper module imported from one tmp folder must not answer the next file's import."""

    def forget() -> None:
        for name in STUBS:
            sys.modules.pop(name[:-3], None)

    forget()
    yield
    forget()


def beside_stubs(folder: Path, name: str, text: str | None = None) -> Path:
    """``name`` (or ``text`` under that name) in ``folder`` with the course's helper modules."""
    for stub, source in STUBS.items():
        (folder / stub).write_text(source)
    path = folder / name
    path.write_text(text if text is not None else (VERSIONS / name).read_text())
    return path


def assert_passes_as(report: CourseReport, part: str, years: str, functions: list[str]) -> None:
    assert report.passed, str(report)
    assert report.detection.part == part, report.part_line()
    assert (report.detection.version or "").startswith(f"{years} ("), report.part_line()
    assert report.part_line().startswith(f"part: {part} (from "), report.part_line()
    assert f") — course version {years} (" in report.part_line(), report.part_line()
    assert sorted(r.name for r in report.results) == sorted(functions), str(report)
    assert not report.not_checked, report.not_checked
    assert report.to_dict()["course_version"] == report.detection.version


@pytest.mark.parametrize("name, part, years, functions", CASES, ids=IDS)
def test_each_version_passes_beside_the_course_helpers(
    tmp_path: Path, name: str, part: str, years: str, functions: list[str]
) -> None:
    report = check_course(beside_stubs(tmp_path, name))
    assert_passes_as(report, part, years, functions)
    helpers = [f for f in report.loaded.failed if any(f" {stub[:-3]} " in f for stub in STUBS)]
    assert not helpers, helpers  # every helper import found its stand-in (h5py may be absent)


@pytest.mark.parametrize("name, part, years, functions", CASES, ids=IDS)
def test_each_version_passes_alone_in_an_empty_folder(
    tmp_path: Path, name: str, part: str, years: str, functions: list[str]
) -> None:
    """Expects the helper supply (parity_tests/course/helpers.py, wired into the loader by the
    "helper supply" work): with no helper module beside the file, dlparity puts the course's
    helpers (dnn_utils' sigmoid(Z) -> (A, cache), planar_utils' sigmoid, dnn_app_utils' layers …)
    in their place. If this fails only because a helper is not supplied yet (the report says
    "needs …"/"NOT CHECKABLE" or a NameError on a helper), that work has not landed: the lead
    integrates it — this test is meant to pass then, not to be skipped."""
    path = tmp_path / name
    shutil.copy(VERSIONS / name, path)
    assert_passes_as(check_course(path), part, years, functions)


# --- what each version's contract changes, one at a time ------------------------------------------
def _shallow(tmp_path: Path, base: str, *edits: tuple[str, str]) -> Path:
    text = (VERSIONS / base).read_text()
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return beside_stubs(tmp_path, "mine.py", text)


NN_CALL = "parameters = update_parameters(parameters, grads)"


@pytest.mark.parametrize(
    "signature, update",
    [
        (
            "def nn_model(X, Y, n_h, num_iterations=10000, learning_rate=1.2, print_cost=False):",
            "parameters = update_parameters(parameters, grads, learning_rate)",
        ),
        (
            "def nn_model(X, Y, n_h, num_iterations=10000, print_cost=False, learning_rate=0.5):",
            "parameters = update_parameters(parameters, grads, learning_rate=learning_rate)",
        ),
        ("def nn_model(X, Y, n_h, num_iterations=10000, learning_rate=0.5, print_cost=False):", NN_CALL),
    ],
    ids=["passes it on", "passes it on by keyword, another default", "ignores it"],
)
def test_nn_model_is_trained_at_the_rate_it_really_uses(tmp_path: Path, signature: str, update: str) -> None:
    """nn_model with a learning_rate argument gets the rate passed in; one without trains at
    update_parameters' default (the course's 1.2): every variant is compared with torch at the
    rate it trains with."""
    path = _shallow(
        tmp_path,
        "shallow_2021.py",
        ("def nn_model(X, Y, n_h, num_iterations=10000, print_cost=False):", signature),
        (NN_CALL, update),
    )
    (result,) = check_course(path, functions=["nn_model"]).results
    assert result.passed, result.to_dict()
    assert any("learning_rate=1.2" in n for n in result.notes), result.notes


def test_nn_model_rate_fixed_in_its_call_and_a_wrong_rate(tmp_path: Path) -> None:
    """update_parameters without a default, the course's 1.2 written in nn_model's call: passes.
    A learning_rate argument divided on its way fails and says by how much."""
    path = _shallow(
        tmp_path,
        "shallow_2017.py",
        (
            "def update_parameters(parameters, grads, learning_rate=1.2):",
            "def update_parameters(parameters, grads, learning_rate):",
        ),
        (NN_CALL, "parameters = update_parameters(parameters, grads, learning_rate=1.2)"),
    )
    assert check_course(path, functions=["nn_model"]).passed
    path = _shallow(
        tmp_path,
        "shallow_2021.py",
        (
            "def nn_model(X, Y, n_h, num_iterations=10000, print_cost=False):",
            "def nn_model(X, Y, n_h, num_iterations=10000, learning_rate=1.2, print_cost=False):",
        ),
        (NN_CALL, "parameters = update_parameters(parameters, grads, learning_rate / 10)"),
    )
    (result,) = check_course(path, functions=["nn_model"]).results
    assert result.status == "FAIL" and "a learning rate of 0.12 instead of α = 1.2" in result.diagnosis


def test_the_2017_compute_cost_is_checked_and_its_slips_named(tmp_path: Path) -> None:
    path = _shallow(tmp_path, "shallow_2017.py")
    (result,) = check_course(path, functions=["compute_cost"]).results
    assert result.passed and result.signature == "compute_cost(A2, Y, parameters) -> cost"
    path = _shallow(tmp_path, "shallow_2017.py", ("cost = -np.sum(logprobs) / m", "cost = -np.sum(logprobs)"))
    (result,) = check_course(path, functions=["compute_cost"]).results
    assert result.status == "FAIL" and "factor of m (m=7)" in result.diagnosis


def test_b_zero_as_an_int_follows_the_files_version(tmp_path: Path) -> None:
    """``b = 0`` passes in a 2017–2020 file (and with no optimize to tell), fails in a 2021 one."""
    old = beside_stubs(tmp_path, "logreg_2017.py")
    (result,) = check_course(old, functions=["initialize_with_zeros"]).results
    assert result.passed and "2017–2020 version's contract" in " ".join(result.notes)
    alone = beside_stubs(
        tmp_path,
        "alone.py",
        "import numpy as np\n\n\ndef initialize_with_zeros(dim):\n    return np.zeros((dim, 1)), 0\n",
    )
    assert check_course(alone).passed
    text = (
        (VERSIONS / "logreg_2017.py")
        .read_text()
        .replace(
            "def optimize(w, b, X, Y, num_iterations, learning_rate, print_cost=False):",
            "def optimize(w, b, X, Y, num_iterations=100, learning_rate=0.009, print_cost=False):",
        )
    )
    report = check_course(beside_stubs(tmp_path, "mixed.py", text))
    by = {r.name: r for r in report.results}
    assert by["initialize_with_zeros"].status == "FAIL"
    assert "a float: b = 0." in by["initialize_with_zeros"].diagnosis
    assert report.detection.version.startswith("2021 on (optimize(…, num_iterations=100")
    assert "but initialize_with_zeros' b = 0 an int" in report.detection.version


BACKWARD_OLD = """    for l in reversed(range(L - 1)):
        current_cache = caches[l]
        dA_prev_temp, dW_temp, db_temp = linear_activation_backward(grads["dA" + str(l + 2)], current_cache,
                                                                    activation="relu")
        grads["dA" + str(l + 1)] = dA_prev_temp"""


def test_L_model_backward_keys_each_indexing_its_own_way_a_mix_fails(tmp_path: Path) -> None:
    old = beside_stubs(tmp_path, "deep_2017.py")
    (result,) = check_course(old, functions=["L_model_backward"]).results
    assert result.passed and "2017–2018 indexing" in " ".join(result.notes)
    assert {r.name for r in result.records} >= {"dA1", "dA2", "dA3", "dW1", "db3"}
    # the output layer keyed the newer way (dA2), the hidden layers the older way (dA{l + 1})
    mixed = (
        (VERSIONS / "deep_2017.py")
        .read_text()
        .replace('grads["dA" + str(L)], grads["dW"', 'grads["dA" + str(L - 1)], grads["dW"')
    )
    report = check_course(beside_stubs(tmp_path, "raising.py", mixed), functions=["L_model_backward"])
    (result,) = report.results
    assert result.status == "FAIL" and "raised KeyError: 'dA3'" in result.diagnosis
    assert "mix two indexings" in result.diagnosis
    # a mix that runs: the hidden layers chain a local dA and store it under dA{l + 1}
    chained = mixed.replace(
        BACKWARD_OLD,
        """    dA = grads["dA" + str(L - 1)]
    for l in reversed(range(L - 1)):
        current_cache = caches[l]
        dA_prev_temp, dW_temp, db_temp = linear_activation_backward(dA, current_cache, activation="relu")
        dA = dA_prev_temp
        grads["dA" + str(l + 1)] = dA_prev_temp""",
    )
    assert chained != mixed
    report = check_course(beside_stubs(tmp_path, "chained.py", chained), functions=["L_model_backward"])
    (result,) = report.results
    assert result.status == "FAIL" and "a full set of neither indexing" in result.diagnosis


def test_an_older_indexing_still_names_the_slip(tmp_path: Path) -> None:
    text = (
        (VERSIONS / "deep_2017.py")
        .read_text()
        .replace('(dAL, current_cache, activation="sigmoid")', '(dAL, current_cache, activation="relu")')
    )
    (result,) = check_course(beside_stubs(tmp_path, "mine.py", text), functions=["L_model_backward"]).results
    assert result.status == "FAIL" and "ReLU′ at the output layer" in result.diagnosis


def test_trainers_returning_parameters_only_are_still_compared(tmp_path: Path) -> None:
    report = check_course(beside_stubs(tmp_path, "deep_app_2017.py"))
    assert report.passed, str(report)
    assert all("versions before 2021" in " ".join(r.notes) for r in report.results)
    text = (VERSIONS / "deep_app_2017.py").read_text()
    step = '        if print_cost and i % 100 == 0:\n            print("Cost after iteration %i'
    text = text.replace(
        "        parameters = update_parameters(parameters, grads, learning_rate)\n" + step,
        "        parameters = update_parameters(parameters, grads, 0.5)\n" + step,
    )
    assert "grads, 0.5)" in text
    (result,) = check_course(beside_stubs(tmp_path, "mine.py", text), functions=["L_layer_model"]).results
    assert result.status == "FAIL" and "a learning rate of 0.5 instead of α = 0.05" in result.diagnosis
