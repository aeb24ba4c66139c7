"""Devices and the numerics settings every parity run uses.

On CUDA, parity runs turn TF32 off — matmul through torch >= 2.9's ``fp32_precision = "ieee"``,
cuDNN through its ``allow_tf32`` flag (see :func:`_set_tf32` for why not cuDNN's per-operator
switches) — and ask for deterministic algorithms; cuBLAS needs ``CUBLAS_WORKSPACE_CONFIG`` set
before CUDA starts, which importing this module does.

:func:`cudnn_enabled` picks cuDNN's kernels or torch's own for a block (the ``rnn`` checks hold
torch's own CUDA RNN kernels to the policy and cuDNN's to its documented kernel tolerance).
"""

from __future__ import annotations

import contextlib
import os
import sys
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


def _get_tf32() -> tuple[object, bool | None]:
    """(matmul precision or legacy flag, cuDNN's legacy flag or None if it cannot be read)."""
    try:
        matmul: object = torch.backends.cuda.matmul.fp32_precision
    except AttributeError:  # torch < 2.9
        matmul = torch.backends.cuda.matmul.allow_tf32
    try:
        cudnn = torch.backends.cudnn.allow_tf32
    except RuntimeError:  # a caller mixed the legacy and per-operator cuDNN APIs
        cudnn = None
    return matmul, cudnn


def _set_tf32(matmul: object, cudnn: bool | None) -> None:
    """Matmul through torch >= 2.9's ``fp32_precision`` (else the legacy flag). cuDNN through its
    ``allow_tf32`` flag, which sets conv and RNN together: setting them through the per-operator
    ``fp32_precision`` leaves that flag stale, and torch itself (``torch.export``, torch 2.13)
    still reads it and then refuses the mix with a RuntimeError."""
    if isinstance(matmul, str):
        torch.backends.cuda.matmul.fp32_precision = matmul
    else:
        torch.backends.cuda.matmul.allow_tf32 = bool(matmul)
    if cudnn is not None:
        torch.backends.cudnn.allow_tf32 = cudnn


def _set_deterministic(mode: bool) -> None:
    """``torch.use_deterministic_algorithms(mode)``. On a machine without CUDA, ATen's flag and, if
    inductor is loaded already, inductor's ``deterministic``, without importing ``torch._inductor``
    for it (2–3 s, most of a ``dlparity check`` child's start); inductor's flag guards GPU
    autotuning and kernel choices, and a CUDA machine gets the full call."""
    if torch.cuda.is_available():
        torch.use_deterministic_algorithms(mode)
        return
    torch._C._set_deterministic_algorithms(mode, warn_only=False)
    config = sys.modules.get("torch._inductor.config")
    if config is not None:
        config.deterministic = mode


@contextlib.contextmanager
def parity_mode() -> Iterator[None]:
    """TF32 off (matmul and cuDNN) and deterministic algorithms on, restored on exit."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    old_tf32 = _get_tf32()
    cudnn_det = torch.backends.cudnn.deterministic
    cudnn_bench = torch.backends.cudnn.benchmark
    try:
        _set_tf32("ieee" if isinstance(old_tf32[0], str) else False, False)
        _set_deterministic(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        yield
    finally:
        _set_deterministic(deterministic)
        torch.backends.cudnn.deterministic = cudnn_det
        torch.backends.cudnn.benchmark = cudnn_bench
        _set_tf32(*old_tf32)


def kernel_unavailable(kernel: str, device: str) -> str | None:
    """Why ``kernel`` (one of :data:`parity_tests.tolerances.KERNELS`) cannot run on ``device``,
    or ``None`` where it can (on the CPU a GPU library's kernel is never used, so nothing is
    missing there)."""
    if kernel == "cudnn-rnn" and device.startswith("cuda") and not torch.backends.cudnn.is_available():
        return "this torch build has no cuDNN"
    return None


@contextlib.contextmanager
def cudnn_enabled(enabled: bool) -> Iterator[None]:
    """Run the block with cuDNN on or off (``torch.backends.cudnn.enabled``), restored on exit.

    Unlike ``torch.backends.cudnn.flags``, this touches nothing else: ``flags`` also resets
    TF32, determinism and benchmarking to its own defaults, undoing :func:`parity_mode`. With
    cuDNN off, CUDA ops run torch's own kernels (for ``nn.RNN``/``nn.LSTM``: cuBLAS GEMMs and
    elementwise kernels per time step). No effect on the CPU.
    """
    before = torch.backends.cudnn.enabled
    torch.backends.cudnn.enabled = enabled
    try:
        yield
    finally:
        torch.backends.cudnn.enabled = before
