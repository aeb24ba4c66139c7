"""Training step of an MLP 784-512-256-10 (ReLU, softmax), batch 256: scratch NumPy vs torch.

For float32 and float64, at 1 thread and at all threads, the step time of

- ``numpy`` (the headline): the reference, ``scratch.deep.propagate`` + ``gd_update`` — the
  readable functions ``scratch.deep.train`` runs (they allocate every intermediate; like torch's
  step they compute no gradient of the input ``X``);
- ``numpy-fast``: ``scratch._deep_fast.TrainingStep`` (no checks, buffers reused, ``out=``
  everywhere) — the same equations, shown to say what the buffers are worth (``fast gain``);
- ``torch`` on the CPU (and on CUDA when present): ``DeepNetwork`` + ``torch.optim.SGD``.

``numpy/torch time`` is the median over alternating rounds (numpy, torch, numpy, torch, …; each
phase the median of repeats) of each round's ratio, with the rounds' spread in ``rounds``
(< 1: NumPy is faster); the target (issue 23) is at most 1.5. Next to it: the fraction of the
matrix-multiply peak each library reaches, the peak measured here (the best call of NumPy's and
of torch's square GEMM at that dtype and thread count) and the FLOPs counted exactly: per layer
``2·m·n[l-1]·n[l]`` forward, the same for ``dW``, and the same for ``dA[l-1]`` except in layer
1 — 616.2 MFLOP per step; and the split of each library's step into its GEMMs (the step's
matrix products alone, same shapes) and the rest. Step and GEMMs are timed in the same
alternating rounds, so ``rest = step − GEMMs`` compares like with like; where the GEMMs alone
came out slower than the whole step (noise on a loaded machine) the rest is not reported
(``-``) and a finding says so, never a negative figure.
Each library is timed in its own phase (their thread pools busy-wait against each other).
"""

from __future__ import annotations

import os
import statistics
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from benchmarks._common import (
    environment,
    machine_loaded,
    split_phases,
    table,
    threads,
    time_alternating,
    time_call,
    write_json,
)
from scratch import deep as S
from scratch._deep_fast import TrainingStep
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
    step = TrainingStep(DIMS, M, dtype, "relu", "softmax")
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
    repeats, rounds = (3, 1) if quick else (7, 3)
    all_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    thread_counts = sorted({1, all_threads or 1})
    rows: list[dict[str, Any]] = []
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        for n_threads in thread_counts:
            with threads(n_threads):
                peak_np, peak_torch = gemm_peak(dtype, quick)
                t_ref, t_torch, ratios = time_alternating(
                    numpy_reference(dtype), torch_step(dtype, "cpu"), rounds, repeats
                )
                t_fast, _, fast_ratios = time_alternating(
                    numpy_fast(dtype), torch_step(dtype, "cpu"), rounds, repeats
                )
                split_np = split_phases(numpy_reference(dtype), step_gemms(dtype, "numpy"), rounds, repeats)
                split_torch = split_phases(
                    torch_step(dtype, "cpu"), step_gemms(dtype, "torch"), rounds, repeats
                )
            peak = max(peak_np, peak_torch)
            ratio = statistics.median(ratios)
            row = {
                "dtype": name,
                "threads": n_threads,
                "peak GFLOP/s": peak,
                "numpy ms": 1e3 * t_ref,
                "torch ms": 1e3 * t_torch,
                "numpy/torch time": ratio,
                "rounds": f"{min(ratios):.2f}-{max(ratios):.2f}",
                "target": 1.5,
                "met": ratio <= 1.5,
                "numpy-fast ms": 1e3 * t_fast,
                "fast/torch time": statistics.median(fast_ratios),
                "fast gain": t_ref / t_fast,
                "numpy % peak": 100 * flops / t_ref / 1e9 / peak,
                "torch % peak": 100 * flops / t_torch / 1e9 / peak,
                **{f"numpy {k}": v for k, v in split_np.items()},
                **{f"torch {k}": v for k, v in split_torch.items()},
            }
            if torch.cuda.is_available():
                sync = torch.cuda.synchronize
                t_cuda = time_call(torch_step(dtype, "cuda"), repeats=repeats, sync=sync)
                row["cuda ms"] = 1e3 * t_cuda
            rows.append(row)
    alloc = {
        np.dtype(d).name: {
            "numpy": allocated_per_step(numpy_reference(d)),
            "numpy-fast": allocated_per_step(numpy_fast(d)),
        }
        for d in (np.float32, np.float64)
    }
    print(
        f"MLP {'-'.join(map(str, DIMS))}, batch {M}: {flops / 1e6:.1f} MFLOP per step "
        "(exact: no input gradient in layer 1); numpy = the reference (propagate + gd_update), "
        "numpy-fast = scratch._deep_fast.TrainingStep"
    )
    print(
        table(
            rows,
            [
                "dtype",
                "threads",
                "numpy ms",
                "torch ms",
                "numpy/torch time",
                "rounds",
                "target",
                "met",
                "numpy-fast ms",
                "fast/torch time",
                "fast gain",
                "peak GFLOP/s",
                "numpy % peak",
                "torch % peak",
            ]
            + (["cuda ms"] if torch.cuda.is_available() else []),
        )
    )
    print(
        "each step split, timed in the same rounds (rest = step - GEMMs; '-' where the GEMMs alone "
        "took longer than the step: noise):"
    )
    print(
        table(
            rows,
            [
                "dtype",
                "threads",
                "numpy step ms",
                "numpy gemm ms",
                "numpy rest ms",
                "torch step ms",
                "torch gemm ms",
                "torch rest ms",
            ],
        )
    )
    for d, a in alloc.items():
        print(
            f"{d}: bytes allocated per step: numpy (reference) {a['numpy'] / 1e6:.2f} MB, "
            f"numpy-fast {a['numpy-fast'] / 1e6:.2f} MB"
        )
    findings = diagnose(rows, alloc)
    for line in findings:
        print(line)
    env = environment()
    print(
        f"CPU: {env['cpu']}; NumPy SIMD: {env['numpy_simd']}; BLAS: {env['blas']}; "
        f"torch threads default {env['torch_threads']}"
    )
    payload = {
        "dims": DIMS,
        "batch": M,
        "flops_per_step": flops,
        "rows": rows,
        "paths": {
            "numpy": "scratch.deep.propagate + scratch.gd.gd_update (reference)",
            "numpy-fast": "scratch._deep_fast.TrainingStep.step (buffers, no checks)",
            "torch": "torch_ref.deep.DeepNetwork + torch.optim.SGD",
        },
        "allocated_bytes_per_step": alloc,
        "findings": findings,
    }
    write_json("mlp_step", payload, out_dir)
    return payload


