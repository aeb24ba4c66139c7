"""``dlparity check`` reads what learners' editors write: a UTF-8 BOM, a PEP 263 coding line;
refuses bytes that do not decode and JSON that is not a notebook with exit status 2 and the byte
or the field at fault (never a traceback); lists notebook cells that do not parse, exit status 1."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from parity_tests.course import CourseFileError, add_check_parser, check_course, load_course_file

SIGMOID = "import numpy as np\n\n\ndef sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n"


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="dlparity")
    add_check_parser(parser.add_subparsers())
    args = parser.parse_args(["check", *argv])
    return args.func(args)


def notebook(*sources: object, other: dict | None = None) -> dict:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# Logistic regression\n"]}]
    cells += [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": s}
        for s in sources
    ]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5, **(other or {})}


def test_a_bom_prefixed_file_passes(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_bytes(b"\xef\xbb\xbf" + SIGMOID.encode())
    report = check_course(path, timeout=20)
    assert report.exit_status == 0 and [r.status for r in report.results] == ["PASS"], str(report)


def test_a_bom_prefixed_notebook_loads(tmp_path: Path) -> None:
    path = tmp_path / "mine.ipynb"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(notebook(SIGMOID)).encode())
    assert load_course_file(path).definitions == ["sigmoid"]


def test_a_latin1_file_with_a_coding_line_loads(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    text = "# -*- coding: latin-1 -*-\nNAME = 'café'\ndef f():\n    return NAME\n"
    path.write_bytes(text.encode("latin-1"))
    loaded = load_course_file(path)
    assert loaded.module.f() == "café" and loaded.constants == ["NAME = 'café'"]


@pytest.mark.parametrize(
    "data, message",
    [
        (
            b"x = 1\ny = '\xff'\n",
            "mine.py: byte 11 (line 2) is 0xff, not valid utf-8: save the file as UTF-8 or declare its "
            "encoding on line 1 or 2 (# -*- coding: latin-1 -*-)",
        ),
        (b"# -*- coding: klingon -*-\nx = 1\n", "mine.py: unknown encoding: klingon"),
        (b"x = 1\x00\n", "source code string cannot contain null bytes"),
    ],
)
def test_undecodable_bytes_are_refused_with_exit_status_2(
    tmp_path: Path, data: bytes, message: str, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("mine.py").write_bytes(data)
    assert run_cli("mine.py") == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("dlparity check: mine.py: ") and message in err, err
    with pytest.raises(CourseFileError, match="mine.py"):
        load_course_file("mine.py")


def test_bad_bytes_in_a_notebook_name_the_byte(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "mine.ipynb"
    path.write_bytes(json.dumps(notebook("x = 1\n")).encode().replace(b"x = 1", b"x = \xe9"))
    assert run_cli(str(path)) == 2
    assert "mine.ipynb: byte " in capsys.readouterr().err


@pytest.mark.parametrize(
    "content, message",
    [
        ("[]", "the notebook is a list, expected a JSON object with 'cells'"),
        ('{"metadata": {}}', "not a Jupyter notebook: no 'cells' (it has ['metadata'])"),
        ('{"cells": "def f(): pass"}', "'cells' is a str, expected a list"),
        ("{not json", "not a Jupyter notebook (not JSON: "),
        (
            notebook("x = 1\n", "y = 2\n", 3),
            "cells[3].source is an int, expected a string or a list of strings",
        ),
        (notebook(["x = 1\n", None]), "cells[1].source[1] is a NoneType, expected a string"),
        (
            dict(notebook(), cells=[{"cell_type": "code", "source": ""}, "x = 1"]),
            "cells[1] is a str, expected an object",
        ),
        (
            dict(notebook(), cells=[{"cell_type": 7, "source": ""}]),
            "cells[0].cell_type is an int, expected a string",
        ),
    ],
)
def test_a_malformed_notebook_is_refused_naming_the_field(
    tmp_path: Path, content: object, message: str, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "notebook.ipynb"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    assert run_cli(str(path)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"dlparity check: {path}: {message}") and "Traceback" not in err, err


def test_syntax_error_cells_are_listed_and_fail_the_check(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "mine.ipynb"
    path.write_text(json.dumps(notebook(SIGMOID, "x = 1\ny = 2\nfor\n", "%matplotlib inline\nz = (1 +\n")))
    out_json = tmp_path / "out.json"
    assert run_cli(str(path), "--json", str(out_json), "--timeout", "20") == 1
    out = capsys.readouterr().out
    assert "  syntax error: cell 2, line 3: invalid syntax\n" in out
    assert "  syntax error: cell 3, line 2: '(' was never closed\n" in out
    assert "PASS  sigmoid" in out
    assert out.rstrip().endswith(
        "1 function checked: 1 passed, 0 failed; 2 notebook cells with a syntax error"
    )
    data = json.loads(out_json.read_text())
    assert data["loaded"]["syntax_errors"] == [
        "cell 2, line 3: invalid syntax",
        "cell 3, line 2: '(' was never closed",
    ]
    assert data["exit_status"] == 1 and data["passed"] is True  # every function passed; the file did not


def test_a_plotting_import_is_loaded_only_when_used(tmp_path: Path) -> None:
    """``import matplotlib.pyplot as plt`` binds a stand-in (``loader.DEFERRED_MODULES``):
    a file that only imports it never pays pyplot's import, and one that plots gets the real
    module at its first ``plt.…``. In a fresh process (a test worker may have pyplot already)."""
    pytest.importorskip("matplotlib")
    learner = tmp_path / "plots.py"
    learner.write_text(
        "import matplotlib.pyplot as plt\nfrom matplotlib import pyplot\n\n"
        "def draw():\n    plt.figure()\n    return pyplot.get_fignums()\n"
    )
    code = (
        "import sys\nfrom parity_tests.course.loader import load_course_file\n"
        f"loaded = load_course_file({str(learner)!r})\n"
        "lazy = type(sys.modules['matplotlib.pyplot']).__name__\n"
        "print(lazy, loaded.module.plt is loaded.module.pyplot, loaded.module.draw())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["_Deferred", "True", "[1]"], out.stdout
