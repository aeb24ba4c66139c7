"""Activations as torch modules and functions, by the same names as ``scratch.activations``.

Derivatives come from autograd; the parity tests compare them with the scratch ``g'``.
Softmax normalizes over the class dimension, which is ``dim=1`` in torch's batch-first layout.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

FUNCTIONS: dict[str, Callable[..., torch.Tensor]] = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": F.leaky_relu,  # negative_slope=0.01 by default, as scratch's slope
}
"""Elementwise activations by name (softmax is :func:`softmax`)."""

MODULES: dict[str, type[nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
}


def softmax(Z: torch.Tensor) -> torch.Tensor:
    """Softmax over classes of batch-first logits ``Z (m, k)``."""
    return torch.softmax(Z, dim=1)


def make_activation(name: str) -> nn.Module:
    """An activation module by name (``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"leaky_relu"``)."""
    try:
        return MODULES[name]()
    except (KeyError, TypeError):
        raise ValueError(f"activation: unknown name {name!r}; expected one of {sorted(MODULES)}") from None
