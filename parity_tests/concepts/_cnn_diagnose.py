"""Name the typical convolution and pooling mistakes behind a failed ``cnn`` check.

The generic :func:`parity_tests.diagnose.diagnose` knows factors, signs and transposes; a
convolution goes wrong in its own ways. When a check fails, each function here recomputes what
one typical mistake would have produced (an independent float64 torch or NumPy computation on
the same inputs, and the same upstream gradient ``G``) and returns the sentence of the first
one that matches the scratch result within the check's tolerance:

- forward: a flipped kernel (true convolution, not cross-correlation), padding on one side
  only, a missing bias, the stride ignored or the output size rounded up;
- backward: the stride ignored, ``dA_prev`` computed with the flipped kernel or cropped from
  the wrong side of the padding, ``db`` summed over the wrong axes;
- max pooling: the gradient sent to every tied maximum, or to the last one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from parity_tests.compare import CheckResult, compare
from parity_tests.tolerances import Tolerance
from torch_ref.layout import conv_weight_to_course, conv_weight_to_torch, images_to_course, images_to_torch

AXES = ("m", "n_H", "n_W", "n_C")
FLIPPED = (
    "the kernel is flipped: this is a true convolution (W[::-1, ::-1]), but the course's "
    "and torch's 'convolution' is cross-correlation, Z = Σ a_slice ⊙ W + b, no flip"
)
ONE_SIDE = (
    "padded on one side only ({side}): zero_pad must put p zeros on each side, top and "
    "bottom, left and right (X_pad[:, p:p + n_H, p:p + n_W] = X)"
)
NO_BIAS = "the bias b is missing from Z"
STRIDE_SIZE = "the output has the stride-1 size: the stride s={s} is ignored"
CEIL_SIZE = "the output size is rounded up; the course's (and torch's) is ⌊(n + 2p − f)/s⌋ + 1"
STRIDE_BACKWARD = (
    "the backward ignores the stride: dZ[h, w] goes back to the window at (h, w) "
    "instead of (h·s, w·s) (slices need the step s: i : i + s·n_H : s)"
)
FLIPPED_BACKWARD = (
    "dA_prev uses the flipped kernel: the backward of cross-correlation adds "
    "W · dZ[h, w] onto each window as it is, unflipped"
)
CROP = (
    "dA_prev is cropped from the wrong side of the padding: drop p rows/columns on each "
    "side (dA_prev_pad[:, p:p + n_H_prev, p:p + n_W_prev])"
)
DB_AXES = (
    "db sums dZ over {axes} instead of over (m, n_H, n_W): one entry per filter, "
    "shape (1, 1, 1, n_C) (np.sum(dZ, axis=(0, 1, 2), keepdims=True))"
)
ALL_TIES = (
    "the gradient went to every tied maximum of a window (mask = x == max(x)); torch sends "
    "it to exactly one, the first in row-major order (np.argmax)"
)
LAST_TIE = "on ties the gradient went to the last maximum of a window; torch's is the first (row-major)"


def _matches(actual: np.ndarray, candidate: np.ndarray, tol: Tolerance) -> bool:
    return np.shape(actual) == np.shape(candidate) and compare("x", actual, candidate, tol).passed


def _t(a: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def _conv(A: np.ndarray, W: np.ndarray, b: np.ndarray | None, stride: int, pad: int) -> np.ndarray:
    """The reference convolution in the course layout (float64, CPU)."""
    bias = None if b is None else _t(np.reshape(b, -1))
    Z = F.conv2d(_t(images_to_torch(A)), _t(conv_weight_to_torch(W)), bias, stride=stride, padding=pad)
    return images_to_course(Z.numpy())


def _pad(A: np.ndarray, before: int, after: int) -> np.ndarray:
    return np.pad(A, ((0, 0), (before, after), (before, after), (0, 0)))


def _conv_vjp(
    A: np.ndarray, W: np.ndarray, G: np.ndarray, stride: int, pad: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(dA_prev_pad, dW)`` of ``Σ conv(pad(A), W) ⊙ G`` — the gradient w.r.t. the padded input."""
    x = _t(images_to_torch(_pad(A, pad, pad)), True)
    w = _t(conv_weight_to_torch(W), True)
    (F.conv2d(x, w, stride=stride) * _t(images_to_torch(G))).sum().backward()
    return images_to_course(x.grad.numpy()), conv_weight_to_course(w.grad.numpy())


