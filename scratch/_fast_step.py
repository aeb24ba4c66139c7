"""The fast training step of :mod:`scratch.deep`: the same equations, buffers reused.

Kept apart from the readable reference in ``scratch/deep.py`` (``L_model_forward`` /
``L_model_backward``) so that each file holds one concern; ``scratch.deep`` re-exports
:class:`TrainingStep`, and a test proves the two paths agree. What both need (the output
choices, the per-layer activation names) lives in :mod:`scratch._network`, so neither imports
the other's internals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from scratch._network import check_output, hidden_activations
from scratch._validate import check_params
from scratch.gd import Params
from scratch.init import check_layer_dims


def _activate(name: str, Z: np.ndarray, out: np.ndarray) -> None:
    """``out = g(Z)`` in place (no allocation for relu/tanh/leaky_relu/linear), no input validation."""
    if name == "linear":  # the identity: regression's Ŷ = Z[L]
        np.copyto(out, Z)
    elif name == "relu":  # max(0, z)
        np.maximum(Z, 0, out=out)
    elif name == "tanh":
        np.tanh(Z, out=out)
    elif name == "leaky_relu":  # max(z, 0.01 z), as scratch.activations.leaky_relu
        np.multiply(Z, Z.dtype.type(0.01), out=out)
        np.maximum(Z, out, out=out)
    elif name == "sigmoid":  # e = exp(−|z|): 1/(1+e) for z >= 0, e/(1+e) below, as sigmoid()
        np.exp(-np.abs(Z), out=out)
        np.divide(np.where(Z >= 0, 1, out), 1 + out, out=out)
    else:  # softmax down each column, max subtracted first
        np.subtract(Z, Z.max(axis=0, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=0, keepdims=True)


def _backprop_activation(name: str, dA: np.ndarray, Z: np.ndarray, A: np.ndarray,
                         out: np.ndarray, mask: np.ndarray) -> None:
    """``out = dA * g'(Z)``, using ``A = g(Z)`` where that is cheaper; ``mask`` is a reusable
    boolean buffer of ``Z``'s shape."""
    if name == "relu":  # g'(z) = 1[z > 0]
        np.greater(Z, 0, out=mask)
        np.multiply(dA, mask, out=out)
    elif name == "tanh":  # g'(z) = 1 − a²
        np.multiply(A, A, out=out)
        np.subtract(1, out, out=out)
        out *= dA
    elif name == "sigmoid":  # g'(z) = a (1 − a)
        np.subtract(1, A, out=out)
        out *= A
        out *= dA
    else:  # leaky_relu: g'(z) = 1 if z > 0 else 0.01
        np.multiply(dA, np.where(Z > 0, Z.dtype.type(1), Z.dtype.type(0.01)), out=out)


