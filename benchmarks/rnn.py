"""Forward + backprop through time of a recurrent layer: scratch NumPy vs torch CPU.

``T_x = 50``, ``m = 64``, ``n_a = 128``, ``n_x = 64`` (``--quick``: ``T_x = 10``, ``m = 16``), for
the vanilla RNN (``scratch.rnn.rnn_forward``/``rnn_backward`` vs ``nn.RNN(nonlinearity="tanh")``)
and the LSTM (``lstm_forward``/``lstm_backward`` vs ``nn.LSTM``), float32 and float64, at 1 and
2 threads. One call = forward over all steps, then the backward from a fixed upstream gradient
on every hidden state (torch: ``out.backward(G)``, gradients of input, initial state and every
weight). Each library is timed in its own phase (median of repeats), the two phases alternating
over five rounds; the ratio is the median of the rounds' scratch-time / torch-time (< 1: NumPy
is faster), and ``rounds`` gives the spread. Targets: vanilla RNN <= 1 (issue 10), LSTM <= 1.5
(issues 10, 23). Each row says which NumPy path it times (``path``, :data:`PATHS`):
``reference``, the readable layer that loops :func:`scratch.rnn.vanilla.rnn_step` /
:func:`scratch.rnn.lstm.lstm_step` and their step backs over ``t``; and for the LSTM also
``fast``, :class:`scratch.rnn._lstm_fast.FastLSTM` (one GEMM per step over ``[a; x; 1]``, one
``tanh`` for the four gates, contiguous blocks, buffers built once outside the timing),
proven equal to the reference by ``parity_tests/tests/test_rnn_fast.py``. The LSTM's target is
the fast path's; the vanilla RNN has none (its reference meets its target).
Reported next to it, not part of it: the scratch forward alone and the backward
alone (from one cache made beforehand), ``numpy fwd ms`` and ``numpy bwd ms``; and, when a CUDA
GPU is present, torch's time there with cuDNN's fused kernels (``cuda cudnn ms``) and with torch's
own per-step kernels (``cuda native ms``, what the ordinary parity checks run on CUDA), both with
TF32 off as in the parity tests.

Two diagnostics come with the ratio, because they decide the vanilla cell's: ``tanh ns/el``,
the cost per element of ``np.tanh`` and ``torch.tanh`` on one step's ``(n_a, m)`` block (the
forward's one transcendental; it depends on the CPU's SIMD level, which the JSON records), and
``faults/call``, the minor page faults per call of each library (fresh arrays whose pages the C
allocator gave back to the OS are faulted in again; a few microseconds each on a VM). Every
configuration runs once, untimed, before any is timed, so that all are timed in the same
allocator state (glibc's thresholds adapt to the largest blocks freed so far).

The GEMM FLOPs per call, counted exactly: per step ``2·m·n_a·n_a·g`` (``g`` = 1 or 4 gates) for
``Waa a⟨t−1⟩`` forward and the same twice backward (``dWaa``, ``da⟨t−1⟩``), minus the backward
product through ``a0`` that the last step still needs (counted), and ``2·m·n_x·n_a·g·T_x`` three
times for ``Wax x``, ``dWax``, ``dx``.
"""

from __future__ import annotations

import itertools
import os
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks._common import (
    environment,
    machine_loaded,
    minor_faults_per_call,
    table,
    threads,
    time_alternating,
    time_call,
    write_json,
)
from scratch import rnn as S
from scratch.rnn._lstm_fast import FastLSTM
from torch_ref import rnn as T
from torch_ref.layout import sequence_to_torch

SIZES = {"T_x": 50, "m": 64, "n_a": 128, "n_x": 64}
QUICK = {"T_x": 10, "m": 16, "n_a": 32, "n_x": 16}
TARGET = {"rnn": 1.0, "lstm": 1.5}
ROUNDS = {False: 5, True: 1}  # numpy/torch timing rounds per configuration (full run, --quick)


def call_flops(cell: str, T_x: int, m: int, n_a: int, n_x: int) -> int:
    gates = 1 if cell == "rnn" else 4
    return 3 * T_x * 2 * m * n_a * gates * (n_a + n_x)


def _inputs(cell: str, sizes: dict[str, int], dtype: np.dtype):
    rng = np.random.default_rng(0)
    T_x, m, n_a, n_x = sizes["T_x"], sizes["m"], sizes["n_a"], sizes["n_x"]
    p = S.initialize_parameters(n_x, n_a, 2, cell, rng, dtype)
    x = rng.standard_normal((n_x, m, T_x)).astype(dtype)
    G = rng.standard_normal((n_a, m, T_x)).astype(dtype)
    return p, x, G


