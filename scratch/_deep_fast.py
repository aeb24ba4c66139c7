"""The hot loops' path through :mod:`scratch.deep`'s L-layer network: no checks, buffers reused.

The equations are :func:`scratch.deep.L_model_forward`'s and
:func:`scratch.deep.backward_from_output`'s, the activations ``g``/``g'`` and the cost are
:mod:`scratch.deep`'s own (ReLU and tanh are written here in place, the same formulas; the
others call :mod:`scratch.activations`). What differs is where the work goes:

- **no input checks** — the caller checks once (:class:`TrainingStep` its parameters' keys,
  shapes and dtype; the agents of :mod:`scratch.rl` at construction);
- **buffers** — every ``Z[l], A[l], dZ[l], dA[l], dW[l], db[l]`` is allocated once for a fixed
  batch size ``m`` (in the parameters' dtype) and written with ``out=``;
- **the 1/m once** — backprop is linear in ``dZ[L]``, so ``1/m`` (and, in
  :meth:`TrainingStep.step`, ``α``) is applied to the small ``dZ[L]`` instead of to every
  ``dW[l]``, ``db[l]``;
- **no dA[0]** — the input's gradient, which no update needs.

Why it is kept (measured on the 2-core AMD EPYC): on the RL agents' tiny networks (4-64-64-2)
the checks are most of the reference's time — a forward and backward on a batch of 64 took
~2× longer through the reference (505 µs against 224 µs), one acting forward ~4× (84 µs
against 16 µs). On the MLP step (784-512-256-10, batch 256) the buffers are worth little once
the reference also skips ``dA[0]`` (``mlp_step``'s ``fast gain``: 0.93–1.10 in one run), so
:func:`scratch.deep.train` runs the reference and ``mlp_step``'s headline ratio is the
reference's. The suite proves this path equal to the reference (``test_deep``: the step;
``test_rl``: the agents' network).

Example:
    >>> import numpy as np
    >>> from scratch.deep import initialize_parameters_deep, L_model_forward
    >>> rng = np.random.default_rng(0)
    >>> params, X = initialize_parameters_deep([3, 4, 2], rng), rng.standard_normal((3, 5))
    >>> net = FastNetwork([3, 4, 2], 5, np.float64, "relu", "softmax")
    >>> bool(np.allclose(net.forward(params, X), L_model_forward(X, params, "relu", "softmax")[0]))
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from scratch._network import check_output, hidden_activations
from scratch._validate import check_params
from scratch.activations import get_activation, softmax
from scratch.deep import cost_from_logits
from scratch.gd import Params
from scratch.init import check_layer_dims


def activate(name: str, Z: np.ndarray, out: np.ndarray) -> None:
    """``out = g(Z)``: ReLU ``max(0, z)`` and tanh in place, ``"linear"`` a copy, the others
    :mod:`scratch.activations`' ``g`` (and :func:`~scratch.activations.softmax`)."""
    if name == "relu":
        np.maximum(Z, 0, out=out)
    elif name == "tanh":
        np.tanh(Z, out=out)
    elif name == "linear":
        np.copyto(out, Z)
    else:
        np.copyto(out, softmax(Z) if name == "softmax" else get_activation(name)[0](Z))


def activation_backward(name: str, dA: np.ndarray, Z: np.ndarray, A: np.ndarray, out: np.ndarray) -> None:
    """``out = dA * g'(Z)``: ReLU ``1[z > 0]`` and tanh ``1 − a²`` (with ``A = g(Z)``) in
    place, the others :mod:`scratch.activations`' ``g'``."""
    if name == "relu":
        np.multiply(dA, Z > 0, out=out)
    elif name == "tanh":
        np.multiply(A, A, out=out)
        np.subtract(1, out, out=out)
        out *= dA
    else:
        np.multiply(dA, get_activation(name)[1](Z), out=out)


def logits(params: Mapping[str, np.ndarray], X: np.ndarray, activations: Sequence[str]) -> np.ndarray:
    """``Z[L] (n[L], m)`` for ``X (n[0], m)``, any ``m``, with ``activations[l-1]`` the hidden
    layers' ``g[l]`` (``L − 1`` of them): ``Z[l] = W[l] A[l-1] + b[l]``, ``A[l] = g[l](Z[l])``.
    No checks and no caches (acting)."""
    L = len(activations) + 1
    A = X  # A[0], (n[0], m)
    for layer in range(1, L):
        Z = params[f"W{layer}"] @ A + params[f"b{layer}"]  # (n[l], m)
        activate(activations[layer - 1], Z, out=Z)  # A[l] = g(Z[l]), written over Z[l]
        A = Z
    return params[f"W{L}"] @ A + params[f"b{L}"]  # Z[L], (n[L], m)


