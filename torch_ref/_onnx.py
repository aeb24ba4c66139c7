"""Ship a torch_ref module to ONNX Runtime: export with a dynamic batch, run with checked inputs.

:func:`export_onnx` calls ``torch.onnx.export(..., dynamo=True)`` — the ``torch.export``-based
exporter — at opset :data:`OPSET` (18, the exporter's own default in torch 2.13, stated so a
torch upgrade cannot change it silently), with the first input dimension dynamic (named
``"batch"``), so one file serves any batch size. Any method can be exported (``forward`` gives
logits, ``predict_proba`` probabilities) through a wrapper module. The graph is exported from a
CPU copy of the module: an ONNX graph holds no device, and ONNX Runtime runs it on its own
execution provider.

:class:`OnnxModel` runs the file in ``onnxruntime`` on a batch-first NumPy array and checks the
array against the model's declared input first, so a wrong feature count or dtype is a
``ValueError``/``TypeError`` naming the input and both shapes — not a runtime error deep in C++.
NaN/±Inf inputs are refused the same way (``allow_nonfinite=True`` serves them). A file that is
not ONNX, is truncated, or needs an opset newer than the installed ``onnx`` knows is an
:class:`OnnxFileError` (a ``ValueError``) naming the file, before ONNX Runtime sees it.

``onnx``, ``onnxscript`` and ``onnxruntime`` are imported lazily (the ``onnx`` extra).

Example:
    >>> import tempfile, pathlib
    >>> from torch_ref.deep import DeepNetwork
    >>> net = DeepNetwork([4, 5, 3], "relu", "softmax", dtype=torch.float64)
    >>> path = export_onnx(net, torch.zeros(2, 4, dtype=torch.float64),
    ...                    pathlib.Path(tempfile.mkdtemp()) / "net.onnx", method="predict_proba")
    >>> model = OnnxModel(path)
    >>> model.input_shape, model(np.ones((6, 4))).shape
    (('batch', 4), (6, 3))
"""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

OPSET = 18
"""The ONNX (``ai.onnx``) opset every export targets."""
BATCH = "batch"
"""The name of the dynamic first dimension in exported graphs."""

_ONNX_TYPES = {
    "tensor(double)": np.dtype(np.float64),
    "tensor(float)": np.dtype(np.float32),
    "tensor(float16)": np.dtype(np.float16),
}


class OnnxFileError(ValueError):
    """An ``.onnx`` file that cannot be served: not ONNX, truncated, an unsupported opset, or a
    graph ONNX Runtime refuses. The message names the file and the reason."""


def _need(package: str) -> Any:
    import importlib

    try:
        return importlib.import_module(package)
    except ImportError:
        raise ImportError(
            f"{package} is not installed: pip install 'dlparity[onnx]' (onnx, onnxscript, onnxruntime)"
        ) from None


class MethodModule(nn.Module):
    """``module.<method>`` as a module's ``forward``, so that it can be exported."""

    def __init__(self, module: nn.Module, method: str) -> None:
        super().__init__()
        if not callable(getattr(module, method, None)):
            raise ValueError(f"method: {type(module).__name__} has no method {method!r}")
        self.module, self.method = module, method

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self.module, self.method)(x)


def export_onnx(
    module: nn.Module,
    example: torch.Tensor,
    path: str | os.PathLike,
    method: str = "forward",
    opset: int = OPSET,
) -> Path:
    """Export ``module.<method>`` on batches like ``example (m, n_x)`` to the ONNX file ``path``.

    The batch dimension is dynamic (:data:`BATCH`), so ``example`` needs ``m >= 2`` (an example
    batch of 1 would be specialized by ``torch.export``). Input ``"x"``, output ``"y"``; the
    weights are stored in the file. Returns ``path``.
    """
    _need("onnxscript")
    if not isinstance(example, torch.Tensor) or example.ndim < 1 or example.shape[0] < 2:
        shape = tuple(example.shape) if isinstance(example, torch.Tensor) else type(example).__name__
        raise ValueError(
            f"example: expected a batch-first tensor with m >= 2 examples (the batch "
            f"dimension is exported as dynamic), got {shape}"
        )
    wrapped = module if method == "forward" else MethodModule(module, method)
    cpu = copy.deepcopy(wrapped).to("cpu").eval()
    x = example.detach().to("cpu")
    dynamic = ({0: torch.export.Dim(BATCH, min=1)},)
    with warnings.catch_warnings():  # raised inside torch.export's pytree (torch 2.13), not here
        warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
        program = torch.onnx.export(
            cpu,
            (x,),
            dynamo=True,
            dynamic_shapes=dynamic,
            opset_version=opset,
            input_names=["x"],
            output_names=["y"],
            verbose=False,
        )
    path = Path(path)
    program.save(str(path), external_data=False)
    return path