def diagnose(rows: list[dict[str, Any]], alloc: dict[str, dict[str, int]]) -> list[str]:
    """Say whether the target (the reference at most 1.5x torch's time) is met, and if not,
    which usual cause shows in the numbers; name any split that is noise."""
    out = []
    loaded, load = machine_loaded()
    for r in rows:
        where = f"{r['dtype']}, {r['threads']} thread(s)"
        for lib in ("numpy", "torch"):
            if r[f"{lib} rest ms"] is None:
                out.append(
                    f"{where}: {lib}'s GEMMs alone ({r[f'{lib} gemm ms']:.2f} ms) took longer "
                    f"than its whole step ({r[f'{lib} step ms']:.2f} ms): the split is noise"
                )
        if r["met"]:
            out.append(
                f"{where}: target met — the reference at {r['numpy/torch time']:.2f}x torch's "
                f"time (rounds {r['rounds']}), the fast step at {r['fast/torch time']:.2f}x"
            )
            continue
        causes = [f"the reference at {r['numpy/torch time']:.2f}x torch's time (rounds {r['rounds']})"]
        if r["numpy rest ms"] is not None and r["torch rest ms"] is not None:
            gemm_ratio = r["numpy gemm ms"] / r["torch gemm ms"]
            if gemm_ratio > 1.02 and r["numpy rest ms"] <= r["torch rest ms"] * 1.1:
                causes.append(
                    f"the gap is the BLAS: the step's GEMMs alone take {gemm_ratio:.2f}x as "
                    f"long in NumPy's BLAS as in torch's, while NumPy's other work "
                    f"({r['numpy rest ms']:.2f} ms) is no more than torch's "
                    f"({r['torch rest ms']:.2f} ms)"
                )
            elif r["numpy rest ms"] > r["torch rest ms"] * 1.1:
                causes.append(
                    f"NumPy's non-GEMM work ({r['numpy rest ms']:.2f} ms) exceeds torch's "
                    f"({r['torch rest ms']:.2f} ms): elementwise passes or allocations"
                )
        if alloc[r["dtype"]]["numpy-fast"] > 1e6:
            causes.append("the fast step allocates > 1 MB per step (buffers not reused?)")
        if r["threads"] > 1 and loaded:
            causes.append(
                f"the machine is loaded (load average {load:.1f} on {os.cpu_count()} "
                "CPUs): multi-thread figures are unreliable, compare at 1 thread"
            )
        out.append(f"{where}: target missed — " + "; ".join(causes))
    return out


if __name__ == "__main__":
    main()
