"""The notes' vectorization lesson, measured: the logistic-regression cost and gradient
(``J``, ``dw = 1/m X dZᵀ``, ``db``) computed

- ``numpy_loop`` — ``scratch.logreg.cost_and_grads_loop``, the notes' ``for i in range(m)``;
- ``numpy_vec`` — ``scratch.logreg.cost_and_grads``, one matrix product each way;
- ``torch_autograd`` — ``torch_ref.logreg.LogisticRegression`` + ``BCEWithLogits`` +
  ``torch.autograd.grad`` on the CPU;
- ``torch_analytic`` — the same formulas written out in torch (``dz = σ(z) − y``,
  ``dw = 1/m xᵀ dz`` in the batch-first layout), no autograd;
- ``cuda_autograd`` / ``cuda_analytic`` — both again on the GPU when one is present.

for ``m`` in 10³, 10⁴, 10⁵ examples of ``n_x = 100`` features (float64, the course's default).
``--quick`` uses ``m`` in 10², 10³. The loop always runs on all ``m`` examples (no
subsampling; the JSON says so per row). Each library is timed in its own phase over every ``m``
(NumPy's and torch's thread pools busy-wait against each other when interleaved), with the same
thread count for NumPy's BLAS and torch — first 1, then torch's default count — reported.
Every implementation's gradient is checked against the vectorized one before it is timed.

Run: ``python -m benchmarks logreg_vectorization [--quick]``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from benchmarks._common import table, threads, time_call, write_json
from scratch import logreg as S
from torch_ref import logreg as T
from torch_ref.layout import COLUMNS, to_tensor

N_X = 100
SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (100, 1_000)
DTYPE = np.float64


def make_problem(
    m: int,
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Small random ``w (n_x, 1)``, ``b (1, 1)``; standard normal ``X (n_x, m)``; ``Y (1, m)``
    labels 0/1 from a noisy linear rule."""
    X = rng.standard_normal((N_X, m)).astype(DTYPE)
    w_true = rng.standard_normal((N_X, 1)) / np.sqrt(N_X)
    Y = (w_true.T @ X + 0.5 * rng.standard_normal((1, m)) > 0).astype(DTYPE)
    params = {
        "w": (0.1 * rng.standard_normal((N_X, 1))).astype(DTYPE),
        "b": np.full((1, 1), 0.1, dtype=DTYPE),
    }
    return params, X, Y


def torch_autograd(
    params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray, device: str
) -> Callable[[], tuple[torch.Tensor, dict[str, torch.Tensor]]]:
    """``J`` and ``{dw, db}`` by autograd through the production module."""
    model = T.LogisticRegression.from_scratch(params, device=device)
    Xt, Yt = to_tensor(COLUMNS.to_torch(X), device), to_tensor(COLUMNS.to_torch(Y), device)
    weight, bias = model.linear.weight, model.linear.bias

    def run():
        J = F.binary_cross_entropy_with_logits(model(Xt), Yt)
        dweight, dbias = torch.autograd.grad(J, (weight, bias))
        return J, {"dw": dweight, "db": dbias}

    return run


def torch_analytic(
    params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray, device: str
) -> Callable[[], tuple[torch.Tensor, dict[str, torch.Tensor]]]:
    """The notes' vectorized formulas in torch's batch-first layout: ``x (m, n_x)``::

    z = x w + b (m, 1);  dz = σ(z) − y;  dw = 1/m xᵀ dz (n_x, 1);  db = 1/m Σ dz
    """
    Xt, Yt = to_tensor(COLUMNS.to_torch(X), device), to_tensor(COLUMNS.to_torch(Y), device)
    w, b = to_tensor(params["w"], device), to_tensor(params["b"], device)
    m = Xt.shape[0]

    def run():
        z = Xt @ w + b  # (m, 1)
        J = F.binary_cross_entropy_with_logits(z, Yt)
        dz = torch.sigmoid(z) - Yt  # (m, 1)
        return J, {"dw": Xt.mT @ dz / m, "db": dz.sum(0, keepdim=True) / m}

    return run


def _max_grad_error(got: dict[str, Any], ref: dict[str, np.ndarray]) -> float:
    """Largest absolute difference of ``dw``/``db`` (course layout) from the vectorized ones."""
    err = 0.0
    for k in ("dw", "db"):
        g = got[k].detach().cpu().numpy() if isinstance(got[k], torch.Tensor) else got[k]
        err = max(err, float(np.max(np.abs(g.reshape(ref[k].shape) - ref[k]))))
    return err