class FastNetwork:
    """The network for batches of exactly ``m`` examples, every intermediate in a buffer::

        Z[l] = W[l] A[l-1] + b[l]      A[l] = g[l](Z[l])                               forward
        dW[l] = 1/m dZ[l] A[l-1]ᵀ      db[l] = 1/m Σ_i dZ[l]      dZ[l-1] = W[l]ᵀ dZ[l] * g'(Z[l-1])

    ``activation``: the hidden ``g``, one name or one per hidden layer; ``output``: ``g[L]``,
    ``"sigmoid"``, ``"softmax"`` or ``"linear"`` (``A[L] = Z[L]``: logits, ``Q(s, ·)``).
    :meth:`forward` keeps ``X`` (not copied: leave it unchanged until :meth:`backward`).
    """

    def __init__(
        self,
        layer_dims: Sequence[int],
        m: int,
        dtype: np.dtype = np.float64,
        activation: str | Sequence[str] = "relu",
        output: str = "linear",
    ) -> None:
        self.dims = n = check_layer_dims(layer_dims)
        self.L = L = len(n) - 1
        self.names = (*hidden_activations(activation, L), check_output(output))
        self.m, self.dtype = int(m), np.dtype(dtype)

        def buf(rows: int, cols: int) -> np.ndarray:
            return np.empty((rows, cols), dtype=self.dtype)

        self.Z = [None] + [buf(n[layer], m) for layer in range(1, L + 1)]  # Z[l] (n[l], m)
        self.A = [None] + [buf(n[layer], m) for layer in range(1, L + 1)]  # A[l] (n[l], m)
        if output == "linear":
            self.A[L] = self.Z[L]  # A[L] = Z[L]: no copy
        self.dZ = [None] + [buf(n[layer], m) for layer in range(1, L + 1)]  # dZ[l] (n[l], m)
        self.dA = [None] + [buf(n[layer], m) for layer in range(1, L)]  # dA[l] (n[l], m), l < L
        self.dW = [None] + [buf(n[layer], n[layer - 1]) for layer in range(1, L + 1)]  # (n[l], n[l-1])
        self.db = [None] + [buf(n[layer], 1) for layer in range(1, L + 1)]  # (n[l], 1)
        self.X: np.ndarray | None = None

    def forward(self, params: Mapping[str, np.ndarray], X: np.ndarray) -> np.ndarray:
        """``A[L] (n[L], m)`` (a buffer, overwritten by the next call) for ``X (n[0], m)``."""
        self.X = A_prev = X  # A[0]
        for layer in range(1, self.L + 1):
            np.matmul(params[f"W{layer}"], A_prev, out=self.Z[layer])  # Z[l] = W[l] A[l-1] ...
            self.Z[layer] += params[f"b{layer}"]  # ... + b[l]
            if self.A[layer] is not self.Z[layer]:
                activate(self.names[layer - 1], self.Z[layer], out=self.A[layer])  # A[l] = g(Z[l])
            A_prev = self.A[layer]
        return A_prev

    def backward(self, params: Mapping[str, np.ndarray], dZL: np.ndarray) -> Params:
        """``{"dW1", "db1", …}`` (views of the buffers, overwritten by the next call) from the
        per-example ``dZ[L] (n[L], m)`` of the last :meth:`forward`; no ``dA[0]``."""
        dZ, A, Z = self.dZ, self.A, self.Z
        np.multiply(dZL, self.dtype.type(1 / self.m), out=dZ[self.L])  # 1/m dZ[L], carried down
        grads: Params = {}
        for layer in range(self.L, 0, -1):
            A_prev = A[layer - 1] if layer > 1 else self.X
            grads[f"dW{layer}"] = np.matmul(dZ[layer], A_prev.T, out=self.dW[layer])  # 1/m dZ[l] A[l-1]ᵀ
            grads[f"db{layer}"] = np.sum(dZ[layer], axis=1, keepdims=True, out=self.db[layer])  # 1/m Σ dZ[l]
            if layer > 1:
                np.matmul(params[f"W{layer}"].T, dZ[layer], out=self.dA[layer - 1])  # dA[l-1] = W[l]ᵀ dZ[l]
                activation_backward(  # dZ[l-1] = dA[l-1] * g'(Z[l-1])
                    self.names[layer - 2], self.dA[layer - 1], Z[layer - 1], A[layer - 1], out=dZ[layer - 1]
                )
        return dict(sorted(grads.items()))


