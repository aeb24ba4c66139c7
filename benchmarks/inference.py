"""Inference of a trained deep network: eager torch vs ``torch.compile`` vs ``torch.export`` vs
ONNX Runtime vs scratch NumPy, float32, batch 1 and 256.

The network (``64-256-128-10``, ReLU, softmax) is trained in NumPy on scikit-learn's digits
(synthetic digits-shaped data when scikit-learn is absent) and served as probabilities
(``predict_proba``) by each engine:

- ``eager``: ``DeepNetwork.predict_proba`` under ``torch.inference_mode``;
- ``compile``: ``torch.compile`` of it (skipped with ``--quick``: its first compile takes ~20 s
  here);
- ``export``: ``torch.export.export(...).module()`` with a dynamic batch;
- ``onnxruntime``: the file of ``torch_ref._onnx.export_onnx`` (opset 18) in an
  ``InferenceSession`` with the same thread count;
- ``numpy``: ``scratch.deep.L_model_forward`` on ``X (n_x, m)``.

Per engine and batch: median latency per call, throughput (examples/s) and the ratio of its
time to eager's (< 1: faster than eager), all measured in one run, each engine in its own phase
after a warm-up, at 1 thread (and at all threads without ``--quick``). Every engine's output is
checked against eager's at the policy's runtime tolerance before it is timed.

Run: ``python -m benchmarks inference [--quick]``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks._common import table, threads, time_call, write_json
from parity_tests.compare import tolerance_ratio
from parity_tests.tolerances import runtime_tolerance
from scratch import deep as S
from torch_ref.deep import DeepNetwork
from torch_ref.layout import columns_to_rows

DIMS = (64, 256, 128, 10)
BATCHES = (1, 256)
ENGINES = ("eager", "compile", "export", "onnxruntime", "numpy")


def train_network(steps: int) -> dict[str, np.ndarray]:
    """``steps`` mini-batch steps of 256 in float32 NumPy on digits (or synthetic data)."""
    try:
        from parity_tests.datasets import digits

        X, labels = digits()
    except Exception:  # scikit-learn absent: digits-shaped noise, the timing is the same
        rng = np.random.default_rng(0)
        X, labels = rng.random((64, 1797)), rng.integers(0, 10, 1797)
    config = S.Config(
        layer_dims=DIMS,
        activation="relu",
        output="softmax",
        initializer="he",
        learning_rate=0.1,
        num_iterations=steps,
        batch_size=256,
        seed=0,
    )
    params, _ = S.train(config, X.astype(np.float32), labels)
    return params


def engines(
    params: dict[str, np.ndarray], quick: bool, n_threads: int, tmp: Path
) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """``{engine: f(X (n_x, m) float32) -> probabilities (m, k)}``; unavailable ones are left out."""
    net = DeepNetwork.from_scratch(params, "relu", "softmax").eval()
    example = torch.zeros(4, DIMS[0])
    out: dict[str, Callable[[np.ndarray], np.ndarray]] = {}

    def torch_engine(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[np.ndarray], np.ndarray]:
        def run(X: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return fn(torch.from_numpy(columns_to_rows(X))).numpy()

        return run

    out["eager"] = torch_engine(net.predict_proba)
    if not quick:
        out["compile"] = torch_engine(torch.compile(net.predict_proba))
    from torch_ref._onnx import MethodModule

    program = torch.export.export(
        MethodModule(net, "predict_proba"),
        (example,),
        dynamic_shapes=({0: torch.export.Dim("batch", min=1)},),
    )
    out["export"] = torch_engine(program.module())
    try:
        from torch_ref._onnx import OnnxModel, export_onnx

        served = OnnxModel(export_onnx(net, example, tmp / "net.onnx", "predict_proba"), threads=n_threads)
        out["onnxruntime"] = lambda X: served(columns_to_rows(X))
    except ImportError:
        pass
    out["numpy"] = lambda X: S.L_model_forward(X, params, "relu", "softmax")[0].T
    return out


def main(quick: bool = False, out_dir: Path | None = None) -> dict[str, Any]:
    params = train_network(5 if quick else 300)
    rng = np.random.default_rng(1)
    inputs = {m: rng.random((DIMS[0], m)).astype(np.float32) for m in BATCHES}
    repeats = 3 if quick else 7
    rows, checks = [], {}
    for n_threads in (1,) if quick else (1, torch.get_num_threads()):
        with threads(n_threads), tempfile.TemporaryDirectory() as tmp:
            fns = engines(params, quick, n_threads, Path(tmp))
            for m in BATCHES:
                reference = fns["eager"](inputs[m])
                times = {}
                for name, fn in fns.items():  # each engine in its own phase, warmed up
                    checks[f"{name}-m{m}"] = tolerance_ratio(
                        fn(inputs[m]), reference, runtime_tolerance("float32")
                    )
                    times[name] = time_call(lambda fn=fn, X=inputs[m]: fn(X), repeats=repeats, warmup=2)
                for name, t in times.items():
                    rows.append(
                        {
                            "engine": name,
                            "batch": m,
                            "threads": n_threads,
                            "latency us": 1e6 * t,
                            "examples/s": m / t,
                            "time / eager": t / times["eager"],
                        }
                    )
    bad = {k: v for k, v in checks.items() if not v <= 1}
    if bad:
        raise AssertionError(f"engines disagree with eager beyond the runtime tolerance: {bad}")
    print(
        f"inference of a trained {'-'.join(map(str, DIMS))} network (predict_proba, float32)"
        + (" — torch.compile skipped with --quick" if quick else "")
    )
    print(table(rows, ["engine", "batch", "threads", "latency us", "examples/s", "time / eager"]))
    payload = {
        "dims": DIMS,
        "dtype": "float32",
        "rows": rows,
        "max_tolerance_ratio_vs_eager": checks,
        "skipped": ["compile"] if quick else [],
    }
    write_json("inference", payload, out_dir)
    return payload


if __name__ == "__main__":
    main()
