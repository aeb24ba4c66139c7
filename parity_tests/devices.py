"""Devices and the numerics settings every parity run uses.

On CUDA, parity runs turn TF32 off (torch >= 2.9's ``fp32_precision`` switches, falling back to
the older ``allow_tf32`` flags) and ask for deterministic algorithms; cuBLAS needs
``CUBLAS_WORKSPACE_CONFIG`` set before CUDA starts, which importing this module does.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

DTYPES = ("float32", "float64")
"""The dtypes every concept is proven in, on every device."""
HALF_DTYPES = ("float16", "bfloat16")
"""Extra dtypes with a tolerance in the policy, for CUDA runs (scratch reference in float32)."""


def available_devices() -> list[str]:
    """``["cpu"]`` plus ``"cuda"`` when a CUDA GPU is present."""
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def check_device(device: str) -> str:
    """Refuse unknown or absent devices with a clear message."""
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError):
        kind = None
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"device: expected 'cpu' or 'cuda', got {device!r}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device: {device!r} requested but no CUDA GPU is available")
    return device


def _set_tf32(enabled: bool) -> None:
    precision = "tf32" if enabled else "ieee"
    try:
        torch.backends.cuda.matmul.fp32_precision = precision
        torch.backends.cudnn.conv.fp32_precision = precision
        torch.backends.cudnn.rnn.fp32_precision = precision
    except AttributeError:  # torch < 2.9
        torch.backends.cuda.matmul.allow_tf32 = enabled
        torch.backends.cudnn.allow_tf32 = enabled


@contextlib.contextmanager
def parity_mode() -> Iterator[None]:
    """TF32 off and deterministic algorithms on, restored on exit."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        old_precision = (torch.backends.cuda.matmul.fp32_precision,
                         torch.backends.cudnn.conv.fp32_precision,
                         torch.backends.cudnn.rnn.fp32_precision)
    except AttributeError:
        old_precision = None
    cudnn_det = torch.backends.cudnn.deterministic
    cudnn_bench = torch.backends.cudnn.benchmark
    try:
        _set_tf32(False)
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic)
        torch.backends.cudnn.deterministic = cudnn_det
        torch.backends.cudnn.benchmark = cudnn_bench
        if old_precision is not None:
            (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision,
             torch.backends.cudnn.rnn.fp32_precision) = old_precision