class TrainingStep:
    """One gradient-descent step of an L-layer network on batches of ``m`` examples, fast.

    The equations are those of :func:`L_model_forward`/:func:`L_model_backward`; what differs
    is only *where results go*: every ``Z[l], A[l], dZ[l], dA[l], dW[l], db[l]`` lives in a
    buffer allocated once (in the parameters' dtype — nothing is upcast), each NumPy call
    writes with ``out=``, and layer 1 skips ``dA[0] = W[1]ᵀ dZ[1]``, which no update needs.

    One more saving: the notes' ``1/m`` (and, in :meth:`step`, the learning rate ``α``) is
    applied once, to the small ``dZ[L] = (A[L] − Y) · 1/m``, instead of to every ``dW[l]`` and
    ``db[l]``. Backprop is linear in ``dZ[L]`` (``dZ[l-1] = W[l]ᵀ dZ[l] * g'(Z[l-1])``), so
    ``dZ[l] A[l-1]ᵀ`` is then exactly the notes' ``1/m dZ[l] A[l-1]ᵀ`` (and ``α`` times it in
    :meth:`step`, whose update ``W[l] −= α dW[l]`` is then a single subtraction, like torch's
    fused ``SGD``).

    ``step(params, X, Y, α)`` updates ``params`` in place and returns ``J``;
    ``cost_and_grads(params, X, Y)`` returns ``J`` and the gradients (views of the buffers,
    overwritten by the next call). ``X (n_x, m)``; ``Y (n[L], m)`` 0/1, one-hot or real, prepared
    with :func:`prepare_labels`; ``X`` is assumed finite (:func:`train` checks it once).
    """

    def __init__(self, layer_dims: Sequence[int], m: int, dtype: np.dtype = np.float64,
                 activation: str | Sequence[str] = "relu", output: str = "sigmoid") -> None:
        self.dims = check_layer_dims(layer_dims)
        self.L = L = len(self.dims) - 1
        self.names = (*hidden_activations(activation, L), check_output(output))
        self.m, self.dtype = int(m), np.dtype(dtype)
        n = self.dims

        def buf(*shape: int) -> np.ndarray:
            return np.empty(shape, dtype=self.dtype)

        self.Z = [None] + [buf(n[layer], m) for layer in range(1, L + 1)]  # Z[l] (n[l], m)
        self.A = [None] + [buf(n[layer], m) for layer in range(1, L + 1)]  # A[l] (n[l], m)
        self.dZ = [None] + [buf(n[layer], m) for layer in range(1, L + 1)]  # dZ[l] (n[l], m)
        self.dA = [None] + [buf(n[layer], m) for layer in range(1, L)]  # dA[l] (n[l], m), l < L
        self.dW = [None] + [buf(n[layer], n[layer - 1]) for layer in range(1, L + 1)]  # (n[l], n[l-1])
        self.db = [None] + [buf(n[layer], 1) for layer in range(1, L + 1)]  # (n[l], 1)
        self.mask = [None] + [np.empty((n[layer], m), dtype=bool) for layer in range(1, L)]

    def _check(self, params: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> None:
        p, _ = check_params(params, layer_dims=self.dims, finite=False)  # keys, shapes, one dtype
        if p["W1"].dtype != self.dtype:
            raise TypeError(f"params: dtype {p['W1'].dtype} differs from the step's {self.dtype}")
        for name, a, rows in (("X", X, self.dims[0]), ("Y", Y, self.dims[-1])):
            if a.shape != (rows, self.m) or a.dtype != self.dtype:
                raise ValueError(f"{name}: expected ({rows}, {self.m}) {self.dtype}, got "
                                 f"{a.shape} {a.dtype}")

    def _run(self, params: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray,
             scale: float) -> float:
        """Forward and backward; leaves ``scale · m · ∂J/∂W[l]`` in ``dW[l]`` (same for ``db``)
        and returns ``J``."""
        self._check(params, X, Y)
        L, Z, A, dZ, dA, dW, db = self.L, self.Z, self.A, self.dZ, self.dA, self.dW, self.db
        A_prev = X  # A[0], (n_x, m)
        for layer in range(1, L + 1):  # forward
            np.matmul(params[f"W{layer}"], A_prev, out=Z[layer])  # Z[l] = W[l] A[l-1] ...
            Z[layer] += params[f"b{layer}"]  # ... + b[l]
            _activate(self.names[layer - 1], Z[layer], out=A[layer])  # A[l] = g[l](Z[l])
            A_prev = A[layer]
        cost = self._cost(Z[L], A[L], Y)
        np.subtract(A[L], Y, out=dZ[L])  # dZ[L] = A[L] − Y ...
        dZ[L] *= self.dtype.type(scale)  # ... · 1/m (or · α/m), carried by every layer below
        for layer in range(L, 0, -1):  # backward
            A_prev = A[layer - 1] if layer > 1 else X
            np.matmul(dZ[layer], A_prev.T, out=dW[layer])  # dW[l] = 1/m dZ[l] A[l-1]ᵀ
            np.sum(dZ[layer], axis=1, keepdims=True, out=db[layer])  # db[l] = 1/m Σ dZ[l]
            if layer > 1:  # no dA[0]: nothing is updated with it
                np.matmul(params[f"W{layer}"].T, dZ[layer], out=dA[layer - 1])  # dA[l-1] = W[l]ᵀ dZ[l]
                _backprop_activation(self.names[layer - 2], dA[layer - 1], Z[layer - 1], A[layer - 1],
                                     out=dZ[layer - 1], mask=self.mask[layer - 1])  # dA * g'(Z[l-1])
        return cost

    def cost_and_grads(self, params: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray,
                       ) -> tuple[float, Params]:
        """``J`` and ``{"dW1": ..., "db1": ...}`` (views of the buffers, valid until the next call)."""
        cost = self._run(params, X, Y, 1 / self.m)
        grads = {}
        for layer in range(1, self.L + 1):
            grads[f"dW{layer}"], grads[f"db{layer}"] = self.dW[layer], self.db[layer]
        return cost, grads

    def _cost(self, ZL: np.ndarray, AL: np.ndarray, Y: np.ndarray) -> float:
        """Cross-entropy from the logits, or the squared error ``½ (ŷ − y)²`` (small: ``n[L] × m``)."""
        if self.names[-1] == "linear":
            L_i = 0.5 * (ZL - Y) ** 2
        elif self.names[-1] == "sigmoid":
            L_i = np.maximum(ZL, 0) - ZL * Y + np.log1p(np.exp(-np.abs(ZL)))
        else:
            shifted = ZL - ZL.max(axis=0, keepdims=True)
            L_i = -Y * (shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True)))
        return float(L_i.sum()) / self.m

    def update(self, params: Params, grads: Params, learning_rate: float) -> None:
        """``W[l] −= α dW[l]``, ``b[l] −= α db[l]`` in place (``grads`` from this step)."""
        alpha = self.dtype.type(learning_rate)
        for layer in range(1, self.L + 1):
            dW, db = grads[f"dW{layer}"], grads[f"db{layer}"]
            dW *= alpha  # the buffer now holds α dW[l]
            params[f"W{layer}"] -= dW
            db *= alpha
            params[f"b{layer}"] -= db

    def step(self, params: Params, X: np.ndarray, Y: np.ndarray, learning_rate: float) -> float:
        """One step in place; returns ``J`` before the update. A non-finite ``J`` raises
        ``FloatingPointError`` and leaves ``params`` untouched."""
        with np.errstate(over="ignore", invalid="ignore"):
            cost = self._run(params, X, Y, learning_rate / self.m)  # buffers hold α dW[l], α db[l]
        if not math.isfinite(cost):
            raise FloatingPointError(f"cost became {cost}; parameters left as they were")
        for layer in range(1, self.L + 1):
            params[f"W{layer}"] -= self.dW[layer]  # W[l] := W[l] − α dW[l]
            params[f"b{layer}"] -= self.db[layer]  # b[l] := b[l] − α db[l]
        return cost