def conv_forward(
    Z: np.ndarray, A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int, pad: int, tol: Tolerance
) -> str | None:
    """Which typical mistake produced the scratch ``Z``, if any."""
    f, (H, W_) = W.shape[0], A_prev.shape[1:3]
    sizes = [(n + 2 * pad - f) // stride + 1 for n in (H, W_)]
    if list(Z.shape[1:3]) != sizes:
        if list(Z.shape[1:3]) == [n + 2 * pad - f + 1 for n in (H, W_)]:
            return STRIDE_SIZE.format(s=stride)
        if list(Z.shape[1:3]) == [-(-(n + 2 * pad - f) // stride) + 1 for n in (H, W_)]:
            return CEIL_SIZE
        return None
    hypotheses = {
        FLIPPED: lambda: _conv(A_prev, W[::-1, ::-1], b, stride, pad),
        NO_BIAS: lambda: _conv(A_prev, W, None, stride, pad),
    }
    if pad:
        hypotheses[ONE_SIDE.format(side="all 2p after: bottom and right")] = lambda: _conv(
            _pad(A_prev, 0, 2 * pad), W, b, stride, 0
        )
        hypotheses[ONE_SIDE.format(side="all 2p before: top and left")] = lambda: _conv(
            _pad(A_prev, 2 * pad, 0), W, b, stride, 0
        )
    return next((text for text, make in hypotheses.items() if _matches(Z, make(), tol)), None)


def _db_axes(db: np.ndarray, G: np.ndarray, tol: Tolerance) -> str | None:
    for r in (1, 2, 3, 4):
        for axes in itertools.combinations(range(4), r):
            s = G.sum(axis=axes, keepdims=True)
            if axes != (0, 1, 2) and s.size == np.size(db) and _matches(np.ravel(db), s.ravel(), tol):
                return DB_AXES.format(axes="(" + ", ".join(AXES[a] for a in axes) + ")")
    return None


def conv_backward(
    grads: dict[str, np.ndarray],
    A_prev: np.ndarray,
    W: np.ndarray,
    G: np.ndarray,
    stride: int,
    pad: int,
    tol: Tolerance,
) -> str | None:
    """Which typical mistakes produced the scratch ``{"A_prev", "W", "b"}`` gradients."""
    found = []
    H, W_ = A_prev.shape[1:3]
    if "b" in grads and not _matches(grads["b"], G.sum(axis=(0, 1, 2), keepdims=True), tol):
        found.append(_db_axes(grads["b"], G, tol))
    dA, dW = grads.get("A_prev"), grads.get("W")
    dA_pad, dW_ref = _conv_vjp(A_prev, W, G, stride, pad)
    crop = np.s_[:, pad : pad + H, pad : pad + W_]
    dA_wrong = dA is not None and not _matches(dA, dA_pad[crop], tol)
    if stride > 1 and (dA_wrong or (dW is not None and not _matches(dW, dW_ref, tol))):
        G1 = np.zeros((G.shape[0], H + 2 * pad - W.shape[0] + 1, W_ + 2 * pad - W.shape[0] + 1, G.shape[3]))
        G1[:, : G.shape[1], : G.shape[2]] = G  # each dZ[h, w] at position (h, w) of a stride-1 output
        dA_pad1, dW1 = _conv_vjp(A_prev, W, G1, 1, pad)
        if (dA_wrong and _matches(dA, dA_pad1[crop], tol)) or (dW is not None and _matches(dW, dW1, tol)):
            found.append(STRIDE_BACKWARD)
    if dA_wrong and _matches(dA, _conv_vjp(A_prev, W[::-1, ::-1], G, stride, pad)[0][crop], tol):
        found.append(FLIPPED_BACKWARD)
    if dA_wrong and pad and any(_matches(dA, dA_pad[:, o : o + H, o : o + W_], tol) for o in (0, 2 * pad)):
        found.append(CROP)
    found = [text for text in found if text]
    return "; ".join(dict.fromkeys(found)) or None


def _max_pool_vjp(A: np.ndarray, f: int, stride: int, G: np.ndarray, rule: str) -> np.ndarray:
    """``dA_prev`` of max pooling under a tie ``rule``: ``"all"`` or ``"last"`` (NumPy loops)."""
    dA = np.zeros(A.shape)
    for i, h, w, c in np.ndindex(*G.shape):
        window = A[i, h * stride : h * stride + f, w * stride : w * stride + f, c]
        mask = window == window.max()
        if rule == "last":
            last = np.flatnonzero(mask.ravel())[-1]
            mask = np.zeros(window.shape, dtype=bool)
            mask[np.unravel_index(last, window.shape)] = True
        dA[i, h * stride : h * stride + f, w * stride : w * stride + f, c] += mask * G[i, h, w, c]
    return dA


def max_pool_backward(
    dA_prev: np.ndarray, A_prev: np.ndarray, f: int, stride: int, G: np.ndarray, tol: Tolerance
) -> str | None:
    """Which tie rule the scratch max-pool backward followed, if it is not torch's."""
    for rule, text in (("all", ALL_TIES), ("last", LAST_TIE)):
        if _matches(dA_prev, _max_pool_vjp(A_prev, f, stride, G, rule), tol):
            return text
    return None


class Recorder:
    """A scratch function that keeps its last call (arguments and output) for the diagnosis."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn, self.args, self.kwargs, self.out = fn, (), {}, None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.args, self.kwargs = args, kwargs
        self.out = self.fn(*args, **kwargs)
        return self.out


def diagnosed(result: CheckResult, why: Callable[[], str | None]) -> CheckResult:
    """``result`` with ``why()`` — a named mistake, computed only on failure — before its diagnosis."""
    if not result.passed:
        result.diagnosis = "; ".join(t for t in (why(), result.diagnosis) if t) or None
    return result
