"""Every benchmark runs (quick sizes) and writes its JSON — so the documented command cannot rot.

Timings are never asserted here (see README: performance lives in ``benchmarks/``)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from benchmarks.__main__ import available


def test_every_benchmark_is_listed() -> None:
    assert set(available()) == {"logreg_vectorization", "mlp_step", "compgraph_overhead", "conv", "rnn",
                                "rl", "inference", "ddp"}


@pytest.mark.parametrize("name", available())
def test_benchmark_runs_quick_and_writes_json(name: str, tmp_path: Path, capsys) -> None:
    importlib.import_module(f"benchmarks.{name}").main(quick=True, out_dir=tmp_path)
    data = json.loads((tmp_path / f"{name}.json").read_text())
    assert data["benchmark"] == name and data["rows"]
    assert "blas" in data["environment"] and "torch_threads" in data["environment"]
    assert capsys.readouterr().out.strip()  # a table was printed
