"""Convolution + pooling, forward and backward: scratch vectorized vs the course's loop form vs
torch, for ``x (64, 32, 32, 3)`` through 16 filters ``3 × 3`` (stride 1, pad 1) and a ``2 × 2``
max pool (stride 2).

One step is ``Z = conv(x)``, ``P = maxpool(Z)``, then from a fixed random ``dP``: ``dZ`` (pool
backward) and ``dx``, ``dW``, ``db`` (conv backward). Timed, for float32 and float64 at 1 and 2
threads (NumPy's BLAS and torch alike):

- ``vectorized``: ``scratch.cnn.conv_forward/pool_forward/…`` (im2col, one GEMM per product);
- ``loop``: the course's loop form (``conv_forward_loop``, …), timed on ``LOOP_M`` of the 64
  examples and scaled to 64 — exact, since it loops over examples one at a time (the JSON
  says so per row); the vectorization lesson again;
- ``torch``: ``nn.Conv2d`` + ``nn.MaxPool2d`` on the CPU, autograd (``x`` requires a gradient),
  and on CUDA when a GPU is present.

FLOPs are counted exactly for the three matrix products (``Z``, ``dW``, ``dx``): each
``2 · m·n_H·n_W · f²·n_C_prev · n_C`` = 56.6 MFLOP, 169.9 MFLOP per step; the bias, pooling and
the scatter of ``dx`` (memory-bound, ``O(m·n_H·n_W·n_C)``) are not counted. "% peak" is that
count over the step time, against the best square GEMM NumPy or torch reaches at that dtype
and thread count. Each library is timed in its own phase with a warm-up (their thread pools
busy-wait against each other), median of several repeats; the two alternate over rounds
(vectorized, torch, vectorized, torch, …) and ``vec/torch time`` is the median of the rounds'
ratios, their spread in ``rounds``. Target (issue 23): ``vectorized`` at most 1.5× torch CPU's
time. ``vectorized`` is the only NumPy path the ratio times: ``scratch.cnn``'s own functions.

The split of the vectorized step (reported, not part of the ratio): each of its four calls timed
alone on inputs made beforehand (``conv f``, ``pool f``, ``pool b``, ``conv b``) — calls timed
alone find their inputs in cache and reuse memory the step would take fresh (page faults), so
the four need not add up to the step; and the step against its three GEMMs alone, timed in
the same alternating rounds (``step ms`` = ``GEMMs ms`` + ``rest ms``; the rest is ``-`` where
the GEMMs alone came out slower than the step, which is noise, never a negative figure).

Run: ``python -m benchmarks conv [--quick]``.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

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
from benchmarks.mlp_step import gemm_peak
from scratch import cnn as S
from torch_ref.layout import conv_weight_to_torch, images_to_torch

M, N_H, N_W, N_C_PREV, N_C, F_, PAD, POOL = 64, 32, 32, 3, 16, 3, 1, 2
LOOP_M = 4
THREADS = (1, 2)


def step_flops(m: int = M) -> int:
    """The three GEMMs of a step, exactly: ``Z``, ``dW`` and ``dx``, each ``2·m·n_H·n_W·f²·n_C_prev·n_C``."""
    return 3 * 2 * m * N_H * N_W * F_ * F_ * N_C_PREV * N_C


def make_problem(dtype: np.dtype, m: int = M) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "x": rng.random((m, N_H, N_W, N_C_PREV), dtype=dtype),
        "W": rng.standard_normal((F_, F_, N_C_PREV, N_C), dtype=dtype) * dtype(0.3),
        "b": np.zeros((1, 1, 1, N_C), dtype=dtype),
        "dP": rng.standard_normal((m, N_H // POOL, N_W // POOL, N_C), dtype=dtype),
    }


def scratch_step(form: str, dtype: np.dtype, m: int = M):
    conv_forward, conv_backward, pool_forward, pool_backward = S.FORMS[form]
    p = make_problem(dtype, m)

    def run() -> tuple[np.ndarray, ...]:
        Z, conv_cache = conv_forward(p["x"], p["W"], p["b"], 1, PAD)  # (m, 32, 32, 16)
        _, pool_cache = pool_forward(Z, POOL, POOL, "max")  # (m, 16, 16, 16)
        return conv_backward(pool_backward(p["dP"], pool_cache), conv_cache)  # dx, dW, db

    return run


def scratch_phases(dtype: np.dtype, m: int = M) -> tuple[dict[str, Any], Any]:
    """The vectorized step's four calls, each on its own with inputs made beforehand, and its three
    GEMMs alone (``Z``, ``dW``, ``dcols`` on the step's own matrices)."""
    p = make_problem(dtype, m)
    Z, conv_cache = S.conv_forward(p["x"], p["W"], p["b"], 1, PAD)
    _, pool_cache = S.pool_forward(Z, POOL, POOL, "max")
    dZ = S.pool_backward(p["dP"], pool_cache)
    cols, W_cols, dZ_rows = conv_cache.cols, p["W"].reshape(-1, N_C), dZ.reshape(-1, N_C)
    calls = {
        "conv f": lambda: S.conv_forward(p["x"], p["W"], p["b"], 1, PAD),
        "pool f": lambda: S.pool_forward(Z, POOL, POOL, "max"),
        "pool b": lambda: S.pool_backward(p["dP"], pool_cache),
        "conv b": lambda: S.conv_backward(dZ, conv_cache),
    }
    return calls, lambda: (cols.T @ W_cols, cols @ dZ_rows, W_cols @ dZ_rows.T)


def torch_step(dtype: np.dtype, device: str, m: int = M):
    p = make_problem(dtype, m)
    conv = nn.Conv2d(N_C_PREV, N_C, F_, 1, PAD, device=device, dtype=getattr(torch, np.dtype(dtype).name))
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(conv_weight_to_torch(p["W"])))
        conv.bias.zero_()
    pool = nn.MaxPool2d(POOL, POOL)
    x = torch.from_numpy(images_to_torch(p["x"])).to(device).requires_grad_(True)
    dP = torch.from_numpy(images_to_torch(p["dP"])).to(device)

    def run() -> tuple[torch.Tensor, ...]:
        P = pool(conv(x))
        return torch.autograd.grad(P, (x, conv.weight, conv.bias), dP)

    return run


