"""What both forms of the CNN layers share: argument checks, the output size, ``zero_pad`` and
the caches.

Layout (the course's, channels last): images ``A_prev (m, n_H_prev, n_W_prev, n_C_prev)``,
filters ``W (f, f, n_C_prev, n_C)``, bias ``b (1, 1, 1, n_C)``. Every check raises a
``TypeError``/``ValueError`` that names the argument, the expected and the received shape, and
the likely mix-up (torch's channels-first ``NCHW`` images, ``nn.Conv2d``'s ``(out, in, kh, kw)``
weight).

Example:
    >>> import numpy as np
    >>> conv_output_size(7, f=3, stride=2, pad=0), conv_output_size(10, f=3, stride=2, pad=0)
    (3, 4)
    >>> zero_pad(np.ones((1, 2, 3, 1)), 1).shape
    (1, 4, 5, 1)
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from scratch._validate import as_float_array

POOL_MODES = ("max", "avg")


class ConvCache(NamedTuple):
    """What a convolution keeps for its backward; ``cols`` is the vectorized form's im2col
    matrix ``(f·f·n_C_prev, m·n_H·n_W)`` (``None`` from the loop form)."""

    A_prev: np.ndarray
    W: np.ndarray
    b: np.ndarray
    stride: int
    pad: int
    cols: np.ndarray | None = None


class PoolCache(NamedTuple):
    """What a pooling layer keeps; ``argmax`` is the vectorized max pool's winner index
    ``i·f + j`` in each window ``(m, n_H, n_W, n_C)`` (``None`` otherwise)."""

    A_prev: np.ndarray
    f: int
    stride: int
    mode: str
    argmax: np.ndarray | None = None


def check_int(name: str, value: object, minimum: int) -> int:
    """``value`` as an ``int >= minimum``: ``TypeError`` for a non-integer (``f=2.5``, ``True``),
    ``ValueError`` below the minimum (a stride of 0, a negative padding)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        kind = "a positive" if minimum == 1 else "a non-negative"
        raise ValueError(f"{name}: expected {kind} integer, got {value!r}")
    return int(value)


def conv_output_size(n_prev: int, f: int, stride: int = 1, pad: int = 0) -> int:
    """``⌊(n_prev + 2p − f) / s⌋ + 1`` — the course's output size; torch floors too.

    When ``s`` does not divide ``n_prev + 2p − f``, the last ``(n_prev + 2p − f) mod s`` rows
    (columns) of the padded input are never covered by a window: they take no part in the
    output and get a zero gradient.
    """
    return (n_prev + 2 * pad - f) // stride + 1


def check_images(
    name: str, A: object, n_C: int | None = None, dtype: np.dtype | None = None, channels_of: str = "W"
) -> np.ndarray:
    """A float array ``(m, n_H, n_W, n_C)`` with ``m >= 1``; with ``n_C``, its channel count.

    A channels-first array (torch's ``NCHW``) is named as such, with the conversion to use.
    """
    A = as_float_array(name, A, dtype)
    layout = "(m, n_H, n_W, n_C), channels last"
    if A.ndim != 4:
        hint = "; a single image? add the example axis (A[np.newaxis])" if A.ndim == 3 else ""
        raise ValueError(f"{name}: expected 4-D images {layout}, got shape {A.shape}{hint}")
    if n_C is not None and A.shape[3] != n_C:
        if A.shape[1] == n_C:
            raise ValueError(
                f"{name}: expected (m, n_H, n_W, n_C) = (*, *, *, {n_C}) channels last, got "
                f"{A.shape}; it looks channels-first (m, n_C, n_H, n_W), torch's NCHW: convert "
                "with torch_ref.layout.images_to_course"
            )
        raise ValueError(
            f"{channels_of}: has n_C_prev = {n_C} input channels but {name} has "
            f"{A.shape[3]} (its last axis, shape {A.shape}): the filters' channels must match "
            "the input's"
        )
    if A.shape[0] == 0:
        raise ValueError(f"{name}: empty batch (m = 0 examples); shape {A.shape}")
    return A


