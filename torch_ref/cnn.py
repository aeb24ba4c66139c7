"""Convolutional networks in torch: ``nn.Conv2d``, ``nn.MaxPool2d``/``nn.AvgPool2d`` and
:class:`ConvNet`, batch-first and channels-first (``NCHW``).

The course's layout converts through :mod:`torch_ref.layout`: images ``(m, n_H, n_W, n_C)``
are :data:`~torch_ref.layout.IMAGES` ``(m, C, H, W)``, filters ``W (f, f, n_C_prev, n_C)``
are :data:`~torch_ref.layout.CONV_WEIGHT` ``(out, in, kh, kw)``, ``b (1, 1, 1, n_C)`` is
:data:`~torch_ref.layout.CONV_BIAS` ``(n_C,)``. One more conversion is the dense layer's weight
after flattening: the course flattens each example in ``(h, w, c)`` order, ``nn.Flatten`` on
``NCHW`` in ``(c, h, w)`` order, so ``W3``'s columns are permuted
(:func:`flatten_weight_layout`) — the trap of porting Keras weights to torch.

Example:
    >>> net = ConvNet((8, 8, 1), (4, 6), n_y=3, dtype=torch.float64)
    >>> net(torch.zeros(5, 1, 8, 8, dtype=torch.float64)).shape, net.flat_shape
    (torch.Size([5, 3]), (2, 2, 6))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from torch_ref._validate import check_size
from torch_ref.init import INITIALIZERS, check_initializer
from torch_ref.layout import (
    BIAS,
    CONV_BIAS,
    CONV_WEIGHT,
    IMAGES,
    FromScratch,
    Layout,
    ParamSpec,
    check_param_arrays,
    load_scratch_params,
    scratch_dtype,
)

__all__ = ["CONV_SPEC", "IMAGES", "ConvNet", "flatten_weight_layout", "make_pool", "param_spec"]

POOL_MODES = ("max", "avg")

CONV_SPEC: ParamSpec = {"W": ("weight", CONV_WEIGHT), "b": ("bias", CONV_BIAS)}
"""One ``nn.Conv2d``: course ``W (f, f, n_C_prev, n_C)`` is ``weight (out, in, kh, kw)``,
``b (1, 1, 1, n_C)`` is ``bias (n_C,)``."""


def flatten_weight_layout(flat_shape: tuple[int, int, int]) -> Layout:
    """The dense weight after a flatten: course ``W (n_y, n_H·n_W·n_C)`` with columns in
    ``(h, w, c)`` order <-> ``nn.Linear.weight (n_y, C·H·W)`` in ``(c, h, w)`` order."""
    n_H, n_W, n_C = flat_shape

    def to_torch(W: np.ndarray) -> np.ndarray:
        W = np.asarray(W)
        if W.ndim != 2 or W.shape[1] != n_H * n_W * n_C:
            raise ValueError(f"W: expected (n_y, n_H·n_W·n_C) = (*, {n_H * n_W * n_C}), got {W.shape}")
        return np.ascontiguousarray(W.reshape(-1, n_H, n_W, n_C).transpose(0, 3, 1, 2).reshape(W.shape))

    def to_course(weight: np.ndarray) -> np.ndarray:
        weight = np.asarray(weight)
        if weight.ndim != 2 or weight.shape[1] != n_H * n_W * n_C:
            raise ValueError(f"weight: expected (n_y, C·H·W) = (*, {n_H * n_W * n_C}), got {weight.shape}")
        return np.ascontiguousarray(
            weight.reshape(-1, n_C, n_H, n_W).transpose(0, 2, 3, 1).reshape(weight.shape)
        )

    return Layout(f"flatten-weight{tuple(flat_shape)}", to_torch, to_course)


def param_spec(flat_shape: tuple[int, int, int]) -> ParamSpec:
    """:class:`ConvNet`'s spec: ``W1, b1 -> conv1``, ``W2, b2 -> conv2``, ``W3 -> fc.weight``
    (columns permuted, see :func:`flatten_weight_layout`), ``b3 (n_y, 1) -> fc.bias``."""
    return {
        "W1": ("conv1.weight", CONV_WEIGHT),
        "b1": ("conv1.bias", CONV_BIAS),
        "W2": ("conv2.weight", CONV_WEIGHT),
        "b2": ("conv2.bias", CONV_BIAS),
        "W3": ("fc.weight", flatten_weight_layout(flat_shape)),
        "b3": ("fc.bias", BIAS),
    }


def make_pool(mode: str, f: int, stride: int) -> nn.Module:
    """``nn.MaxPool2d(f, stride)`` or ``nn.AvgPool2d(f, stride)`` (no padding, floor mode).

    Max pooling's gradient goes to the first maximum of a window in row-major order."""
    if mode not in POOL_MODES:
        raise ValueError(f"mode: expected one of {POOL_MODES}, got {mode!r}")
    check_size(f=f, stride=stride)
    return nn.MaxPool2d(f, stride) if mode == "max" else nn.AvgPool2d(f, stride)


