"""The production checks of a served model (:mod:`parity_tests.production.cases`):

- **ONNX Runtime** (``onnx-<name>``, level ``forward``): the module's served method exported with
  ``torch.onnx.export(dynamo=True)`` at opset 18 with a dynamic batch, saved to a file, run in
  ``onnxruntime`` at two batch sizes; its output equals eager torch's and scratch's at the
  policy's runtime tolerance (:func:`parity_tests.tolerances.runtime_tolerance`).
- **safetensors** (``safetensors-<name>``, level ``forward``): scratch parameters saved to a
  ``.safetensors`` file and loaded into the torch module give *bit-identical* outputs to the
  module loaded from the same arrays in memory (and equal scratch's at the forward tolerance);
  scratch -> file -> scratch, state_dict -> file -> state_dict and torch -> course-layout file ->
  NumPy round trips are bitwise.

A missing optional package (onnx, onnxscript, onnxruntime, safetensors) makes the check
:class:`~parity_tests.registry.CheckUnavailable`.
"""

from __future__ import annotations

import importlib
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from parity_tests.compare import CheckResult, Comparison, compare, group_result
from parity_tests.devices import parity_mode
from parity_tests.production.cases import Served
from parity_tests.registry import CheckUnavailable, seed_for
from parity_tests.tolerances import EXACT, runtime_tolerance, tolerance
from torch_ref.layout import columns_to_rows, numpy_dtype, to_numpy, torch_dtype

BATCHES = (7, 13)
"""Two batch sizes through one exported file: the batch dimension really is dynamic."""


def require(*packages: str) -> None:
    """:class:`CheckUnavailable` naming the first missing package."""
    for name in packages:
        try:
            importlib.import_module(name)
        except ImportError:
            raise CheckUnavailable(f"{name} is not installed (pip install 'dlparity[onnx]')") from None


def _problem(case: Served, check: str, dtype: str) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
    """The case's parameters and input batches ``X (n_x, m)`` in ``dtype``, from a seeded generator."""
    rng = np.random.default_rng(seed_for(case.concept, f"{check}-{case.name}"))
    dt = numpy_dtype(dtype)
    params = {k: v.astype(dt) for k, v in case.make_params(rng).items()}
    return params, [rng.standard_normal((case.n_x, m)).astype(dt) for m in BATCHES]


def bitwise(name: str, actual: np.ndarray, expected: np.ndarray) -> Comparison:
    """A record that passes only for identical dtype, shape and bytes (``-0.0`` differs from 0)."""
    a, e = np.asarray(actual), np.asarray(expected)
    rec = compare(name, a, e, EXACT)
    if rec.passed and (a.dtype != e.dtype or a.tobytes() != e.tobytes()):
        rec.passed, rec.ratio = False, float("inf")
        rec.diagnosis = f"equal values but not the same bytes (dtypes {a.dtype} vs {e.dtype}, or ±0)"
    return rec


def run_onnx(case: Served, device: str, dtype: str) -> CheckResult:
    """Export ``case``'s module, run it in ONNX Runtime, compare with eager and with scratch
    (eager under :func:`~parity_tests.devices.parity_mode`: no TF32 on CUDA)."""
    require("onnx", "onnxscript", "onnxruntime")
    with parity_mode():
        return _run_onnx(case, device, dtype)


def _run_onnx(case: Served, device: str, dtype: str) -> CheckResult:
    from torch_ref.serving import OnnxModel, export_onnx

    dtype = str(torch_dtype(dtype)).replace("torch.", "")
    params, batches = _problem(case, "onnx", dtype)
    module = case.build(params, device, torch_dtype(dtype))
    tol = runtime_tolerance(dtype)
    records = []
    with tempfile.TemporaryDirectory(prefix="dlparity-onnx-") as tmp:
        example = torch.tensor(columns_to_rows(batches[0]), device=device)
        start = time.perf_counter()
        path = export_onnx(module, example, Path(tmp) / f"{case.concept}-{case.name}.onnx", case.method)
        export_s = time.perf_counter() - start
        served = OnnxModel(path, threads=1)
        size = path.stat().st_size
        for X in batches:
            x = columns_to_rows(X)  # (m, n_x)
            out = served(x)  # (m, n_out)
            eager = to_numpy(case.torch_output(module, torch.tensor(x, device=device)))
            scratch = columns_to_rows(case.scratch_output(params, X))
            m = X.shape[1]
            records += [compare(f"onnxruntime vs eager torch (m={m})", out, eager, tol, m=m),
                        compare(f"onnxruntime vs scratch (m={m})", out, scratch, tol, m=m)]
    metrics = {"opset": float(served.opset or 0), "export_seconds": export_s, "onnx_bytes": float(size)}
    return group_result(case.concept, f"onnx-{case.name}", "forward", device, dtype, records,
                        {"metrics": metrics, "opset": served.opset, "served_method": case.method})


def run_safetensors(case: Served, device: str, dtype: str) -> CheckResult:
    """Scratch params -> file -> module: bit-identical to in-memory loading; round trips bitwise."""
    require("safetensors")
    with parity_mode():
        return _run_safetensors(case, device, dtype)


def _run_safetensors(case: Served, device: str, dtype: str) -> CheckResult:
    from scratch.safetensors_io import load_params, save_params
    from torch_ref.serving import (
        load_scratch_file,
        load_state_dict_file,
        save_scratch_file,
        save_state_dict_file,
    )

    dtype = str(torch_dtype(dtype)).replace("torch.", "")
    params, batches = _problem(case, "safetensors", dtype)
    tdtype = torch_dtype(dtype)
    in_memory = case.build(params, device, tdtype)
    records = []
    with tempfile.TemporaryDirectory(prefix="dlparity-safetensors-") as tmp:
        scratch_file, torch_file, course_file = (Path(tmp) / f"{n}.safetensors"
                                                 for n in ("scratch", "state_dict", "from_torch"))
        save_params(params, scratch_file)
        from_file = load_scratch_file(case.fresh(params, device, tdtype), scratch_file).eval()
        for X in batches:
            x = torch.tensor(columns_to_rows(X), device=device)
            out_file = to_numpy(case.torch_output(from_file, x))
            out_memory = to_numpy(case.torch_output(in_memory, x))
            m = X.shape[1]
            records += [bitwise(f"file-loaded vs memory-loaded output (m={m})", out_file, out_memory),
                        compare(f"file-loaded output vs scratch (m={m})", out_file,
                                columns_to_rows(case.scratch_output(params, X)),
                                tolerance(dtype, "forward"), m=m)]
        back = load_params(scratch_file, like=params)
        records += [bitwise(f"scratch -> file -> scratch: {k}", back[k], params[k]) for k in params]
        save_state_dict_file(from_file, torch_file)
        clone = load_state_dict_file(case.fresh(params, device, tdtype), torch_file)
        sd, sd_back = from_file.state_dict(), clone.state_dict()
        records += [bitwise(f"state_dict -> file -> state_dict: {k}", to_numpy(sd_back[k]), to_numpy(sd[k]))
                    for k in sd]
        save_scratch_file(from_file, course_file)
        course = load_params(course_file, like=params)
        records += [bitwise(f"torch -> course file -> NumPy: {k}", course[k], params[k]) for k in params]
    return group_result(case.concept, f"safetensors-{case.name}", "forward", device, dtype, records)


__all__ = ["BATCHES", "require", "bitwise", "run_onnx", "run_safetensors"]
