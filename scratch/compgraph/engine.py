"""The computation graph: a small reverse-mode autodiff engine over NumPy arrays.

The notes' "Computation Graph → how derivatives are calculated": ``z = w1 x1 + w2 x2 + b →
a = σ(z) → L(a, y)``, and ``∂L/∂w1 = ∂L/∂a · ∂a/∂z · ∂z/∂w1`` — the chain rule applied
backwards through the graph. Each :class:`Tensor` holds ``data`` and ``grad``; each operation
records its inputs and its local backward rule, written next to its forward formula
(micrograd's style, on arrays instead of scalars)::

    out = x * y          backward: ∂/∂x = g · y,   ∂/∂y = g · x      (g = ∂L/∂out)

:meth:`Tensor.backward` visits the nodes in reverse topological order — iteratively, so a graph
10,000 nodes deep is fine — and *accumulates* into each input's ``grad``: a tensor used twice
receives both contributions. Binary operations broadcast like NumPy and sum the gradient back
to each operand's shape. Numerics follow ``torch.autograd`` on purpose, at its edge values too:
``log(0) = −inf`` with gradient ``+inf``, ``x / 0`` is IEEE ``±inf``/``nan`` (no warnings),
and ReLU's subgradient at exactly 0 is 0.

Leaves (tensors you create) accumulate into ``grad`` across calls until :meth:`Tensor.zero_grad`;
intermediate results get a fresh ``grad`` at every :meth:`~Tensor.backward` and keep it, so
``∂L/∂a`` of the notes' example can be read off ``a.grad``. Inside ``with no_grad():`` nothing
is recorded. Only float32/float64 data is accepted and dtypes are never mixed silently.

The engine is this module; drawing a graph (:mod:`scratch.compgraph.draw`) and models written
on the engine (:mod:`scratch.compgraph.models`) sit next to it, and ``scratch.compgraph``
re-exports all three.

Example (the notes' logistic-regression node):
    >>> w1, w2, b = Tensor(2.0, label="w1"), Tensor(-3.0, label="w2"), Tensor(0.5, label="b")
    >>> x1, x2, y = 1.0, 0.5, 1.0
    >>> z = w1 * x1 + w2 * x2 + b
    >>> a = z.sigmoid()
    >>> L = -(y * a.log() + (1 - y) * (1 - a).log())
    >>> L.backward()
    >>> round(float(w1.grad), 6), round(float(x1 * (a.data - y)), 6)   # ∂L/∂w1 = x1 · dz
    (-0.268941, -0.268941)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

Backward = Callable[[np.ndarray], Sequence[np.ndarray]]
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_grad_enabled = True
_IEEE = {"divide": "ignore", "invalid": "ignore", "over": "ignore"}  # inf/nan like torch, silently


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Run without recording the graph (like ``torch.no_grad``): results have no parents."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled() -> bool:
    """``False`` inside :func:`no_grad`."""
    return _grad_enabled


def _unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``g`` over the axes that broadcasting added or stretched, back to ``shape``."""
    if g.shape == shape:
        return g
    g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=stretched, keepdims=True) if stretched else g