def _out(n: int, f: int, stride: int, pad: int = 0) -> int:
    return (n + 2 * pad - f) // stride + 1  # ⌊(n + 2p − f)/s⌋ + 1, as nn.Conv2d and the pools


class ConvNet(FromScratch, nn.Module):
    """``conv → ReLU → pool → conv → ReLU → pool → flatten → linear``; :meth:`forward` returns
    the logits, :meth:`predict_proba` their softmax. Train with ``nn.CrossEntropyLoss``.

    Args:
        input_shape: ``(n_H, n_W, n_C)`` of one image (the course's order).
        channels: filters of the two convolutions ``(n_C1, n_C2)``.
        f, stride, pad: both convolutions' filter size, stride and zero padding.
        pool_f, pool_stride, pool_mode: both pooling layers (``"max"`` or ``"avg"``).
        n_y: classes.
        initializer: ``"he"`` (``kaiming_normal_``, fan-in), ``"xavier"``, ``"random"``, ``"zeros"``.
        generator: the ``torch.Generator`` :meth:`reset_parameters` draws from.
        device, dtype: where and in which float type the parameters live.

    Shape:
        - Input: ``(m, n_C, n_H, n_W)``.  Output: ``(m, n_y)`` logits.

    Attributes:
        conv1.weight: ``(n_C1, n_C, f, f)`` = ``W1``; conv1.bias: ``(n_C1,)``, zeros.
        conv2.weight: ``(n_C2, n_C1, f, f)`` = ``W2``; conv2.bias: ``(n_C2,)``, zeros.
        fc.weight: ``(n_y, n_C2·H2·W2)`` = ``W3`` (columns permuted); fc.bias: ``(n_y,)``, zeros.
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int] = (8, 8, 1),
        channels: tuple[int, int] = (8, 16),
        f: int = 3,
        stride: int = 1,
        pad: int = 1,
        pool_f: int = 2,
        pool_stride: int = 2,
        pool_mode: str = "max",
        n_y: int = 10,
        initializer: str = "he",
        generator: torch.Generator | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if len(input_shape) != 3 or len(channels) != 2:
            raise ValueError(
                f"input_shape, channels: expected (n_H, n_W, n_C) and (n_C1, n_C2), got "
                f"{input_shape} and {channels}"
            )
        n_H, n_W, n_C = input_shape
        check_size(
            n_H=n_H,
            n_W=n_W,
            n_C=n_C,
            n_C1=channels[0],
            n_C2=channels[1],
            f=f,
            stride=stride,
            pool_f=pool_f,
            pool_stride=pool_stride,
            n_y=n_y,
        )
        if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
            raise ValueError(f"pad: expected a non-negative integer, got {pad!r}")
        factory_kwargs = {"device": device, "dtype": dtype}
        self.input_shape, self.channels = tuple(input_shape), tuple(channels)
        self.f, self.stride, self.pad = f, stride, pad
        self.pool_f, self.pool_stride, self.pool_mode, self.n_y = pool_f, pool_stride, pool_mode, n_y
        self.initializer = check_initializer(initializer)
        self.conv1 = nn.Conv2d(n_C, channels[0], f, stride, pad, **factory_kwargs)
        self.pool1 = make_pool(pool_mode, pool_f, pool_stride)
        self.conv2 = nn.Conv2d(channels[0], channels[1], f, stride, pad, **factory_kwargs)
        self.pool2 = make_pool(pool_mode, pool_f, pool_stride)
        for _ in range(2):
            n_H, n_W = (_out(_out(n, f, stride, pad), pool_f, pool_stride) for n in (n_H, n_W))
        if min(n_H, n_W) < 1:
            raise ValueError(
                f"input_shape: {tuple(input_shape)} is too small for two blocks of f={f}, "
                f"stride={stride}, pad={pad}, pool_f={pool_f}, pool_stride={pool_stride}"
            )
        self.flat_shape = (n_H, n_W, channels[1])
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(math.prod(self.flat_shape), n_y, **factory_kwargs)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Weights by :attr:`initializer` (fan-in of a filter: ``n_C_prev·f·f``), biases zeros."""
        with torch.no_grad():
            for layer in (self.conv1, self.conv2, self.fc):
                INITIALIZERS[self.initializer](layer.weight, generator)
                nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n_C = self.input_shape[2]
        if x.ndim != 4 or x.shape[1] != n_C:
            hint = (
                (
                    "; it looks channels-last (the course's (m, n_H, n_W, n_C)): convert with "
                    "torch_ref.layout.images_to_torch"
                )
                if x.ndim == 4 and x.shape[-1] == n_C
                else ""
            )
            raise ValueError(f"x: expected (m, C, H, W) = (*, {n_C}, *, *), got {tuple(x.shape)}{hint}")
        a = self.pool1(F.relu(self.conv1(x)))  # (m, n_C1, H1, W1)
        a = self.pool2(F.relu(self.conv2(a)))  # (m, n_C2, H2, W2)
        return self.fc(self.flatten(a))  # (m, n_y) logits

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """``softmax`` of the logits over the classes, ``(m, n_y)``."""
        return torch.softmax(self(x), dim=1)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Class labels ``argmax_k z`` as ``(m,)`` int64."""
        return self(x).argmax(dim=1)

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy from the logits; ``y`` one-hot rows ``(m, n_y)`` or indices ``(m,)``."""
        return F.cross_entropy(self(x), y)

    @property
    def param_spec(self) -> ParamSpec:
        return param_spec(self.flat_shape)

    def extra_repr(self) -> str:
        return (
            f"input_shape={self.input_shape}, channels={self.channels}, f={self.f}, "
            f"stride={self.stride}, pad={self.pad}, pool_f={self.pool_f}, "
            f"pool_stride={self.pool_stride}, pool_mode={self.pool_mode!r}, n_y={self.n_y}, "
            f"initializer={self.initializer!r}"
        )

    @classmethod
    def from_config(
        cls,
        config: Any,
        generator: torch.Generator | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> "ConvNet":
        """Build from a ``scratch.cnn.ConvNetConfig`` or a dict with its field names."""
        get = _getter(config)
        names = (
            "input_shape",
            "channels",
            "f",
            "stride",
            "pad",
            "pool_f",
            "pool_stride",
            "pool_mode",
            "n_y",
            "initializer",
        )
        return cls(**{k: get(k) for k in names}, generator=generator, device=device, dtype=dtype)

    @classmethod
    def from_scratch(
        cls,
        params: Mapping[str, np.ndarray],
        config: Any,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        allow_nonfinite: bool = False,
    ) -> "ConvNet":
        """A network of ``config`` holding scratch ``{"W1", "b1", …, "W3", "b3"}`` (dtype taken
        from them unless given); the arrays are checked as in ``FromScratch.from_scratch``."""
        params = check_param_arrays(params, allow_nonfinite=allow_nonfinite)
        net = cls.from_config(config, device=device, dtype=scratch_dtype(params, dtype))
        return load_scratch_params(net, params, net.param_spec)


def _getter(config: Any) -> Callable[[str], Any]:
    if isinstance(config, Mapping):
        return lambda k: config[k]
    return lambda k: getattr(config, k)
