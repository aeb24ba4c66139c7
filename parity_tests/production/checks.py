"""The production checks of a served model (:func:`parity_tests.registry.register_served`: a
declared :class:`~parity_tests.registry.Model`, its inputs and which checks are quick):

- **ONNX Runtime** (``onnx-<name>``, level ``forward``): the module's served method (the model's
  ``output_method``: ``predict_proba`` where it outputs probabilities, so the file's output is the
  course's ``A[L]``) exported with ``torch.onnx.export(dynamo=True)`` at opset 18 with a dynamic
  batch, saved to a file, run in ``onnxruntime`` at two batch sizes; its output equals eager
  torch's and the scratch ``forward``'s at the policy's runtime tolerance
  (:func:`parity_tests.tolerances.runtime_tolerance`).
- **safetensors** (``safetensors-<name>``, level ``forward``): scratch parameters saved to a
  ``.safetensors`` file and loaded into a freshly built module give *bit-identical* outputs to the
  module loaded from the same arrays in memory (and equal scratch's at the forward tolerance);
  scratch -> file -> scratch, state_dict -> file -> state_dict and torch -> course-layout file ->
  NumPy round trips are bitwise.

The parameters are drawn once per check, by the model's registered ``make_inputs`` (its
distinct, non-square sizes, so a missing transpose fails), and flow scratch -> torch through the
model's spec; the batches are standard normal, shaped like its ``X`` with ``m`` in
:data:`BATCHES`. A missing optional package (onnx, onnxscript, onnxruntime, safetensors) makes
the check :class:`~parity_tests.registry.CheckUnavailable`.
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
from parity_tests.registry import CheckUnavailable, Model, ServedModel, seed_for
from parity_tests.tolerances import EXACT, runtime_tolerance, tolerance
from torch_ref.layout import load_scratch_params, numpy_dtype, to_numpy, torch_dtype

Params = dict[str, np.ndarray]

BATCHES = (7, 13)
"""Two batch sizes through one exported file: the batch dimension really is dynamic."""


def require(*packages: str) -> None:
    """:class:`CheckUnavailable` naming the first missing package."""
    for name in packages:
        try:
            importlib.import_module(name)
        except ImportError:
            raise CheckUnavailable(f"{name} is not installed (pip install 'dlparity[onnx]')") from None


def _problem(served: ServedModel, check: str, dtype: str) -> tuple[Params, list[np.ndarray]]:
    """The served model's parameters and its input batches (course layout) in ``dtype``, from
    its ``make_inputs`` and one seeded generator."""
    rng = np.random.default_rng(seed_for(served.concept, f"{check}-{served.name}"))
    model, dt = served.model, numpy_dtype(dtype)
    inputs = served.make_inputs(rng)
    params = {k: np.asarray(inputs[k]).astype(dt) for k in model.names}
    x_layout = model.layouts()[0]
    example = x_layout.to_torch(np.asarray(inputs[model.x_name]))  # torch layout, batch first
    return params, [
        x_layout.to_course(rng.standard_normal((m, *example.shape[1:])).astype(dt)) for m in BATCHES
    ]


def _module(model: Model, device: str, dtype: str, params: Params | None = None) -> torch.nn.Module:
    """A module built by the model's ``make_module``, holding ``params`` (through its spec) or, with
    none, its own fresh initialization; in eval mode."""
    module = model.make_module(device=device, dtype=torch_dtype(dtype))
    return (module if params is None else load_scratch_params(module, params, model.spec())).eval()


def _torch_batch(model: Model, X: np.ndarray) -> np.ndarray:
    """A course-layout batch in torch's layout (contiguous, as ONNX Runtime takes it)."""
    return np.ascontiguousarray(model.layouts()[0].to_torch(X))


def _scratch_output(model: Model, params: Params, X: np.ndarray) -> np.ndarray:
    """The scratch ``forward`` in torch's layout, to compare with a served output."""
    return np.ascontiguousarray(model.layouts()[2].to_torch(model.forward(params, X)))


def bitwise(name: str, actual: np.ndarray, expected: np.ndarray) -> Comparison:
    """A record that passes only for identical dtype, shape and bytes (``-0.0`` differs from 0)."""
    a, e = np.asarray(actual), np.asarray(expected)
    rec = compare(name, a, e, EXACT)
    if rec.passed and (a.dtype != e.dtype or a.tobytes() != e.tobytes()):
        rec.passed, rec.ratio = False, float("inf")
        rec.diagnosis = f"equal values but not the same bytes (dtypes {a.dtype} vs {e.dtype}, or ±0)"
    return rec


