"""cuDNN's RNN kernels against the course's math (CUDA only).

Every other ``rnn`` check runs torch's own CUDA kernels on a GPU and holds them to the policy.
On a GPU, ``nn.RNN``/``nn.LSTM`` run cuDNN's fused kernels by default, and in float32 those are
measurably less accurate than IEEE arithmetic (the policy's "kernels" paragraph has the
numbers). These checks run the layer exactly as a user's GPU runs it — cuDNN on, TF32 off,
deterministic — against the scratch layer: the hidden (and cell) states at every step, and
backprop through time from a random upstream gradient. They are the layer's own forward and
BPTT declarations (:mod:`.checks`) with the torch side on cuDNN, declared with
``kernel="cudnn-rnn"``: the registry holds them to
:func:`~parity_tests.tolerances.kernel_tolerance` ``("cudnn-rnn", …)`` (in float64 the policy's
own tolerance) and reports them unavailable on a torch build without cuDNN.
"""

from __future__ import annotations

from parity_tests.registry import register_forward, register_gradient
from scratch import rnn as S

from .checks import LAYER_OUTPUTS, bptt_wrt, layer_forward, layer_vjp
from .common import SEQUENCE, layer_layouts, make_inputs, torch_layer

for _cell in S.CELLS:
    register_forward(
        "rnn",
        f"{_cell}-cudnn",
        layer_forward(_cell),
        torch_layer(_cell, "all", cudnn=True),
        make_inputs(_cell),
        kernel="cudnn-rnn",
        cuda_only=True,
        layouts=layer_layouts(_cell),
        output_layout=LAYER_OUTPUTS,
    )
    register_gradient(
        "rnn",
        f"{_cell}-cudnn",
        layer_vjp(_cell),
        torch_layer(_cell, cudnn=True),
        make_inputs(_cell),
        wrt=bptt_wrt(_cell),
        kernel="cudnn-rnn",
        cuda_only=True,
        layouts=layer_layouts(_cell),
        output_layout=SEQUENCE,
        vjp=True,
    )
