"""``dlparity report``: table, report.json, report.md, PNGs, options and exit status."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from parity_tests import cli
from parity_tests.compare import compare, group_result
from parity_tests.registry import ParityCheck
from parity_tests.report import format_table, run_checks, write_outputs
from parity_tests.tolerances import tolerance


def test_report_on_two_concepts_writes_everything(tmp_path: Path, capsys) -> None:
    pytest.importorskip("matplotlib")
    status = cli.main(["report", "--concepts", "dense,gd", "--devices", "cpu", "--out", str(tmp_path)])
    out = capsys.readouterr()
    assert status == 0
    assert "dense" in out.out and "PASS" in out.out and "FAIL" not in out.out.split("\n\n")[0]
    assert "[  1/" in out.err  # progress while it runs
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["counts"]["FAIL"] == 0 and data["counts"]["PASS"] == len(data["rows"]) > 0
    assert {r["concept"] for r in data["rows"]} == {"dense", "gd"}
    assert {r["dtype"] for r in data["rows"]} == {"float32", "float64"}
    row = next(r for r in data["rows"] if r["level"] == "trajectory")
    assert row["plot"] and (tmp_path / row["plot"]).stat().st_size > 1000
    assert len(row["extra"]["scratch_loss"]) == len(row["extra"]["torch_loss"]) > 1
    md = (tmp_path / "report.md").read_text()
    assert md.startswith("# dlparity report") and "| concept | case | level |" in md


def test_failing_check_gives_exit_1_and_a_diagnosis(tmp_path: Path, monkeypatch, capsys) -> None:
    def run(device: str, dtype: str):
        E = np.arange(1.0, 7.0).reshape(2, 3)
        rec = compare("dW", E * 3, E, tolerance(dtype, "gradient"), m=3)
        return group_result("dense", "broken", "gradient", device, dtype, [rec])

    broken = ParityCheck("dense", "broken", "gradient", run)
    monkeypatch.setattr("parity_tests.registry.all_checks", lambda *a, **k: [broken])
    status = cli.main(["report", "--devices", "cpu", "--dtypes", "float64", "--out", str(tmp_path),
                       "--no-plots"])
    out = capsys.readouterr().out
    assert status == 1
    assert "FAIL" in out and "factor of m (m=3)" in out
    assert "## Failures" in (tmp_path / "report.md").read_text()


def test_crashing_and_unavailable_checks_are_reported_not_raised() -> None:
    from parity_tests.registry import CheckUnavailable

    def crash(device, dtype):
        raise ZeroDivisionError("boom")

    def unavailable(device, dtype):
        raise CheckUnavailable("scikit-learn is not installed")

    rows = run_checks([ParityCheck("dense", "crash", "forward", crash),
                       ParityCheck("dense", "data", "trajectory", unavailable)], ["cpu"], ["float64"],
                      progress=False)
    assert [r.verdict for r in rows] == ["ERROR", "UNAVAILABLE"]
    assert "ZeroDivisionError: boom" in rows[0].diagnosis
    assert "ERROR" in format_table(rows)


@pytest.mark.parametrize("args, message", [
    (["--concepts", "nope"], "are not registered"),
    (["--dtypes", "int8"], "--dtypes ['int8'] unknown"),
])
def test_bad_options_exit_2(args, message, capsys, tmp_path: Path) -> None:
    assert cli.main(["report", "--out", str(tmp_path), *args]) == 2
    assert message in capsys.readouterr().err


def test_write_outputs_without_rows(tmp_path: Path) -> None:
    write_outputs([], tmp_path, plots=False)
    assert json.loads((tmp_path / "report.json").read_text())["rows"] == []


def test_summary_table_one_line_per_concept() -> None:
    from parity_tests.report import summary_table

    def run(device, dtype):
        return group_result("dense", "exact", "forward", device, dtype,
                            [compare("Z", np.ones(3), np.ones(3), tolerance(dtype, "forward"))])

    rows = run_checks([ParityCheck("dense", "exact", "forward", run)], ["cpu"], ["float32", "float64"],
                      progress=False)
    table = summary_table(rows)
    assert table.splitlines()[2].split()[:4] == ["dense", "2", "2", "0"]
    assert "0 of tol" in table  # an exact match is not 'inf of tol'
