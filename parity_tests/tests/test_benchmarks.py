"""Every benchmark runs (quick sizes) and writes its JSON — so the documented command cannot rot.

Timings are never asserted here (see README: performance lives in ``benchmarks/``)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from benchmarks.__main__ import available


def test_every_benchmark_is_listed() -> None:
    assert set(available()) == {
        "logreg_vectorization",
        "mlp_step",
        "compgraph_overhead",
        "conv",
        "rnn",
        "rl",
        "inference",
        "ddp",
        "user_waits",
    }


@pytest.mark.parametrize("name", available())
def test_benchmark_runs_quick_and_writes_json(name: str, tmp_path: Path, capsys) -> None:
    importlib.import_module(f"benchmarks.{name}").main(quick=True, out_dir=tmp_path)
    data = json.loads((tmp_path / f"{name}.json").read_text())
    assert data["benchmark"] == name and data["rows"]
    assert "blas" in data["environment"] and "torch_threads" in data["environment"]
    assert capsys.readouterr().out.strip()  # a table was printed


def test_numpy_ml_peer_says_what_it_is_or_why_not() -> None:
    """The conv benchmark's numpy-ml column: its classes, or a reason; the ``collections.Hashable``
    alias it needs for the import is gone afterwards."""
    import collections

    from benchmarks.conv import NUMPY_ML_WHY, import_numpy_ml

    found = import_numpy_ml()
    assert isinstance(found, str) or [c.__name__ for c in found] == ["Conv2D", "Pool2D"]
    assert not hasattr(collections, "Hashable")
    assert "RNN and LSTM" in NUMPY_ML_WHY


def test_summary_lists_every_ratio_and_flags_the_ones_over_the_line(tmp_path: Path) -> None:
    from benchmarks._summary import cells, markdown

    env = {
        "load_average_1min": 0.5,
        "cpu": "CPU X",
        "cpu_count": 2,
        "numpy": "2",
        "numpy_simd": ["X86_V4"],
        "blas": [{"internal_api": "openblas", "version": "0", "architecture": "SkylakeX"}],
        "torch": "2",
        "torch_cpu_capability": "AVX512",
        "torch_mkl": True,
        "python": "3",
        "OPENBLAS_CORETYPE": None,
    }
    rows = [
        {
            "cell": "lstm",
            "path": p,
            "dtype": "float32",
            "threads": 2,
            "numpy/torch time": r,
            "rounds": f"{r}-{r}",
            "load average": 1.25,
        }
        for p, r in (("reference", 1.8), ("fast", 1.2))
    ]
    (tmp_path / "rnn.json").write_text(json.dumps({"benchmark": "rnn", "environment": env, "rows": rows}))
    assert [(c["case"], c["ratio"], c["load"]) for c in cells(tmp_path)] == [
        ("lstm, reference", 1.8, 1.25),
        ("lstm, fast", 1.2, 1.25),
    ]
    text = markdown(tmp_path)
    assert "| rnn | lstm, reference | float32 | 2 | 1.80 **over** | 1.8-1.8 | 1.2 |" in text
    assert "| rnn | lstm, fast | float32 | 2 | 1.20 | 1.2-1.2 | 1.2 |" in text
    assert "Machine: CPU X" in text and "SkylakeX" in text