def check_filters(W: object, b: object) -> tuple[np.ndarray, np.ndarray]:
    """``W (f, f, n_C_prev, n_C)`` square filters and ``b (1, 1, 1, n_C)``, one float dtype."""
    W = as_float_array("W", W)
    if W.ndim != 4 or W.shape[0] != W.shape[1] or W.shape[0] < 1:
        hint = ""
        if W.ndim == 4 and W.shape[2] == W.shape[3]:
            hint = (
                "; it looks like nn.Conv2d.weight (n_C, n_C_prev, f, f): convert with "
                "torch_ref.layout.conv_weight_to_course"
            )
        raise ValueError(f"W: expected square filters (f, f, n_C_prev, n_C), got shape {W.shape}{hint}")
    n_C = W.shape[3]
    b = as_float_array("b", b, W.dtype)
    if b.shape != (1, 1, 1, n_C):
        raise ValueError(
            f"b: expected shape (1, 1, 1, n_C) = (1, 1, 1, {n_C}) to match W of shape "
            f"{W.shape}, got {b.shape}" + ("; reshape with b.reshape(1, 1, 1, -1)" if b.size == n_C else "")
        )
    return W, b


def check_window(name: str, f: int, A_shape: tuple[int, ...], pad: int, stride: int) -> tuple[int, int]:
    """The output size ``(n_H, n_W)``; refuses a window larger than the padded input."""
    n_H_prev, n_W_prev = A_shape[1], A_shape[2]
    if f > n_H_prev + 2 * pad or f > n_W_prev + 2 * pad:
        raise ValueError(
            f"{name}: window size f={f} is larger than the padded input (n_H_prev + 2·pad, "
            f"n_W_prev + 2·pad) = ({n_H_prev + 2 * pad}, {n_W_prev + 2 * pad}) of images "
            f"{A_shape} with pad={pad}"
        )
    return conv_output_size(n_H_prev, f, stride, pad), conv_output_size(n_W_prev, f, stride, pad)


def check_conv(
    A_prev: object,
    W: object,
    b: object,
    stride: object,
    pad: object,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int, int, int]:
    """Validate a convolution's operands: ``(A_prev, W, b, stride, pad, n_H, n_W)``."""
    stride, pad = check_int("stride", stride, 1), check_int("pad", pad, 0)
    W, b = check_filters(W, b)
    A_prev = check_images("A_prev", A_prev, W.shape[2], W.dtype)
    n_H, n_W = check_window("W", W.shape[0], A_prev.shape, pad, stride)
    return A_prev, W, b, stride, pad, n_H, n_W


def check_pool(
    A_prev: object,
    f: object,
    stride: object,
    mode: object,
) -> tuple[np.ndarray, int, int, str, int, int]:
    """Validate a pooling layer's operands: ``(A_prev, f, stride, mode, n_H, n_W)``."""
    f, stride = check_int("f", f, 1), check_int("stride", stride, 1)
    if mode not in POOL_MODES:
        raise ValueError(f"mode: expected one of {POOL_MODES}, got {mode!r}")
    A_prev = check_images("A_prev", A_prev)
    n_H, n_W = check_window("f", f, A_prev.shape, 0, stride)
    return A_prev, f, stride, str(mode), n_H, n_W


def check_upstream(name: str, dZ: object, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """The upstream gradient: the forward output's shape and dtype."""
    dZ = as_float_array(name, dZ, dtype)
    if dZ.shape != shape:
        raise ValueError(
            f"{name}: expected the forward output's shape (m, n_H, n_W, n_C) = {shape}, got {dZ.shape}"
        )
    return dZ


def pad_images(X: np.ndarray, pad: int) -> np.ndarray:
    """``p`` zeros on each side of the height and width axes (no checks; see :func:`zero_pad`)."""
    if pad == 0:
        return X
    m, n_H, n_W, n_C = X.shape
    X_pad = np.zeros((m, n_H + 2 * pad, n_W + 2 * pad, n_C), dtype=X.dtype)
    X_pad[:, pad : pad + n_H, pad : pad + n_W, :] = X  # p zeros above and below, left and right
    return X_pad


def zero_pad(X: np.ndarray, pad: int) -> np.ndarray:
    """``p`` zeros on each side of the height and width axes (top and bottom, left and right):
    ``(m, n_H, n_W, n_C) -> (m, n_H + 2p, n_W + 2p, n_C)``; examples and channels untouched."""
    pad = check_int("pad", pad, 0)
    X = check_images("X", X)
    return pad_images(X, pad) if pad else X.copy()
