"""The course helpers dlparity supplies when a learner's file imports an absent course module:
each passes the course checker's own check (which compares it with torch); a file that imports
them passes in an empty folder and says what was supplied; a name the file leaves undefined makes
a function "not checkable", never a FAIL; a name defined nowhere is still the learner's bug."""

from __future__ import annotations

from pathlib import Path

import pytest

from parity_tests.course import check_course, helpers
from parity_tests.course.catalogue import entry_for
from parity_tests.course.common import FunctionResult, Learner
from parity_tests.tests.test_course_check_mutations import FIXTURES

DEEP_HELPERS = [
    "sigmoid",
    "relu",
    "sigmoid_backward",
    "relu_backward",
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


@pytest.mark.parametrize("name", DEEP_HELPERS)
def test_each_supplied_helper_passes_the_course_check(name: str) -> None:
    supplied = helpers.MODULES["dnn_app_utils"]
    result = FunctionResult(name, "deep", name)
    entry_for(name, "deep").check(Learner(supplied), result)
    assert result.passed and result.checks, (result.diagnosis, result.to_dict()["worst"])


def test_planar_utils_sigmoid_is_logreg_s() -> None:
    result = FunctionResult("sigmoid", "logreg", "sigmoid")
    entry_for("sigmoid", "logreg").check(Learner(helpers.MODULES["planar_utils"]), result)
    assert result.passed, result.diagnosis


def test_families() -> None:
    for module, fam in [
        ("dnn_utils_v2", "dnn_utils"),
        ("dnn_app_utils_v3", "dnn_app_utils"),
        ("testCases_v4a", "testCases"),
        ("planar_utils", "planar_utils"),
        ("lr_utils", "lr_utils"),
        ("public_tests", "public_tests"),
    ]:
        assert helpers.family(module) == fam
    assert helpers.family("numpy") is None and helpers.family("dnn_utilsx") is None


def _without_own_helpers(tmp_path: Path) -> Path:
    """deep_solution.py as a learner has it: its activations imported from dnn_utils_v2."""
    text = (FIXTURES / "deep_solution.py").read_text()
    for name in ("sigmoid", "relu", "sigmoid_backward", "relu_backward"):
        text = text.replace(f"\ndef {name}(", f"\ndef _given_{name}(")
    text = text.replace(
        "import numpy as np\n",
        "import numpy as np\n"
        "from dnn_utils_v2 import sigmoid, sigmoid_backward, relu, relu_backward\n"
        "from testCases_v4a import *\nimport dnn_app_utils_v3 as du\n"
        "from lr_utils import load_dataset\n"
        "train_x, train_y, test_x, test_y, classes = load_dataset()\n",
        1,
    )
    path = tmp_path / "deep_week4.py"
    path.write_text(text)
    return path


def test_a_file_with_absent_helpers_passes_in_an_empty_folder(tmp_path: Path) -> None:
    report = check_course(_without_own_helpers(tmp_path))
    assert report.passed and report.exit_status == 0, str(report)
    assert {r.name for r in report.results} >= {"L_model_forward", "L_model_backward", "L_layer_model"}
    text = str(report)
    assert (
        "supplied by dlparity: dnn_utils_v2 (absent): sigmoid, sigmoid_backward, relu, relu_backward"
    ) in text
    assert "not supplied (not needed to check): lr_utils: load_dataset (a data loader)" in text
    assert "dnn_app_utils_v3 (absent): L_model_backward" in text
    assert "not loaded" not in text


def test_stub_helpers_beside_the_file_are_used(tmp_path: Path) -> None:
    path = _without_own_helpers(tmp_path)
    (tmp_path / "dnn_utils_v2.py").write_text(
        "import numpy as np\nSTUB = True\n"
        "def sigmoid(Z):\n    return 1 / (1 + np.exp(-Z)), Z\n"
        "def relu(Z):\n    return np.maximum(0, Z), Z\n"
        "def sigmoid_backward(dA, cache):\n    s = 1 / (1 + np.exp(-cache))\n    return dA * s * (1 - s)\n"
        "def relu_backward(dA, cache):\n    dZ = np.array(dA, copy=True)\n    dZ[cache <= 0] = 0\n"
        "    return dZ\n"
    )
    report = check_course(path)
    assert report.passed, str(report)
    assert not any(s.startswith("dnn_utils_v2") for s in report.loaded.supplied)


def test_a_name_the_file_leaves_undefined_is_not_checkable(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text(
        "import numpy as np\nfrom my_course_tools import squash\n"
        "scale = np.float64(2.0)\n"
        "def sigmoid(z):\n    return squash(z)\n"
        "def initialize_with_zeros(dim):\n    return np.zeros((dim, 1)), 0.0\n"
        "def predict(w, b, X):\n    return (scale * X).sum()\n"
    )
    report = check_course(path)
    by_name = {r.name: r for r in report.results}
    sig = by_name["sigmoid"]
    assert sig.status == "NOT CHECKABLE" and sig.needs == ["squash"]
    assert "needs squash (line 2 failed: ModuleNotFoundError" in sig.diagnosis
    assert by_name["predict"].needs == ["scale"]
    assert "set at line 3, which dlparity does not run" in by_name["predict"].diagnosis
    assert by_name["initialize_with_zeros"].passed
    assert report.exit_status == 0, str(report)  # the one checked function passed
    assert "1 function checked: 1 passed, 0 failed; 2 not checkable (they need scale, squash" in str(report)


def test_a_name_defined_nowhere_is_the_learners_bug(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text("import numpy as np\ndef sigmoid(z):\n    return 1 / (1 + np.exp(-zz))\n")
    report = check_course(path)
    (sig,) = report.results
    assert sig.status == "FAIL" and "NameError: name 'zz' is not defined" in sig.diagnosis
    assert report.exit_status == 1


def test_nothing_checkable_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text("from my_course_tools import squash\ndef sigmoid(z):\n    return squash(z)\n")
    report = check_course(path)
    assert report.results[0].status == "NOT CHECKABLE" and report.exit_status == 1
