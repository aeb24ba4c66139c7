"""The deep L-layer network as a torch module, built from a layer-size list and activation names.

``[Linear -> g](L-1) -> Linear``; :meth:`DeepNetwork.forward` returns ``z[L]``, and the output is
``σ`` (binary, ``nn.BCEWithLogitsLoss``), softmax (``k`` classes, ``nn.CrossEntropyLoss``) or
linear (regression, ``ŷ = z[L]`` with the course's ½ squared error,
:class:`~torch_ref.losses.SquaredErrorLoss`). Accepts the same hyperparameter configuration as
``scratch.deep`` (a ``scratch.deep.Config`` or a plain dict with its field names).

One module family: ``torch_ref.regression.MLPRegressor`` is this network with a linear output,
and the engine's MLP (``scratch.compgraph``) is checked against it with a sigmoid output.
Parameters convert with ``torch_ref.layout`` through :attr:`DeepNetwork.param_spec`
(``DeepNetwork.from_scratch(params, activation, output)``, ``net.scratch_params()``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from torch_ref._validate import check_batch
from torch_ref.activations import make_activation
from torch_ref.gd import make_optimizer
from torch_ref.init import check_initializer, init_linear_
from torch_ref.layout import FromScratch, ParamSpec, layer_dims_of, layer_param_spec
from torch_ref.losses import SquaredErrorLoss

OUTPUTS = ("sigmoid", "softmax", "linear")


def param_spec(L: int) -> ParamSpec:
    """``W[l]`` *is* ``layers.<l-1>.weight``; ``b[l] (n, 1)`` is ``layers.<l-1>.bias (n,)``."""
    return layer_param_spec(L)


def _check_dims(layer_dims: Sequence[int]) -> tuple[int, ...]:
    dims = tuple(layer_dims)
    if len(dims) < 2 or any(
        isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1 for n in dims
    ):
        raise ValueError(
            f"layer_dims: expected [n_x, n[1], ..., n[L]] of positive integers (at least 2), got {list(dims)}"
        )
    return tuple(int(n) for n in dims)


class DeepNetwork(FromScratch, nn.Module):
    """``a[l] = g(a[l-1] W[l]ᵀ + b[l])`` for ``l < L``, ``z[L] = a[L-1] W[L]ᵀ + b[L]``.

    Args:
        layer_dims: ``[n_x, n[1], …, n[L]]``.
        activation: hidden activation name, or one name per hidden layer.
        output: ``"sigmoid"`` (``n[L] = 1``), ``"softmax"`` (``n[L] = k >= 2``) or ``"linear"``
            (``ŷ = z[L]``, any ``n[L]``).
        initializer: ``"random"`` (``randn · 0.01``), ``"zeros"``, ``"xavier"``, ``"he"`` or
            ``"lecun"``.
        generator: the ``torch.Generator`` :meth:`reset_parameters` draws from.
        device, dtype: where and in which float type the parameters live.

    Shape:
        - Input: ``(m, n_x)``.  Output: ``(m, n[L])`` logits (``ŷ`` for a linear output).

    Attributes:
        layers[l-1].weight: ``(n[l], n[l-1])`` = ``W[l]``, drawn by ``initializer``.
        layers[l-1].bias: ``(n[l],)`` = ``b[l]``, zeros.

    Example:
        >>> net = DeepNetwork([4, 5, 3], "relu", "softmax", dtype=torch.float64)
        >>> net(torch.zeros(2, 4, dtype=torch.float64)).shape
        torch.Size([2, 3])
    """

    def __init__(
        self,
        layer_dims: Sequence[int],
        activation: str | Sequence[str] = "relu",
        output: str = "sigmoid",
        initializer: str = "he",
        generator: torch.Generator | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        factory_kwargs = {"device": device, "dtype": dtype}
        self.layer_dims = _check_dims(layer_dims)
        self.L = L = len(self.layer_dims) - 1
        names = (activation,) * (L - 1) if isinstance(activation, str) else tuple(activation)
        if len(names) != L - 1:
            raise ValueError(
                f"activation: expected one name or {L - 1} names (one per hidden "
                f"layer), got {len(names)}: {list(names)}"
            )
        if output not in OUTPUTS:
            raise ValueError(f"output: expected one of {list(OUTPUTS)}, got {output!r}")
        if output != "linear" and (output == "sigmoid") != (self.layer_dims[-1] == 1):
            raise ValueError(
                f"layer_dims: output={output!r} needs n[L] "
                f"{'= 1' if output == 'sigmoid' else '>= 2'}, got {self.layer_dims[-1]}"
            )
        self.activation_names, self.output = names, output
        self.initializer = check_initializer(initializer)
        self.layers = nn.ModuleList(
            nn.Linear(self.layer_dims[layer - 1], self.layer_dims[layer], **factory_kwargs)
            for layer in range(1, L + 1)
        )
        self.activations = nn.ModuleList(make_activation(n) for n in names)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Every weight by :attr:`initializer`, every bias zeros."""
        for layer in self.layers:
            init_linear_(layer, self.initializer, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = x  # a[0], (m, n_x)
        for layer, g in zip(self.layers[:-1], self.activations):
            a = g(layer(a))  # a[l], (m, n[l])
        return self.layers[-1](a)  # z[L], (m, n[L])

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """``σ(z[L])`` or ``softmax(z[L])`` over classes, shape ``(m, n[L])``."""
        if self.output == "linear":
            raise ValueError("predict_proba: a linear output predicts values, not probabilities; use predict")
        z = self(x)
        return torch.sigmoid(z) if self.output == "sigmoid" else torch.softmax(z, dim=1)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """int64 labels: ``1[σ(z) > ½]`` of shape ``(m, 1)`` for the sigmoid output (as
        :class:`~torch_ref.logreg.LogisticRegression` and :class:`~torch_ref.shallow.ShallowNetwork`),
        ``argmax_k z`` of shape ``(m,)`` for softmax (as ``scratch.deep.predict``, transposed);
        the values ``ŷ = z[L] (m, n[L])`` for a linear output."""
        z = self(x)
        if self.output == "linear":
            return z
        return (z > 0).long() if self.output == "sigmoid" else z.argmax(dim=1)

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy from the logits — ``y (m, 1)`` 0/1, or ``(m,)`` class indices /
        ``(m, k)`` one-hot rows for softmax — or the course's ``1/m Σ ½ (ŷ − y)²`` for a linear
        output (``y (m, n[L])``)."""
        z = self(x)
        if self.output == "sigmoid":
            return F.binary_cross_entropy_with_logits(z, y)
        if self.output == "linear":
            return SquaredErrorLoss()(z, y)
        return F.cross_entropy(z, y)

    def extra_repr(self) -> str:
        act = self.activation_names[0] if len(set(self.activation_names)) == 1 else self.activation_names
        return (
            f"layer_dims={list(self.layer_dims)}, activation={act!r}, output={self.output!r}, "
            f"initializer={self.initializer!r}"
        )

    @property
    def param_spec(self) -> ParamSpec:
        """``W[l]`` *is* ``layers.<l-1>.weight``; ``b[l] (n, 1)`` is ``layers.<l-1>.bias (n,)``."""
        return param_spec(self.L)

    @classmethod
    def from_config(
        cls,
        config: Any,
        generator: torch.Generator | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> "DeepNetwork":
        """Build from a ``scratch.deep.Config`` or a dict with its field names.

        With no ``generator``, one seeded with ``config.seed`` is used (its stream differs from
        NumPy's: parity runs load the scratch parameters instead).
        """
        get = _getter(config)
        if generator is None:
            generator = torch.Generator(device=device or "cpu").manual_seed(int(get("seed", 0)))
        return cls(
            get("layer_dims"),
            get("activation", "relu"),
            get("output", "sigmoid"),
            get("initializer", "he"),
            generator,
            device=device,
            dtype=dtype,
        )

    @classmethod
    def scratch_sizes(cls, params: Mapping[str, np.ndarray]) -> tuple[list[int]]:
        """``(layer_dims,)`` read off scratch ``W1 … WL``, for :meth:`from_scratch`."""
        return (layer_dims_of(params),)


def _getter(config: Any) -> Callable[..., Any]:
    if isinstance(config, Mapping):
        return lambda k, *default: config[k] if k in config or not default else default[0]
    return lambda k, *default: getattr(config, k, *default)


def check_labels(model: DeepNetwork, Y: torch.Tensor, m: int) -> torch.Tensor:
    """``Y`` for :meth:`DeepNetwork.loss`: ``(m, 1)`` 0/1 floats, or for softmax ``(m,)`` class
    indices in ``[0, k-1]`` or ``(m, k)`` one-hot rows, or for a linear output ``(m, n[L])`` real
    targets. Raises ``ValueError`` otherwise."""
    k = model.layer_dims[-1]
    if model.output == "linear":
        if tuple(Y.shape) != (m, k) or not Y.is_floating_point():
            raise ValueError(
                f"Y: expected float targets of shape (m, n[L]) = ({m}, {k}), got {tuple(Y.shape)} {Y.dtype}"
            )
        return Y
    if model.output == "sigmoid":
        if tuple(Y.shape) != (m, 1):
            raise ValueError(f"Y: expected shape (m, 1) = ({m}, 1), got {tuple(Y.shape)}")
        if not bool(((Y == 0) | (Y == 1)).all()):
            raise ValueError("Y: binary labels must be 0 or 1")
        return Y
    if not Y.is_floating_point():
        if tuple(Y.shape) != (m,):
            raise ValueError(f"Y: expected class indices of shape (m,) = ({m},), got {tuple(Y.shape)}")
        if m and (int(Y.min()) < 0 or int(Y.max()) >= k):
            raise ValueError(
                f"Y: class indices must lie in [0, {k - 1}] for k={k}, got range "
                f"[{int(Y.min())}, {int(Y.max())}]"
            )
        return Y.long()
    if tuple(Y.shape) != (m, k):
        raise ValueError(f"Y: expected one-hot rows of shape (m, k) = ({m}, {k}), got {tuple(Y.shape)}")
    return Y


def train(model: DeepNetwork, X: torch.Tensor, Y: torch.Tensor, config: Any) -> list[float]:
    """Gradient descent with ``config``'s learning rate, iterations and batch size.

    Mini-batches are consecutive slices, wrapping around, no shuffle — exactly those of
    ``scratch.deep.train``. Returns ``J`` at every step; raises ``FloatingPointError`` naming the
    step, before updating, if ``J`` becomes NaN or infinite.
    """
    get = _getter(config)
    check_batch(X, Y, model.layer_dims[0])  # Y: checked by check_labels below
    m = X.shape[0]
    Y = check_labels(model, Y, m)
    lr = get("learning_rate")
    opt = make_optimizer(model.parameters(), lr)
    size = get("batch_size", None) or m
    if size > m:
        raise ValueError(f"batch_size: {size} is larger than the m={m} examples")
    per_epoch = m // size
    costs: list[float] = []
    for t in range(int(get("num_iterations"))):
        s = slice((t % per_epoch) * size, (t % per_epoch + 1) * size)
        opt.zero_grad(set_to_none=True)
        J = model.loss(X[s], Y[s])
        cost = J.item()
        if not math.isfinite(cost):
            raise FloatingPointError(
                f"cost became {cost} at step {t} (learning_rate={lr}); "
                "training stopped before applying that step's gradients"
            )
        J.backward()
        opt.step()
        costs.append(cost)
    return costs


__all__ = ["OUTPUTS", "DeepNetwork", "param_spec", "train", "check_labels"]
