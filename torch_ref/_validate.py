"""Constructor-argument checks shared by the torch_ref modules (errors name the argument)."""

from __future__ import annotations

import numbers


def check_size(**sizes: int) -> None:
    """Raise unless every keyword is a positive integer: ``check_size(n_x=n_x, n_h=n_h)``."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")


def check_batch(X, Y, n_x: int, n_y: int | None = None, binary: bool = False) -> None:
    """A batch-first ``X (m, n_x)`` with ``m >= 1`` and, when ``n_y`` is given, ``Y (m, n_y)``
    (labels in {0, 1} if ``binary``); errors name the argument and both shapes."""
    if X.ndim != 2 or X.shape[1] != n_x:
        raise ValueError(f"X: expected shape (m, n_x) = (*, {n_x}), got {tuple(X.shape)}")
    if X.shape[0] == 0:
        raise ValueError(f"X: empty batch (m = 0 examples); shape {tuple(X.shape)}")
    if n_y is None:
        return
    if tuple(Y.shape) != (X.shape[0], n_y):
        raise ValueError(f"Y: expected shape (m, n_y) = ({X.shape[0]}, {n_y}), got {tuple(Y.shape)}")
    if binary and not bool(((Y == 0) | (Y == 1)).all()):
        raise ValueError("Y: binary labels must be 0 or 1")
