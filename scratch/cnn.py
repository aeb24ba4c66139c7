"""Convolutional networks for images, in the course's layout and formulas.

Layout (channels last): images ``A_prev (m, n_H_prev, n_W_prev, n_C_prev)``, filters
``W (f, f, n_C_prev, n_C)``, bias ``b (1, 1, 1, n_C)``; hyperparameters stride ``s`` and
padding ``p``. The output is ``(m, n_H, n_W, n_C)`` with

    n_H = ⌊(n_H_prev + 2p − f) / s⌋ + 1          n_W = ⌊(n_W_prev + 2p − f) / s⌋ + 1

When ``s`` does not divide ``n + 2p − f``, the last rows/columns of the padded input that no
window reaches are dropped (zero gradient) — torch floors the same way. "Same" padding is
``p = (f − 1)/2`` with ``s = 1`` (odd ``f``).

The layers, each in two forms proven equal to each other and to torch:

===============================  ===============================  ==================================
loop form (the course, step by   vectorized form (im2col, no      what it computes
step: examples, positions,       Python loop over examples or
channels)                        positions)
===============================  ===============================  ==================================
:func:`conv_forward_loop`        :func:`conv_forward`             ``Z = Σ a_slice ⊙ W + b``
:func:`conv_backward_loop`       :func:`conv_backward`            ``dA_prev``, ``dW``, ``db``
:func:`pool_forward_loop`        :func:`pool_forward`             max / average of each window
:func:`pool_backward_loop`       :func:`pool_backward`            to the max / spread evenly
===============================  ===============================  ==================================

Traps, tested on purpose:

- **cross-correlation**: the course's (and torch's) "convolution" does not flip the kernel;
- **no 1/m in conv_backward**: as in the course, ``dW``/``db`` sum over the examples — pass
  ``dZ = ∂J/∂Z`` (which carries the ``1/m`` of the cost) to get ``∂J/∂W``;
- **max-pool ties**: when a window holds equal maxima, the gradient goes to exactly one of
  them, the first in row-major order (top row first, then left to right) — torch's rule on CPU
  and CUDA. The course's mask ``x == max(x)`` gives it to all of them (so it no longer sums to
  ``dA``); ``dlparity check`` holds a learner's ``pool_backward`` to the course's rule
  (:mod:`parity_tests.course.conv`).

The convnet (:class:`ConvNetConfig`): ``conv → ReLU → pool → conv → ReLU → pool → flatten →
dense → softmax``, with :func:`propagate` ``(params, X, Y) -> (J, grads)`` like every model.
``flatten`` turns ``(m, n_H, n_W, n_C)`` into the dense layer's columns ``(n_H·n_W·n_C, m)``,
each column an example read in ``(h, w, c)`` order.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> config = ConvNetConfig(input_shape=(8, 8, 1), channels=(4, 6), n_y=3)
    >>> params = initialize_convnet(config, rng)
    >>> X, labels = rng.random((5, 8, 8, 1)), np.array([0, 2, 1, 1, 0])
    >>> J, grads = propagate(params, X, labels, config)
    >>> config.flat_shape, grads["dW1"].shape, grads["dW3"].shape
    ((2, 2, 6), (3, 3, 1, 4), (3, 24))
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from scratch._cnn_common import (
    POOL_MODES,
    ConvCache,
    PoolCache,
    check_images,
    check_int,
    conv_output_size,
    zero_pad,
)
from scratch._cnn_loops import (
    conv_backward_loop,
    conv_forward_loop,
    conv_single_step,
    create_mask_from_window,
    distribute_value,
    pool_backward_loop,
    pool_forward_loop,
)
from scratch._cnn_vectorized import conv_backward, conv_forward, pool_backward, pool_forward
from scratch._validate import as_float_array
from scratch.activations import relu, relu_prime, softmax
from scratch.deep import prepare_labels
from scratch.dense import dense_backward, dense_forward
from scratch.losses import softmax_cross_entropy

__all__ = [
    "ConvCache",
    "PoolCache",
    "POOL_MODES",
    "conv_output_size",
    "zero_pad",
    "conv_single_step",
    "conv_forward_loop",
    "conv_backward_loop",
    "create_mask_from_window",
    "distribute_value",
    "pool_forward_loop",
    "pool_backward_loop",
    "conv_forward",
    "conv_backward",
    "pool_forward",
    "pool_backward",
    "flatten",
    "unflatten",
    "ConvNetConfig",
    "initialize_convnet",
    "check_convnet_params",
    "convnet_forward",
    "propagate",
    "predict",
    "FORMS",
]

Form = Literal["vectorized", "loop"]
FORMS = {
    "vectorized": (conv_forward, conv_backward, pool_forward, pool_backward),
    "loop": (conv_forward_loop, conv_backward_loop, pool_forward_loop, pool_backward_loop),
}
"""``form -> (conv_forward, conv_backward, pool_forward, pool_backward)``."""


def flatten(A: np.ndarray) -> np.ndarray:
    """``(m, n_H, n_W, n_C) -> (n_H·n_W·n_C, m)``: one column per example, in ``(h, w, c)``
    order — the dense layer's layout."""
    A = check_images("A", A)
    return np.ascontiguousarray(A.reshape(A.shape[0], -1).T)


