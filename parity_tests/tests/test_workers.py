"""``dlparity report --jobs N`` (issue 23): the same report for any N, workers that start light,
stop on Ctrl-C and SIGTERM without a trace, and survive a worker's crash; cheap imports."""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from parity_tests import cli, workers
from parity_tests.compare import compare, group_result
from parity_tests.registry import ParityCheck, all_checks
from parity_tests.report import plan
from parity_tests.tolerances import tolerance

ROOT = Path(__file__).parents[2]


def _rows(out: Path) -> list[dict]:
    """report.json's rows without what is inherently run-specific: timings."""
    rows = json.loads((out / "report.json").read_text())["rows"]
    for row in rows:
        del row["seconds"]
        for key in [k for k in row.get("extra", {}).get("metrics", {}) if k.endswith("_seconds")]:
            del row["extra"]["metrics"][key]
    return rows


def test_jobs_1_and_2_write_the_same_rows_in_the_same_order(tmp_path: Path, monkeypatch, capsys) -> None:
    """``--jobs 2`` here runs every check in two spawned workers (this process only hands out
    work), the strictest comparison with ``--jobs 1``, where this process runs them all."""
    args = ["report", "--concepts", "dense,init", "--devices", "cpu", "--no-plots"]
    status1 = cli.main([*args, "--jobs", "1", "--out", str(tmp_path / "one")])
    out1 = capsys.readouterr()
    assert cli.main([*args, "--jobs", "2", "--out", str(tmp_path / "mixed")]) == status1  # as shipped
    capsys.readouterr()
    pure_workers = functools.partial(workers.run_in_workers, take_part=False)
    monkeypatch.setattr(workers, "run_in_workers", pure_workers)
    status2 = cli.main([*args, "--jobs", "2", "--out", str(tmp_path / "two")])
    out2 = capsys.readouterr()
    rows = _rows(tmp_path / "one")
    assert status1 == status2 == 0
    assert len(rows) > 20 and {r["concept"] for r in rows} == {"dense", "init"}
    assert _rows(tmp_path / "two") == _rows(tmp_path / "mixed") == rows
    table = lambda out: out.split("\n\n")[0]  # noqa: E731 - the table, before the summary
    assert table(out1.out) == table(out2.out)
    assert out2.err.count("] PASS") == len(rows)  # progress for every row, as they came


def test_a_failing_run_has_the_same_exit_status_for_any_jobs(tmp_path: Path, monkeypatch, capsys) -> None:
    """A FAIL computed in a worker counts as one computed here (exit status 1, same rows)."""
    checks = [_registered_like(_passing), _registered_like(_failing), _registered_like(_passing, "c")]
    statuses, rows = [], []
    for jobs in ("1", "2"):
        monkeypatch.setattr("parity_tests.registry.all_checks", lambda *a, **k: checks)
        monkeypatch.setattr("parity_tests.report._registered", lambda check: True)  # send them over
        monkeypatch.setattr(
            workers, "run_in_workers", functools.partial(_real_run_in_workers, take_part=False)
        )
        out = tmp_path / jobs
        statuses.append(
            cli.main(
                [
                    "report",
                    "--devices",
                    "cpu",
                    "--dtypes",
                    "float64",
                    "--no-plots",
                    "--jobs",
                    jobs,
                    "--out",
                    str(out),
                ]
            )
        )
        rows.append(_rows(out))
    capsys.readouterr()
    assert statuses == [1, 1]
    assert rows[0] == rows[1] and [r["verdict"] for r in rows[0]] == ["PASS", "FAIL", "PASS"]


_real_run_in_workers = workers.run_in_workers


# --- checks a worker can import: module-level functions ----------------------------------------
def _result(case: str, device: str, dtype: str, factor: float = 1.0, extra: dict | None = None):
    rec = compare("Z", np.ones(3) * factor, np.ones(3), tolerance(dtype, "forward"))
    return group_result("dense", case, "forward", device, dtype, [rec], extra or {})