NUMPY_ML_WHY = (
    "numpy-ml 0.1.2 (the last release, 2020) is a peer for Conv2D + Pool2D only: it "
    "imports on Python >= 3.10 only with `collections.Hashable` aliased to "
    "`collections.abc.Hashable` (numpy_ml/utils/data_structures.py, run at import), which "
    "this benchmark does around the import; its RNN and LSTM layers cannot be built on any "
    "Python 3 (LayerBase.__init__ assigns self.gradients, a property without a setter in "
    "both: AttributeError), and no runtime alias reaches that without patching its classes"
)


def import_numpy_ml():
    """numpy-ml's ``(Conv2D, Pool2D)`` classes, or a string saying why not (not installed, or the
    import failed). The only shim is the ``collections.Hashable`` alias, set for the import alone."""
    import collections
    import collections.abc
    import importlib.util

    if importlib.util.find_spec("numpy_ml") is None:
        return "numpy-ml not installed (pip install --no-deps numpy-ml; it needs scipy)"
    added = not hasattr(collections, "Hashable")
    if added:
        collections.Hashable = collections.abc.Hashable  # removed in Python 3.10; numpy-ml imports it
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its rl_models warn that gym is missing
            from numpy_ml.neural_nets.layers import Conv2D, Pool2D
    except Exception as e:  # noqa: BLE001 - any failure is reported as the reason
        return f"numpy-ml import failed: {type(e).__name__}: {e}"
    finally:
        if added:
            del collections.Hashable
    return Conv2D, Pool2D