PATHS = {"rnn": ("reference",), "lstm": ("reference", "fast")}
"""The NumPy paths timed per cell: ``reference`` is the readable layer (:mod:`scratch.rnn`);
``fast`` is :class:`scratch.rnn._lstm_fast.FastLSTM` (buffers built once, outside the timing),
proven equal to the reference by ``test_rnn_fast``. The vanilla RNN has no fast path: its
reference meets its target."""


def _core(cell: str, sizes: dict[str, int], dtype: np.dtype):
    p, x, G = _inputs(cell, sizes, dtype)
    core = {k: v for k, v in p.items() if k not in S.HEAD[cell]}
    return core, x, G, np.zeros((sizes["n_a"], sizes["m"]), dtype=dtype)


def scratch_split(
    cell: str,
    sizes: dict[str, int],
    dtype: np.dtype,
    path: str = "reference",
) -> dict[str, Any]:
    """The scratch call's two halves on their own: the forward, and the backward from one cache
    made beforehand (reported next to the ratio, not part of it)."""
    core, x, G, a0 = _core(cell, sizes, dtype)
    if cell == "rnn":
        cache = S.rnn_forward(x, a0, core)[1]
        return {"forward": lambda: S.rnn_forward(x, a0, core), "backward": lambda: S.rnn_backward(G, cache)}
    if path == "fast":
        lstm = FastLSTM(sizes["n_x"], sizes["n_a"], sizes["m"], sizes["T_x"], dtype)
        lstm.forward(x, a0, a0, core)
        return {"forward": lambda: lstm.forward(x, a0, a0, core), "backward": lambda: lstm.backward(G)}
    cache = S.lstm_forward(x, a0, a0, core)[2]
    return {"forward": lambda: S.lstm_forward(x, a0, a0, core), "backward": lambda: S.lstm_backward(G, cache)}


def scratch_call(cell: str, sizes: dict[str, int], dtype: np.dtype, path: str = "reference"):
    """One call, forward then backward, through ``path`` (:data:`PATHS`)."""
    core, x, G, a0 = _core(cell, sizes, dtype)
    if cell == "rnn":
        return lambda: S.rnn_backward(G, S.rnn_forward(x, a0, core)[1])
    if path == "fast":
        lstm = FastLSTM(sizes["n_x"], sizes["n_a"], sizes["m"], sizes["T_x"], dtype)
        return lambda: (lstm.forward(x, a0, a0, core), lstm.backward(G))
    return lambda: S.lstm_backward(G, S.lstm_forward(x, a0, a0, core)[2])


def torch_call(cell: str, sizes: dict[str, int], dtype: np.dtype, device: str = "cpu"):
    p, x, G = _inputs(cell, sizes, dtype)
    model = T.SequenceModel.from_scratch(p, cell, device=device)
    xt = torch.tensor(sequence_to_torch(x), device=device, requires_grad=True)
    Gt = torch.tensor(sequence_to_torch(G), device=device)
    h0 = torch.zeros(1, sizes["m"], sizes["n_a"], dtype=xt.dtype, device=device, requires_grad=True)
    state = (h0, torch.zeros_like(h0, requires_grad=True)) if cell == "lstm" else h0

    def run() -> None:
        for q in (xt, h0, *model.rnn.parameters()):
            q.grad = None
        out, _ = model.rnn(xt, state)
        out.backward(Gt)

    return run


def tanh_costs(sizes: dict[str, int], dtype: np.dtype, repeats: int) -> dict[str, float]:
    """Nanoseconds per element of ``np.tanh`` and ``torch.tanh`` on one step's ``(n_a, m)``
    block, written in place as the layer does (current thread settings)."""
    z = np.random.default_rng(1).standard_normal((sizes["n_a"], sizes["m"])).astype(dtype)
    out, zt = np.empty_like(z), torch.from_numpy(z)
    out_t = torch.empty_like(zt)
    return {
        "numpy tanh ns/el": 1e9 * time_call(lambda: np.tanh(z, out=out), repeats=repeats) / z.size,
        "torch tanh ns/el": 1e9 * time_call(lambda: torch.tanh(zt, out=out_t), repeats=repeats) / z.size,
    }