def _passing(device: str, dtype: str):
    return _result("ok", device, dtype)


def _failing(device: str, dtype: str):
    return _result("bad", device, dtype, factor=2.0)


def _dies_in_a_worker(device: str, dtype: str):
    if multiprocessing.parent_process() is not None:
        os.kill(os.getpid(), signal.SIGKILL)
    return _result("dies", device, dtype)


def _concept_modules_loaded(device: str, dtype: str):
    loaded = sorted(m for m in sys.modules if m.startswith("parity_tests.concepts."))
    return _result(
        "modules", device, dtype, extra={"modules": loaded, "course": "parity_tests.course" in sys.modules}
    )


def _registered_like(run, case: str | None = None) -> ParityCheck:
    return ParityCheck("dense", case or run.__name__.strip("_"), "forward", run)


def _run(tasks, jobs: int = 1, take_part: bool = False) -> dict:
    rows: dict = {}
    workers.run_in_workers(
        [(i, c, "cpu", "float64") for i, c in enumerate(tasks)],
        jobs,
        lambda i, row: rows.__setitem__(i, row),
        take_part=take_part,
    )
    return rows


def test_a_worker_that_dies_costs_its_check_alone() -> None:
    rows = _run(
        [
            _registered_like(_passing, "a"),
            _registered_like(_dies_in_a_worker),
            _registered_like(_passing, "b"),
        ]
    )
    assert [rows[i].verdict for i in range(3)] == ["PASS", "ERROR", "PASS"]
    assert rows[1].diagnosis == "the worker process running it died (killed by SIGKILL)"


def test_a_worker_imports_only_the_concepts_of_its_checks() -> None:
    """A registered check travels by id: the worker imports that check's concept module, no
    other, and not the course checker."""
    dense = all_checks(["dense"], include_slow=False)[0]
    rows = _run([dense, _registered_like(_concept_modules_loaded)])
    assert rows[0].verdict == "PASS"
    assert rows[1].result.extra == {"modules": ["parity_tests.concepts.dense"], "course": False}


def test_rows_come_back_in_plan_order_whatever_the_schedule(monkeypatch) -> None:
    """The expensive units start first, yet ``run_checks`` returns (and shows ``on_row``) the
    plan's order."""
    from parity_tests import report

    checks = [_registered_like(_passing, c) for c in "abcd"]
    monkeypatch.setattr(workers, "COST_HINTS", ((r"-d-forward$", 5.0),))
    assert [
        u.indices for u in workers.schedule([(i, c, "cpu", "float64") for i, c in enumerate(checks)])
    ] == [[3], [0], [1], [2]]
    monkeypatch.setattr(report, "_registered", lambda check: True)
    seen = []
    rows = report.run_checks(checks, ["cpu"], ["float64"], progress=False, on_row=seen.append, jobs=2)
    assert [r.case for r in rows] == [r.case for r in seen] == list("abcd")


def test_onnx_checks_share_one_unit_and_the_costly_ones_go_first() -> None:
    planned = plan(all_checks(["logreg", "deep"], include_slow=False), ["cpu"], ["float32", "float64"])
    units = workers.schedule([(i, *task) for i, task in enumerate(planned)])
    onnx = [u for u in units if u.setup == "onnx"]
    assert len(onnx) == 1 and len(onnx[0].indices) >= 2 and units[0] is onnx[0]
    seconds = [u.seconds for u in units]
    hoisted = [s for s in seconds if s >= workers.HOIST]
    assert hoisted == sorted(hoisted, reverse=True) and seconds[: len(hoisted)] == hoisted
    assert sorted(i for u in units for i in u.indices) == list(range(len(planned)))  # each once


def test_jobs_must_be_a_positive_number(capsys) -> None:
    for bad in ("0", "-1", "two"):
        with pytest.raises(SystemExit) as exc:
            cli.main(["report", "--jobs", bad])
        assert exc.value.code == 2 and "expected a number of processes >= 1" in capsys.readouterr().err


# --- signals on a real run with workers --------------------------------------------------------
def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:  # the parent's pid
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            pass  # gone meanwhile
    return found