def unflatten(dA_flat: np.ndarray, shape: tuple[int, int, int, int]) -> np.ndarray:
    """The backward of :func:`flatten`: ``(n_H·n_W·n_C, m) -> shape = (m, n_H, n_W, n_C)``."""
    m, n_H, n_W, n_C = shape
    if dA_flat.shape != (n_H * n_W * n_C, m):
        raise ValueError(
            f"dA_flat: expected shape (n_H·n_W·n_C, m) = ({n_H * n_W * n_C}, {m}), got {dA_flat.shape}"
        )
    return np.ascontiguousarray(dA_flat.T.reshape(shape))


@dataclass(frozen=True)
class ConvNetConfig:
    """The small convnet: two ``conv(f, s, p) → ReLU → pool(pool_f, pool_stride)`` blocks with
    ``channels = (n_C1, n_C2)`` filters, then flatten → dense ``n_y`` → softmax.

    ``input_shape = (n_H, n_W, n_C)`` of one image. Both sides build from the same values
    (``torch_ref.cnn.ConvNet.from_config``).
    """

    input_shape: tuple[int, int, int] = (8, 8, 1)
    channels: tuple[int, int] = (8, 16)
    f: int = 3
    stride: int = 1
    pad: int = 1
    pool_f: int = 2
    pool_stride: int = 2
    pool_mode: str = "max"
    n_y: int = 10
    initializer: str = "he"

    def __post_init__(self) -> None:
        if len(self.input_shape) != 3 or len(self.channels) != 2:
            raise ValueError(
                f"input_shape, channels: expected (n_H, n_W, n_C) and (n_C1, n_C2), got "
                f"{self.input_shape} and {self.channels}"
            )
        for i, n in enumerate(self.input_shape):
            check_int(f"input_shape[{i}]", n, 1)
        for i, n in enumerate(self.channels):
            check_int(f"channels[{i}]", n, 1)
        for name, minimum in (
            ("f", 1),
            ("stride", 1),
            ("pad", 0),
            ("pool_f", 1),
            ("pool_stride", 1),
            ("n_y", 1),
        ):
            check_int(name, getattr(self, name), minimum)
        if self.pool_mode not in POOL_MODES:
            raise ValueError(f"pool_mode: expected one of {POOL_MODES}, got {self.pool_mode!r}")
        if self.initializer not in ("he", "xavier", "random", "zeros"):
            raise ValueError(
                f"initializer: expected 'he', 'xavier', 'random' or 'zeros', got {self.initializer!r}"
            )
        if min(self.flat_shape) < 1:
            raise ValueError(
                f"input_shape: {self.input_shape} is too small for two blocks of "
                f"f={self.f}, pad={self.pad}, stride={self.stride}, pool_f={self.pool_f}; "
                f"the stage shapes would be {self.stage_shapes}"
            )

    @property
    def stage_shapes(self) -> dict[str, tuple[int, int, int]]:
        """``(n_H, n_W, n_C)`` after each layer: ``Z1``, ``P1``, ``Z2``, ``P2``."""
        n_H, n_W, _ = self.input_shape
        shapes = {}
        for layer, n_C in zip((1, 2), self.channels):
            n_H, n_W = (conv_output_size(n, self.f, self.stride, self.pad) for n in (n_H, n_W))
            shapes[f"Z{layer}"] = (n_H, n_W, n_C)
            n_H, n_W = (conv_output_size(n, self.pool_f, self.pool_stride) for n in (n_H, n_W))
            shapes[f"P{layer}"] = (n_H, n_W, n_C)
        return shapes

    @property
    def flat_shape(self) -> tuple[int, int, int]:
        """``(n_H, n_W, n_C)`` of the last pooling layer, which the dense layer sees flattened."""
        return self.stage_shapes["P2"]

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """``W1 (f, f, n_C0, n_C1)``, ``b1 (1, 1, 1, n_C1)``, …, ``W3 (n_y, n_F)``, ``b3 (n_y, 1)``."""
        n_C0, (n_C1, n_C2) = self.input_shape[2], self.channels
        return {
            "W1": (self.f, self.f, n_C0, n_C1),
            "b1": (1, 1, 1, n_C1),
            "W2": (self.f, self.f, n_C1, n_C2),
            "b2": (1, 1, 1, n_C2),
            "W3": (self.n_y, math.prod(self.flat_shape)),
            "b3": (self.n_y, 1),
        }

    def to_dict(self) -> dict:
        return asdict(self)


