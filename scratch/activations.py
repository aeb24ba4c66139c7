"""Activation functions ``g(Z)`` and their derivatives ``g'(Z)``, elementwise on any shape.

The notes: "activation functions add complexity ... we need them to be non-linear for hidden
layers to be effective"; "in tanh or sigmoid, gradients get very small given large values".
Each ``g`` sits beside its ``g'`` so the chain rule of a layer reads ``dZ = dA * g'(Z)``.

All functions are stable for ``|z|`` up to 1e4 and beyond: no overflow warning, no NaN.
The derivative at a kink follows torch's subgradient choice (ReLU'(0) = 0, LeakyReLU'(0) =
slope) so parity is exact there too.

Example:
    >>> import numpy as np
    >>> Z = np.array([[-1e4, 0.0, 1e4]])
    >>> sigmoid(Z).tolist()
    [[0.0, 0.5, 1.0]]
    >>> relu_prime(Z).tolist()
    [[0.0, 0.0, 1.0]]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scratch._validate import as_float_array

Activation = Callable[[np.ndarray], np.ndarray]


def sigmoid(Z: np.ndarray) -> np.ndarray:
    """``σ(z) = 1 / (1 + e^{−z})``, computed as ``e^{z} / (1 + e^{z})`` for ``z < 0``.

    Both branches use ``e = exp(−|z|) ∈ (0, 1]``, so nothing overflows at ``|z| = 1e4``.
    """
    Z = as_float_array("Z", Z)
    e = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_prime(Z: np.ndarray) -> np.ndarray:
    """``σ'(z) = σ(z) (1 − σ(z))`` — the notes' ``∂a/∂z = a(1 − a)``."""
    A = sigmoid(Z)
    return A * (1 - A)


def tanh(Z: np.ndarray) -> np.ndarray:
    """``tanh(z) = (e^{z} − e^{−z}) / (e^{z} + e^{−z})`` (``np.tanh``, stable everywhere)."""
    return np.tanh(as_float_array("Z", Z))


def tanh_prime(Z: np.ndarray) -> np.ndarray:
    """``tanh'(z) = 1 − tanh(z)²``."""
    A = tanh(Z)
    return 1 - A * A


def relu(Z: np.ndarray) -> np.ndarray:
    """``ReLU(z) = max(0, z)``."""
    Z = as_float_array("Z", Z)
    return np.maximum(Z, 0)


def relu_prime(Z: np.ndarray) -> np.ndarray:
    """``ReLU'(z) = 1 if z > 0 else 0`` (0 at exactly ``z = 0``, as torch)."""
    Z = as_float_array("Z", Z)
    return (Z > 0).astype(Z.dtype)


def leaky_relu(Z: np.ndarray, slope: float = 0.01) -> np.ndarray:
    """``LeakyReLU(z) = z if z > 0 else slope · z``."""
    Z = as_float_array("Z", Z)
    return np.where(Z > 0, Z, Z * Z.dtype.type(slope))


def leaky_relu_prime(Z: np.ndarray, slope: float = 0.01) -> np.ndarray:
    """``LeakyReLU'(z) = 1 if z > 0 else slope`` (``slope`` at exactly 0, as torch)."""
    Z = as_float_array("Z", Z)
    return np.where(Z > 0, Z.dtype.type(1), Z.dtype.type(slope))


def softmax(Z: np.ndarray) -> np.ndarray:
    """``softmax(z)_k = e^{z_k} / Σ_j e^{z_j}`` down each column of ``Z (k, m)``.

    The column maximum is subtracted first, so logits of 1e4 give no overflow.
    """
    Z = as_float_array("Z", Z)
    E = np.exp(Z - Z.max(axis=0, keepdims=True))  # (k, m), every entry in (0, 1]
    return E / E.sum(axis=0, keepdims=True)


def softmax_backward(dA: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Vector–Jacobian product of softmax: ``dZ = A ⊙ (dA − Σ_k A ⊙ dA)`` per column.

    Softmax's derivative is a Jacobian ``∂a_i/∂z_j = a_i (δ_ij − a_j)``, not an elementwise
    ``g'``; this applies it to an upstream ``dA (k, m)`` given ``A = softmax(Z) (k, m)``.
    """
    dA = as_float_array("dA", dA)
    A = as_float_array("A", A, dA.dtype)
    if dA.shape != A.shape:
        raise ValueError(f"dA: expected the shape of A {A.shape}, got {dA.shape}")
    return A * (dA - np.sum(A * dA, axis=0, keepdims=True))


ACTIVATIONS: dict[str, tuple[Activation, Activation]] = {
    "sigmoid": (sigmoid, sigmoid_prime),
    "tanh": (tanh, tanh_prime),
    "relu": (relu, relu_prime),
    "leaky_relu": (leaky_relu, leaky_relu_prime),
}
"""Elementwise activations by name: ``name -> (g, g')``. Softmax is separate (a Jacobian)."""


def get_activation(name: str) -> tuple[Activation, Activation]:
    """Return ``(g, g')`` for an activation name, or raise ``ValueError`` listing the known ones."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"activation: unknown name {name!r}; expected one of {sorted(ACTIVATIONS)}"
        ) from None
