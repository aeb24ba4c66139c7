"""Input checks shared by the scratch concepts.

Every public scratch function validates its arguments here, so a caller mistake becomes a
``TypeError``/``ValueError`` that names the argument, what was expected and what arrived —
never a NumPy broadcasting accident or a silent upcast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_array(name: str, a: Any, dtype: np.dtype | None = None, finite: bool = True) -> np.ndarray:
    """Return ``a`` as a floating ndarray, refusing non-numeric, complex, NaN and Inf input.

    Integer and boolean arrays (labels, toy data) are converted to ``dtype`` (float64 when not
    given); float16 is refused because the scratch side computes in float32/float64 only.
    ``finite=False`` skips the NaN/Inf scan (hot loops that checked their data once).
    """
    arr = np.asarray(a)
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError(f"{name}: expected a real floating array, got complex dtype {arr.dtype}")
    if kind not in "fiub":
        raise TypeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if kind == "f":
        if arr.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{name}: expected float32 or float64, got {arr.dtype}")
        if dtype is not None and arr.dtype != dtype:
            raise TypeError(
                f"{name}: dtype {arr.dtype} differs from the other arguments' {np.dtype(dtype)}; "
                "cast explicitly so nothing is silently upcast"
            )
    else:
        arr = arr.astype(dtype if dtype is not None else np.float64)
    # One entrywise scan. (Summing first and scanning only a non-finite sum needs an errstate
    # block against the sum's overflow, and measured slower below about a million entries.)
    if finite and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"{name}: contains NaN or Inf (first at index {tuple(int(i) for i in bad)}: {arr[tuple(bad)]})"
        )
    return arr


def check_shape(name: str, arr: np.ndarray, expected: tuple[int | None, ...], meaning: str) -> None:
    """Raise ``ValueError`` unless ``arr.shape`` matches ``expected`` (``None`` = any size).

    ``meaning`` spells the expected layout in the notes' symbols, e.g. ``"(n_x, m)"``.
    """
    ok = arr.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, arr.shape))
    if ok:
        return
    want = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
    hint = ""
    if arr.ndim == 2 and len(expected) == 2 and expected[0] is not None:
        if arr.shape[1] == expected[0] and arr.shape[0] != expected[0]:
            hint = (
                "; it looks batch-first (m, n): the course layout has examples as columns, "
                "convert with torch_ref.layout.rows_to_columns"
            )
    if arr.ndim == 1 and len(expected) == 2:
        hint = "; got a 1-D array, pass a 2-D column/row (e.g. a.reshape(-1, 1))"
    raise ValueError(f"{name}: expected shape {meaning} = {want}, got {arr.shape}{hint}")


def check_params(
    params: Mapping[str, Any],
    num_layers: int | None = None,
    layer_dims: Sequence[int] | None = None,
    finite: bool = True,
) -> tuple[dict[str, np.ndarray], int]:
    """Validate an L-layer network's ``{"W1", "b1", …, "WL", "bL"}``: the one check of that dict.

    Each ``W[l]`` is 2-D and chains onto ``W[l-1]``, each ``b[l]`` is ``(n[l], 1)``, all share
    ``W[1]``'s float dtype; optionally exactly ``num_layers`` layers, or the sizes ``layer_dims``.
    Returns the parameters as float arrays and ``L``. Errors name the layer and both shapes:
    ``W[2] has shape (1, 3) but A[1] has 4 rows (W[1] has shape (4, 2))``.
    """
    if not isinstance(params, Mapping):
        raise TypeError(f"params: expected a dict of arrays, got {type(params).__name__}")
    L = sum(1 for k in params if k[:1] == "W" and k[1:].isdigit())
    if layer_dims is not None:
        num_layers = len(layer_dims) - 1
    expected = [f"{p}{layer}" for layer in range(1, (num_layers or L) + 1) for p in "Wb"]
    if not expected or sorted(params) != sorted(expected):
        raise ValueError(f"params: expected keys {expected or ['W1', 'b1', '...']}, got {sorted(params)}")
    out: dict[str, np.ndarray] = {}
    dtype = None
    for layer in range(1, L + 1):
        W = as_float_array(f"W[{layer}]", params[f"W{layer}"], dtype, finite)
        dtype = W.dtype
        if W.ndim != 2:
            raise ValueError(f"W[{layer}]: expected shape (n[{layer}], n[{layer - 1}]), got {W.shape}")
        if layer > 1 and W.shape[1] != out[f"W{layer - 1}"].shape[0]:
            prev = out[f"W{layer - 1}"]
            raise ValueError(
                f"W[{layer}] has shape {W.shape} but A[{layer - 1}] has {prev.shape[0]} rows "
                f"(W[{layer - 1}] has shape {prev.shape}); expected W[{layer}] of shape "
                f"(n[{layer}], {prev.shape[0]})"
            )
        if layer_dims is not None and W.shape != (layer_dims[layer], layer_dims[layer - 1]):
            raise ValueError(
                f"W[{layer}]: expected shape (n[{layer}], n[{layer - 1}]) = "
                f"{(layer_dims[layer], layer_dims[layer - 1])} for layer_dims "
                f"{list(layer_dims)}, got {W.shape}"
            )
        b = as_float_array(f"b[{layer}]", params[f"b{layer}"], dtype, finite)
        if b.shape != (W.shape[0], 1):
            raise ValueError(
                f"b[{layer}]: expected shape (n[{layer}], 1) = ({W.shape[0]}, 1) to match "
                f"W[{layer}] of shape {W.shape}, got {b.shape}"
            )
        out[f"W{layer}"], out[f"b{layer}"] = W, b
    return out, L


def check_examples(X: np.ndarray, Y: np.ndarray, x_name: str = "X", y_name: str = "Y") -> int:
    """Check that ``X`` and ``Y`` hold the same, non-zero number ``m`` of examples (columns)."""
    m = X.shape[-1]
    if Y.shape[-1] != m:
        raise ValueError(
            f"{y_name}: has {Y.shape[-1]} examples (columns) but {x_name} has {m}; "
            f"{x_name}.shape={X.shape}, {y_name}.shape={Y.shape}"
        )
    if m == 0:
        raise ValueError(f"{x_name}: empty batch (m = 0 examples); shape {X.shape}")
    return m


def check_binary_labels(name: str, Y: np.ndarray) -> None:
    """Raise ``ValueError`` unless every label is 0 or 1 (binary cross-entropy's domain)."""
    bad = (Y != 0) & (Y != 1)
    if np.any(bad):
        values = np.unique(Y[bad])[:5]
        raise ValueError(f"{name}: binary labels must be 0 or 1, got values {values.tolist()}")


def check_probabilities(name: str, A: np.ndarray) -> None:
    """Raise ``ValueError`` unless every entry lies in [0, 1]."""
    if np.any((A < 0) | (A > 1)):
        raise ValueError(f"{name}: probabilities must lie in [0, 1], got range [{A.min()}, {A.max()}]")


def check_learning_rate(learning_rate: float) -> float:
    """Return ``learning_rate`` as a float, refusing non-positive or non-finite values."""
    try:
        lr = float(learning_rate)
    except (TypeError, ValueError):
        raise TypeError(f"learning_rate: expected a number, got {learning_rate!r}") from None
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"learning_rate: expected a positive finite number, got {learning_rate!r}")
    return lr
