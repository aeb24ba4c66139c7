"""Shared machinery of the mutation tests: copy the sources, change one line, run a snippet of
the harness against the copy in a subprocess (the real tree is never touched)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def mutated_tree(tmp: Path, file: str, old: str, new: str) -> Path:
    """A copy of ``scratch``, ``torch_ref`` and ``parity_tests`` under ``tmp`` in which the one
    occurrence of ``old`` in ``file`` reads ``new``."""
    for pkg in ("scratch", "torch_ref", "parity_tests"):
        shutil.copytree(ROOT / pkg, tmp / pkg, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    path = tmp / file
    src = path.read_text()
    assert src.count(old) == 1, f"mutation site {old!r} must occur exactly once in {file}"
    path.write_text(src.replace(old, new))
    return tmp


def run_in_tree(root: Path, code: str, *args: str) -> list[dict]:
    """Run ``code`` (which prints a JSON list as its last line) on the tree at ``root``, one thread."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            "PYTHONPATH": str(root),
            "PATH": "/usr/bin:/bin",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
        },
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