class OnnxModel:
    """An exported model in an ``onnxruntime.InferenceSession`` (CPU execution provider).

    Args:
        path: the ``.onnx`` file.
        threads: ONNX Runtime's intra-op threads (default: its own choice).
        allow_nonfinite: serve inputs holding NaN/±Inf instead of refusing them.

    Calling it with a batch-first array ``(m, n_x)`` of the input's dtype returns the first
    output as a NumPy array; the shape, dtype and finiteness are checked against the graph's
    input. A file that cannot be served raises :class:`OnnxFileError` naming it.
    """

    def __init__(
        self, path: str | os.PathLike, threads: int | None = None, allow_nonfinite: bool = False
    ) -> None:
        ort = _need("onnxruntime")
        self.path = Path(path)
        self.allow_nonfinite = bool(allow_nonfinite)
        if not self.path.is_file():
            raise FileNotFoundError(f"path: no such file {str(self.path)!r}")
        self.opset = self._opset()
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime's InvalidGraph, Fail, NotImplemented, …
            raise self._error(f"ONNX Runtime cannot load its graph ({_first_line(err)})") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise OnnxFileError(f"path: {self.path.name} has {len(inputs)} inputs; expected one batch input")
        self.input_name = inputs[0].name
        self.input_shape = tuple(d if isinstance(d, int) else str(d) for d in inputs[0].shape)
        self.input_dtype = _ONNX_TYPES.get(inputs[0].type)

    def _error(self, reason: str) -> OnnxFileError:
        return OnnxFileError(f"path: {str(self.path)!r} cannot be served: {reason}")

    def _opset(self) -> int:
        """The file's ``ai.onnx`` opset, after checking that it parses as an ONNX model with a
        graph and an opset the installed ``onnx`` supports."""
        onnx = _need("onnx")
        try:
            model = onnx.load(str(self.path), load_external_data=False)
        except Exception as err:  # protobuf's DecodeError and friends
            raise self._error(f"not an ONNX model, or truncated ({_first_line(err)})") from None
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
        if not model.HasField("graph") or opset is None or not model.graph.output:
            raise self._error("not an ONNX model, or truncated (no graph, outputs or ai.onnx opset)")
        newest = onnx.defs.onnx_opset_version()
        if not 1 <= opset <= newest:
            raise self._error(
                f"opset {opset} is not supported (the installed onnx knows 1 to "
                f"{newest}); export with opset={OPSET}"
            )
        return opset

    def check_input(self, X: np.ndarray) -> np.ndarray:
        """``X`` if it matches the graph's input (rank, fixed sizes, dtype), else a clear error."""
        X = np.asarray(X)
        want = "(" + ", ".join(str(d) for d in self.input_shape) + ")"
        fits = X.ndim == len(self.input_shape) and all(
            not isinstance(d, int) or d == s for d, s in zip(self.input_shape, X.shape)
        )
        if not fits:
            hint = ""
            if X.ndim == 2 and len(self.input_shape) == 2 and X.shape[0] == self.input_shape[1]:
                hint = (
                    "; it looks like the course layout (n_x, m): the graph is batch-first, "
                    "pass X.T (torch_ref.layout.columns_to_rows)"
                )
            raise ValueError(
                f"X: expected shape {want} for input {self.input_name!r} of "
                f"{self.path.name}, got {X.shape}{hint}"
            )
        if self.input_dtype is not None and X.dtype != self.input_dtype:
            raise TypeError(
                f"X: expected dtype {self.input_dtype} for input {self.input_name!r} of "
                f"{self.path.name}, got {X.dtype}; the model was exported in "
                f"{self.input_dtype}, cast explicitly"
            )
        if X.shape and X.shape[0] == 0:
            raise ValueError(f"X: empty batch, shape {X.shape}")
        if X.dtype.kind not in "fiub":
            raise TypeError(
                f"X: expected a numeric array for input {self.input_name!r} of "
                f"{self.path.name}, got dtype {X.dtype}"
            )
        if not self.allow_nonfinite and X.dtype.kind == "f" and not np.isfinite(X).all():
            first = tuple(int(i) for i in np.argwhere(~np.isfinite(X))[0])
            raise ValueError(
                f"X: NaN or Inf in input {self.input_name!r} of {self.path.name} (first "
                f"at index {first}: {X[first]}); pass OnnxModel(..., "
                "allow_nonfinite=True) to serve it anyway"
            )
        return np.ascontiguousarray(X)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """The graph's first output for the batch ``X (m, n_x)`` (checked by :meth:`check_input`)."""
        X = self.check_input(X)
        try:
            return self.session.run(None, {self.input_name: X})[0]
        except Exception as err:  # a shape the graph's declared input does not pin down
            raise ValueError(
                f"X: ONNX Runtime refused input {self.input_name!r} of {self.path.name} "
                f"with shape {X.shape} ({_first_line(err)})"
            ) from None

    def __repr__(self) -> str:
        return (
            f"OnnxModel({self.path.name!r}, input {self.input_name!r} {self.input_shape} "
            f"{self.input_dtype}, opset {self.opset})"
        )


def _first_line(err: BaseException) -> str:
    """An exception as ``Type: first line``, ANSI escapes stripped (for messages that name a file)."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", str(err)).strip()
    return f"{type(err).__name__}: {text.splitlines()[0][:200] if text else ''}"


__all__ = ["OPSET", "BATCH", "MethodModule", "export_onnx", "OnnxModel", "OnnxFileError"]
