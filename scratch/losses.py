"""Loss functions ``L(ŷ, y)`` and the cost ``J = 1/m Σ_i L(ŷ⁽ⁱ⁾, y⁽ⁱ⁾)`` with its gradient.

Examples are columns: ``Ŷ, Y (n_y, m)``. Each cost ``J`` sits beside ``<name>_backward``,
which returns the gradient of ``J`` itself (the ``1/m`` included) — what autograd returns for
a mean-reduced loss. (The per-example gradient the notes write as ``dz = A − Y`` is ``m`` times
that.)

Parity traps, tested on purpose:
- the course's squared error has a ½ that ``torch.nn.MSELoss`` lacks;
- ``nn.BCELoss`` clamps each log at −100, the course's ``log`` gives ``−inf`` at a saturated
  wrong prediction: use the from-logits form (finite for every logit) to compare there.

Example:
    >>> import numpy as np
    >>> Z = np.array([[-800.0, 800.0]]); Y = np.array([[1.0, 1.0]])
    >>> float(bce_with_logits(Z, Y))  # ŷ underflows to 0 at z = −800, the cost stays finite
    400.0
"""

from __future__ import annotations

import numpy as np

from scratch._validate import (
    as_float_array,
    check_binary_labels,
    check_examples,
    check_probabilities,
)
from scratch.activations import sigmoid, softmax


def _pair(a_name: str, A: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Validate a prediction/label pair of equal shape ``(n_y, m)``; return them and ``m``."""
    A = as_float_array(a_name, A)
    Y = as_float_array("Y", Y, A.dtype)
    if A.ndim != 2:
        raise ValueError(f"{a_name}: expected shape (n_y, m), got {A.shape}")
    if Y.shape != A.shape:
        raise ValueError(f"Y: expected the shape of {a_name} (n_y, m) = {A.shape}, got {Y.shape}")
    m = check_examples(A, Y, a_name, "Y")
    return A, Y, m


def squared_error(Y_hat: np.ndarray, Y: np.ndarray) -> np.floating:
    """``J = 1/m Σ ½ (ŷ − y)²`` — the notes' squared error, ½ included. ``Ŷ, Y (n_y, m)``."""
    Y_hat, Y, m = _pair("Y_hat", Y_hat, Y)
    return np.sum((Y_hat - Y) ** 2) / (2 * m)


def squared_error_backward(Y_hat: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``∂J/∂ŷ = 1/m (ŷ − y)``, shape ``(n_y, m)``."""
    Y_hat, Y, m = _pair("Y_hat", Y_hat, Y)
    return (Y_hat - Y) / m


def binary_cross_entropy(A: np.ndarray, Y: np.ndarray) -> np.floating:
    """``J = −1/m Σ [y log a + (1 − y) log(1 − a)]`` — the notes' form, on probabilities.

    ``0 · log 0`` is taken as 0 (its limit), so a confident right answer costs 0; a confident
    wrong one (``a = 0, y = 1``) costs ``+inf``, as the math says. ``A, Y (1, m)``.
    """
    A, Y, m = _pair("A", A, Y)
    check_binary_labels("Y", Y)
    check_probabilities("A", A)
    with np.errstate(divide="ignore"):
        log_a = np.log(A, out=np.zeros_like(A), where=Y != 0)  # y log a, 0 where y = 0
        log_1ma = np.log1p(-A, out=np.zeros_like(A), where=Y != 1)  # (1−y) log(1−a)
    return -np.sum(Y * log_a + (1 - Y) * log_1ma) / m


def binary_cross_entropy_backward(A: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``∂J/∂a = 1/m (−y/a + (1 − y)/(1 − a))`` — the notes' ``∂L/∂a`` over ``m``."""
    A, Y, m = _pair("A", A, Y)
    check_binary_labels("Y", Y)
    check_probabilities("A", A)
    with np.errstate(divide="ignore"):
        dA = np.where(Y == 1, -1 / A, 1 / (1 - A))  # labels are exactly 0 or 1
    return dA / m


def bce_with_logits(Z: np.ndarray, Y: np.ndarray) -> np.floating:
    """Binary cross-entropy from logits ``z`` (``a = σ(z)``), finite for every ``z``.

    ``L = max(z, 0) − z y + log(1 + e^{−|z|})`` equals ``−[y log σ(z) + (1 − y) log(1 − σ(z))]``
    without ever forming ``log 0``. ``J = 1/m Σ L``; ``Z, Y (1, m)``.
    """
    Z, Y, m = _pair("Z", Z, Y)
    check_binary_labels("Y", Y)
    return np.sum(np.maximum(Z, 0) - Z * Y + np.log1p(np.exp(-np.abs(Z)))) / m


def bce_with_logits_backward(Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``∂J/∂z = 1/m (σ(z) − y)`` — the notes' ``dz = a − y`` over ``m``."""
    Z, Y, m = _pair("Z", Z, Y)
    check_binary_labels("Y", Y)
    return (sigmoid(Z) - Y) / m


def _check_one_hot(Y: np.ndarray) -> None:
    """``Y (k, m)`` must hold one distribution per column: entries in [0, 1] summing to 1."""
    check_probabilities("Y", Y)
    sums = Y.sum(axis=0)
    if not np.allclose(sums, 1, rtol=0, atol=1e-6):
        j = int(np.argmax(np.abs(sums - 1)))
        raise ValueError(
            f"Y: each column must be one-hot (or a distribution) summing to 1; column {j} sums "
            f"to {sums[j]}. Build it with one_hot(labels, k)"
        )


def softmax_cross_entropy(Z: np.ndarray, Y: np.ndarray) -> np.floating:
    """``J = −1/m Σ_i Σ_k y_k log softmax(z)_k`` for logits ``Z (k, m)``, one-hot ``Y (k, m)``.

    ``log softmax(z) = z − max z − log Σ_j e^{z_j − max z}``: finite for logits of any size.
    """
    Z, Y, m = _pair("Z", Z, Y)
    _check_one_hot(Y)
    shifted = Z - Z.max(axis=0, keepdims=True)  # (k, m), max entry 0
    log_softmax = shifted - np.log(np.sum(np.exp(shifted), axis=0, keepdims=True))
    return -np.sum(Y * log_softmax) / m


def softmax_cross_entropy_backward(Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``∂J/∂Z = 1/m (softmax(Z) − Y)``, shape ``(k, m)``."""
    Z, Y, m = _pair("Z", Z, Y)
    _check_one_hot(Y)
    return (softmax(Z) - Y) / m


def one_hot(labels: np.ndarray, k: int, dtype: np.dtype = np.float64) -> np.ndarray:
    """One-hot columns ``Y (k, m)`` from integer class labels of shape ``(m,)`` or ``(1, m)``."""
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"labels: expected integer class indices, got dtype {labels.dtype}")
    labels = labels.reshape(-1)
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(
            f"labels: class indices must lie in [0, {k - 1}] for k={k}, "
            f"got range [{labels.min()}, {labels.max()}]"
        )
    Y = np.zeros((k, labels.size), dtype=dtype)
    Y[labels, np.arange(labels.size)] = 1
    return Y
