"""Shared pieces of the ``rnn`` parity checks: sizes, inputs, torch functions of course params,
and the sequence model's declaration (:func:`sequence_model`).

On CUDA the torch side runs torch's own RNN kernels (cuDNN off, :func:`native_kernels`), held
to the policy like every CUDA check; cuDNN's float32 kernels are less accurate than that and
are checked on their own (``cudnn.py``, the policy's "kernels" paragraph).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache, partial

import numpy as np
import torch
from torch.func import functional_call
from torch.nn import functional as F

from parity_tests.devices import cudnn_enabled
from parity_tests.registry import Model
from scratch import rnn as S
from torch_ref import rnn as T
from torch_ref.layout import COLUMNS, Layout, sequence_to_course, sequence_to_torch

try:
    from torch_ref.layout import SEQUENCE
except ImportError:  # the constant is being added to layout.py; the functions are there
    SEQUENCE = Layout("sequence", sequence_to_torch, sequence_to_course)

N_X, N_A, M, T_X, N_Y = 3, 4, 5, 6, 2  # pairwise distinct: Wax (4, 3), W· (4, 7), x (3, 5, 6)


def native_kernels():
    """The block runs torch's own CUDA RNN kernels, not cuDNN's (no effect on the CPU)."""
    return cudnn_enabled(False)


def core_names(cell: str) -> tuple[str, ...]:
    """The recurrent layer's course parameter names."""
    return ("Wax", "Waa", "ba") if cell == "rnn" else tuple(f"{k}{g}" for g in S.GATES for k in "Wb")


def all_names(cell: str) -> tuple[str, ...]:
    return core_names(cell) + S.HEAD[cell]


def make_inputs(cell: str, labels: str | None = None, T_x: int = T_X, scale: float = 1.0):
    """``make_inputs(rng)``: parameters (Xavier × ``scale``, biases random), ``x``, ``a0``
    (``c0``), and one-hot ``Y`` per step (``labels="steps"``) or per sequence (``"last"``)."""

    def make(rng: np.random.Generator) -> dict[str, np.ndarray]:
        p = S.initialize_parameters(N_X, N_A, N_Y, cell, rng)
        out = {
            k: v * scale if k.startswith("W") else rng.standard_normal(v.shape) * 0.5 for k, v in p.items()
        }
        if labels is None:
            out = {k: out[k] for k in core_names(cell)}
            out["a0"] = rng.standard_normal((N_A, M)) * 0.5
            if cell == "lstm":
                out["c0"] = rng.standard_normal((N_A, M)) * 0.5
        out["x"] = rng.standard_normal((N_X, M, T_x))
        if labels == "steps":
            out["Y"] = np.eye(N_Y)[:, rng.integers(0, N_Y, (M, T_x))]  # (n_y, m, T_x)
        elif labels == "last":
            out["Y"] = np.eye(N_Y)[:, rng.integers(0, N_Y, M)]  # (n_y, m)
        return out

    return make


def layer_layouts(cell: str) -> dict[str, Layout]:
    states = {"a0": T.STATE, "c0": T.STATE} if cell == "lstm" else {"a0": T.STATE}
    return {"x": SEQUENCE, **states}


def _sd(cell: str, params: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return T.course_to_torch({k: params[k] for k in all_names(cell) if k in params}, cell)


def _rnn_only(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k.removeprefix("rnn."): v for k, v in sd.items() if k.startswith("rnn.")}


@cache
def _skeleton(cell: str, n_x: int, n_a: int) -> torch.nn.Module:
    """:class:`~torch_ref.rnn.SequenceModel`'s ``nn.RNN``/``nn.LSTM`` on ``meta`` (every
    parameter is passed to ``functional_call``), one per process and size."""
    return T.SequenceModel(n_x, n_a, N_Y, cell, device="meta").rnn


def torch_layer(cell: str, output: str = "a", n_x: int = N_X, n_a: int = N_A, cudnn: bool = False):
    """``fn(x, a0[, c0], **course params)`` running ``nn.RNN``/``nn.LSTM`` itself on the params
    converted by :func:`torch_ref.rnn.course_to_torch`; returns the output sequence
    ``(T_x, m, n_a)`` (``output="a"``) or all forward quantities (``"all"``). On CUDA it runs
    torch's own kernels, or cuDNN's with ``cudnn=True``. The layer is built when ``fn`` first
    runs (:func:`_skeleton`), not when a check is registered."""

    def fn(x, a0, c0=None, **params):
        with cudnn_enabled(cudnn):
            return _run(x, a0, c0, params)

    def _run(x, a0, c0, params):
        module = _skeleton(cell, n_x, n_a)
        sd = _rnn_only(_sd(cell, params))
        state = (a0, c0) if cell == "lstm" else a0
        out, final = functional_call(module, sd, (x, state))
        if output == "a":
            return out
        result = {"a": out}
        if cell == "lstm":
            result["a_last"], result["c_last"] = final
            cs = []
            for t in range(x.shape[0]):  # the cell state of every step: one step at a time
                _, state = functional_call(module, sd, (x[t : t + 1], state))
                cs.append(state[1][0])
            result["c"] = torch.stack(cs)  # (T_x, m, n_a)
        else:
            result["a_last"] = final
        return result

    return fn


def sequence_cost(logits: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``logits`` against one-hot ``Y`` of the same shape (``(m, n_y)`` or
    ``(T_x, m, n_y)``): ``nn.CrossEntropyLoss`` (mean) over every prediction."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Y.reshape(-1, Y.shape[-1]))


def sequence_model(
    cell: str, n_x: int = N_X, n_a: int = N_A, n_y: int = N_Y, many_to_one: bool = False
) -> Model:
    """The course's sequence model of ``cell`` declared once (:class:`~parity_tests.registry.Model`):
    scratch ``propagate``/``predict_proba`` vs :class:`~torch_ref.rnn.SequenceModel` through its
    :class:`~torch_ref.rnn.CourseConverter`, on torch's own RNN kernels (:func:`native_kernels`).
    ``many_to_one``: one label per sequence, ``Y (n_y, m)``, from the last hidden state; else one
    per step, ``Y (n_y, m, T_x)``."""
    return Model(
        propagate=partial(S.propagate, cell=cell),
        forward=partial(S.predict_proba, cell=cell, last_only=many_to_one),
        make_module=partial(T.SequenceModel, n_x, n_a, n_y, cell, many_to_one),
        param_spec=T.CourseConverter(cell),
        torch_cost=sequence_cost,
        output_method="predict_proba",
        x_name="x",
        x_layout=SEQUENCE,
        y_layout=COLUMNS if many_to_one else SEQUENCE,
        output_layout=COLUMNS if many_to_one else SEQUENCE,
        torch_context=native_kernels,
    )
