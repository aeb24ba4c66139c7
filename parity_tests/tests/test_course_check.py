"""``dlparity check``: correct course solutions pass; a notebook's top-level code never runs;
the part is told from the signatures; a function failing because of one it uses says so; the
command's output, exit status and JSON; the README section's example prints what it shows."""

from __future__ import annotations

import argparse
import json
import re
import types
from pathlib import Path

import pytest

from parity_tests.course import CourseFileError, add_check_parser, check_course, load_course_file
from parity_tests.tests.test_course_check_mutations import FIXTURES, check_one, mutated
from parity_tests.tests.test_readme import assert_same_text_and_numbers

SECTION = Path(__file__).resolve().parents[2] / "docs" / "course-checker.md"  # as the docs show it


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="dlparity")
    add_check_parser(parser.add_subparsers())
    args = parser.parse_args(["check", *argv])
    return args.func(args)


@pytest.mark.parametrize(
    "fixture, part, n",
    [
        ("logreg_solution.py", "logreg", 6),
        ("shallow_solution.py", "shallow", 9),
        ("deep_solution.py", "deep", 16),
    ],
)
def test_correct_solutions_pass(fixture: str, part: str, n: int) -> None:
    report = check_course(FIXTURES / fixture)
    assert report.passed, str(report)
    assert report.detection.part == part and len(report.results) == n
    assert report.exit_status == 0


def test_notebook_top_level_code_never_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    report = check_course(FIXTURES / "logreg_assignment.ipynb")  # a cell raises SystemExit if run
    assert report.passed and report.exit_status == 0, str(report)  # `np.dot?` (IPython help) is dropped
    assert not report.loaded.syntax_errors
    assert not (tmp_path / "NOTEBOOK_TOP_LEVEL_CODE_RAN.txt").exists()
    skipped = "\n".join(report.loaded.skipped)
    for text in (
        "with open('NOTEBOOK_TOP_LEVEL_CODE_RAN.txt'",
        "raise SystemExit",
        "plt.show()",
        "cell magic '%%time'",
        "train_set_x_orig, train_set_y",
    ):
        assert text in skipped, (text, skipped)
    assert report.loaded.constants == ["num_px = 64", "learning_rates = [0.01, 0.001, 0.0001]"]
    assert "lr_utils: load_dataset (a data loader)" in "".join(report.loaded.not_supplied)


