"""The four rooms import only downwards: ``scratch`` (NumPy) and ``torch_ref`` (torch) know
nothing of each other or of the harness; ``parity_tests`` joins them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imports(folder: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / folder).rglob("*.py"):
        tops = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = tops
    return found


@pytest.mark.parametrize("folder, forbidden", [
    ("torch_ref", {"scratch", "parity_tests", "benchmarks"}),
    ("scratch", {"torch", "torch_ref", "parity_tests", "benchmarks"}),
])
def test_sources_import_only_downwards(folder: str, forbidden: set[str]) -> None:
    offenders = {f: sorted(tops & forbidden) for f, tops in _imports(folder).items() if tops & forbidden}
    assert not offenders, f"{folder}/ must not import {sorted(forbidden)}: {offenders}"


def test_importing_torch_ref_loads_neither_scratch_nor_the_harness() -> None:
    mods = sorted(p.stem for p in (ROOT / "torch_ref").glob("*.py") if not p.stem.startswith("_"))
    mods += sorted(p.name for p in (ROOT / "torch_ref").iterdir() if (p / "__init__.py").exists())
    code = ("import sys\n" + "".join(f"import torch_ref.{m}\n" for m in mods)
            + "print(sorted(m for m in ('scratch', 'parity_tests') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