def numpy_ml_step(dtype: np.dtype, m: int = M):
    """numpy-ml's ``Conv2D`` (identity activation) + ``Pool2D`` (max), forward and backward, on the
    same problem and weights; or a string saying why there is none. Its weights are set to ours
    in ``dtype``, but ``Pool2D`` allocates its output and gradient in float64, so a float32 step
    runs partly in float64 (the row says so)."""
    classes = import_numpy_ml()
    if isinstance(classes, str):
        return classes
    Conv2D, Pool2D = classes
    p = make_problem(dtype, m)
    conv = Conv2D(out_ch=N_C, kernel_shape=(F_, F_), pad=PAD, stride=1, act_fn="affine(slope=1, intercept=0)")
    pool = Pool2D(kernel_shape=(POOL, POOL), stride=POOL, mode="max")
    conv.forward(p["x"])  # builds its parameters; then ours
    conv.parameters["W"], conv.parameters["b"] = p["W"].copy(), p["b"].copy()

    def run() -> np.ndarray:
        conv.flush_gradients()
        pool.flush_gradients()
        pool.forward(conv.forward(p["x"]))
        return conv.backward(pool.backward(p["dP"]))  # dx; dW, db in conv.gradients

    return run


def check_agreement(dtype: np.dtype, m: int = M) -> float:
    """Max |difference| of ``dx`` between the vectorized form and torch, relative to its scale."""
    dx = scratch_step("vectorized", dtype, m)()[0]
    dx_t = torch_step(dtype, "cpu", m)()[0].numpy().transpose(0, 2, 3, 1)
    return float(np.abs(dx - dx_t).max() / np.abs(dx_t).max())


