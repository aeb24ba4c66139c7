"""``dlparity check`` keeps the learner's code apart: a function that hangs, exits, interrupts,
exhausts memory or crashes the process is a FAIL naming what it did, the other functions are
still checked, the exit status is 1, nothing the learner's code prints reaches the checker's own
output, and the user's Ctrl-C ends the check with status 130 and no traceback."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest

from parity_tests.course import add_check_parser, check_course
from parity_tests.course.contain import trim

pytestmark = pytest.mark.skipif(os.name != "posix", reason="contained runs need POSIX")

TIMEOUT = 2.0
SIGMOID = "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n"
PROPAGATE = (
    "def propagate(w, b, X, Y):\n"
    "    m = X.shape[1]\n"
    "    A = sigmoid(np.dot(w.T, X) + b)\n"
    "    cost = -np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)) / m\n"
    "    dw = np.dot(X, (A - Y).T) / m\n"
    "    db = np.sum(A - Y) / m\n"
    "    return {'dw': dw, 'db': db}, np.squeeze(cost)\n"
)


def course_file(folder: Path, sigmoid_body: str = "", propagate_body: str = "", head: str = "") -> Path:
    """A logreg file with a correct ``sigmoid`` and ``propagate``; ``*_body`` lines run first."""

    def with_body(src: str, body: str) -> str:
        first, rest = src.split("\n", 1)
        return first + "\n" + "".join(f"    {ln}\n" for ln in body.splitlines()) + rest

    path = folder / "mine.py"
    path.write_text(
        "import numpy as np\n"
        + head
        + with_body(SIGMOID, sigmoid_body)
        + with_body(PROPAGATE, propagate_body)
    )
    return path


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="dlparity")
    add_check_parser(parser.add_subparsers())
    args = parser.parse_args(["check", *argv])
    return args.func(args)


def verdicts(path: Path, timeout: float = TIMEOUT) -> dict[str, tuple[str, str]]:
    report = check_course(path, timeout=timeout)
    return {r.name: (r.status, r.diagnosis or "") for r in report.results}


def test_a_correct_file_passes_contained(tmp_path: Path) -> None:
    report = check_course(course_file(tmp_path), timeout=TIMEOUT)
    assert report.passed and report.exit_status == 0, str(report)
    assert [r.name for r in report.results] == ["sigmoid", "propagate"]


def test_an_endless_loop_fails_within_the_limit_and_the_rest_is_checked(tmp_path: Path) -> None:
    start = time.monotonic()
    clean = check_course(course_file(tmp_path), timeout=TIMEOUT)
    one_child = time.monotonic() - start
    path = course_file(tmp_path, propagate_body="while True:\n    pass")
    start = time.monotonic()
    report = check_course(path, timeout=TIMEOUT)
    elapsed = time.monotonic() - start
    by = {r.name: r for r in report.results}
    assert clean.passed and by["sigmoid"].passed
    assert by["propagate"].diagnosis == "propagate did not finish in 2 s"
    assert report.exit_status == 1
    # the hang is cut after TIMEOUT s; the rest is two children's start and checks (a busy machine
    # slows those, so they are measured, not assumed)
    assert elapsed < TIMEOUT + 5 + 2 * one_child, (elapsed, one_child)


def test_a_function_that_hangs_while_the_part_is_told_is_not_called_again(tmp_path: Path) -> None:
    path = course_file(tmp_path, sigmoid_body="while True:\n    pass")  # detection calls sigmoid
    start = time.monotonic()
    by = dict(verdicts(path))
    assert by["sigmoid"] == (
        "FAIL",
        "sigmoid did not finish in 2 s while dlparity told the part (not called again)",
    )
    # their propagate calls their sigmoid directly: refused at once, not another hang
    assert by["propagate"] == ("FAIL", "uses sigmoid, which fails: fix that first")
    assert time.monotonic() - start < 2 * TIMEOUT + 20


BAD = {  # a function of the logreg part: what its first lines do, and the FAIL that says so
    "initialize_with_zeros": (
        "dim",
        "import sys\n    sys.exit(0)",
        "initialize_with_zeros called sys.exit(0) (in initialize_with_zeros, line 16: `sys.exit(0)`)",
    ),
    "optimize": (
        "w, b, X, Y, num_iterations=100, learning_rate=0.009, print_cost=False",
        "raise KeyboardInterrupt",
        "optimize raised KeyboardInterrupt (in optimize, line 18: `raise KeyboardInterrupt`)",
    ),
    "predict": (
        "w, b, X",
        "a = np.ones(10**12 // 8)",
        "predict ran out of memory (MemoryError) (in predict, line 20: `a = np.ones(10**12 // 8)`)",
    ),
    "model": (
        "X_train, Y_train, X_test, Y_test, num_iterations=2000, learning_rate=0.5, print_cost=False",
        "import os\n    os._exit(0)",
        "model ended the checker's process with exit status 0 (as os._exit(0) does)",
    ),
}


def test_exits_interrupts_memory_and_crashes_are_fails_and_the_rest_is_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = course_file(tmp_path, sigmoid_body="import ctypes\nif z.size == 2:\n    ctypes.string_at(0)")
    path.write_text(
        path.read_text()
        + "".join(f"def {name}({params}):\n    {body}\n" for name, (params, body, _) in BAD.items())
    )
    assert run_cli(str(path), "--timeout", "20") == 1
    out = capsys.readouterr().out
    for name, (_, _, what) in BAD.items():
        assert f"FAIL  {name:<21}  - — {what}" in out, out
    # detection calls sigmoid on a (1, 2) array: it crashes the first child; later checks refuse it
    assert (
        "FAIL  sigmoid                - — sigmoid ended the checker's process with signal SIGSEGV "
        "while dlparity told the part (not called again)"
    ) in out, out
    assert "FAIL  propagate              - — uses sigmoid, which fails: fix that first" in out
    assert "6 functions checked: 0 passed, 6 failed" in out


def test_local_modules_that_exit_interrupt_or_hang_fail_the_load(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    modules = {
        "by_sys_exit": ("import sys\nsys.exit(0)\n", "called sys.exit(0)"),
        "by_interrupt": ("raise KeyboardInterrupt\n", "raised KeyboardInterrupt"),
        "by_os_exit": (
            "import os\nos._exit(0)\n",
            "ended the checker's process with exit status 0 (as os._exit(0) does)",
        ),
        "by_hanging": ("while True:\n    pass\n", "did not finish in 2 s"),
    }
    for name, (code, _) in modules.items():
        (tmp_path / f"{name}.py").write_text(f"print('{name} says hi')\n" + code)
    path = course_file(tmp_path, head="".join(f"import {name}\n" for name in modules))
    assert run_cli(str(path), "--timeout", str(TIMEOUT)) == 1
    out = capsys.readouterr().out
    for line, (name, (_, what)) in enumerate(modules.items(), start=2):
        assert f"  FAIL while loading: line {line}: import {name} ({what})" in out, out
        assert f"    {name} says hi" in out  # in the "while loading" block
    assert "2 functions checked: 2 passed, 0 failed; 4 statements failed while loading" in out
    assert "  while loading the file, it printed:\n" in out


def test_what_their_code_prints_is_captured_and_shown_under_a_failing_function(
    tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    (tmp_path / "noisy.py").write_text(
        "import os, sys\nprint('NOISY at import')\n"
        "os.write(1, b'NOISY fd 1\\n')\nsys.stderr.write('NOISY err\\n')\n"
    )
    path = course_file(
        tmp_path,
        head="import noisy\n",
        sigmoid_body="print('SIGMOID PRINTS')",
        propagate_body="import os, sys\nprint('step', 1)\nos.write(2, b'raw fd 2\\n')\nreturn None",
    )
    out_json = tmp_path / "out.json"
    assert run_cli(str(path), "--json", str(out_json), "--timeout", "20") == 1
    out, err = capfd.readouterr()
    assert err == "" and "SIGMOID PRINTS" not in out  # sigmoid passes: its output is not shown
    assert "      propagate printed:\n        step 1\n        raw fd 2\n" in out, out
    # something failed, so what loading printed is shown, in its block and nowhere else
    assert (
        "  while loading the file, it printed:\n    NOISY at import\n    NOISY fd 1\n    NOISY err\n"
    ) in out
    assert out.count("NOISY") == 3
    data = json.loads(out_json.read_text())
    funcs = {f["function"]: f for f in data["functions"]}
    assert "SIGMOID PRINTS" in funcs["sigmoid"]["output"]
    assert funcs["propagate"]["output"].splitlines() == ["step 1", "raw fd 2"]
    assert data["loaded"]["output"].splitlines() == ["NOISY at import", "NOISY fd 1", "NOISY err"]
    path.write_text(path.read_text().replace("return None", "pass"))  # now every function passes
    assert run_cli(str(path), "--timeout", "20") == 0
    out, err = capfd.readouterr()
    assert "NOISY" not in out + err and "step" not in out + err and "printed" not in out


def test_ctrl_c_kills_the_child_and_exits_130_without_a_traceback(tmp_path: Path) -> None:
    marker = tmp_path / "running.txt"
    path = course_file(
        tmp_path,
        propagate_body=f"import os, time\nopen({str(marker)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "parity_tests.cli", "check", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180  # a loaded 2-core CI machine can take long to start torch twice
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    if not (marker.exists() and marker.read_text()):
        proc.kill()
        pytest.fail(f"propagate never started: {proc.communicate()}")
    child = int(marker.read_text())
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, (out, err)
    assert err.strip() == "dlparity check: interrupted" and "Traceback" not in err + out
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)  # the child is gone


def test_in_process_checks_turn_exits_and_interrupts_into_fails() -> None:
    module = types.ModuleType("notebook")  # check_course(globals()) runs in the notebook's process
    module.np = np
    exec(
        SIGMOID.replace("    return", "    import sys\n    sys.exit(3)\n    return")
        + PROPAGATE.replace("    m = X", "    raise KeyboardInterrupt\n    m = X"),
        module.__dict__,
    )
    by = {r.name: r for r in check_course(module, part="logreg").results}
    assert by["sigmoid"].diagnosis == "sigmoid called sys.exit(3) (in sigmoid, line 3)"  # no source text
    assert by["propagate"].own_diagnosis == "propagate raised KeyboardInterrupt (in propagate, line 6)"


def test_output_is_trimmed_to_its_last_lines() -> None:
    text = "".join(f"line {i}\n" for i in range(100))
    assert trim(text).splitlines() == ["… (80 earlier lines)"] + [f"line {i}" for i in range(80, 100)]


def test_the_timeout_option_is_checked(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        run_cli("x.py", "--timeout", "0")
    assert "expected a positive number of seconds, got '0'" in capsys.readouterr().err


def test_in_process_user_ctrl_c_stops_but_learner_keyboard_interrupt_fails() -> None:
    """check_course(globals()): a KeyboardInterrupt the learner's code raises is that function's
    FAIL; the user's own Ctrl-C (SIGINT) still stops the check, as Ctrl-C always does."""
    import os
    import signal
    import threading

    import numpy as np

    namespace: dict = {"__name__": "notebook", "np": np}
    exec("def sigmoid(z):\n    raise KeyboardInterrupt\n", namespace)
    (result,) = check_course(namespace).results
    assert result.status == "FAIL" and "sigmoid raised KeyboardInterrupt" in result.diagnosis
    exec("def sigmoid(z):\n    import time\n    time.sleep(5)\n    return 1 / (1 + np.exp(-z))\n", namespace)
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        check_course(namespace)
    timer.join()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