def cuda_times(cell: str, sizes: dict[str, int], dtype: np.dtype, repeats: int) -> dict[str, float]:
    """Torch's call on the GPU, cuDNN on and off (TF32 off); empty without a CUDA GPU."""
    if not torch.cuda.is_available():
        return {}
    from parity_tests.devices import cudnn_enabled, parity_mode

    times = {}
    with parity_mode():
        for name, on in (("cuda cudnn ms", True), ("cuda native ms", False)):
            with cudnn_enabled(on):
                times[name] = 1e3 * time_call(
                    torch_call(cell, sizes, dtype, "cuda"), repeats=repeats, sync=torch.cuda.synchronize
                )
    return times


def main(quick: bool = False, out_dir: Path | None = None) -> dict[str, Any]:
    sizes = QUICK if quick else SIZES
    repeats = 3 if quick else 7
    all_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    rows: list[dict[str, Any]] = []
    # One untimed call of every configuration first, so that each is timed in the same state
    # of the C allocator: its thresholds adapt to the largest blocks freed so far, and without
    # this the first configuration alone pays page faults the later ones do not.
    with threads(1):
        for cell in S.CELLS:
            for dtype in (np.float32, np.float64):
                for path in PATHS[cell]:
                    scratch_call(cell, sizes, dtype, path)()
                torch_call(cell, sizes, dtype)()
    for cell in S.CELLS:
        for dtype in (np.float32, np.float64):
            for n_threads, path in itertools.product(
                sorted({1, 2 if (all_threads or 1) >= 2 else 1}), PATHS[cell]
            ):
                with threads(n_threads):
                    np_call, torch_fn = scratch_call(cell, sizes, dtype, path), torch_call(cell, sizes, dtype)
                    t_np, t_torch, ratios = time_alternating(np_call, torch_fn, ROUNDS[quick], repeats)
                    faults = {
                        "numpy faults/call": minor_faults_per_call(np_call),
                        "torch faults/call": minor_faults_per_call(torch_fn),
                    }
                    split = {
                        k: time_call(fn, repeats=repeats)
                        for k, fn in scratch_split(cell, sizes, dtype, path).items()
                    }
                    tanh = tanh_costs(sizes, dtype, repeats)
                ratio = statistics.median(ratios)
                flops = call_flops(cell, **sizes)
                rows.append(
                    {
                        "cell": cell,
                        "path": path,
                        "dtype": np.dtype(dtype).name,
                        "threads": n_threads,
                        "numpy ms": 1e3 * t_np,
                        "torch ms": 1e3 * t_torch,
                        "numpy/torch time": ratio,
                        "rounds": f"{min(ratios):.2f}-{max(ratios):.2f}",
                        "target": TARGET[cell],
                        "met": ratio <= TARGET[cell],
                        "load average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
                        "numpy fwd ms": 1e3 * split["forward"],
                        "numpy bwd ms": 1e3 * split["backward"],
                        "numpy GFLOP/s": flops / t_np / 1e9,
                        "torch GFLOP/s": flops / t_torch / 1e9,
                        **faults,
                        **tanh,
                        **cuda_times(cell, sizes, dtype, repeats),
                    }
                )
    loaded, load = machine_loaded()
    print(
        f"recurrent layer forward + BPTT, {sizes} (GEMM FLOPs per call: "
        f"rnn {call_flops('rnn', **sizes) / 1e6:.0f} M, lstm {call_flops('lstm', **sizes) / 1e6:.0f} M)"
    )
    print(
        table(
            rows,
            [
                "cell",
                "path",
                "dtype",
                "threads",
                "numpy ms",
                "torch ms",
                "numpy/torch time",
                "rounds",
                "target",
                "met",
                "load average",
                "numpy fwd ms",
                "numpy bwd ms",
                "numpy GFLOP/s",
                "torch GFLOP/s",
            ]
            + (["cuda cudnn ms", "cuda native ms"] if torch.cuda.is_available() else []),
        )
    )
    print(
        table(
            rows,
            [
                "cell",
                "path",
                "dtype",
                "threads",
                "numpy faults/call",
                "torch faults/call",
                "numpy tanh ns/el",
                "torch tanh ns/el",
            ],
        )
    )
    if loaded:
        print(f"note: the machine is loaded (1-min load average {load}); 2-thread figures are unreliable")
    env = environment()
    print(f"CPU: {env['cpu']}; NumPy SIMD: {env['numpy_simd']}; BLAS: {env['blas']}")
    payload = {"sizes": sizes, "rows": rows, "machine_loaded": loaded, "blas": env["blas"]}
    write_json("rnn", payload, out_dir)
    return payload


if __name__ == "__main__":
    main()
