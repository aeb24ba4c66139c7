"""The project's own checks, run by the test suite (and so by ``.ci/run``): ``ruff check`` and
``ruff format --check`` over the repository, and ``mypy`` on the public API (the files
``[tool.mypy]`` in ``pyproject.toml`` names). Both tools are in the ``test`` extra; without
them these tests are skipped, saying so."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tool(name: str) -> list[str]:
    here = Path(sys.executable).parent / name  # the venv's own, before any on PATH
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (it is in the `test` extra: pip install -e '.[test]')")
    return [found]


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_finds_nothing() -> None:
    out = _run([*_tool("ruff"), "check", "--no-cache", "."])
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_the_code_is_formatted() -> None:
    """``ruff format`` (configured in ``pyproject.toml``) leaves every file as it is."""
    out = _run([*_tool("ruff"), "format", "--check", "--no-cache", "."])
    assert out.returncode == 0, "run `ruff format .`:\n" + out.stdout[-4000:] + out.stderr[-2000:]


def test_the_public_api_type_checks() -> None:
    out = _run([*_tool("mypy"), "--no-incremental", "--config-file", "pyproject.toml"])
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "Success" in out.stdout