def test_loader_runs_only_definitions_and_literal_constants(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text(
        "import numpy as np\nN = 3\nM = np.zeros(2)\nhits = []\n"
        "def f():\n    return N\n"
        "hits.append(1)\nif __name__ == '__main__':\n    raise SystemExit(1)\n"
    )
    loaded = load_course_file(path)
    assert loaded.module.f() == 3 and loaded.module.hits == []
    assert not hasattr(loaded.module, "M")
    assert loaded.constants == ["N = 3", "hits = []"] and len(loaded.skipped) == 3
    bad = tmp_path / "bad.py"
    bad.write_text("def f(:\n")
    with pytest.raises(CourseFileError, match="line 1: SyntaxError"):
        load_course_file(bad)
    with pytest.raises(CourseFileError, match="expected a .py file or a .ipynb"):
        load_course_file(tmp_path / "mine.txt")


def test_check_course_on_globals_and_html() -> None:
    namespace: dict = {"__name__": "__main__"}
    exec(
        compile(
            load_course_file(FIXTURES / "shallow_solution.py")
            .path.read_text()
            .replace("from planar_utils", "# from planar_utils"),
            "nb",
            "exec",
        ),
        namespace,
    )
    report = check_course(namespace)
    assert report.passed and report.detection.part == "shallow", str(report)
    page = report._repr_html_()
    assert page.count("<tr>") == 1 + len(report.results) and ">PASS<" in page
    module = types.ModuleType("mine")
    exec(
        "import numpy as np\nfrom numpy import tanh\ndef relu(Z):\n    return np.maximum(0, Z), Z\n",
        module.__dict__,
    )
    report = check_course(module)  # an imported function (tanh) is not theirs: not listed
    assert [r.name for r in report.results] == ["relu"] and report.passed and not report.not_checked


def test_a_function_failing_because_of_one_it_uses_says_so() -> None:
    module = mutated("logreg_solution.py", "propagate", "dw = 1 / m * np.dot", "dw = np.dot")
    report = check_course(module)
    by = {r.name: r for r in report.results}
    assert by["propagate"].diagnosis.startswith("dw: off by a constant factor of m")
    for name in ("optimize", "model"):
        assert by[name].status == "FAIL" and by[name].depends_on
    assert by["optimize"].diagnosis == "uses propagate, which fails: fix that first"
    assert by["model"].diagnosis == "uses optimize, which fails: fix that first"
    assert report.summary() == (
        "6 functions checked: 3 passed, 3 failed (2 of them because a function they use fails)"
    )
    module = mutated("shallow_solution.py", "forward_propagation", "A1 = np.tanh(Z1)", "A1 = sigmoid(Z1)")
    back = check_one(module, "backward_propagation", "shallow")  # their cache holds σ(Z1)
    assert back.status == "FAIL"
    report = check_course(module, functions=["forward_propagation", "backward_propagation"])
    assert report.results[1].diagnosis == "uses forward_propagation, which fails: fix that first"


def test_the_part_is_told_from_signatures_and_settled_by_part() -> None:
    module = types.ModuleType("mine")
    exec(
        "import numpy as np\n"
        "def compute_cost(A2, Y):\n    return float(-np.mean(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)))\n"
        "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n",
        module.__dict__,
    )
    report = check_course(module)
    assert report.detection.part == "logreg" and report.passed  # sigmoid(z) -> s votes logreg
    report = check_course(module, part="deep")  # the deep sigmoid returns (A, cache)
    assert "the course returns (A, cache)" in report.results[0].diagnosis
    del module.sigmoid
    report = check_course(module)
    assert report.part_line().startswith("part: ambiguous between shallow and deep")
    module = mutated("logreg_solution.py", "predict", "def predict(w, b, X)", "def predict(parameters, X)")
    by = {r.name: r for r in check_course(module).results}
    assert by["predict"].part == "shallow" and by["propagate"].part == "logreg"  # predict(parameters, X)


def test_crashes_and_unknown_functions_are_reported_per_function() -> None:
    module = types.ModuleType("mine")
    exec(
        "import numpy as np\ndef relu(Z):\n    return undefined_name\n"
        "def relu_backward(dA, cache):\n    dZ = np.array(dA, copy=True)\n"
        "    dZ[cache <= 0] = 0\n    return dZ\n"
        "def plot(x):\n    pass\ndef sigmoid_backward(dA):\n    return dA\n",
        module.__dict__,
    )
    report = check_course(module, part="deep")
    by = {r.name: r for r in report.results}
    assert by["relu"].diagnosis == (
        "relu raised NameError: name 'undefined_name' is not defined (in relu, line 3)"
    )
    assert by["relu_backward"].passed  # run on the course's cache Z since their relu fails
    assert "course's cache" in " ".join(by["relu_backward"].notes)
    assert dict(report.not_checked)["plot"] == "not one of the course functions dlparity knows"
    why = dict(report.not_checked)["sigmoid_backward"]
    assert "does not take the course's sigmoid_backward(dA, cache)" in why


def test_cli_exit_status_and_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(str(FIXTURES / "deep_solution.py")) == 0
    assert "16 functions checked: 16 passed, 0 failed" in capsys.readouterr().out
    buggy = tmp_path / "mine.py"
    buggy.write_text((FIXTURES / "logreg_solution.py").read_text().replace("b = 0.", "b = 0"))
    out = tmp_path / "records.json"
    assert run_cli(str(buggy), "--json", str(out), "--part", "logreg") == 1
    records = json.loads(out.read_text())
    assert records["part"] == "logreg" and not records["passed"]
    bad = next(f for f in records["functions"] if f["status"] == "FAIL")
    assert bad["function"] == "initialize_with_zeros" and "b = 0." in bad["diagnosis"]
    assert all(f["checks"] for f in records["functions"])
    capsys.readouterr()
    assert run_cli(str(tmp_path / "absent.py")) == 2
    assert run_cli(str(out)) == 2
    assert "expected a .py file or a .ipynb notebook" in capsys.readouterr().err


def _block(text: str, marker: str, lang: str) -> str:
    m = re.search(rf"<!-- {marker}:start -->\s*```{lang}\n(.*?)```\s*<!-- {marker}:end -->", text, re.S)
    assert m, f"no ```{lang} block between <!-- {marker}:start/end --> markers"
    return m.group(1)


def test_readme_section_example_prints_what_it_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    text = SECTION.read_text()
    (tmp_path / "my_logreg.py").write_text(_block(text, "course-example", "python"))
    monkeypatch.chdir(tmp_path)
    assert run_cli("my_logreg.py") == 1
    assert_same_text_and_numbers(capsys.readouterr().out, _block(text, "course-output", "text"))
    assert "# Check your course code in one command" in text and "dlparity check my_logreg.py" in text
