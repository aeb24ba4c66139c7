"""``python -m benchmarks._summary [DIR]`` — every NumPy/torch time ratio of one run's JSON, as
one Markdown table (for ``docs/benchmarks.md``), with the machine it came from.

A cell is one benchmark × case × dtype × thread count; its ratio is scratch NumPy's time over
torch CPU's (< 1: NumPy is faster), as the benchmark computed it (the median of the rounds'
ratios where it alternates rounds, their spread in ``rounds``), and the 1-minute load average
recorded with the row (or with the benchmark's JSON where rows carry none). Issue 23's line:
no cell over 1.5.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from benchmarks._common import RESULTS

LIMIT = 1.5


def _load(folder: Path, name: str) -> dict[str, Any] | None:
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def cells(folder: Path = RESULTS) -> list[dict[str, Any]]:
    """``{benchmark, case, dtype, threads, ratio, rounds, load}`` for every NumPy/torch ratio."""
    out: list[dict[str, Any]] = []

    def add(
        bench: str,
        data: dict[str, Any],
        case: str,
        dtype: str,
        threads: Any,
        ratio: float | None,
        rounds: str | None = None,
        load: float | None = None,
    ) -> None:
        out.append(
            {
                "benchmark": bench,
                "case": case,
                "dtype": dtype,
                "threads": threads,
                "ratio": ratio,
                "rounds": rounds or "-",
                "load": load if load is not None else data["environment"].get("load_average_1min"),
            }
        )

    if d := _load(folder, "mlp_step"):
        for r in d["rows"]:
            add("mlp_step", d, "reference step", r["dtype"], r["threads"], r["numpy/torch time"], r["rounds"])
            if r.get("fast/torch time") is not None:
                add("mlp_step", d, "fast step (_deep_fast)", r["dtype"], r["threads"], r["fast/torch time"])
    if d := _load(folder, "conv"):
        for r in d["rows"]:
            add(
                "conv",
                d,
                "conv + pool, vectorized",
                r["dtype"],
                r["threads"],
                r["vec/torch time"],
                r["rounds"],
                r.get("load average"),
            )
            if r.get("numpy-ml/torch time") is not None:
                add(
                    "conv",
                    d,
                    "conv + pool, numpy-ml (peer)",
                    r["dtype"],
                    r["threads"],
                    r["numpy-ml/torch time"],
                    None,
                    r.get("load average"),
                )
    if d := _load(folder, "rnn"):
        for r in d["rows"]:
            add(
                "rnn",
                d,
                f"{r['cell']}, {r.get('path', 'reference')}",
                r["dtype"],
                r["threads"],
                r["numpy/torch time"],
                r["rounds"],
                r.get("load average"),
            )
    if d := _load(folder, "compgraph_overhead"):
        for r in d["rows"]:
            if r["implementation"] != "torch.autograd":
                add(
                    "compgraph_overhead",
                    d,
                    r["implementation"],
                    d["dtype"],
                    r["threads"],
                    r["ratio_vs_torch"],
                )
    if d := _load(folder, "logreg_vectorization"):
        for r in d["rows"]:
            add(
                "logreg_vectorization",
                d,
                f"vectorized vs autograd, m={r['m']}",
                d["dtype"],
                r["threads"],
                r["vec/torch_autograd"],
            )
    if d := _load(folder, "inference"):
        for r in d["rows"]:
            if r["engine"] == "numpy":
                add(
                    "inference",
                    d,
                    f"numpy vs eager, batch {r['batch']}",
                    d["dtype"],
                    r["threads"],
                    r["time / eager"],
                )
    if d := _load(folder, "rl"):
        for r in d["rows"]:
            add("rl", d, f"{r['agent']} env steps", "float32", r["threads"], 1 / r["numpy/torch speed"])
    return out


def markdown(folder: Path = RESULTS) -> str:
    """The table, then the machine (CPU, SIMD, BLAS, versions) of the rnn run's JSON."""
    rows = cells(folder)
    lines = [
        "| benchmark | case | dtype | threads | NumPy/torch time | rounds | load avg |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in rows:
        ratio = (
            "-" if c["ratio"] is None else (f"{c['ratio']:.2f}" + (" **over**" if c["ratio"] > LIMIT else ""))
        )
        load = "-" if c["load"] is None else f"{c['load']:.1f}"
        lines.append(
            f"| {c['benchmark']} | {c['case']} | {c['dtype']} | {c['threads']} | {ratio} | "
            f"{c['rounds']} | {load} |"
        )
    env = next((d["environment"] for n in ("rnn", "conv", "mlp_step") if (d := _load(folder, n))), None)
    if env:
        blas = (
            "; ".join(f"{b['internal_api']} {b['version']} ({b['architecture']})" for b in env["blas"])
            if isinstance(env.get("blas"), list)
            else env.get("blas")
        )
        lines.append("")
        lines.append(
            f"Machine: {env['cpu']}, {env['cpu_count']} CPUs; NumPy {env['numpy']} SIMD "
            f"{env['numpy_simd']}, BLAS {blas}; torch {env['torch']} "
            f"(CPU capability {env['torch_cpu_capability']}, MKL {env['torch_mkl']}); "
            f"Python {env['python']}; OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']}."
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS))
