"""What :mod:`scratch.deep` and its buffered step :mod:`scratch._fast_step` share: the output
layer's choices, the hidden activations' names (one per layer) and the hyperparameters
(:class:`Config`, re-exported by ``scratch.deep``).

Output ``g[L]`` and the cost it goes with (each gives ``dZ[L] = A[L] − Y`` per example):

===========  ==============================  ==================================================
output       ``A[L]``                        cost ``J``
===========  ==============================  ==================================================
``sigmoid``  ``σ(Z[L])``, ``n[L] = 1``       ``−1/m Σ [y log a + (1 − y) log(1 − a)]``
``softmax``  ``softmax(Z[L])``, ``k >= 2``   ``−1/m Σ_i Σ_k y_k log a_k``
``linear``   ``Ŷ = Z[L]``, any ``n[L]``      ``1/(2m) Σ (ŷ − y)²`` (the course's squared error)
===========  ==============================  ==================================================

Example:
    >>> hidden_activations("relu", 3), check_output("linear")
    (('relu', 'relu'), 'linear')
    >>> Config(layer_dims=(3, 4, 2), output="linear", initializer="lecun").L
    2
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from scratch._validate import check_learning_rate
from scratch.activations import get_activation
from scratch.init import check_layer_dims, get_initializer

OUTPUTS = ("sigmoid", "softmax", "linear")


def check_output(output: str) -> str:
    """``output`` if it is one of :data:`OUTPUTS`, else ``ValueError`` listing them."""
    if output not in OUTPUTS:
        raise ValueError(f"output: expected one of {list(OUTPUTS)}, got {output!r}")
    return output


def hidden_activations(activation: str | Sequence[str], L: int) -> tuple[str, ...]:
    """One activation name per hidden layer ``1 … L-1`` from a name or a list of ``L-1`` names."""
    names = (activation,) * (L - 1) if isinstance(activation, str) else tuple(activation)
    if len(names) != L - 1:
        raise ValueError(
            f"activation: expected one name or {L - 1} names (one per hidden layer), "
            f"got {len(names)}: {list(names)}"
        )
    for name in names:
        get_activation(name)
    return names


# --- hyperparameters -----------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    """The notes' hyperparameters (α, iterations, hidden units/layers, activation) and the rest.

    Attributes:
        layer_dims: ``[n_x, n[1], …, n[L]]``; ``n[L] = 1`` with a sigmoid output, ``k`` classes
            with softmax.
        activation: hidden activation name, or one name per hidden layer.
        output: ``"sigmoid"`` (binary), ``"softmax"`` (``k`` classes) or ``"linear"``
            (regression: ``Ŷ = Z[L]`` and the squared error).
        initializer: ``"random"`` (``randn·0.01``), ``"zeros"``, ``"xavier"``, ``"he"`` or
            ``"lecun"``.
        learning_rate: ``α``, a positive finite number.
        num_iterations: gradient-descent steps (one per mini-batch).
        batch_size: examples per step; ``None`` = the full batch. Mini-batches are consecutive
            slices of the data in order, wrapping around — no shuffling, so both sides see the
            same batches without sharing a random stream.
        seed: seeds the initializer's generator.
    """

    layer_dims: tuple[int, ...]
    activation: str | tuple[str, ...] = "relu"
    output: str = "sigmoid"
    initializer: str = "he"
    learning_rate: float = 0.0075
    num_iterations: int = 1000
    batch_size: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        dims = check_layer_dims(self.layer_dims)
        object.__setattr__(self, "layer_dims", dims)
        act = self.activation if isinstance(self.activation, str) else tuple(self.activation)
        hidden_activations(act, len(dims) - 1)
        object.__setattr__(self, "activation", act)
        check_output(self.output)
        if self.output == "sigmoid" and dims[-1] != 1:
            raise ValueError(
                f"layer_dims: a sigmoid output needs n[L] = 1, got n[L] = {dims[-1]}; "
                "use output='softmax' for k classes"
            )
        if self.output == "softmax" and dims[-1] < 2:
            raise ValueError(f"layer_dims: a softmax output needs n[L] >= 2 classes, got {dims[-1]}")
        get_initializer(self.initializer)
        object.__setattr__(self, "learning_rate", check_learning_rate(self.learning_rate))
        for name in ("num_iterations", "seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or int(v) != v or v < 0:
                raise ValueError(f"{name}: expected a non-negative integer, got {v!r}")
        if self.batch_size is not None and (int(self.batch_size) != self.batch_size or self.batch_size < 1):
            raise ValueError(f"batch_size: expected a positive integer or None, got {self.batch_size!r}")

    @property
    def L(self) -> int:
        """Number of layers with parameters."""
        return len(self.layer_dims) - 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Config":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"config: unknown keys {unknown}; expected some of {sorted(known)}")
        return cls(**d)
