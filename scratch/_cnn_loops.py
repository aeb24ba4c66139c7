"""The CNN layers in the course's loop form: over examples ``i``, output positions ``(h, w)`` and
channels ``c``, one window ("slice") at a time — readable, and slow (see :mod:`scratch.cnn` for
the vectorized form and ``benchmarks/conv.py`` for how slow).

For output position ``(h, w)`` the window of the padded input starts at
``vert_start = h·s``, ``horiz_start = w·s`` and is ``f × f`` wide:

    Z[i, h, w, c] = Σ a_slice_prev ⊙ W[:, :, :, c] + b[c]           (cross-correlation)
    dA_prev_pad[i, window] += W[:, :, :, c] · dZ[i, h, w, c]
    dW[:, :, :, c] += a_slice_prev · dZ[i, h, w, c];   db[c] += dZ[i, h, w, c]

Pooling: ``A[i, h, w, c] = max`` (or ``mean``) of the window; backward sends ``dA[i, h, w, c]``
to the window's maximum (:func:`create_mask_from_window`) or spreads it evenly
(:func:`distribute_value`).

Example:
    >>> import numpy as np
    >>> x = np.array([[1.0, 3.0], [3.0, 2.0]])
    >>> create_mask_from_window(x)  # ties: only the first maximum in row-major order
    array([[False,  True],
           [False, False]])
    >>> distribute_value(2.0, (2, 2))
    array([[0.5, 0.5],
           [0.5, 0.5]])
"""

from __future__ import annotations

import numpy as np

from scratch._cnn_common import (
    ConvCache,
    PoolCache,
    check_conv,
    check_pool,
    check_upstream,
    pad_images,
)


