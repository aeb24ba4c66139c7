"""What a user waits for, as wall time of whole commands in fresh processes: ``dlparity report``
(every concept, CPU, float32 and float64, plots included; issue target 30 s on 2 cores) and
``dlparity check`` on one course file (target 3 s, warm disk).

Each command runs ``rounds`` times (the first also warms the disk cache) and the median is
reported with the spread and the 1-minute load average before each run: on 2 cores another
process's load shows directly in these figures. ``--quick`` times ``dlparity report --concepts
dense --no-plots`` and one course file once, for a smoke run.

Run: ``python -m benchmarks user_waits [--quick]``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import table, write_json

FIXTURES = Path(__file__).resolve().parents[1] / "parity_tests" / "tests" / "fixtures" / "course"
COURSE_FILES = ("logreg_solution.py", "shallow_solution.py", "deep_solution.py", "init_solution.py")
"""The course files timed: one of each first-course part (the parts a learner checks most)."""


def _dlparity(*args: str) -> list[str]:
    return [sys.executable, "-m", "parity_tests.cli", *args]


def _wall(cmd: list[str], rounds: int) -> dict[str, Any]:
    times, loads = [], []
    for _ in range(rounds):
        loads.append(round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None)
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[2:])} exited {done.returncode}: {done.stderr[-2000:]}")
    return {
        "median_s": round(statistics.median(times), 2),
        "min_s": round(min(times), 2),
        "max_s": round(max(times), 2),
        "runs": len(times),
        "load_average_1min": loads,
    }


def main(quick: bool = False, out_dir: Path | None = None) -> dict[str, Any]:
    rounds = 1 if quick else 3
    rows = []
    with tempfile.TemporaryDirectory(prefix="dlparity-bench-report-") as tmp:
        report = ["report", "--concepts", "dense", "--no-plots"] if quick else ["report"]
        rows.append(
            {
                "command": "dlparity " + " ".join(report),
                "target_s": None if quick else 30,
                **_wall(_dlparity(*report, "--out", f"{tmp}/out", "--force"), rounds),
            }
        )
    for name in COURSE_FILES[:1] if quick else COURSE_FILES:
        rows.append(
            {
                "command": f"dlparity check {name}",
                "target_s": 3,
                **_wall(_dlparity("check", str(FIXTURES / name)), rounds + 1),
            }
        )
    print(table(rows, ["command", "median_s", "min_s", "max_s", "target_s", "load_average_1min"]))
    payload = {"quick": quick, "rows": rows}
    write_json("user_waits", payload, out_dir)
    return payload


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
