"""Training step of an MLP 784-512-256-10 (ReLU, softmax), batch 256: scratch NumPy vs torch.

For float32 and float64, at 1 thread and at all threads: steps per second of

- ``numpy``: :class:`scratch.deep.TrainingStep` (buffers reused, ``out=`` everywhere, no
  ``dA[0]``) — the path ``scratch.deep.train`` uses;
- ``numpy-reference``: ``scratch.deep.propagate`` + ``gd_update`` (the readable functions,
  which allocate every intermediate) — to show what the buffers are worth;
- ``torch`` on the CPU (and on CUDA when present): ``DeepNetwork`` + ``torch.optim.SGD``;

the ratio torch-time / numpy-time (> 1: NumPy is faster; median step times), the time the
step's GEMMs alone take in each library (so a gap is split into the BLAS's share and the rest),
and the fraction of
the matrix-multiply peak each reaches, the peak measured here (the best call of NumPy's and of
torch's square GEMM at that dtype and thread count) and the FLOPs counted exactly: per layer
``2·m·n[l-1]·n[l]`` forward,
the same for ``dW``, and the same for ``dA[l-1]`` except in layer 1 — 616.2 MFLOP per step.
Each library is timed in its own phase (their thread pools busy-wait against each other).
"""

from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from benchmarks._common import environment, machine_loaded, table, threads, time_call, write_json
from scratch import deep as S
from scratch.gd import gd_update
from torch_ref.deep import DeepNetwork
from torch_ref.gd import make_optimizer
from torch_ref.layout import columns_to_rows

DIMS = (784, 512, 256, 10)
M = 256
LR = 1e-3


def step_flops(dims: tuple[int, ...] = DIMS, m: int = M) -> int:
    """Exact matmul FLOPs of one step: forward, ``dW`` for every layer, ``dA`` except layer 1."""
    total = 0
    for layer in range(1, len(dims)):
        gemm = 2 * m * dims[layer - 1] * dims[layer]
        total += gemm * (2 if layer == 1 else 3)
    return total


def _best_time(fn, repeats: int) -> float:
    """Fastest of ``repeats`` calls after a warm-up: a peak is the best the machine does."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def gemm_peak(dtype: np.dtype, quick: bool) -> tuple[float, float]:
    """GFLOP/s of a square GEMM with NumPy and with torch (current thread settings), best of
    several calls."""
    n = 1024 if quick else 2048
    a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
    b = a.copy()
    out = np.empty_like(a)
    repeats = 5 if quick else 10
    t_np = _best_time(lambda: np.matmul(a, b, out=out), repeats)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    t_torch = _best_time(lambda: torch.mm(ta, tb), repeats)
    flops = 2 * n**3
    return flops / t_np / 1e9, flops / t_torch / 1e9


def make_problem(dtype: np.dtype) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    params = S.initialize_parameters_deep(DIMS, rng, "he", dtype)
    X = rng.random((DIMS[0], M), dtype=dtype)  # pixel-like inputs in [0, 1)
    Y = S.prepare_labels(rng.integers(0, DIMS[-1], M), DIMS[-1], "softmax", M, np.dtype(dtype))
    return params, X, Y


def numpy_fast(dtype: np.dtype):
    params, X, Y = make_problem(dtype)
    step = S.TrainingStep(DIMS, M, dtype, "relu", "softmax")
    return lambda: step.step(params, X, Y, LR)


def numpy_reference(dtype: np.dtype):
    state = {"p": make_problem(dtype)[0]}
    _, X, Y = make_problem(dtype)

    def run() -> None:
        _, grads = S.propagate(state["p"], X, Y, "relu", "softmax")
        state["p"] = gd_update(state["p"], grads, LR)
    return run


def torch_step(dtype: np.dtype, device: str):
    params, X, Y = make_problem(dtype)
    net = DeepNetwork.from_scratch(params, "relu", "softmax", device=device)
    x = torch.from_numpy(columns_to_rows(X)).to(device)
    y = torch.from_numpy(np.argmax(Y, axis=0)).to(device)
    opt = make_optimizer(net.parameters(), LR)

    def run() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        opt.step()
    return run


def step_gemms(dtype: np.dtype, library: str):
    """Only the step's matrix multiplies, same shapes as the step (forward ``W A``, ``dZ Aᵀ`` for
    every layer, ``Wᵀ dZ`` except layer 1), in NumPy or torch — to split a step's time into the
    BLAS's share and the rest."""
    rng = np.random.default_rng(1)
    W = [rng.standard_normal((DIMS[i + 1], DIMS[i])).astype(dtype) for i in range(len(DIMS) - 1)]
    A = [rng.standard_normal((DIMS[i], M)).astype(dtype) for i in range(len(DIMS))]
    if library == "numpy":
        def run() -> None:
            for i in range(len(W)):
                W[i] @ A[i]  # Z[l] = W[l] A[l-1]
                A[i + 1] @ A[i].T  # dW[l] = dZ[l] A[l-1]ᵀ
                if i:
                    W[i].T @ A[i + 1]  # dA[l-1] = W[l]ᵀ dZ[l]
        return run
    Wt = [torch.from_numpy(w) for w in W]
    At = [torch.from_numpy(columns_to_rows(a)) for a in A]  # batch first, as nn.Linear sees it

    def run_torch() -> None:
        for i in range(len(Wt)):
            At[i] @ Wt[i].T
            At[i + 1].T @ At[i]
            if i:
                At[i + 1] @ Wt[i]
    return run_torch


