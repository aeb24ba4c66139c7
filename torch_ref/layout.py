"""The one place where the course's layout meets torch's.

==========================  ============================  ======================================
course (``scratch``)        torch (``torch_ref``)         conversion
==========================  ============================  ======================================
``X (n_x, m)``              ``X (m, n_x)``                :data:`COLUMNS` (transpose)
``b (n, 1)``                ``bias (n,)``                 :data:`BIAS` (reshape)
``W (n[l], n[l-1])``        ``weight (out, in)``          :data:`SAME` — it *is* ``W[l]``
``w (n_x, 1)``              ``weight (1, n_x)``           :data:`TRANSPOSED`
``A (m, n_H, n_W, n_C)``    ``A (m, C, H, W)``            :data:`IMAGES` (channels last -> first)
``W (f, f, n_C_prev, n_C)`` ``weight (out, in, kh, kw)``  :data:`CONV_WEIGHT`
``b (1, 1, 1, n_C)``        ``bias (n_C,)``               :data:`CONV_BIAS` (reshape)
``x (n_x, m, T_x)``         ``x (T, m, n_x)``             :data:`SEQUENCE` (``nn.RNN``'s default)
``x (n_x, m, T_x)``         ``x (m, T, n_x)``             :data:`SEQUENCE_BATCH_FIRST`
``a0, c0 (n_a, m)``         ``h0, c0 (1, m, n_a)``        :data:`STATE`
==========================  ============================  ======================================

Every conversion is a pure re-indexing (a transpose or a reshape), so a gradient converts
exactly like the value it is the gradient of. The generic half — the :class:`Layout` type, the
dtype conversions and the converters between a scratch parameter dict and a ``state_dict``
(``ParamSpec``, ``params_to_state_dict``, ``FromScratch``, …) — is defined in
``torch_ref._convert``, which imports nothing of this module, and offered here: import
everything from ``torch_ref.layout``.

Example:
    >>> import numpy as np
    >>> X = np.arange(6.0).reshape(2, 3)     # n_x = 2 features, m = 3 examples
    >>> columns_to_rows(X).shape, rows_to_columns(columns_to_rows(X)).shape
    ((3, 2), (2, 3))
"""

from __future__ import annotations

import numpy as np

from torch_ref._convert import (
    PARAM_DTYPES,
    Converter,
    FromScratch,
    Layout,
    ParamSpec,
    check_finite,
    check_param_arrays,
    layer_dims_of,
    load_scratch_params,
    module_spec,
    numpy_dtype,
    params_to_state_dict,
    scratch_dtype,
    scratch_params,
    state_dict_to_params,
    to_numpy,
    to_tensor,
    torch_dtype,
    weight_shape,
)

__all__ = [
    "Layout",
    "SAME",
    "COLUMNS",
    "TRANSPOSED",
    "BIAS",
    "IMAGES",
    "CONV_WEIGHT",
    "CONV_BIAS",
    "SEQUENCE",
    "SEQUENCE_BATCH_FIRST",
    "STATE",
    "state_to_torch",
    "state_to_course",
    "columns_to_rows",
    "rows_to_columns",
    "bias_to_torch",
    "bias_to_course",
    "images_to_torch",
    "images_to_course",
    "conv_weight_to_torch",
    "conv_weight_to_course",
    "conv_bias_to_torch",
    "conv_bias_to_course",
    "sequence_to_torch",
    "sequence_to_course",
    "sequence_to_batch_first",
    "batch_first_to_sequence",
    "to_tensor",
    "to_numpy",
    "torch_dtype",
    "numpy_dtype",
    "layer_param_spec",
    # defined in torch_ref._convert, offered here
    "ParamSpec",
    "Converter",
    "module_spec",
    "params_to_state_dict",
    "state_dict_to_params",
    "load_scratch_params",
    "scratch_params",
    "weight_shape",
    "layer_dims_of",
    "FromScratch",
    "check_param_arrays",
    "check_finite",
    "scratch_dtype",
    "PARAM_DTYPES",
]


def _need_ndim(name: str, a: np.ndarray, ndim: int, meaning: str) -> None:
    if a.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array {meaning}, got shape {a.shape}")


def columns_to_rows(X: np.ndarray) -> np.ndarray:
    """Course ``(n, m)`` (examples as columns) -> torch ``(m, n)`` (batch first)."""
    X = np.asarray(X)
    _need_ndim("X", X, 2, "(n, m) with examples as columns")
    return np.ascontiguousarray(X.T)


