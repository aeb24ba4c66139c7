"""``dlparity check`` on a whole class: several files or a folder, checked in parallel, one
table of files × functions, a CSV row per file, a non-zero exit when any file fails, and one
broken or hanging file never stopping the others."""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from parity_tests.course import add_check_parser
from parity_tests.course.classroom import check_files, expand
from parity_tests.tests.test_course_check_mutations import FIXTURES


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="dlparity")
    add_check_parser(parser.add_subparsers())
    args = parser.parse_args(["check", *argv])
    return args.func(args)


@pytest.fixture()
def classroom(tmp_path: Path) -> Path:
    """Three learners: one correct, one whose db lost its 1/m, one whose file does not parse, and
    one whose sigmoid never returns; plus a notebook checkpoint folder that must be ignored."""
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(FIXTURES / "logreg_solution.py", folder / "ada.py")
    text = (FIXTURES / "logreg_solution.py").read_text()
    assert text.count("db = 1 / m * np.sum(A - Y)") == 1
    (folder / "ben.py").write_text(text.replace("db = 1 / m * np.sum(A - Y)", "db = np.sum(A - Y)"))
    (folder / "cy.py").write_text("def sigmoid(z:\n")
    (folder / "dee.py").write_text(
        text.replace("    s = 1 / (1 + np.exp(-z))", "    while True:\n        pass", 1)
    )
    (folder / ".ipynb_checkpoints").mkdir()
    (folder / ".ipynb_checkpoints" / "ada-checkpoint.py").write_text("def f(:\n")
    return folder


def test_expand_finds_course_files_and_skips_hidden_folders(classroom: Path) -> None:
    assert [p.name for p in expand([classroom])] == ["ada.py", "ben.py", "cy.py", "dee.py"]


def test_a_class_folder(classroom: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert "db = 1 / m * np.sum(A - Y)" in (FIXTURES / "logreg_solution.py").read_text()
    out_csv, out_json = tmp_path / "grades.csv", tmp_path / "grades.json"
    # 15 s: each correct function finishes far below it even on a loaded 2-core CI machine
    status = run_cli(
        str(classroom), "--timeout", "15", "--jobs", "2", "--csv", str(out_csv), "--json", str(out_json)
    )
    out = capsys.readouterr().out
    assert status == 1, out
    lines = out.splitlines()
    ada = next(ln for ln in lines if ln.startswith("ada.py"))
    ben = next(ln for ln in lines if ln.startswith("ben.py"))
    assert ada.split()[-1] == "6/6" and "FAIL" not in ada
    assert ben.split()[-1] == "3/6" and ben.split()[3] == "FAIL"  # propagate; optimize, model use it
    assert any(ln.startswith("cy.py") and "not checked:" in ln and "SyntaxError" in ln for ln in lines)
    assert "dee.py: FAIL sigmoid — sigmoid did not finish in 15 s" in out
    assert "ben.py: FAIL propagate — db: off by a constant factor of m" in out
    assert lines[-1] == "4 files: 1 passed, 2 failed, 1 could not be checked"
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    assert [r["file"] for r in rows] == [str(classroom / n) for n in ("ada.py", "ben.py", "cy.py", "dee.py")]
    assert rows[0]["status"] == "PASS" and rows[0]["passed"] == "6" and rows[0]["sigmoid"] == "PASS"
    assert rows[1]["propagate"] == "FAIL" and rows[1]["failed"] == "3"
    assert rows[2]["status"].startswith("not checked:") and rows[3]["sigmoid"] == "FAIL"
    data = json.loads(out_json.read_text())
    assert data["exit_status"] == 1 and [f["exit_status"] for f in data["files"]] == [0, 1, 1, 1]


def test_a_passing_class_exits_0_and_order_is_kept(tmp_path: Path) -> None:
    files = []
    for name in ("shallow_solution.py", "logreg_solution.py"):
        shutil.copy(FIXTURES / name, tmp_path / name)
        files.append(tmp_path / name)
    report = check_files(files, jobs=2)
    assert report.exit_status == 0, str(report)
    assert [r.path for r in report.rows] == [str(f) for f in files]
    assert "part shallow" in report.table() and "part logreg" in report.table()


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(str(tmp_path)) == 2  # an empty folder
    assert "no .py or .ipynb files" in capsys.readouterr().err
    shutil.copy(FIXTURES / "logreg_solution.py", tmp_path / "a.py")
    assert run_cli(str(tmp_path / "a.py"), "--csv", str(tmp_path / "x.csv")) == 2
    assert "--csv is for several files" in capsys.readouterr().err
    assert run_cli(str(tmp_path / "a.py"), str(tmp_path / "missing.py")) == 2
    with pytest.raises(SystemExit):
        run_cli(str(tmp_path), "--jobs", "0")
