"""Timing helpers shared by every benchmark.

Rules (from the project's PERFORMANCE notes): time each library in its own phase with a
warm-up (NumPy's and torch's thread pools busy-wait against each other when interleaved), take
the median of several repeats, report the thread counts and the BLAS in use, quote ratios
measured within one run.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results"


def time_call(
    fn: Callable[[], Any],
    repeats: int = 5,
    warmup: int = 1,
    min_time: float = 0.05,
    sync: Callable[[], None] | None = None,
) -> float:
    """Median seconds per call of ``fn`` over ``repeats`` timed batches (each >= ``min_time``)."""
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    # choose how many calls make one timed batch
    n, elapsed = 1, 0.0
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if sync:
            sync()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time or n >= 1 << 20:
            break
        n *= 2
    samples = [elapsed / n]
    for _ in range(repeats - 1):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if sync:
            sync()
        samples.append((time.perf_counter() - t0) / n)
    return statistics.median(samples)


def time_alternating(
    fn_a: Callable[[], Any], fn_b: Callable[[], Any], rounds: int = 3, repeats: int = 5
) -> tuple[float, float, list[float]]:
    """``(median time of a, median time of b, [a/b of each round])``: the two phases alternate
    (a, b, a, b, …), each timed with :func:`time_call`. The machine's speed drifts over seconds;
    a ratio taken within one round sees the same drift on both sides, so quote the median of
    the rounds' ratios and their spread."""
    pairs = [(time_call(fn_a, repeats=repeats), time_call(fn_b, repeats=repeats)) for _ in range(rounds)]
    return (
        statistics.median(a for a, _ in pairs),
        statistics.median(b for _, b in pairs),
        [a / b for a, b in pairs],
    )


def split_phases(
    step: Callable[[], Any], gemms: Callable[[], Any], rounds: int = 3, repeats: int = 5
) -> dict[str, float | None]:
    """``{"step ms", "gemm ms", "rest ms"}``: a step and its matrix products alone, timed in the
    same alternating rounds (:func:`time_alternating`), and ``rest = step − GEMMs``. The rest is
    ``None`` where the GEMMs alone took longer than the whole step — noise, never a negative
    figure."""
    t_step, t_gemm, _ = time_alternating(step, gemms, rounds, repeats)
    rest = t_step - t_gemm
    return {"step ms": 1e3 * t_step, "gemm ms": 1e3 * t_gemm, "rest ms": 1e3 * rest if rest >= 0 else None}


def minor_faults_per_call(fn: Callable[[], Any], calls: int = 5) -> float | None:
    """Minor page faults per call of ``fn`` after one warm-up call (``None`` where the OS does
    not count them). Fresh arrays that the C allocator had handed back to the OS fault in page
    by page again; on a VM each fault costs microseconds, which shows up in the call's time."""
    try:
        import resource
    except ImportError:
        return None
    fn()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


def cpu_model() -> str | None:
    """The CPU's model name (Linux ``/proc/cpuinfo``; ``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def numpy_simd() -> list[str] | None:
    """The SIMD levels NumPy's ufuncs dispatch to on this CPU (what ``np.show_runtime()`` calls
    "found"), e.g. ``['X86_V3']`` = AVX2 without AVX-512: the kernels a ufunc such as ``tanh``
    gets differ between the two, and so does its cost per element."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:
        return None
    return [name for name in __cpu_dispatch__ if __cpu_features__.get(name)]


def machine_loaded() -> tuple[bool, float | None]:
    """``(loaded, 1-minute load average)``: loaded when other work holds about a core or more,
    which makes multi-thread timings unreliable (PERFORMANCE.md)."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return (load is not None and load > (os.cpu_count() or 1) - 0.5), load


def environment() -> dict[str, Any]:
    """What the numbers were measured on: the CPU model and the SIMD level NumPy dispatches to,
    CPU count and thread settings, NumPy's BLAS with its kernel (threadpoolctl's
    ``architecture``) and thread count, torch's CPU backends, versions, GPU."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch_mkl": torch.backends.mkl.is_available(),
        "torch_mkldnn": torch.backends.mkldnn.is_available(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "numpy_simd": numpy_simd(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
        "load_average_1min": machine_loaded()[1],
    }
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: p.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for p in threadpool_info()
            if p.get("user_api") == "blas"
        ]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    return info


def threads(n: int):
    """Context manager: ``n`` threads for NumPy's BLAS (threadpoolctl) and torch."""
    import contextlib

    @contextlib.contextmanager
    def _ctx():
        old = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(n):
                yield
        except ImportError:
            yield
        finally:
            torch.set_num_threads(old)

    return _ctx()


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A plain-text table of ``rows`` showing ``columns``."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return "-" if v is None else str(v)

    cells = [[fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(out)


def write_json(name: str, payload: dict[str, Any], out_dir: Path | None = None) -> Path:
    """Write ``payload`` (plus the environment) to ``<out_dir>/<name>.json``."""
    out_dir = Path(out_dir or RESULTS)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(
        json.dumps({"benchmark": name, "environment": environment(), **payload}, indent=2, default=str)
    )
    return path