def rows_to_columns(X: np.ndarray) -> np.ndarray:
    """Torch ``(m, n)`` (batch first) -> course ``(n, m)`` (examples as columns)."""
    X = np.asarray(X)
    _need_ndim("X", X, 2, "(m, n), batch first")
    return np.ascontiguousarray(X.T)


def bias_to_torch(b: np.ndarray) -> np.ndarray:
    """Course bias ``(n, 1)`` -> torch bias ``(n,)``."""
    b = np.asarray(b)
    if b.ndim != 2 or b.shape[1] != 1:
        raise ValueError(f"b: expected a course bias of shape (n, 1), got {b.shape}")
    return b.reshape(-1).copy()


def bias_to_course(bias: np.ndarray) -> np.ndarray:
    """Torch bias ``(n,)`` -> course bias ``(n, 1)``."""
    bias = np.asarray(bias)
    _need_ndim("bias", bias, 1, "(n,)")
    return bias.reshape(-1, 1).copy()


def _same(a: np.ndarray) -> np.ndarray:
    return np.array(a, copy=True)


SAME = Layout("same", _same, _same)
"""Identical in both layouts (``W[l]`` is ``nn.Linear.weight``; scalars; elementwise data)."""
COLUMNS = Layout("columns", columns_to_rows, rows_to_columns)
"""Examples as columns ``(n, m)`` <-> batch first ``(m, n)``."""
TRANSPOSED = Layout("transposed", columns_to_rows, rows_to_columns)
"""A column vector ``w (n_x, 1)`` <-> ``nn.Linear(n_x, 1).weight (1, n_x)``; any 2-D transpose."""
BIAS = Layout("bias", bias_to_torch, bias_to_course)
"""Course bias ``(n, 1)`` <-> torch bias ``(n,)``."""


# --- N-D layouts: images (CNN) and sequences (RNN) ---------------------------------------------
def images_to_torch(A: np.ndarray) -> np.ndarray:
    """Course images ``(m, n_H, n_W, n_C)`` (channels last) -> torch ``(m, C, H, W)``."""
    A = np.asarray(A)
    _need_ndim("A", A, 4, "(m, n_H, n_W, n_C), channels last")
    return np.ascontiguousarray(A.transpose(0, 3, 1, 2))


def images_to_course(A: np.ndarray) -> np.ndarray:
    """Torch images ``(m, C, H, W)`` -> course ``(m, n_H, n_W, n_C)``."""
    A = np.asarray(A)
    _need_ndim("A", A, 4, "(m, C, H, W), channels first")
    return np.ascontiguousarray(A.transpose(0, 2, 3, 1))


def conv_weight_to_torch(W: np.ndarray) -> np.ndarray:
    """Course filters ``(f, f, n_C_prev, n_C)`` -> ``nn.Conv2d.weight (out, in, kh, kw)``."""
    W = np.asarray(W)
    _need_ndim("W", W, 4, "(f, f, n_C_prev, n_C)")
    return np.ascontiguousarray(W.transpose(3, 2, 0, 1))


def conv_weight_to_course(weight: np.ndarray) -> np.ndarray:
    """``nn.Conv2d.weight (out, in, kh, kw)`` -> course filters ``(f, f, n_C_prev, n_C)``."""
    weight = np.asarray(weight)
    _need_ndim("weight", weight, 4, "(out, in, kh, kw)")
    return np.ascontiguousarray(weight.transpose(2, 3, 1, 0))


def conv_bias_to_torch(b: np.ndarray) -> np.ndarray:
    """Course conv bias ``(1, 1, 1, n_C)`` -> ``nn.Conv2d.bias (n_C,)``."""
    b = np.asarray(b)
    if b.ndim != 4 or b.shape[:3] != (1, 1, 1):
        raise ValueError(f"b: expected a course conv bias of shape (1, 1, 1, n_C), got {b.shape}")
    return b.reshape(-1).copy()


def conv_bias_to_course(bias: np.ndarray) -> np.ndarray:
    """``nn.Conv2d.bias (n_C,)`` -> course conv bias ``(1, 1, 1, n_C)``."""
    bias = np.asarray(bias)
    _need_ndim("bias", bias, 1, "(n_C,)")
    return bias.reshape(1, 1, 1, -1).copy()