def main(quick: bool = False, out_dir: Path | None = None) -> dict[str, Any]:
    m, repeats, loop_m = (8, 3, 1) if quick else (M, 7, LOOP_M)  # quick: a smoke run on 8 images
    rounds = 1 if quick else 3
    flops = step_flops(m)
    rows: list[dict[str, Any]] = []
    for dtype in (np.float32, np.float64):
        agreement = check_agreement(dtype, m)
        for n_threads in THREADS:
            with threads(n_threads):
                peak = max(gemm_peak(dtype, quick))
                t_vec, t_torch, ratios = time_alternating(
                    scratch_step("vectorized", dtype, m), torch_step(dtype, "cpu", m), rounds, repeats
                )
                calls, gemms = scratch_phases(dtype, m)
                split = {k: time_call(fn, repeats=repeats) for k, fn in calls.items()}
                phases = split_phases(scratch_step("vectorized", dtype, m), gemms, rounds, repeats)
                loop = scratch_step("loop", dtype, loop_m)
                t0 = time.perf_counter()
                loop()
                t_loop = (time.perf_counter() - t0) * m / loop_m
            row = {
                "dtype": np.dtype(dtype).name,
                "threads": n_threads,
                "peak GFLOP/s": peak,
                "vectorized ms": 1e3 * t_vec,
                "torch ms": 1e3 * t_torch,
                "loop ms": 1e3 * t_loop,
                "vec/torch time": statistics.median(ratios),
                "rounds": f"{min(ratios):.2f}-{max(ratios):.2f}",
                "loop/vec time": t_loop / t_vec,
                "vec % peak": 100 * flops / t_vec / 1e9 / peak,
                "torch % peak": 100 * flops / t_torch / 1e9 / peak,
                "loop examples timed": loop_m,
                "dx rel diff vs torch": agreement,
                **{f"{k} ms": 1e3 * t for k, t in split.items()},
                "step ms": phases["step ms"],
                "GEMMs ms": phases["gemm ms"],
                "rest ms": phases["rest ms"],
                "load average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            }
            if torch.cuda.is_available():
                t_cuda = time_call(torch_step(dtype, "cuda", m), repeats=repeats, sync=torch.cuda.synchronize)
                row["cuda ms"] = 1e3 * t_cuda
            rows.append(row)
    # numpy-ml in a child process: its import loads SciPy and with it a second OpenBLAS, which
    # must not be in the process that times the other libraries (here or in later benchmarks)
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as child:
        for row in rows:
            row.update(child.apply(numpy_ml_row, (row["dtype"], m, row["threads"], row["torch ms"] / 1e3)))
    columns = [
        "dtype",
        "threads",
        "peak GFLOP/s",
        "vectorized ms",
        "torch ms",
        "vec/torch time",
        "rounds",
        "vec % peak",
        "torch % peak",
        "loop ms",
        "loop/vec time",
        "numpy-ml ms",
        "numpy-ml/torch time",
        "load average",
    ] + (["cuda ms"] if torch.cuda.is_available() else [])
    print(
        f"conv 3x3 pad 1, {N_C} filters, x ({m}, {N_H}, {N_W}, {N_C_PREV}) + max pool 2: "
        f"{flops / 1e6:.1f} MFLOP per step (3 GEMMs); loop form timed on {loop_m} examples, x{m // loop_m}"
    )
    print(table(rows, columns))
    print(
        "vectorized step split (each call alone; the step and its GEMMs in the same rounds, "
        "rest = step - GEMMs, '-' where the GEMMs alone took longer: noise):"
    )
    print(
        table(
            rows,
            [
                "dtype",
                "threads",
                "conv f ms",
                "pool f ms",
                "pool b ms",
                "conv b ms",
                "step ms",
                "GEMMs ms",
                "rest ms",
            ],
        )
    )
    print(f"numpy-ml: {rows[0]['numpy-ml']}. {NUMPY_ML_WHY}.")
    findings = diagnose(rows)
    for line in findings:
        print(line)
    payload = {
        "shape": {"x": (m, N_H, N_W, N_C_PREV), "W": (F_, F_, N_C_PREV, N_C), "pad": PAD, "pool": POOL},
        "flops_per_step": flops,
        "rows": rows,
        "findings": findings,
        "loop_extrapolated_from_examples": loop_m,
    }
    env = environment()
    print(f"CPU: {env['cpu']}; NumPy SIMD: {env['numpy_simd']}; BLAS: {env['blas']}")
    write_json("conv", payload, out_dir)
    return payload


def numpy_ml_row(dtype_name: str, m: int, n_threads: int, t_torch: float) -> dict[str, Any]:
    """The numpy-ml peer's columns for one configuration at ``n_threads``: its step
    time (one call after a warm-up: it takes seconds), its ratio to torch's time measured in
    the configuration's rounds, its ``dx`` against torch's, and what ran; ``None`` times and the
    reason where there is no peer."""
    dtype = np.dtype(dtype_name).type
    with threads(n_threads):
        step = numpy_ml_step(dtype, m)
        if isinstance(step, str):
            return {"numpy-ml": step, "numpy-ml ms": None, "numpy-ml/torch time": None}
        dx = step()
        t0 = time.perf_counter()
        step()
        t = time.perf_counter() - t0
        dx_t = torch_step(dtype, "cpu", m)()[0].numpy().transpose(0, 2, 3, 1)
    ran = f"Conv2D + Pool2D, output dtype {np.asarray(dx).dtype}" + (
        " (Pool2D computes in float64)" if np.dtype(dtype) != np.asarray(dx).dtype else ""
    )
    return {
        "numpy-ml": ran,
        "numpy-ml ms": 1e3 * t,
        "numpy-ml/torch time": t / t_torch,
        "numpy-ml dx rel diff vs torch": float(np.abs(dx - dx_t).max() / np.abs(dx_t).max()),
    }


def diagnose(rows: list[dict[str, Any]]) -> list[str]:
    """Whether the target (vectorized <= 1.5x torch CPU's time) is met, and what the numbers say."""
    out = []
    loaded, load = machine_loaded()
    for r in rows:
        where = f"{r['dtype']}, {r['threads']} thread(s)"
        verdict = "target met" if r["vec/torch time"] <= 1.5 else "target missed"
        line = (
            f"{where}: {verdict} — vectorized {r['vec/torch time']:.2f}x torch's time "
            f"(rounds {r['rounds']}), "
            f"{r['vec % peak']:.0f}% of GEMM peak (torch {r['torch % peak']:.0f}%); the loop form "
            f"{r['loop/vec time']:.0f}x slower than the vectorized one"
        )
        if r["rest ms"] is None:
            line += (
                f"; its GEMMs alone ({r['GEMMs ms']:.2f} ms) took longer than the whole step "
                f"({r['step ms']:.2f} ms): the split is noise"
            )
        if r["threads"] > 1 and loaded:
            line += f" (machine loaded: load average {load:.1f}; multi-thread figures unreliable)"
        out.append(line)
    return out


if __name__ == "__main__":
    main()