def allocated_per_step(fn) -> int:
    """Peak bytes NumPy/Python allocate during one call (tracemalloc sees NumPy's buffers)."""
    fn()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main(quick: bool = False, out_dir: Path | None = None) -> dict[str, Any]:
    flops = step_flops()
    repeats = 3 if quick else 7
    all_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    thread_counts = sorted({1, all_threads or 1})
    rows: list[dict[str, Any]] = []
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        for n_threads in thread_counts:
            with threads(n_threads):
                peak_np, peak_torch = gemm_peak(dtype, quick)
                t_fast = time_call(numpy_fast(dtype), repeats=repeats)
                t_ref = time_call(numpy_reference(dtype), repeats=repeats)
                t_torch = time_call(torch_step(dtype, "cpu"), repeats=repeats)
                g_np = time_call(step_gemms(dtype, "numpy"), repeats=repeats)
                g_torch = time_call(step_gemms(dtype, "torch"), repeats=repeats)
            peak = max(peak_np, peak_torch)
            row = {"dtype": name, "threads": n_threads, "peak GFLOP/s": peak,
                   "numpy step/s": 1 / t_fast, "numpy-ref step/s": 1 / t_ref,
                   "torch step/s": 1 / t_torch, "torch/numpy time": t_torch / t_fast,
                   "numpy % peak": 100 * flops / t_fast / 1e9 / peak,
                   "torch % peak": 100 * flops / t_torch / 1e9 / peak,
                   "buffers gain": t_ref / t_fast,
                   "numpy gemm ms": 1e3 * g_np, "torch gemm ms": 1e3 * g_torch,
                   "numpy rest ms": 1e3 * (t_fast - g_np), "torch rest ms": 1e3 * (t_torch - g_torch)}
            if torch.cuda.is_available():
                sync = torch.cuda.synchronize
                t_cuda = time_call(torch_step(dtype, "cuda"), repeats=repeats, sync=sync)
                row["cuda step/s"] = 1 / t_cuda
            rows.append(row)
    alloc = {np.dtype(d).name: {"numpy": allocated_per_step(numpy_fast(d)),
                                "numpy-reference": allocated_per_step(numpy_reference(d))}
             for d in (np.float32, np.float64)}
    columns = ["dtype", "threads", "peak GFLOP/s", "numpy step/s", "torch step/s",
               "torch/numpy time", "numpy % peak", "torch % peak", "numpy-ref step/s",
               "buffers gain", "numpy gemm ms", "torch gemm ms", "numpy rest ms", "torch rest ms",
               ] + (["cuda step/s"] if torch.cuda.is_available() else [])
    print(f"MLP {'-'.join(map(str, DIMS))}, batch {M}: {flops / 1e6:.1f} MFLOP per step "
          "(exact: no input gradient in layer 1)")
    print(table(rows, columns))
    for d, a in alloc.items():
        print(f"{d}: bytes allocated per step: numpy {a['numpy'] / 1e6:.2f} MB, "
              f"numpy-reference {a['numpy-reference'] / 1e6:.2f} MB")
    findings = diagnose(rows, alloc)
    for line in findings:
        print(line)
    env = environment()
    print(f"BLAS: {env.get('blas')}; torch threads default {env['torch_threads']}")
    payload = {"dims": DIMS, "batch": M, "flops_per_step": flops, "rows": rows,
               "allocated_bytes_per_step": alloc, "findings": findings}
    write_json("mlp_step", payload, out_dir)
    return payload


def diagnose(rows: list[dict[str, Any]], alloc: dict[str, dict[str, int]]) -> list[str]:
    """Say whether the targets are met, and if not, which usual cause shows in the numbers."""
    out = []
    for r in rows:
        where = f"{r['dtype']}, {r['threads']} thread(s)"
        ok_speed = r["torch/numpy time"] >= 1.0
        ok_peak = r["numpy % peak"] >= 50
        if ok_speed and ok_peak:
            out.append(f"{where}: targets met (NumPy no slower than torch, >= 50% of peak)")
            continue
        causes = []
        if not ok_speed:
            causes.append(f"NumPy at {r['torch/numpy time']:.2f}x torch's speed")
        if not ok_peak:
            causes.append(f"NumPy at {r['numpy % peak']:.0f}% of peak")
        gemm_ratio = r["numpy gemm ms"] / r["torch gemm ms"]
        if not ok_speed and gemm_ratio > 1.02 and r["numpy rest ms"] <= r["torch rest ms"] * 1.1:
            causes.append(f"the gap is the BLAS: the step's GEMMs alone take {gemm_ratio:.2f}x as "
                          f"long in NumPy's BLAS as in torch's, while NumPy's other work "
                          f"({r['numpy rest ms']:.2f} ms) is no more than torch's "
                          f"({r['torch rest ms']:.2f} ms)")
        elif not ok_speed and r["numpy rest ms"] > r["torch rest ms"] * 1.1:
            causes.append(f"NumPy's non-GEMM work ({r['numpy rest ms']:.2f} ms) exceeds torch's "
                          f"({r['torch rest ms']:.2f} ms): elementwise passes or allocations")
        if alloc[r["dtype"]]["numpy"] > 1e6:
            causes.append("the fast step allocates > 1 MB per step (buffers not reused?)")
        if r["threads"] > 1 and r["torch/numpy time"] < 1.0:
            one = next((q for q in rows if q["dtype"] == r["dtype"] and q["threads"] == 1), None)
            if one is not None and one["torch/numpy time"] >= 1.0:
                causes.append("NumPy wins at 1 thread: OpenBLAS's threading at these small GEMMs "
                              "(or a loaded machine) is the difference")
        loaded, load = machine_loaded()
        if r["threads"] > 1 and loaded:
            causes.append(f"the machine is loaded (load average {load:.1f} on {os.cpu_count()} "
                          "CPUs): multi-thread figures are unreliable, compare at 1 thread")
        out.append(f"{where}: target missed — " + "; ".join(causes))
    return out


if __name__ == "__main__":
    main()
