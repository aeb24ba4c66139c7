"""Parameter initialization: the notes' ``W = randn · 0.01``, ``b = 0``, and three alternatives.

The notes: "when we initialize with zeros the activation gradients are low which impedes
learning"; ``W[1] = np.random.randn(2, 2) * 0.01``, ``b[1] = np.zeros((2, 1))`` "keeps
derivatives high and learning fast". With all-zero weights every hidden unit computes the same
function and receives the same gradient, so they stay identical forever (the symmetry problem).

Each initializer draws ``W (n[l], n[l-1])`` from an explicit ``np.random.Generator`` in the
requested dtype (no float64 draw followed by a cast), with fan-in ``n[l-1]`` and fan-out ``n[l]``:

==========  ==================================  =====================================
name        distribution of every ``W[l]_ij``   torch equivalent
==========  ==================================  =====================================
``random``  ``N(0, 0.01²)``  (the notes)          ``nn.init.normal_(std=0.01)``
``zeros``   ``0``                                ``nn.init.zeros_``
``xavier``  ``N(0, 2 / (n[l-1] + n[l]))``        ``nn.init.xavier_normal_``
``he``      ``N(0, 2 / n[l-1])``                 ``nn.init.kaiming_normal_(nonlinearity="relu")``
``lecun``   ``N(0, 1 / n[l-1])``                 ``nn.init.kaiming_normal_(nonlinearity="linear")``
==========  ==================================  =====================================

LeCun's ``1/n[l-1]`` keeps every layer's output of unit size when nothing halves it (a linear
or tanh unit; ReLU zeroes half its inputs, which He's 2 makes up for): regression's MLP with a
linear output uses it.

Biases are always zeros ``b[l] (n[l], 1)``.

Example:
    >>> import numpy as np
    >>> params = initialize_parameters([2, 4, 1], np.random.default_rng(0), "random", np.float32)
    >>> [(k, v.shape, str(v.dtype)) for k, v in params.items()][:2]
    [('W1', (4, 2), 'float32'), ('b1', (4, 1), 'float32')]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

Initializer = Callable[[tuple[int, int], np.random.Generator, np.dtype], np.ndarray]


def _check_rng(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng: expected a np.random.Generator (np.random.default_rng(seed)), got "
            f"{type(rng).__name__}; the global np.random state is never used"
        )
    return rng


def _check_dtype(dtype: object) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: expected float32 or float64, got {dtype!r}") from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"dtype: expected float32 or float64, got {dt}")
    return dt


def _check_shape(shape: tuple[int, int]) -> tuple[int, int]:
    if len(shape) != 2 or any(int(s) != s or s < 1 for s in shape):
        raise ValueError(f"shape: expected (n[l], n[l-1]) of positive integers, got {shape!r}")
    return int(shape[0]), int(shape[1])


def _normal(shape: tuple[int, int], std: float, rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """``N(0, std²)`` drawn directly in ``dtype``."""
    W = _check_rng(rng).standard_normal(_check_shape(shape), dtype=_check_dtype(dtype))
    W *= W.dtype.type(std)
    return W


def random_normal(
    shape: tuple[int, int], rng: np.random.Generator, dtype: np.dtype = np.float64, scale: float = 0.01
) -> np.ndarray:
    """The notes' ``W = np.random.randn(n[l], n[l-1]) * 0.01``: ``N(0, scale²)``."""
    return _normal(shape, scale, rng, dtype)


def zeros(
    shape: tuple[int, int], rng: np.random.Generator | None = None, dtype: np.dtype = np.float64
) -> np.ndarray:
    """``W = 0``: every hidden unit starts — and stays — identical (the symmetry problem)."""
    return np.zeros(_check_shape(shape), dtype=_check_dtype(dtype))


def xavier(shape: tuple[int, int], rng: np.random.Generator, dtype: np.dtype = np.float64) -> np.ndarray:
    """Xavier/Glorot normal: ``W ~ N(0, 2 / (n[l-1] + n[l]))`` (``shape = (n[l], n[l-1])``)."""
    n, n_prev = _check_shape(shape)
    return _normal(shape, math.sqrt(2.0 / (n_prev + n)), rng, dtype)


def he(shape: tuple[int, int], rng: np.random.Generator, dtype: np.dtype = np.float64) -> np.ndarray:
    """He (Kaiming) normal for ReLU: ``W ~ N(0, 2 / n[l-1])``."""
    _, n_prev = _check_shape(shape)
    return _normal(shape, math.sqrt(2.0 / n_prev), rng, dtype)


def lecun(shape: tuple[int, int], rng: np.random.Generator, dtype: np.dtype = np.float64) -> np.ndarray:
    """LeCun normal: ``W ~ N(0, 1 / n[l-1])`` — unit-size outputs for a linear or tanh layer."""
    _, n_prev = _check_shape(shape)
    return _normal(shape, math.sqrt(1.0 / n_prev), rng, dtype)


INITIALIZERS: dict[str, Initializer] = {
    "random": random_normal,
    "zeros": zeros,
    "xavier": xavier,
    "he": he,
    "lecun": lecun,
}
"""Weight initializers by name: ``name -> f(shape, rng, dtype) -> W``."""


def weight_std(name: str, shape: tuple[int, int]) -> float:
    """The standard deviation every entry of ``W (n[l], n[l-1])`` has under initializer ``name``."""
    get_initializer(name)
    n, n_prev = _check_shape(shape)
    return {
        "random": 0.01,
        "zeros": 0.0,
        "xavier": math.sqrt(2.0 / (n_prev + n)),
        "he": math.sqrt(2.0 / n_prev),
        "lecun": math.sqrt(1.0 / n_prev),
    }[name]


def get_initializer(name: str) -> Initializer:
    """The initializer called ``name``, or ``ValueError`` listing the known names."""
    try:
        return INITIALIZERS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"initializer: unknown name {name!r}; expected one of {sorted(INITIALIZERS)}"
        ) from None


def check_layer_dims(layer_dims: Sequence[int]) -> tuple[int, ...]:
    """``[n[0], n[1], …, n[L]]`` as a tuple of positive integers, at least input and output."""
    try:
        dims = tuple(layer_dims)
    except TypeError:
        raise TypeError(f"layer_dims: expected a list of layer sizes, got {layer_dims!r}") from None
    if len(dims) < 2:
        raise ValueError(
            f"layer_dims: expected at least [n_x, n_y] (input and output sizes), got {list(dims)}"
        )
    for layer, n in enumerate(dims):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"layer_dims: n[{layer}] must be a positive integer, got {n!r} in {list(dims)}")
    return tuple(int(n) for n in dims)


def initialize_parameters(
    layer_dims: Sequence[int],
    rng: np.random.Generator,
    initializer: str = "random",
    dtype: np.dtype = np.float64,
) -> dict[str, np.ndarray]:
    """``{"W1": (n[1], n[0]), "b1": (n[1], 1), …, "WL", "bL"}`` with ``W`` from ``initializer``.

    ``layer_dims = [n_x, n[1], …, n[L]]``; every bias is zeros, as in the notes.
    """
    dims = check_layer_dims(layer_dims)
    init = get_initializer(initializer)
    _check_rng(rng)
    dtype = _check_dtype(dtype)
    params = {}
    for layer in range(1, len(dims)):
        params[f"W{layer}"] = init((dims[layer], dims[layer - 1]), rng, dtype)  # (n[l], n[l-1])
        params[f"b{layer}"] = np.zeros((dims[layer], 1), dtype=dtype)  # (n[l], 1)
    return params