def main(quick: bool = False, out_dir: Path | None = None) -> dict[str, Any]:
    sizes = QUICK_SIZES if quick else SIZES
    n_max = torch.get_num_threads()
    # 1 thread, and all of them: on a loaded machine 2 threads can be far slower than 1
    thread_counts = [1] + ([n_max] if n_max > 1 else [])
    rng = np.random.default_rng(0)
    problems = {m: make_problem(m, rng) for m in sizes}
    refs = {m: S.cost_and_grads(*problems[m])[1] for m in sizes}
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

    def cuda_sync() -> None:
        torch.cuda.synchronize()

    phases: list[tuple[str, Callable[[int], Callable[[], Any]], Callable[[], None] | None]] = [
        ("numpy_loop", lambda m: lambda: S.cost_and_grads_loop(*problems[m]), None),
        ("numpy_vec", lambda m: lambda: S.cost_and_grads(*problems[m]), None),
    ]
    for dev in devices:
        prefix = "torch" if dev == "cpu" else "cuda"
        sync = cuda_sync if dev == "cuda" else None
        phases.append((f"{prefix}_autograd", lambda m, d=dev: torch_autograd(*problems[m], d), sync))
        phases.append((f"{prefix}_analytic", lambda m, d=dev: torch_analytic(*problems[m], d), sync))

    times: dict[tuple[int, str], dict[int, float]] = {}
    errors: dict[str, dict[int, float]] = {}
    for n in thread_counts:
        with threads(n):
            for name, build, sync in phases:  # one library per phase, every m inside it
                times[n, name] = {}
                for m in sizes:
                    fn = build(m)
                    err = _max_grad_error(fn()[1], refs[m])
                    errors.setdefault(name, {})[m] = err
                    if err > 1e-10:
                        raise AssertionError(
                            f"{name} at m={m}: gradient differs from the vectorized one by {err:.3g}"
                        )
                    slow = name == "numpy_loop" and m >= 100_000  # ~3 s a call: 3, no warm-up
                    times[n, name][m] = time_call(
                        fn, repeats=3 if slow else 5, warmup=0 if slow else 1, sync=sync
                    )
                    del fn

    names = [name for name, _, _ in phases]
    rows = []
    for n in thread_counts:
        for m in sizes:
            row: dict[str, Any] = {"threads": n, "m": m, "loop_m": m, "loop_subsampled": False}
            row.update({f"{name}_s": times[n, name][m] for name in names})
            vec = times[n, "numpy_vec"][m]
            row["loop/vec"] = times[n, "numpy_loop"][m] / vec
            for name in names[2:]:
                row[f"vec/{name}"] = vec / times[n, name][m]
            # X is read twice (z = wᵀX, dw = X dZᵀ): the memory traffic that bounds numpy_vec
            row["numpy_vec_GB/s"] = 2 * N_X * m * np.dtype(DTYPE).itemsize / vec / 1e9
            rows.append(row)

    columns = [
        "threads",
        "m",
        *(f"{name}_s" for name in names),
        "loop/vec",
        *(f"vec/{name}" for name in names[2:]),
        "numpy_vec_GB/s",
    ]
    print(
        f"logistic-regression cost + gradient, n_x={N_X}, {np.dtype(DTYPE).name}; median "
        f"seconds per call; 'threads' = NumPy's BLAS threads = torch threads"
    )
    print(table(rows, columns))
    print("ratios > 1: the left one is slower (loop/vec is the vectorization speed-up)")
    payload = {
        "n_x": N_X,
        "dtype": np.dtype(DTYPE).name,
        "quick": quick,
        "sizes": list(sizes),
        "thread_counts": {"numpy_blas": list(thread_counts), "torch": list(thread_counts)},
        "loop_subsampled": False,
        "loop_note": "cost_and_grads_loop runs over all m examples at every size (no subsampling)",
        "timing": "benchmarks._common.time_call: median of 5 batches after 1 warm-up call "
        "(loop at m >= 1e5: median of 3 single calls, no warm-up); each library in "
        "its own phase, all sizes inside it; phases repeated per thread count",
        "max_grad_error_vs_vectorized": {k: {str(m): e for m, e in v.items()} for k, v in errors.items()},
        "rows": rows,
    }
    path = write_json("logreg_vectorization", payload, out_dir)
    print(f"wrote {path}")
    return payload


if __name__ == "__main__":
    main()
