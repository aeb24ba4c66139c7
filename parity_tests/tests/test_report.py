"""``dlparity report``: table, report.json, report.md, PNGs, options and exit status."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from parity_tests import cli
from parity_tests.compare import compare, group_result
from parity_tests.registry import ParityCheck
from parity_tests.report import format_table, plan, run_checks, write_outputs
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
    status = cli.main(
        ["report", "--devices", "cpu", "--dtypes", "float64", "--out", str(tmp_path), "--no-plots"]
    )
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

    rows = run_checks(
        [
            ParityCheck("dense", "crash", "forward", crash),
            ParityCheck("dense", "data", "trajectory", unavailable),
        ],
        ["cpu"],
        ["float64"],
        progress=False,
    )
    assert [r.verdict for r in rows] == ["ERROR", "UNAVAILABLE"]
    assert "ZeroDivisionError: boom" in rows[0].diagnosis
    assert "ERROR" in format_table(rows)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--concepts", "nope"], "['nope'] are not concept ids"),
        (["--concepts", ""], "expected one or more concept ids"),
        (["--devices", "tpu"], "--devices ['tpu'] not available"),
        (["--dtypes", "int8"], "--dtypes ['int8'] unknown"),
    ],
)
def test_bad_options_exit_2(args, message, capsys, tmp_path: Path) -> None:
    assert cli.main(["report", "--out", str(tmp_path), *args]) == 2
    assert message in capsys.readouterr().err


def test_write_outputs_without_rows(tmp_path: Path) -> None:
    assert write_outputs([], tmp_path, plots=False) == ["report.html", "report.json", "report.md"]
    assert json.loads((tmp_path / "report.json").read_text())["rows"] == []


def test_summary_table_one_line_per_concept() -> None:
    from parity_tests.report import summary_table

    def run(device, dtype):
        return group_result(
            "dense",
            "exact",
            "forward",
            device,
            dtype,
            [compare("Z", np.ones(3), np.ones(3), tolerance(dtype, "forward"))],
        )

    rows = run_checks(
        [ParityCheck("dense", "exact", "forward", run)], ["cpu"], ["float32", "float64"], progress=False
    )
    table = summary_table(rows)
    assert table.splitlines()[2].split()[:4] == ["dense", "2", "2", "0"]
    assert "0 of tol" in table  # an exact match is not 'inf of tol'


# --- the CLI behaves like a well-kept tool ---------------------------------------------------
def _fake(
    case: str, level: str = "forward", figure: bool = False, fail: bool = False, interrupt: bool = False
) -> ParityCheck:
    def run(device: str, dtype: str):
        if interrupt:
            raise KeyboardInterrupt
        rec = compare("Z", np.ones(3) * (2 if fail else 1), np.ones(3), tolerance(dtype, "forward"))
        series = [{"label": "a", "x": [0, 1], "y": [1, 0], "kind": "line"}]
        extra = {"figure": {"title": "t", "xlabel": "x", "ylabel": "y", "series": series}} if figure else {}
        return group_result("dense", case, level, device, dtype, [rec], extra)

    return ParityCheck("dense", case, level, run)


def _report(monkeypatch, checks, out: Path, *extra: str) -> int:
    monkeypatch.setattr("parity_tests.registry.all_checks", lambda *a, **k: checks)
    return cli.main(["report", "--devices", "cpu", "--dtypes", "float64", "--out", str(out), *extra])


def test_out_that_is_a_file_or_unwritable_exits_2_before_running(tmp_path: Path, monkeypatch, capsys) -> None:
    ran = []
    check = ParityCheck("dense", "x", "forward", lambda d, t: ran.append(1))
    afile = tmp_path / "afile"
    afile.write_text("")
    for out in (afile, afile / "sub"):
        assert _report(monkeypatch, [check], out) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("dlparity: --out:")
    assert not ran


def test_a_second_run_removes_the_first_runs_stale_files(tmp_path: Path, monkeypatch, capsys) -> None:
    pytest.importorskip("matplotlib")
    assert _report(monkeypatch, [_fake("a", figure=True)], tmp_path) == 0
    first = sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".png")
    assert first and "dense-a-forward-cpu-float64.png" in first
    (tmp_path / "mine.txt").write_text("not dlparity's")  # refused without --force (test_report_out)
    assert _report(monkeypatch, [_fake("b", figure=True)], tmp_path, "--force") == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert "dense-a-forward-cpu-float64.png" not in names and "dense-b-forward-cpu-float64.png" in names
    assert "mine.txt" in names  # only files the previous run owned are removed
    assert not [n for n in names if n.startswith(".dlparity-staging")]
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == f"wrote to {tmp_path}/: report.html, report.json, report.md and 1 plots (*.png)"


def test_ctrl_c_exits_130_with_a_count_and_writes_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    status = _report(monkeypatch, [_fake("a"), _fake("b", interrupt=True), _fake("c")], tmp_path)
    err = capsys.readouterr().err
    assert status == 130 and "interrupted after 1 of 3 checks" in err and "Traceback" not in err
    assert not (tmp_path / "report.json").exists()


def test_header_counts_what_runs(tmp_path: Path, monkeypatch, capsys) -> None:
    cpu_only = ParityCheck(
        "dense", "fd", "finite-difference", _fake("x").run, dtypes=("float64",), cpu_only=True
    )
    _report(monkeypatch, [_fake("a"), cpu_only], tmp_path, "--no-plots")
    err = capsys.readouterr().err
    assert err.startswith("dlparity report: 2 checks") and err.count("] PASS") == 2


def test_plan_runs_cpu_only_and_cuda_only_checks_where_they_belong() -> None:
    run = _fake("x").run
    both = ParityCheck("dense", "a", "forward", run, dtypes=("float32",))
    cpu = ParityCheck("dense", "b", "forward", run, dtypes=("float32",), cpu_only=True)
    cuda = ParityCheck("dense", "c", "forward", run, dtypes=("float32",), cuda_only=True)
    planned = {(c.case, dev) for c, dev, _ in plan([both, cpu, cuda], ["cpu", "cuda:0"], ["float32"])}
    assert planned == {("a", "cpu"), ("a", "cuda:0"), ("b", "cpu"), ("c", "cuda:0")}


def test_a_check_that_compared_nothing_is_an_error_in_the_report(tmp_path: Path, monkeypatch, capsys) -> None:
    empty = ParityCheck(
        "dense", "empty", "forward", lambda d, t: group_result("dense", "empty", "forward", d, t, [])
    )
    assert _report(monkeypatch, [empty], tmp_path, "--no-plots") == 1
    assert "nothing was compared" in capsys.readouterr().out


def test_planned_concepts_are_told_apart_from_unknown_ones(monkeypatch) -> None:
    from parity_tests import checks, registry

    monkeypatch.setattr(checks, "_concept_modules", lambda: ["dense"])
    with pytest.raises(
        ValueError,
        match=r"\['rl'\] are planned in the README's concept table but not "
        r"implemented yet",
    ):
        registry.check_concepts(["rl"])
    with pytest.raises(ValueError, match=r"are not concept ids"):
        registry.check_concepts(["nope"])


def test_version_and_help(capsys) -> None:
    import subprocess
    import sys

    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.startswith("dlparity ")
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "``" not in capsys.readouterr().out
    proc = subprocess.run(
        [sys.executable, "-m", "parity_tests.cli", "list", "--concepts", "dense"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert proc.returncode == 0 and "dense-linear-forward" in proc.stdout


def test_a_closed_pipe_stops_quietly(monkeypatch, capsys) -> None:
    """dlparity list | head: the reader is gone; no BrokenPipeError traceback."""
    import os

    r, w = os.pipe()
    os.close(r)
    closed = os.fdopen(w, "w")
    monkeypatch.setattr("sys.stdout", closed)
    assert cli.main(["list", "--concepts", "dense"]) == cli.EXIT_BROKEN_PIPE
    assert "Traceback" not in capsys.readouterr().err


def test_optional_dependencies_are_not_needed_to_list_or_run_other_concepts(tmp_path: Path) -> None:
    """Without SciPy, scikit-learn or gymnasium: `dlparity list` works, and a check that needs
    one of them is UNAVAILABLE with the reason, not a crash of the whole run."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "for m in ('scipy', 'sklearn', 'gymnasium'): sys.modules[m] = None\n"
        "from parity_tests.cli import main\n"
        "assert main(['list']) == 0\n"
        "raise SystemExit(main(['report', '--concepts', 'init', '--devices', 'cpu', '--dtypes',"
        " 'float64', '--no-plots', '--out', sys.argv[1]]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads((tmp_path / "report.json").read_text())
    unavailable = [r for r in data["rows"] if r["verdict"] == "UNAVAILABLE"]
    assert unavailable and all(
        "SciPy is not installed" in r["diagnosis"] or "scikit-learn" in r["diagnosis"] for r in unavailable
    )
    assert data["counts"]["PASS"] > 0
