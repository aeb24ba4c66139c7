"""The dense ("deeply connected") layer: ``Z = W A_prev + b``.

Shapes (examples are columns): ``A_prev (n[l-1], m)``, ``W (n[l], n[l-1])``, ``b (n[l], 1)``,
``Z (n[l], m)``.

Gradient convention of the notes: ``dZ`` and ``dA_prev`` are *per-example* gradients (column
``i`` is ``∂L⁽ⁱ⁾/∂z⁽ⁱ⁾``, as in ``dz = A − Y``), while ``dW`` and ``db`` are gradients of the
cost ``J = 1/m Σ L⁽ⁱ⁾`` — hence the ``1/m`` in

    dW = 1/m dZ A_prevᵀ          db = 1/m Σ_i dZ[:, i]          dA_prev = Wᵀ dZ

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> A_prev, W, b = rng.normal(size=(3, 5)), rng.normal(size=(4, 3)), np.zeros((4, 1))
    >>> Z, cache = dense_forward(A_prev, W, b)
    >>> [g.shape for g in dense_backward(np.ones_like(Z), cache)]
    [(3, 5), (4, 3), (4, 1)]
"""

from __future__ import annotations

import numpy as np

from scratch._validate import as_float_array, check_shape

DenseCache = tuple[np.ndarray, np.ndarray, np.ndarray]


def check_layer(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, layer: str = "") -> DenseCache:
    """Validate a layer's operands; return them as float arrays of one dtype (``W``'s).

    ``layer`` (e.g. ``"[2]"``) is put into the argument names so that a deep network's error
    says which layer is wrong: ``A[1] has 4 rows but W[2] has shape (1, 3)``.
    """
    W = as_float_array(f"W{layer}", W)
    check_shape(f"W{layer}", W, (None, None), "(n[l], n[l-1])")
    n, n_prev = W.shape
    b = as_float_array(f"b{layer}", b, W.dtype)
    check_shape(f"b{layer}", b, (n, 1), "(n[l], 1)")
    prev = f"A_prev{layer}" if layer else "A_prev"
    A_prev = as_float_array(prev, A_prev, W.dtype)
    if A_prev.ndim != 2 or A_prev.shape[0] != n_prev:
        raise ValueError(
            f"{prev}: expected shape (n[l-1], m) = ({n_prev}, *) to match W{layer} of shape "
            f"{W.shape}, got {A_prev.shape}"
            + (
                "; it looks batch-first (m, n): convert with torch_ref.layout.rows_to_columns"
                if A_prev.ndim == 2 and A_prev.shape[1] == n_prev
                else ""
            )
        )
    if A_prev.shape[1] == 0:
        raise ValueError(f"{prev}: empty batch (m = 0 examples); shape {A_prev.shape}")
    return A_prev, W, b


def dense_forward(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, DenseCache]:
    """``Z = W A_prev + b``; returns ``Z (n[l], m)`` and the cache ``(A_prev, W, b)``."""
    A_prev, W, b = check_layer(A_prev, W, b)
    Z = W @ A_prev + b  # (n[l], m)
    return Z, (A_prev, W, b)


def dense_backward(dZ: np.ndarray, cache: DenseCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``dA_prev = Wᵀ dZ``, ``dW = 1/m dZ A_prevᵀ``, ``db = 1/m Σ_i dZ``.

    ``dZ (n[l], m)`` is the per-example upstream gradient; returns ``dA_prev (n[l-1], m)``,
    ``dW (n[l], n[l-1])``, ``db (n[l], 1)``.
    """
    A_prev, W, b = cache
    dZ = as_float_array("dZ", dZ, W.dtype)
    check_shape("dZ", dZ, (W.shape[0], A_prev.shape[1]), "(n[l], m)")
    m = A_prev.shape[1]
    dW = (dZ @ A_prev.T) / m  # (n[l], n[l-1])
    db = np.sum(dZ, axis=1, keepdims=True) / m  # (n[l], 1)
    dA_prev = W.T @ dZ  # (n[l-1], m)
    return dA_prev, dW, db