def _weight_std(name: str, fan_in: int, fan_out: int) -> float:
    """``he``: ``√(2/fan_in)``; ``xavier``: ``√(2/(fan_in + fan_out))``; ``random``: 0.01.

    A filter's ``fan_in`` is ``f·f·n_C_prev`` and its ``fan_out`` ``f·f·n_C`` (torch's rule)."""
    return {
        "he": math.sqrt(2 / fan_in),
        "xavier": math.sqrt(2 / (fan_in + fan_out)),
        "random": 0.01,
        "zeros": 0.0,
    }[name]


def initialize_convnet(
    config: ConvNetConfig, rng: np.random.Generator, dtype: np.dtype = np.float64
) -> dict[str, np.ndarray]:
    """Weights ``N(0, std²)`` by ``config.initializer`` drawn from ``rng`` in ``dtype``; biases 0."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    params = {}
    for name, shape in config.param_shapes().items():
        if name.startswith("b"):
            params[name] = np.zeros(shape, dtype=dtype)
            continue
        fan_in, fan_out = (
            (math.prod(shape[:3]), math.prod((*shape[:2], shape[3])))
            if len(shape) == 4
            else (shape[1], shape[0])
        )
        W = rng.standard_normal(shape, dtype=dtype)
        W *= W.dtype.type(_weight_std(config.initializer, fan_in, fan_out))
        params[name] = W
    return params


def check_convnet_params(params: Mapping[str, np.ndarray], config: ConvNetConfig) -> dict[str, np.ndarray]:
    """Every parameter present, with the shape ``config`` gives it and one float dtype."""
    shapes = config.param_shapes()
    missing, extra = sorted(set(shapes) - set(params)), sorted(set(params) - set(shapes))
    if missing or extra:
        raise ValueError(f"params: expected keys {sorted(shapes)}, missing {missing}, unexpected {extra}")
    dtype = as_float_array("W1", params["W1"]).dtype
    out = {}
    for name, shape in shapes.items():
        out[name] = as_float_array(name, params[name], dtype)
        if out[name].shape != shape:
            raise ValueError(f"params[{name!r}]: expected shape {shape} for {config}, got {out[name].shape}")
    return out


def convnet_forward(
    X: np.ndarray, params: Mapping[str, np.ndarray], config: ConvNetConfig, form: Form = "vectorized"
) -> tuple[np.ndarray, list]:
    """Logits ``Z3 (n_y, m)`` of images ``X (m, n_H, n_W, n_C)``, and the caches."""
    if form not in FORMS:
        raise ValueError(f"form: expected one of {sorted(FORMS)}, got {form!r}")
    conv, _, pool, _ = FORMS[form]
    p = check_convnet_params(params, config)
    X = check_images("X", X, config.input_shape[2], p["W1"].dtype)
    if X.shape[1:] != tuple(config.input_shape):
        n_H, n_W, n_C = config.input_shape
        raise ValueError(f"X: expected images (m, n_H, n_W, n_C) = (*, {n_H}, {n_W}, {n_C}), got {X.shape}")
    caches, A = [], X
    for layer in (1, 2):
        Z, conv_cache = conv(A, p[f"W{layer}"], p[f"b{layer}"], config.stride, config.pad)  # (m, H, W, C)
        A, pool_cache = pool(relu(Z), config.pool_f, config.pool_stride, config.pool_mode)
        caches.append((conv_cache, Z, pool_cache))
    A_flat = flatten(A)  # (n_H·n_W·n_C, m)
    Z3, dense_cache = dense_forward(A_flat, p["W3"], p["b3"])  # (n_y, m)
    caches.append((dense_cache, A.shape))
    return Z3, caches


def propagate(
    params: Mapping[str, np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    config: ConvNetConfig,
    form: Form = "vectorized",
) -> tuple[np.floating, dict[str, np.ndarray]]:
    """``J = −1/m Σ y log softmax(Z3)`` and ``∂J/∂θ`` for every parameter (``"dW1"``, …).

    ``Y``: one-hot columns ``(n_y, m)`` or integer labels ``(m,)``. Backward: the notes'
    per-example ``dZ3 = softmax(Z3) − Y`` through the dense layer (which applies the ``1/m``),
    then ``dA = 1/m W3ᵀ dZ3`` — now ``∂J/∂A`` — back through the pools, ReLUs and
    convolutions, whose sums over the examples then give ``∂J/∂W`` with no further ``1/m``.
    """
    Z3, caches = convnet_forward(X, params, config, form)
    _, conv_backward_fn, _, pool_backward_fn = FORMS[form]
    m = Z3.shape[1]
    Y = prepare_labels(Y, config.n_y, "softmax", m, Z3.dtype)
    J = softmax_cross_entropy(Z3, Y)
    (dense_cache, pooled_shape) = caches[2]
    dZ3 = softmax(Z3) - Y  # (n_y, m), per example
    dA_flat, dW3, db3 = dense_backward(dZ3, dense_cache)
    dA = unflatten(dA_flat / Z3.dtype.type(m), pooled_shape)  # ∂J/∂P2, (m, n_H, n_W, n_C)
    grads = {"dW3": dW3, "db3": db3}
    for layer in (2, 1):
        conv_cache, Z, pool_cache = caches[layer - 1]
        dZ = pool_backward_fn(dA, pool_cache) * relu_prime(Z)  # ∂J/∂Z[l]
        dA, grads[f"dW{layer}"], grads[f"db{layer}"] = conv_backward_fn(dZ, conv_cache)
    return J, {k: grads[k] for k in ("dW1", "db1", "dW2", "db2", "dW3", "db3")}


def predict(params: Mapping[str, np.ndarray], X: np.ndarray, config: ConvNetConfig) -> np.ndarray:
    """Class labels ``argmax_k Z3`` as ``(1, m)`` integers."""
    Z3, _ = convnet_forward(X, params, config)
    return np.argmax(Z3, axis=0).reshape(1, -1)
