"""The CNN layers vectorized: no Python loop over examples or output positions.

**im2col.** Every ``f × f × n_C_prev`` window of the padded input becomes one column of a
matrix, so that a single matrix product computes the filters at every position at once:

    cols[(i, j, c), (e, h, w)] = A_prev_pad[e, h·s + i, w·s + j, c]      (f·f·n_C_prev, m·n_H·n_W)
    Z = colsᵀ @ W.reshape(f·f·n_C_prev, n_C) + b                         one GEMM for every position

``cols`` is built with ``f²`` copies, one per *kernel offset* ``(i, j)`` — a strided slice
holding that entry of every window — from a channels-first copy of the input, so each copy moves
long contiguous rows (not ``n_C_prev = 3`` numbers at a time). The backward is two more GEMMs
and the reverse scatter, again one strided slice per kernel offset:

    dW = cols @ dZ            db = Σ_{e,h,w} dZ            dcols = W dZᵀ   (f, f, n_C_prev, m·n_H·n_W)
    dA_prev_pad[:, i : i + s·n_H : s, j : j + s·n_W : s] += dcols[i, j]

Pooling goes through the same ``f²`` window entries of the unpadded input: a running ``max``
(the winner's index kept for the backward, the first maximum in row-major order on ties, as
torch) or a running sum for ``avg``.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> A_prev, W = rng.standard_normal((2, 7, 10, 3)), rng.standard_normal((3, 3, 3, 4))
    >>> b = np.zeros((1, 1, 1, 4))
    >>> Z, cache = conv_forward(A_prev, W, b, stride=2, pad=1)
    >>> Z.shape, [g.shape for g in conv_backward(np.ones_like(Z), cache)]
    ((2, 4, 5, 4), [(2, 7, 10, 3), (3, 3, 3, 4), (1, 1, 1, 4)])
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


def im2col(A_prev_pad: np.ndarray, f: int, stride: int, n_H: int, n_W: int) -> np.ndarray:
    """``cols (f·f·n_C_prev, m·n_H·n_W)``: column ``(e, h, w)`` is the window of example ``e`` at
    output position ``(h, w)``, its rows in ``(i, j, c)`` order — ``W.reshape(-1, n_C)``'s."""
    A_T = np.ascontiguousarray(A_prev_pad.transpose(3, 0, 1, 2))  # (n_C_prev, m, n_H_pad, n_W_pad)
    m, n_C_prev = A_prev_pad.shape[0], A_prev_pad.shape[3]
    cols = np.empty((f, f, n_C_prev, m, n_H, n_W), dtype=A_prev_pad.dtype)
    for i in range(f):  # kernel offsets (f² of them), not positions
        for j in range(f):
            cols[i, j] = A_T[:, :, i : i + stride * n_H : stride, j : j + stride * n_W : stride]
    return cols.reshape(f * f * n_C_prev, m * n_H * n_W)


def conv_forward(
    A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0
) -> tuple[np.ndarray, ConvCache]:
    """``Z = colsᵀ @ W + b``: the convolution (cross-correlation, no kernel flip) of
    ``A_prev (m, n_H_prev, n_W_prev, n_C_prev)`` with ``W (f, f, n_C_prev, n_C)``.

    Returns ``Z (m, n_H, n_W, n_C)``, ``n_H = ⌊(n_H_prev + 2p − f)/s⌋ + 1``, and the cache.
    """
    A_prev, W, b, stride, pad, n_H, n_W = check_conv(A_prev, W, b, stride, pad)
    m, f, n_C = A_prev.shape[0], W.shape[0], W.shape[3]
    A_prev_pad = pad_images(A_prev, pad)  # (m, n_H_prev + 2p, n_W_prev + 2p, n_C_prev)
    cols = im2col(A_prev_pad, f, stride, n_H, n_W)  # (f·f·n_C_prev, m·n_H·n_W)
    Z = cols.T @ W.reshape(-1, n_C)  # (m·n_H·n_W, n_C): every position's window times every filter
    Z_rows = Z.reshape(m * n_H, n_W * n_C)  # a row per image row: n_W positions × n_C channels
    Z_rows += np.tile(b.reshape(n_C), n_W)  # + b at every position (long rows add faster than n_C at a time)
    return Z.reshape(m, n_H, n_W, n_C), ConvCache(A_prev, W, b, stride, pad, cols)