class TrainingStep(FastNetwork):
    """One gradient-descent step of :func:`scratch.deep.train`'s network on batches of ``m``:
    :func:`scratch.deep.propagate` and ``W[l] −= α dW[l]``, ``b[l] −= α db[l]`` through
    :class:`FastNetwork`, ``J`` by :func:`scratch.deep.cost_from_logits`.

    ``step(params, X, Y, α)`` updates ``params`` in place and returns ``J``;
    ``cost_and_grads(params, X, Y)`` returns ``J`` and the gradients (views of the buffers,
    overwritten by the next call). ``X (n_x, m)``; ``Y (n[L], m)`` 0/1, one-hot or real,
    prepared with :func:`scratch.deep.prepare_labels`. Checks the parameters' keys, shapes and
    dtype and the shapes of ``X``, ``Y`` (not their values: ``X`` is assumed finite).
    """

    def __init__(
        self,
        layer_dims: Sequence[int],
        m: int,
        dtype: np.dtype = np.float64,
        activation: str | Sequence[str] = "relu",
        output: str = "sigmoid",
    ) -> None:
        super().__init__(layer_dims, m, dtype, activation, output)

    def _check(self, params: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> None:
        p, _ = check_params(params, layer_dims=self.dims, finite=False)  # keys, shapes, one dtype
        if p["W1"].dtype != self.dtype:
            raise TypeError(f"params: dtype {p['W1'].dtype} differs from the step's {self.dtype}")
        for name, a, rows in (("X", X, self.dims[0]), ("Y", Y, self.dims[-1])):
            if a.shape != (rows, self.m) or a.dtype != self.dtype:
                raise ValueError(f"{name}: expected ({rows}, {self.m}) {self.dtype}, got {a.shape} {a.dtype}")

    def _run(
        self, params: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray, scale: float
    ) -> tuple[float, Params]:
        """``J`` and ``scale ·`` the gradients."""
        self._check(params, X, Y)
        AL = self.forward(params, X)
        cost = float(cost_from_logits(self.Z[self.L], Y, self.names[-1]))
        dZL = np.subtract(AL, Y, out=self.dZ[self.L])  # dZ[L] = A[L] − Y ...
        dZL *= self.dtype.type(scale)  # ... (· α in step)
        return cost, self.backward(params, dZL)

    def cost_and_grads(
        self,
        params: Mapping[str, np.ndarray],
        X: np.ndarray,
        Y: np.ndarray,
    ) -> tuple[float, Params]:
        """``J`` and ``{"dW1": ..., "db1": ...}`` (views of the buffers, valid until the next call)."""
        return self._run(params, X, Y, 1.0)

    def update(self, params: Params, grads: Params, learning_rate: float) -> None:
        """``W[l] −= α dW[l]``, ``b[l] −= α db[l]`` in place (``grads`` from this step, scaled
        in place)."""
        alpha = self.dtype.type(learning_rate)
        for k, p in params.items():
            dp = grads["d" + k]
            dp *= alpha  # the buffer now holds α dp
            p -= dp

    def step(self, params: Params, X: np.ndarray, Y: np.ndarray, learning_rate: float) -> float:
        """One step in place; returns ``J`` before the update. A non-finite ``J`` raises
        ``FloatingPointError`` and leaves ``params`` untouched."""
        with np.errstate(over="ignore", invalid="ignore"):
            cost, grads = self._run(params, X, Y, learning_rate)  # α dW[l], α db[l]
        if not math.isfinite(cost):
            raise FloatingPointError(f"cost became {cost}; parameters left as they were")
        for k, p in params.items():
            p -= grads["d" + k]  # p := p − α dp
        return cost


__all__ = ["activate", "activation_backward", "logits", "FastNetwork", "TrainingStep"]