def run_onnx(served: ServedModel, device: str, dtype: str) -> CheckResult:
    """Export the served model's module, run it in ONNX Runtime, compare with eager and with
    scratch (eager under :func:`~parity_tests.devices.parity_mode`: no TF32 on CUDA)."""
    require("onnx", "onnxscript", "onnxruntime")
    with parity_mode():
        return _run_onnx(served, device, dtype)


def _run_onnx(served: ServedModel, device: str, dtype: str) -> CheckResult:
    from torch_ref.serving import OnnxModel, export_onnx

    dtype = str(torch_dtype(dtype)).replace("torch.", "")
    model, case = served.model, f"onnx-{served.name}"
    params, batches = _problem(served, "onnx", dtype)
    module = _module(model, device, dtype, params)
    tol = runtime_tolerance(dtype)
    records = []
    with tempfile.TemporaryDirectory(prefix="dlparity-onnx-") as tmp:
        example = torch.tensor(_torch_batch(model, batches[0]), device=device)
        start = time.perf_counter()
        path = export_onnx(
            module, example, Path(tmp) / f"{served.concept}-{served.name}.onnx", model.output_method
        )
        export_s = time.perf_counter() - start
        runtime = OnnxModel(path, threads=1)
        size = path.stat().st_size
        for X in batches:
            x = _torch_batch(model, X)  # (m, n_x)
            out = runtime(x)  # (m, n_out)
            eager = to_numpy(model.module_output(module, torch.tensor(x, device=device)))
            m = x.shape[0]
            records += [
                compare(f"onnxruntime vs eager torch (m={m})", out, eager, tol, m=m),
                compare(f"onnxruntime vs scratch (m={m})", out, _scratch_output(model, params, X), tol, m=m),
            ]
    metrics = {"opset": float(runtime.opset or 0), "export_seconds": export_s, "onnx_bytes": float(size)}
    return group_result(
        served.concept,
        case,
        "forward",
        device,
        dtype,
        records,
        {"metrics": metrics, "opset": runtime.opset, "served_method": model.output_method},
    )


def run_safetensors(served: ServedModel, device: str, dtype: str) -> CheckResult:
    """Scratch params -> file -> module: bit-identical to in-memory loading; round trips bitwise."""
    require("safetensors")
    with parity_mode():
        return _run_safetensors(served, device, dtype)


def _run_safetensors(served: ServedModel, device: str, dtype: str) -> CheckResult:
    from scratch.safetensors_io import load_params, save_params
    from torch_ref.serving import (
        load_scratch_file,
        load_state_dict_file,
        save_scratch_file,
        save_state_dict_file,
    )

    dtype = str(torch_dtype(dtype)).replace("torch.", "")
    model, spec = served.model, served.model.spec()
    params, batches = _problem(served, "safetensors", dtype)
    in_memory = _module(model, device, dtype, params)
    records = []
    with tempfile.TemporaryDirectory(prefix="dlparity-safetensors-") as tmp:
        scratch_file, torch_file, course_file = (
            Path(tmp) / f"{n}.safetensors" for n in ("scratch", "state_dict", "from_torch")
        )
        save_params(params, scratch_file)
        from_file = load_scratch_file(_module(model, device, dtype), scratch_file, spec).eval()
        for X in batches:
            x = torch.tensor(_torch_batch(model, X), device=device)
            out_file = to_numpy(model.module_output(from_file, x))
            out_memory = to_numpy(model.module_output(in_memory, x))
            m = x.shape[0]
            records += [
                bitwise(f"file-loaded vs memory-loaded output (m={m})", out_file, out_memory),
                compare(
                    f"file-loaded output vs scratch (m={m})",
                    out_file,
                    _scratch_output(model, params, X),
                    tolerance(dtype, "forward"),
                    m=m,
                ),
            ]
        back = load_params(scratch_file, like=params)
        records += [bitwise(f"scratch -> file -> scratch: {k}", back[k], params[k]) for k in params]
        save_state_dict_file(from_file, torch_file)
        clone = load_state_dict_file(_module(model, device, dtype), torch_file)
        sd, sd_back = from_file.state_dict(), clone.state_dict()
        records += [
            bitwise(f"state_dict -> file -> state_dict: {k}", to_numpy(sd_back[k]), to_numpy(sd[k]))
            for k in sd
        ]
        save_scratch_file(from_file, course_file, spec)
        course = load_params(course_file, like=params)
        records += [bitwise(f"torch -> course file -> NumPy: {k}", course[k], params[k]) for k in params]
    return group_result(served.concept, f"safetensors-{served.name}", "forward", device, dtype, records)


__all__ = ["BATCHES", "require", "bitwise", "run_onnx", "run_safetensors"]
