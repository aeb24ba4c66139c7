"""Production and scale-out: the torch_ref models shipped outside eager torch, proven the same math.

- :mod:`~parity_tests.production.checks` — ONNX Runtime parity (``torch.onnx.export(dynamo=True)``,
  opset 18, dynamic batch) and safetensors files both ways (bitwise), for the models the concept
  modules serve (:func:`parity_tests.registry.register_served`, a declared ``registry.Model``);
  derived and registered under their concepts by :func:`register_production_checks`, a plug-in
  the registry calls by name (:data:`parity_tests.registry.CHECK_PLUGINS`) — the registry
  imports nothing of this package.
- :mod:`~parity_tests.production.ddp` and :mod:`~parity_tests.production.distributed` —
  ``DistributedDataParallel`` training (gloo on CPU, NCCL on CUDA) whose trajectory equals one
  process's and scratch's step by step: :func:`run_distributed_check`, and the report's
  ``--distributed N`` hook (:func:`add_distributed_option`, :func:`distributed_checks`).

The optional packages (``onnx``, ``onnxscript``, ``onnxruntime``, ``safetensors``) are imported
only inside the checks; without them the checks report "unavailable".
"""

from parity_tests.production.distributed import (
    add_distributed_option,
    distributed_checks,
    run_distributed_check,
)
from parity_tests.production.register import register_production_checks

__all__ = [
    "register_production_checks",
    "run_distributed_check",
    "add_distributed_option",
    "distributed_checks",
]
