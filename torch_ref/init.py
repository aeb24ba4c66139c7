"""The course's initializers with ``torch.nn.init``, by the same names as ``scratch.init``.

==========  ==============================================  ==================================
name        weight ``W[l] (n[l], n[l-1])``                   ``nn.init`` call
==========  ==============================================  ==================================
``random``  ``N(0, 0.01²)`` — the notes' ``randn · 0.01``      ``normal_(std=0.01)``
``zeros``   ``0``                                            ``zeros_``
``xavier``  ``N(0, 2 / (n[l-1] + n[l]))``                    ``xavier_normal_``
``he``      ``N(0, 2 / n[l-1])``                             ``kaiming_normal_(fan_in, relu)``
``lecun``   ``N(0, 1 / n[l-1])``                             ``kaiming_normal_(fan_in, linear)``
==========  ==============================================  ==================================

Biases are zeros. Randomness comes only from an explicit ``torch.Generator`` (or torch's default
one when ``generator`` is ``None``, as ``nn.Linear.reset_parameters`` does).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

TensorInit = Callable[[torch.Tensor, "torch.Generator | None"], torch.Tensor]

INITIALIZERS: dict[str, TensorInit] = {
    "random": lambda W, g: nn.init.normal_(W, mean=0.0, std=0.01, generator=g),
    "zeros": lambda W, g: nn.init.zeros_(W),
    "xavier": lambda W, g: nn.init.xavier_normal_(W, gain=1.0, generator=g),
    "he": lambda W, g: nn.init.kaiming_normal_(W, a=0, mode="fan_in", nonlinearity="relu", generator=g),
    "lecun": lambda W, g: nn.init.kaiming_normal_(W, a=0, mode="fan_in", nonlinearity="linear", generator=g),
}
"""Weight initializers by name: ``name -> f(W, generator)`` (in place, returns ``W``)."""


def check_initializer(name: str) -> str:
    """``name`` if it is a known initializer, else ``ValueError`` listing them."""
    if not isinstance(name, str) or name not in INITIALIZERS:
        raise ValueError(f"initializer: unknown name {name!r}; expected one of {sorted(INITIALIZERS)}")
    return name


@torch.no_grad()
def init_linear_(
    linear: nn.Linear, initializer: str = "random", generator: torch.Generator | None = None
) -> nn.Linear:
    """Re-initialize ``linear`` in place: weight by ``initializer``, bias zeros (the notes)."""
    INITIALIZERS[check_initializer(initializer)](linear.weight, generator)
    if linear.bias is not None:
        nn.init.zeros_(linear.bias)
    return linear


def init_weight(
    shape: tuple[int, int],
    initializer: str,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """A fresh weight ``(n[l], n[l-1])`` drawn by ``initializer`` on ``device`` in ``dtype``."""
    W = torch.empty(shape, device=device, dtype=dtype)
    with torch.no_grad():
        return INITIALIZERS[check_initializer(initializer)](W, generator)
