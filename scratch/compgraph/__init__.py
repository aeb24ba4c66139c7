"""The computation graph: a small reverse-mode autodiff engine over NumPy arrays.

Three modules, one concern each, re-exported here under their old names:

- :mod:`scratch.compgraph.engine` — :class:`Tensor`, its operations (each derivative next to
  its forward formula), reverse mode, :func:`no_grad`, :data:`OPS`;
- :mod:`scratch.compgraph.draw` — :func:`to_text` and :func:`to_dot`;
- :mod:`scratch.compgraph.models` — an MLP and logistic regression written on the engine.

Example:
    >>> x = Tensor(3.0, label="x")
    >>> (x * x).backward()
    >>> float(x.grad)
    6.0
"""

from scratch.compgraph.draw import to_dot, to_text
from scratch.compgraph.engine import (
    OPS,
    Backward,
    Tensor,
    is_grad_enabled,
    no_grad,
    topological_order,
)
from scratch.compgraph.models import (
    ACTIVATIONS,
    binary_cross_entropy,
    logreg_propagate,
    mlp_forward,
    mlp_propagate,
)

__all__ = [
    "Tensor",
    "Backward",
    "no_grad",
    "is_grad_enabled",
    "topological_order",
    "OPS",
    "to_text",
    "to_dot",
    "ACTIVATIONS",
    "binary_cross_entropy",
    "mlp_forward",
    "mlp_propagate",
    "logreg_propagate",
]