def conv_single_step(a_slice_prev: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.floating:
    """One filter on one window: ``Σ a_slice_prev ⊙ W + b`` — ``(f, f, n_C_prev)`` each, ``b``
    of size 1. No kernel flip: this is cross-correlation, which the course (and torch) call
    convolution."""
    return np.sum(a_slice_prev * W) + b.reshape(())


def conv_forward_loop(
    A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0
) -> tuple[np.ndarray, ConvCache]:
    """The course's ``conv_forward``: ``Z (m, n_H, n_W, n_C)`` and the cache."""
    A_prev, W, b, stride, pad, n_H, n_W = check_conv(A_prev, W, b, stride, pad)
    m, f, n_C = A_prev.shape[0], W.shape[0], W.shape[3]
    Z = np.zeros((m, n_H, n_W, n_C), dtype=W.dtype)
    A_prev_pad = pad_images(A_prev, pad)  # (m, n_H_prev + 2p, n_W_prev + 2p, n_C_prev)
    for i in range(m):
        a_prev_pad = A_prev_pad[i]
        for h in range(n_H):
            vert_start = h * stride
            vert_end = vert_start + f
            for w in range(n_W):
                horiz_start = w * stride
                horiz_end = horiz_start + f
                a_slice_prev = a_prev_pad[vert_start:vert_end, horiz_start:horiz_end, :]
                for c in range(n_C):
                    Z[i, h, w, c] = conv_single_step(a_slice_prev, W[:, :, :, c], b[:, :, :, c])
    return Z, ConvCache(A_prev, W, b, stride, pad)


def conv_backward_loop(dZ: np.ndarray, cache: ConvCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The course's ``conv_backward``: ``dA_prev``, ``dW``, ``db`` from ``dZ (m, n_H, n_W, n_C)``.

    Sums over examples with no ``1/m`` (as the course): pass ``dZ = ∂J/∂Z`` to get ``∂J/∂W``.
    """
    A_prev, W, b, stride, pad = cache[:5]
    m, n_H_prev, n_W_prev, _ = A_prev.shape
    f, n_C = W.shape[0], W.shape[3]
    n_H, n_W = (n_H_prev + 2 * pad - f) // stride + 1, (n_W_prev + 2 * pad - f) // stride + 1
    dZ = check_upstream("dZ", dZ, (m, n_H, n_W, n_C), W.dtype)
    dW, db = np.zeros_like(W), np.zeros_like(b)
    A_prev_pad = pad_images(A_prev, pad)
    dA_prev_pad = np.zeros_like(A_prev_pad)
    for i in range(m):
        a_prev_pad, da_prev_pad = A_prev_pad[i], dA_prev_pad[i]
        for h in range(n_H):
            vert_start = h * stride
            vert_end = vert_start + f
            for w in range(n_W):
                horiz_start = w * stride
                horiz_end = horiz_start + f
                window = (slice(vert_start, vert_end), slice(horiz_start, horiz_end))
                a_slice = a_prev_pad[window]  # (f, f, n_C_prev)
                for c in range(n_C):
                    da_prev_pad[window] += W[:, :, :, c] * dZ[i, h, w, c]
                    dW[:, :, :, c] += a_slice * dZ[i, h, w, c]
                    db[:, :, :, c] += dZ[i, h, w, c]
    dA_prev = dA_prev_pad[:, pad : pad + n_H_prev, pad : pad + n_W_prev, :]  # drop the padding
    return np.ascontiguousarray(dA_prev), dW, db


def pool_forward_loop(
    A_prev: np.ndarray, f: int, stride: int, mode: str = "max"
) -> tuple[np.ndarray, PoolCache]:
    """The course's ``pool_forward``: ``A (m, n_H, n_W, n_C)``, each entry the max (``"max"``)
    or mean (``"avg"``) of its ``f × f`` window, channel by channel; no padding."""
    A_prev, f, stride, mode, n_H, n_W = check_pool(A_prev, f, stride, mode)
    m, n_C = A_prev.shape[0], A_prev.shape[3]
    A = np.zeros((m, n_H, n_W, n_C), dtype=A_prev.dtype)
    for i in range(m):
        for h in range(n_H):
            vert_start = h * stride
            for w in range(n_W):
                horiz_start = w * stride
                for c in range(n_C):
                    a_prev_slice = A_prev[i, vert_start : vert_start + f, horiz_start : horiz_start + f, c]
                    A[i, h, w, c] = np.max(a_prev_slice) if mode == "max" else np.mean(a_prev_slice)
    return A, PoolCache(A_prev, f, stride, mode)


def create_mask_from_window(x: np.ndarray) -> np.ndarray:
    """``True`` at the window's maximum — exactly one entry: the *first* maximum in row-major
    order (top row first, left to right), which is the one torch's max pooling picks (its CPU
    and CUDA kernels keep the first value that is strictly greater). The course's
    ``x == np.max(x)`` would send the gradient to every tied maximum, and then it no longer
    sums to ``dA``."""
    mask = np.zeros(x.shape, dtype=bool)
    mask[np.unravel_index(np.argmax(x), x.shape)] = True
    return mask


def distribute_value(dz: float, shape: tuple[int, int]) -> np.ndarray:
    """``dz`` spread evenly over an ``(n_H, n_W)`` window: every entry ``dz / (n_H · n_W)``."""
    n_H, n_W = shape
    return np.full(shape, dz / (n_H * n_W))


def pool_backward_loop(dA: np.ndarray, cache: PoolCache) -> np.ndarray:
    """The course's ``pool_backward``: ``dA_prev (m, n_H_prev, n_W_prev, n_C)``; overlapping
    windows (``s < f``) add up."""
    A_prev, f, stride, mode = cache[:4]
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    n_H, n_W = (n_H_prev - f) // stride + 1, (n_W_prev - f) // stride + 1
    dA = check_upstream("dA", dA, (m, n_H, n_W, n_C), A_prev.dtype)
    dA_prev = np.zeros_like(A_prev)
    for i in range(m):
        for h in range(n_H):
            vert_start = h * stride
            for w in range(n_W):
                horiz_start = w * stride
                window = (i, slice(vert_start, vert_start + f), slice(horiz_start, horiz_start + f))
                for c in range(n_C):
                    if mode == "max":
                        mask = create_mask_from_window(A_prev[(*window, c)])
                        dA_prev[(*window, c)] += mask * dA[i, h, w, c]
                    else:
                        dA_prev[(*window, c)] += distribute_value(dA[i, h, w, c], (f, f)).astype(dA.dtype)
    return dA_prev
