"""Constructor-argument checks shared by the torch_ref modules (errors name the argument)."""

from __future__ import annotations

import numbers


def check_size(**sizes: int) -> None:
    """Raise unless every keyword is a positive integer: ``check_size(n_x=n_x, n_h=n_h)``."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