def sequence_to_torch(x: np.ndarray) -> np.ndarray:
    """Course sequences ``(n_x, m, T_x)`` -> torch time-first ``(T, m, n_x)``."""
    x = np.asarray(x)
    _need_ndim("x", x, 3, "(n_x, m, T_x)")
    return np.ascontiguousarray(x.transpose(2, 1, 0))


def sequence_to_course(x: np.ndarray) -> np.ndarray:
    """Torch time-first ``(T, m, n_x)`` -> course ``(n_x, m, T_x)``."""
    x = np.asarray(x)
    _need_ndim("x", x, 3, "(T, m, n_x), time first")
    return np.ascontiguousarray(x.transpose(2, 1, 0))


def sequence_to_batch_first(x: np.ndarray) -> np.ndarray:
    """Course sequences ``(n_x, m, T_x)`` -> torch batch-first ``(m, T, n_x)``."""
    x = np.asarray(x)
    _need_ndim("x", x, 3, "(n_x, m, T_x)")
    return np.ascontiguousarray(x.transpose(1, 2, 0))


def batch_first_to_sequence(x: np.ndarray) -> np.ndarray:
    """Torch batch-first ``(m, T, n_x)`` -> course ``(n_x, m, T_x)``."""
    x = np.asarray(x)
    _need_ndim("x", x, 3, "(m, T, n_x), batch first")
    return np.ascontiguousarray(x.transpose(2, 0, 1))


IMAGES = Layout("images", images_to_torch, images_to_course)
"""Course images ``(m, n_H, n_W, n_C)`` <-> torch ``(m, C, H, W)``."""
CONV_WEIGHT = Layout("conv-weight", conv_weight_to_torch, conv_weight_to_course)
"""Course filters ``(f, f, n_C_prev, n_C)`` <-> ``nn.Conv2d.weight (out, in, kh, kw)``."""
CONV_BIAS = Layout("conv-bias", conv_bias_to_torch, conv_bias_to_course)
"""Course conv bias ``(1, 1, 1, n_C)`` <-> ``nn.Conv2d.bias (n_C,)``."""
SEQUENCE = Layout("sequence", sequence_to_torch, sequence_to_course)
"""Course sequences ``(n_x, m, T_x)`` <-> torch time-first ``(T, m, n_x)``."""
SEQUENCE_BATCH_FIRST = Layout("sequence-batch-first", sequence_to_batch_first, batch_first_to_sequence)
"""Course sequences ``(n_x, m, T_x)`` <-> torch batch-first ``(m, T, n_x)``."""


def state_to_torch(a: np.ndarray) -> np.ndarray:
    """Course state ``a0, c0 (n_a, m)`` -> ``nn.RNN``/``nn.LSTM``'s ``h0, c0 (1, m, n_a)``."""
    a = np.asarray(a)
    _need_ndim("a0", a, 2, "(n_a, m), a course state")
    return np.ascontiguousarray(a.T[None])


def state_to_course(h: np.ndarray) -> np.ndarray:
    """``nn.RNN``/``nn.LSTM``'s ``h0, c0 (1, m, n_a)`` -> course state ``(n_a, m)``."""
    h = np.asarray(h)
    if h.ndim != 3 or h.shape[0] != 1:
        raise ValueError(f"h0: expected a torch state (1, m, n_a), got shape {h.shape}")
    return np.ascontiguousarray(h[0].T)


STATE = Layout("state", state_to_torch, state_to_course)
"""A course state ``a0, c0 (n_a, m)`` <-> ``nn.RNN``/``nn.LSTM``'s ``h0, c0 (1, m, n_a)``."""


def layer_param_spec(num_layers: int, container: str = "layers") -> ParamSpec:
    """The spec of a stack of ``nn.Linear`` in an ``nn.ModuleList`` named ``container``: scratch
    ``W{l}`` *is* ``{container}.{l-1}.weight``; ``b{l} (n[l], 1)`` is ``{container}.{l-1}.bias``."""
    if isinstance(num_layers, bool) or int(num_layers) != num_layers or num_layers < 1:
        raise ValueError(f"num_layers: expected a positive integer, got {num_layers!r}")
    spec: ParamSpec = {}
    for layer in range(1, int(num_layers) + 1):
        spec[f"W{layer}"] = (f"{container}.{layer - 1}.weight", SAME)
        spec[f"b{layer}"] = (f"{container}.{layer - 1}.bias", BIAS)
    return spec
