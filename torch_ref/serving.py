"""A torch_ref model outside eager torch — the public names: ONNX export and ONNX Runtime, and
weights in ``.safetensors`` files in either layout.

ONNX (implementation and rules in ``torch_ref._onnx``):

- :func:`export_onnx` — ``torch.onnx.export(dynamo=True)`` at opset :data:`OPSET` with a dynamic
  first dimension (:data:`BATCH`), any method served (``predict_proba``, ``forward``) through
  :class:`MethodModule`;
- :class:`OnnxModel` — the file run in ``onnxruntime`` on a batch-first NumPy array, its input
  checked first; a file that is not ONNX, truncated or of an unknown opset is an
  :class:`OnnxFileError` (a ``ValueError``).

``.safetensors`` files (implementation and rules in ``torch_ref._safetensors``):

- :func:`save_state_dict_file` / :func:`load_state_dict_file` — a module's ``state_dict``
  (layout ``"torch"``);
- :func:`save_scratch_file` / :func:`load_scratch_file` — scratch parameters (layout
  ``"course"``, as ``scratch.safetensors_io.save_params`` writes them) through the module's
  ``ParamSpec``; nothing is cast on load;
- :func:`load_pt_state_dict` — a legacy ``.pt`` file, with ``torch.load(weights_only=True)`` only;
  :func:`check_against` — a ``state_dict`` held to a module's own.

``onnx``, ``onnxscript``, ``onnxruntime`` and ``safetensors`` are imported lazily (the ``onnx``
extra).
"""

from torch_ref._onnx import BATCH, OPSET, MethodModule, OnnxFileError, OnnxModel, export_onnx
from torch_ref._safetensors import (
    LAYOUT_KEY,
    check_against,
    load_pt_state_dict,
    load_scratch_file,
    load_state_dict_file,
    save_scratch_file,
    save_state_dict_file,
)

__all__ = [
    "OPSET",
    "BATCH",
    "MethodModule",
    "export_onnx",
    "OnnxModel",
    "OnnxFileError",
    "LAYOUT_KEY",
    "save_state_dict_file",
    "load_state_dict_file",
    "save_scratch_file",
    "load_scratch_file",
    "load_pt_state_dict",
    "check_against",
]