def _is_worker(pid: int) -> bool:
    try:
        return "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    except OSError:
        return False


def _group_is_gone(pgid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc to find the workers")
@pytest.mark.parametrize(
    "sig, to_group, status",
    [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)],
    ids=["ctrl-c-in-a-terminal", "sigterm-to-the-parent"],
)
def test_a_signal_stops_a_run_with_workers_in_one_line(tmp_path: Path, sig, to_group, status) -> None:
    """Ctrl-C reaches the workers too (they ignore it: no traceback); SIGTERM reaches the parent
    alone, which terminates them. Either way one line, the exit status, and no process left."""
    out = tmp_path / "out"
    code = (
        "import sys\nfrom parity_tests.cli import main\n"
        "raise SystemExit(main(['report', '--concepts', 'logreg,deep', '--devices', 'cpu', "
        "'--no-plots', '--jobs', '2', '--out', sys.argv[1]]))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(out)],
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert proc.stderr.readline().startswith("dlparity report: ")  # the plan: workers start next
        deadline = time.monotonic() + 120
        while not any(_is_worker(c) for c in _children(proc.pid)):
            assert time.monotonic() < deadline and proc.poll() is None, "no worker started"
            time.sleep(0.05)
        time.sleep(1.0)  # the worker is importing, or running checks
        os.killpg(proc.pid, sig) if to_group else proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == status, err[-3000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    by = "" if sig == signal.SIGINT else " by SIGTERM"
    last = err.splitlines()[-1]
    assert last.startswith(f"dlparity report: interrupted{by} after ") and last.endswith(
        "checks; nothing was written"
    ), err[-3000:]
    assert _group_is_gone(proc.pid), "a worker outlived the run"
    assert not (out / "report.json").exists()


# --- cheap imports -----------------------------------------------------------------------------
def _python(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


HEAVY = ("torch", "torch._dynamo", "parity_tests.course", "parity_tests.production", "parity_tests.api")


def test_importing_parity_tests_loads_neither_torch_nor_the_course_checker() -> None:
    assert _python(f"import sys, parity_tests\nprint([m for m in {HEAVY} if m in sys.modules])") == "[]"


def test_every_public_name_imports_as_before() -> None:
    import parity_tests
    from parity_tests.api import check_forward
    from parity_tests.compare import compare as compare_fn
    from parity_tests.course import check_course
    from parity_tests.trajectory import check_training

    assert parity_tests.check_forward is check_forward and parity_tests.check_training is check_training
    assert parity_tests.check_course is check_course
    assert parity_tests.compare is compare_fn  # the function, not the submodule of that name
    assert all(getattr(parity_tests, name) is not None for name in parity_tests.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        parity_tests.nope  # noqa: B018
    names = ", ".join(parity_tests.__all__)
    assert _python(f"from parity_tests import {names}\nprint(callable(check_course))") == "True"


def test_help_loads_neither_torch_nor_the_checkers_and_matches_the_full_parser(capsys) -> None:
    code = (
        "import sys\nfrom parity_tests.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {HEAVY} if m in sys.modules], file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.stderr.strip() == "[]" and "report" in proc.stdout
    assert cli.build_parser(set()).format_help() == cli.build_parser().format_help()


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc to see torch loading")
def test_ctrl_c_while_torch_is_still_loading_prints_one_line(tmp_path: Path) -> None:
    """The entry module is light, so the signal handling is in place before the heavy imports:
    a Ctrl-C while torch loads ends in one line and exit 130, not a traceback."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "parity_tests.cli",
            "report",
            "--concepts",
            "dense",
            "--no-plots",
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while "libtorch" not in Path(f"/proc/{proc.pid}/maps").read_text():
            assert time.monotonic() < deadline and proc.poll() is None, "torch never loaded"
            time.sleep(0.005)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err and len(err.splitlines()) <= 2, err  # the plan's line, perhaps
    assert "interrupted" in err.splitlines()[-1]