def conv_backward(dZ: np.ndarray, cache: ConvCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``dW = cols dZ``, ``db = Σ dZ`` over examples and positions, ``dA_prev = col2im(W dZᵀ)``.

    ``dZ (m, n_H, n_W, n_C)``; returns ``dA_prev`` (the input's shape), ``dW (f, f, n_C_prev,
    n_C)``, ``db (1, 1, 1, n_C)``. Like the course's ``conv_backward`` the sums over examples
    carry no ``1/m``: with ``dZ = ∂J/∂Z`` they are ``∂J/∂W`` and ``∂J/∂b``.
    """
    A_prev, W, b, stride, pad, cols = cache
    m, n_H_prev, n_W_prev, n_C_prev = A_prev.shape
    f, n_C = W.shape[0], W.shape[3]
    n_H, n_W = (n_H_prev + 2 * pad - f) // stride + 1, (n_W_prev + 2 * pad - f) // stride + 1
    dZ = check_upstream("dZ", dZ, (m, n_H, n_W, n_C), W.dtype)
    if cols is None:  # a cache from the loop form
        cols = im2col(pad_images(A_prev, pad), f, stride, n_H, n_W)
    dZ_rows = dZ.reshape(-1, n_C)  # (m·n_H·n_W, n_C)
    dW = (cols @ dZ_rows).reshape(W.shape)  # (f, f, n_C_prev, n_C)
    db = (np.ones(len(dZ_rows), dtype=W.dtype) @ dZ_rows).reshape(1, 1, 1, n_C)  # Σ over e, h, w
    dcols = (W.reshape(-1, n_C) @ dZ_rows.T).reshape(f, f, n_C_prev, m, n_H, n_W)
    dA_T = np.zeros((n_C_prev, m, n_H_prev + 2 * pad, n_W_prev + 2 * pad), dtype=W.dtype)  # channels first
    for i in range(f):  # kernel offsets (f² of them), not positions
        for j in range(f):
            rows, columns = slice(i, i + stride * n_H, stride), slice(j, j + stride * n_W, stride)
            dA_T[:, :, rows, columns] += dcols[i, j]  # entry (i, j) of every window at once
    dA_prev = np.empty(A_prev.shape, dtype=W.dtype)
    for c in range(n_C_prev):  # channels last again: a copy per channel moves whole rows
        dA_prev[..., c] = dA_T[c, :, pad : pad + n_H_prev, pad : pad + n_W_prev]  # drop the padding
    return dA_prev, dW, db


def window_entries(f: int, stride: int, n_H: int, n_W: int):
    """``(k, index)`` for each window entry ``(i, j)`` in row-major order (``k = i·f + j``):
    ``A[index]`` is that entry of every window at once, ``(m, n_H, n_W, n_C)``."""
    for i in range(f):
        for j in range(f):
            yield i * f + j, np.s_[:, i : i + stride * n_H : stride, j : j + stride * n_W : stride, :]


def pool_forward(A_prev: np.ndarray, f: int, stride: int, mode: str = "max") -> tuple[np.ndarray, PoolCache]:
    """Max or average pooling over ``f × f`` windows with stride ``s`` (no padding), channel by
    channel: ``A (m, n_H, n_W, n_C)``, ``n_H = ⌊(n_H_prev − f)/s⌋ + 1``.

    Goes through the ``f²`` window entries in row-major order, each a strided view of every
    window at once, reading each once. For ``max`` it keeps the index ``k`` of the winner: entry
    ``k`` takes the lead where it is *strictly* greater than the max of entries ``0 … k−1``, so
    on ties the first maximum wins, as in torch.
    """
    A_prev, f, stride, mode, n_H, n_W = check_pool(A_prev, f, stride, mode)
    entries = window_entries(f, stride, n_H, n_W)
    A = A_prev[next(entries)[1]].copy()  # entry (0, 0) of every window, (m, n_H, n_W, n_C)
    if mode == "avg":
        for _, index in entries:
            A += A_prev[index]
        A /= A.dtype.type(f * f)
        return A, PoolCache(A_prev, f, stride, mode)
    argmax = np.zeros(A.shape, dtype=np.intp)  # k of the entry holding each window's max so far
    for k, index in entries:
        entry = A_prev[index]  # entry k of every window, (m, n_H, n_W, n_C)
        leads = entry > A  # strictly: on a tie the earlier entry keeps the lead (torch's rule)
        argmax = np.where(leads, k, argmax)
        A = np.maximum(A, entry)  # the max over entries 0 … k
    return A, PoolCache(A_prev, f, stride, mode, argmax)


def pool_backward(dA: np.ndarray, cache: PoolCache) -> np.ndarray:
    """``dA_prev``: each ``dA[i, h, w, c]`` goes to its window's (first) maximum, or ``1/f²`` of
    it to every entry of the window (``"avg"``); overlapping windows (``s < f``) add up."""
    A_prev, f, stride, mode, argmax = cache
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    n_H, n_W = (n_H_prev - f) // stride + 1, (n_W_prev - f) // stride + 1
    dA = check_upstream("dA", dA, (m, n_H, n_W, n_C), A_prev.dtype)
    if mode == "max" and argmax is None:  # a cache from the loop form
        argmax = pool_forward(A_prev, f, stride, mode)[1].argmax
    share = dA / dA.dtype.type(f * f) if mode == "avg" else None
    tiled = stride == f and n_H * f == n_H_prev and n_W * f == n_W_prev  # every entry in one window
    dA_prev = np.empty_like(A_prev) if tiled else np.zeros_like(A_prev)
    for k, index in window_entries(f, stride, n_H, n_W):  # entry k of every window
        if not tiled:  # overlapping windows (s < f) add up
            dA_prev[index] += share if mode == "avg" else dA * (argmax == k)
        elif mode == "avg":
            dA_prev[index] = share
        else:
            np.multiply(dA, argmax == k, out=dA_prev[index])  # dA where entry k won, else 0
    return dA_prev
