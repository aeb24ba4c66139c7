"""The autodiff engine's overhead: one MLP training step (forward, cost, backward) on
``scratch.compgraph`` vs ``torch.autograd`` on the same network, data and parameters.

The engine pays Python for every node it records and visits (object creation, a closure, the
topological sort), so on a small network it is expected to be slower than torch's C++ autograd;
this reports by how much, as a ratio measured in one run, together with the per-node cost and —
for scale — the hand-written NumPy backprop of ``scratch.shallow`` when that module exists.
Each implementation is timed in its own phase, after a warm-up, at each thread count.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks._common import machine_loaded, table, threads, time_call, write_json
from scratch import compgraph as S
from torch_ref import compgraph as T
from torch_ref.deep import DeepNetwork
from torch_ref.layout import COLUMNS, to_tensor


def _problem(n_x: int, n_h: int, m: int, dtype: np.dtype):
    rng = np.random.default_rng(0)
    params = {
        "W1": (rng.standard_normal((n_h, n_x)) * 0.1).astype(dtype),
        "b1": np.zeros((n_h, 1), dtype),
        "W2": (rng.standard_normal((1, n_h)) * 0.1).astype(dtype),
        "b2": np.zeros((1, 1), dtype),
    }
    X = rng.standard_normal((n_x, m)).astype(dtype)  # (n_x, m)
    Y = (rng.random((1, m)) < 0.5).astype(dtype)  # (1, m)
    return params, X, Y


def _graph_nodes(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> int:
    """How many nodes one engine step records (leaves and constants included)."""
    tensors = {k: S.Tensor(v, k) for k, v in params.items()}
    J = S.binary_cross_entropy(
        S.mlp_forward(tensors, S.Tensor(X, requires_grad=False)), S.Tensor(Y, requires_grad=False)
    )
    return len(S.topological_order(J, all_nodes=True))


def main(quick: bool = False, out_dir: Path | None = None) -> dict[str, Any]:
    n_x, n_h, m = 64, 32, 64
    dtype = np.float32
    params, X, Y = _problem(n_x, n_h, m, dtype)
    model = DeepNetwork.from_scratch(params, "tanh", "sigmoid")  # the engine MLP's reference
    Xt, Yt = to_tensor(COLUMNS.to_torch(X)), to_tensor(COLUMNS.to_torch(Y))

    def engine_step():
        return S.mlp_propagate(params, X, Y, "tanh")

    def torch_step():
        model.zero_grad(set_to_none=True)
        J = T.bce_cost(model, Xt, Yt)
        J.backward()
        return J

    impls = {"engine (scratch.compgraph)": engine_step, "torch.autograd": torch_step}
    try:
        from scratch import shallow

        impls["hand-written NumPy (scratch.shallow)"] = lambda: shallow.propagate(params, X, Y, "tanh")
    except ImportError:
        pass

    # the three compute the same thing: check before timing anything
    J_e, g_e = engine_step()
    J_t = torch_step()
    max_err = max(
        abs(float(J_e) - J_t.item()), float(np.abs(g_e["dW1"] - model.layers[0].weight.grad.numpy()).max())
    )
    nodes = _graph_nodes(params, X, Y)

    repeats, min_time = (3, 0.02) if quick else (7, 0.2)
    rows = []
    for n_threads in (1,) if quick else (1, 2):
        with threads(n_threads):
            timings = {
                name: time_call(fn, repeats=repeats, warmup=3, min_time=min_time)
                for name, fn in impls.items()
            }  # one phase per implementation
        t_torch = timings["torch.autograd"]
        for name, t in timings.items():
            rows.append(
                {
                    "threads": n_threads,
                    "implementation": name,
                    "ms_per_step": t * 1e3,
                    "ratio_vs_torch": t / t_torch,
                    "us_per_node": t * 1e6 / nodes if name.startswith("engine") else None,
                }
            )
    loaded, load = machine_loaded()
    if loaded:
        print(
            f"warning: load average {load:.2f} on {os.cpu_count()} cores; other processes are "
            "running, so multi-thread timings (torch's busy-waiting pool above all) are unreliable"
        )
    print(
        f"MLP step {n_x}-{n_h}-1, batch m={m}, float32, tanh hidden, cross-entropy; "
        f"engine graph: {nodes} nodes/step; max |engine − torch| on J, dW1: {max_err:.2g}"
    )
    print(table(rows, ["threads", "implementation", "ms_per_step", "ratio_vs_torch", "us_per_node"]))
    payload = {
        "sizes": {"n_x": n_x, "n_h": n_h, "n_y": 1, "m": m},
        "dtype": "float32",
        "graph_nodes": nodes,
        "max_abs_err_vs_torch": max_err,
        "quick": quick,
        "rows": rows,
        "load_average_1min": load,
        "torch_threads_default": torch.get_num_threads(),
    }
    path = write_json("compgraph_overhead", payload, out_dir)
    print(f"wrote {path}")
    return payload


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    main(quick=args.quick, out_dir=args.out)