class Tensor:
    """A node of the graph: ``data`` (a float32/float64 array), ``grad`` (``∂L/∂data``, same shape).

    Args:
        data: array-like of floats (not copied when it already is a float ndarray).
        label: a name shown by :func:`to_dot` / :func:`to_text` (``"w1"``, ``"z"``).
        requires_grad: whether :meth:`backward` computes this tensor's gradient (constants: no).
    """

    __slots__ = ("_backward", "_parents", "data", "grad", "label", "op", "requires_grad")

    def __init__(self, data: Any, label: str = "", requires_grad: bool = True) -> None:
        arr = np.asarray(data, dtype=np.float64) if isinstance(data, (float, int)) else np.asarray(data)
        if arr.dtype not in _FLOATS:
            raise TypeError(
                f"Tensor{f' {label!r}' if label else ''}: expected float32 or float64 data, got "
                f"{arr.dtype} of shape {arr.shape}; the engine differentiates floats only, cast "
                "with .astype(np.float64)"
            )
        self.data = arr
        self.requires_grad = bool(requires_grad)
        self.grad: np.ndarray | None = np.zeros_like(arr) if requires_grad else None
        self.label, self.op = label, ""
        self._parents: tuple[Tensor, ...] = ()
        self._backward: Backward | None = None

    # --- bookkeeping --------------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)

    def __repr__(self) -> str:
        name = f"{self.label!r}, " if self.label else ""
        return f"Tensor({name}shape={self.shape}, dtype={self.dtype}, op={self.op or 'leaf'!r})"

    def item(self) -> float:
        return self.data.item()

    def detach(self) -> Tensor:
        """The same data as a constant (no parents, no gradient)."""
        return Tensor(self.data, self.label, requires_grad=False)

    def zero_grad(self) -> None:
        """``grad := 0`` (leaves accumulate across :meth:`backward` calls until this)."""
        self.grad = np.zeros_like(self.data)

    def _lift(self, other: Any, op: str) -> Tensor:
        """An operand as a Tensor of this dtype: Python numbers become constants; arrays and
        tensors of another dtype are refused (nothing is upcast silently)."""
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            return Tensor(np.asarray(other, dtype=self.dtype), str(other), requires_grad=False)
        if not isinstance(other, Tensor):
            arr = np.asarray(other)
            if arr.dtype not in _FLOATS:
                raise TypeError(
                    f"{op}: operand of dtype {arr.dtype} and shape {arr.shape} is not "
                    f"a float array; the other operand is {self.dtype} {self.shape}"
                )
            other = Tensor(arr, requires_grad=False)
        if other.dtype != self.dtype:
            raise TypeError(
                f"{op}: dtypes differ, {self.dtype} {self.shape} and {other.dtype} "
                f"{other.shape}; cast one side explicitly (the engine never upcasts)"
            )
        return other

    def _broadcast(self, other: Tensor, op: str) -> None:
        try:
            np.broadcast_shapes(self.shape, other.shape)
        except ValueError:
            raise ValueError(
                f"{op}: shapes {self.shape} and {other.shape} do not broadcast "
                "(trailing dimensions must be equal or 1)"
            ) from None

    def _make(self, data: np.ndarray, parents: tuple[Tensor, ...], op: str, backward: Backward) -> Tensor:
        """The result node: records ``parents`` and the local rule unless under :func:`no_grad`."""
        out = Tensor(data, requires_grad=False)
        out.op = op
        if _grad_enabled and any(p.requires_grad for p in parents):
            out.requires_grad, out._parents, out._backward = True, parents, backward
        return out

    # --- binary operations: forward formula, then ∂/∂(each input) · g -------------------
    def __add__(self, other: Any) -> Tensor:
        y = self._lift(other, "add")
        self._broadcast(y, "add")
        return self._make(self.data + y.data, (self, y), "add", lambda g: (g, g))

    def __sub__(self, other: Any) -> Tensor:
        y = self._lift(other, "sub")
        self._broadcast(y, "sub")
        return self._make(self.data - y.data, (self, y), "sub", lambda g: (g, -g))

    def __mul__(self, other: Any) -> Tensor:
        y = self._lift(other, "mul")
        self._broadcast(y, "mul")
        return self._make(self.data * y.data, (self, y), "mul", lambda g: (g * y.data, g * self.data))

    def __truediv__(self, other: Any) -> Tensor:
        y = self._lift(other, "div")
        self._broadcast(y, "div")
        with np.errstate(**_IEEE):
            q = self.data / y.data  # x / y

        def backward(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            with np.errstate(**_IEEE):  # ∂/∂x = g / y,  ∂/∂y = −g · (x / y) / y  (torch's form)
                return g / y.data, -g * (q / y.data)

        return self._make(q, (self, y), "div", backward)

    def __matmul__(self, other: Any) -> Tensor:
        y = self._lift(other, "matmul")
        if self.ndim < 2 or y.ndim < 2 or self.shape[-1] != y.shape[-2]:
            raise ValueError(
                f"matmul: expected (…, n, k) @ (…, k, p) with at least 2-D operands, "
                f"got shapes {self.shape} and {y.shape}"
            )
        try:
            np.broadcast_shapes(self.shape[:-2], y.shape[:-2])
        except ValueError:
            raise ValueError(
                f"matmul: batch dimensions of {self.shape} and {y.shape} do not broadcast"
            ) from None
        # out = X Y;  ∂/∂X = g Yᵀ,  ∂/∂Y = Xᵀ g  (batch axes summed back by the engine)
        return self._make(
            self.data @ y.data,
            (self, y),
            "matmul",
            lambda g: (g @ y.data.swapaxes(-1, -2), self.data.swapaxes(-1, -2) @ g),
        )

    def __radd__(self, other: Any) -> Tensor:
        return self + other

    def __rsub__(self, other: Any) -> Tensor:
        return self._lift(other, "sub") - self

    def __rmul__(self, other: Any) -> Tensor:
        return self * other

    def __rtruediv__(self, other: Any) -> Tensor:
        return self._lift(other, "div") / self

    def __rmatmul__(self, other: Any) -> Tensor:
        return self._lift(other, "matmul") @ self

    # --- elementwise operations ---------------------------------------------------------
    def __neg__(self) -> Tensor:
        return self._make(-self.data, (self,), "neg", lambda g: (-g,))

    def __pow__(self, p: float) -> Tensor:
        """``x ** p`` for a constant exponent ``p``; ``∂/∂x = g · p · x^(p−1)`` (0 when p = 0)."""
        if isinstance(p, Tensor) or not isinstance(p, (int, float)) or isinstance(p, bool):
            raise TypeError(
                f"pow: the exponent must be a Python int or float constant, got "
                f"{type(p).__name__} (base {self.dtype} {self.shape})"
            )
        with np.errstate(**_IEEE):
            out = self.data**p

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            if p == 0:
                return (np.zeros_like(g),)
            with np.errstate(**_IEEE):
                return (g * p * self.data ** (p - 1),)

        return self._make(out, (self,), f"pow {p}", backward)

    def exp(self) -> Tensor:
        """``eˣ``; ``∂/∂x = g · eˣ``."""
        with np.errstate(**_IEEE):
            e = np.exp(self.data)
        return self._make(e, (self,), "exp", lambda g: (g * e,))

    def log(self) -> Tensor:
        """``log x`` (``−inf`` at 0, ``nan`` below); ``∂/∂x = g / x``."""
        with np.errstate(**_IEEE):
            out = np.log(self.data)

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            with np.errstate(**_IEEE):
                return (g / self.data,)

        return self._make(out, (self,), "log", backward)

    def sigmoid(self) -> Tensor:
        """``a = σ(x) = 1 / (1 + e^{−x})`` (no overflow); ``∂/∂x = g · a(1 − a)``."""
        e = np.exp(-np.abs(self.data))  # in (0, 1]
        a = np.where(self.data >= 0, 1 / (1 + e), e / (1 + e))
        return self._make(a, (self,), "sigmoid", lambda g: (g * (1 - a) * a,))

    def tanh(self) -> Tensor:
        """``t = tanh x``; ``∂/∂x = g · (1 − t²)``."""
        t = np.tanh(self.data)
        return self._make(t, (self,), "tanh", lambda g: (g * (1 - t * t),))

    def relu(self) -> Tensor:
        """``max(0, x)``; ``∂/∂x = g where x > 0, else 0`` — 0 at exactly 0, as torch."""
        r = np.maximum(self.data, 0)
        return self._make(r, (self,), "relu", lambda g: (np.where(r > 0, g, 0),))

    # --- reductions and re-indexing -----------------------------------------------------
    def _axes(self, axis: int | Sequence[int] | None, op: str) -> tuple[int, ...]:
        axes = tuple(range(self.ndim)) if axis is None else (axis,) if np.ndim(axis) == 0 else tuple(axis)
        try:
            return tuple(sorted(np.lib.array_utils.normalize_axis_tuple(axes, self.ndim)))
        except (np.exceptions.AxisError, TypeError, ValueError) as err:
            raise ValueError(f"{op}: axis={axis!r} is invalid for shape {self.shape} ({err})") from None

    def sum(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        """``Σ`` over ``axis`` (all when ``None``); ``∂/∂x = g`` copied back along the summed axes."""
        axes = self._axes(axis, "sum")
        shape = self.shape

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            g = g if keepdims else np.expand_dims(g, axes)
            return (np.broadcast_to(g, shape),)

        return self._make(np.sum(self.data, axis=axes, keepdims=keepdims), (self,), "sum", backward)

    def mean(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        """``1/n Σ`` over ``axis``; ``∂/∂x = g / n`` copied back (``n`` = entries averaged)."""
        axes = self._axes(axis, "mean")
        n = int(np.prod([self.shape[i] for i in axes]))
        shape = self.shape

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            g = g if keepdims else np.expand_dims(g, axes)
            return (np.broadcast_to(g / n, shape),)

        with np.errstate(**_IEEE):  # the mean of nothing is nan, as torch
            out = np.mean(self.data, axis=axes, keepdims=keepdims)
        return self._make(out, (self,), "mean", backward)

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        """The same entries in a new ``shape``; ``∂/∂x = g`` reshaped back."""
        new = tuple(shape[0]) if len(shape) == 1 and not np.isscalar(shape[0]) else shape
        try:
            out = self.data.reshape(new)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape shape {self.shape} ({self.data.size} entries) into {new}"
            ) from None
        return self._make(out, (self,), "reshape", lambda g: (g.reshape(self.shape),))

    def transpose(self, *axes: int) -> Tensor:
        """Permute the axes (reverse them when none given); ``∂/∂x = g`` permuted back."""
        perm = tuple(axes[0]) if len(axes) == 1 and not np.isscalar(axes[0]) else axes
        perm = perm or tuple(reversed(range(self.ndim)))
        if sorted(perm) != list(range(self.ndim)):
            raise ValueError(
                f"transpose: axes {perm} are not a permutation of the {self.ndim} axes of shape {self.shape}"
            )
        inverse = tuple(np.argsort(perm))
        return self._make(self.data.transpose(perm), (self,), "transpose", lambda g: (g.transpose(inverse),))

    T = property(lambda self: self.transpose())

    def __getitem__(self, index: Any) -> Tensor:
        """``x[index]`` (slices, integers, integer or boolean arrays); ``∂/∂x`` scatters ``g``
        back with ``np.add.at`` so that an entry picked twice gets both contributions."""
        if isinstance(index, Tensor):
            raise TypeError("getitem: index with a NumPy array or Python ints, not a Tensor")
        try:
            out = self.data[index]
        except IndexError as err:
            raise IndexError(f"getitem: index {index!r} is invalid for shape {self.shape} ({err})") from None

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            dx = np.zeros_like(self.data)
            np.add.at(dx, index, g)
            return (dx,)

        return self._make(out, (self,), "getitem", backward)

    # --- reverse mode -------------------------------------------------------------------
    def backward(self, gradient: Any = None) -> None:
        """Accumulate ``∂(Σ self ⊙ gradient)/∂t`` into ``t.grad`` for every ``t`` in the graph.

        ``gradient`` (the upstream ``∂L/∂self``, same shape and dtype) may be left out only for a
        single-element tensor, where it is 1.
        """
        if not self.requires_grad:
            raise RuntimeError(
                f"backward: this {self.dtype} {self.shape} tensor does not require "
                "grad (made from constants or under no_grad)"
            )
        if gradient is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward: called on a non-scalar of shape {self.shape} without an"
                    " upstream gradient; pass gradient= of that shape, or reduce first"
                    " (e.g. .sum().backward())"
                )
            G = np.ones_like(self.data)
        else:
            G = np.array(gradient, copy=True) if isinstance(gradient, np.ndarray) else np.asarray(gradient)
            if G.shape != self.shape or G.dtype != self.dtype:
                raise ValueError(
                    f"backward: gradient must match the tensor's shape {self.shape} "
                    f"and dtype {self.dtype}, got {G.shape} {G.dtype}"
                )
        order = topological_order(self)
        for node in order:
            if node._parents:
                node.grad = None  # intermediate gradients are per call; leaves accumulate
        _accumulate(self, G)
        for node in reversed(order):
            if not node._parents:
                continue
            for parent, g in zip(node._parents, node._backward(node.grad)):
                if parent.requires_grad:
                    _accumulate(parent, _unbroadcast(g, parent.shape))


def _accumulate(node: Tensor, g: np.ndarray) -> None:
    """``node.grad += g`` — in place in a leaf's own buffer; never in place for an intermediate,
    whose ``grad`` may be an array shared with another node (``add`` passes ``g`` to both)."""
    assert g.shape == node.shape and g.dtype == node.dtype, (g.shape, g.dtype, node)
    if not node._parents:
        if node.grad is None:
            node.grad = np.zeros_like(node.data)
        node.grad += g
    else:
        node.grad = g if node.grad is None else node.grad + g


def topological_order(root: Tensor, all_nodes: bool = False) -> list[Tensor]:
    """The nodes of ``root``'s graph, inputs before the results made from them (iterative DFS).

    Only nodes that need a gradient unless ``all_nodes`` (constants included, for drawing).
    """
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend(
            (p, False) for p in node._parents if (all_nodes or p.requires_grad) and id(p) not in seen
        )
    return order


OPS: dict[str, Callable[..., Tensor]] = {
    "add": Tensor.__add__,
    "sub": Tensor.__sub__,
    "mul": Tensor.__mul__,
    "div": Tensor.__truediv__,
    "neg": Tensor.__neg__,
    "pow": Tensor.__pow__,
    "matmul": Tensor.__matmul__,
    "exp": Tensor.exp,
    "log": Tensor.log,
    "sigmoid": Tensor.sigmoid,
    "tanh": Tensor.tanh,
    "relu": Tensor.relu,
    "sum": Tensor.sum,
    "mean": Tensor.mean,
    "reshape": lambda x, shape: x.reshape(shape),
    "transpose": lambda x, axes=None: x.transpose(*(axes or ())),
    "getitem": lambda x, index: x[index],
}
"""Every operation by name (``torch_ref.compgraph.OPS`` has the same names and keywords)."""
