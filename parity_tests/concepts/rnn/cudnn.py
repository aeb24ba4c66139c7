"""cuDNN's RNN kernels against the course's math (CUDA only).

Every other ``rnn`` check runs torch's own CUDA kernels on a GPU and holds them to the policy.
On a GPU, ``nn.RNN``/``nn.LSTM`` run cuDNN's fused kernels by default, and in float32 those are
measurably less accurate than IEEE arithmetic (the policy's "kernels" paragraph has the
numbers). These checks run the layer exactly as a user's GPU runs it — cuDNN on, TF32 off,
deterministic — against the scratch layer: the hidden (and cell) states at every step, and
backprop through time from a random upstream gradient, at
:func:`~parity_tests.tolerances.kernel_tolerance` ``("cudnn-rnn", …)``. In float64 that is
the policy's own tolerance.
"""

from __future__ import annotations

import numpy as np
import torch

from parity_tests.api import check_forward, check_gradients
from parity_tests.compare import CheckResult
from parity_tests.registry import CheckUnavailable, ParityCheck, register, seed_for
from parity_tests.tolerances import kernel_tolerance
from scratch import rnn as S

from .checks import LAYER_OUTPUTS, bptt_wrt, layer_forward, layer_vjp
from .common import SEQUENCE, layer_layouts, make_inputs, torch_layer


def _require_cudnn(device: str) -> None:
    if device.startswith("cuda") and not torch.backends.cudnn.is_available():
        raise CheckUnavailable("this torch build has no cuDNN")


def cudnn_forward(cell: str):
    def run(device: str, dtype: str) -> CheckResult:
        _require_cudnn(device)
        case = f"{cell}-cudnn"
        inputs = make_inputs(cell)(np.random.default_rng(seed_for("rnn", case)))
        return check_forward(
            layer_forward(cell),
            torch_layer(cell, "all", cudnn=True),
            inputs,
            layouts=layer_layouts(cell),
            output_layout=LAYER_OUTPUTS,
            device=device,
            dtype=dtype,
            concept="rnn",
            case=case,
            tol=kernel_tolerance("cudnn-rnn", dtype, "forward"),
        )

    return run


def cudnn_gradient(cell: str):
    def run(device: str, dtype: str) -> CheckResult:
        _require_cudnn(device)
        case = f"{cell}-cudnn"
        inputs = make_inputs(cell)(np.random.default_rng(seed_for("rnn", case)))
        return check_gradients(
            layer_vjp(cell),
            torch_layer(cell, cudnn=True),
            inputs,
            bptt_wrt(cell),
            layouts=layer_layouts(cell),
            output_layout=SEQUENCE,
            device=device,
            dtype=dtype,
            seed=seed_for("rnn", case, "G"),
            vjp=True,
            concept="rnn",
            case=case,
            tol=kernel_tolerance("cudnn-rnn", dtype, "gradient"),
        )

    return run


for _cell in S.CELLS:
    register(ParityCheck("rnn", f"{_cell}-cudnn", "forward", cudnn_forward(_cell), cuda_only=True))
    register(ParityCheck("rnn", f"{_cell}-cudnn", "gradient", cudnn_gradient(_cell), cuda_only=True))
