"""Sequence models on ``nn.RNN`` (tanh) / ``nn.LSTM`` with a linear head, and the one converter
between the course's recurrent parameters and torch's.

==============================  ======================================  =========================
course (``scratch.rnn``)        torch (``SequenceModel``)               conversion
==============================  ======================================  =========================
``Wax (n_a, n_x)``              ``rnn.weight_ih_l0 (n_a, n_x)``          the same
``Waa (n_a, n_a)``              ``rnn.weight_hh_l0 (n_a, n_a)``          the same
``ba (n_a, 1)``                 ``rnn.bias_ih_l0 + rnn.bias_hh_l0``      scratch -> torch: ``ba``
                                                                         in ``bias_ih``, zeros in
                                                                         ``bias_hh``; back: sum
``W· = [W·a | W·x]``            ``weight_hh_l0`` / ``weight_ih_l0``      gate blocks of ``n_a``
``(n_a, n_a + n_x)``, · = f i   ``(4 n_a, n_a)`` / ``(4 n_a, n_x)``      rows in torch's order
c o                             rows in the order ``i, f, g, o``         ``i, f, g(=c̃), o``
``Wya``/``Wy (n_y, n_a)``       ``head.weight``                          the same
``by (n_y, 1)``                 ``head.bias (n_y,)``                     reshape
``a0, c0 (n_a, m)``             ``h0, c0 (1, m, n_a)``                   :data:`STATE`
==============================  ======================================  =========================

The bias rule is functionally exact: torch computes ``W_ih x + b_ih + W_hh h + b_hh``, so only
the sum ``b_ih + b_hh`` matters, and it is the course's one bias. *Training* is another matter:
SGD gives both torch biases the same gradient, so their sum moves ``2α·∂J/∂b`` per step, twice the
course's. :class:`SequenceModel` therefore holds ``bias_hh`` at zero (``requires_grad=False``)
by default (``course_bias=True``), which makes its training the course's step for step.

Example:
    >>> import numpy as np
    >>> from scratch.rnn import initialize_parameters
    >>> params = initialize_parameters(3, 4, 2, "lstm", np.random.default_rng(0))
    >>> model = SequenceModel.from_scratch(params, "lstm", dtype=torch.float64)
    >>> model(torch.zeros(6, 5, 3, dtype=torch.float64)).shape     # x (T_x, m, n_x) -> (T_x, m, n_y)
    torch.Size([6, 5, 2])
    >>> back = state_dict_to_course(model.state_dict(), "lstm")
    >>> bool(np.array_equal(back["Wc"], params["Wc"]))
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from torch_ref._convert import (
    FromScratch,
    check_param_arrays,
    load_scratch_params,
    scratch_dtype,
    weight_shape,
)
from torch_ref._validate import check_size
from torch_ref.layout import STATE, to_numpy, torch_dtype  # noqa: F401  (STATE: re-exported)

CELLS = ("rnn", "lstm")
GATES = ("f", "i", "c", "o")
"""The course's gate names."""
TORCH_GATE_ORDER = ("i", "f", "c", "o")
"""Row blocks of ``nn.LSTM``'s weights: ``i, f, g, o`` (torch's ``g`` is the course's ``c̃``)."""
HEAD = {"rnn": ("Wya", "by"), "lstm": ("Wy", "by")}


# STATE (a0, c0 (n_a, m) <-> h0, c0 (1, m, n_a)) lives in torch_ref.layout with the other layouts.


def _check_cell(cell: str) -> str:
    if cell not in CELLS:
        raise ValueError(f"cell: expected one of {CELLS}, got {cell!r}")
    return cell


def _shape_check(name: str, t: torch.Tensor, shape: tuple[int, ...]) -> None:
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"params[{name!r}]: expected shape {tuple(shape)}, got {tuple(t.shape)}")


# --- the converter: the one place the gate layout is written ------------------------------------
def course_to_torch(params: Mapping[str, torch.Tensor], cell: str) -> dict[str, torch.Tensor]:
    """Course parameters (tensors, course shapes) -> :class:`SequenceModel` state_dict entries
    (the head's only when ``Wya``/``Wy`` is given).

    Differentiable (concatenations and slices only), so autograd through it returns the course's
    per-gate gradients. ``bias_hh`` is zeros.
    """
    wy, by = HEAD[_check_cell(cell)]
    if cell == "rnn":
        Wax, Waa, ba = params["Wax"], params["Waa"], params["ba"]
        n_a = Wax.shape[0]
        _shape_check("Waa", Waa, (n_a, n_a))
        _shape_check("ba", ba, (n_a, 1))
        sd = {
            "rnn.weight_ih_l0": Wax,
            "rnn.weight_hh_l0": Waa,
            "rnn.bias_ih_l0": ba.reshape(-1),
            "rnn.bias_hh_l0": torch.zeros_like(ba.reshape(-1)),
        }
    else:
        Wf = params["Wf"]
        n_a = Wf.shape[0]
        for g in GATES:
            _shape_check(f"W{g}", params[f"W{g}"], Wf.shape)
            _shape_check(f"b{g}", params[f"b{g}"], (n_a, 1))
        order = TORCH_GATE_ORDER
        b_ih = torch.cat([params[f"b{g}"].reshape(-1) for g in order])  # (4 n_a,)
        sd = {
            "rnn.weight_ih_l0": torch.cat([params[f"W{g}"][:, n_a:] for g in order]),
            "rnn.weight_hh_l0": torch.cat([params[f"W{g}"][:, :n_a] for g in order]),
            "rnn.bias_ih_l0": b_ih,
            "rnn.bias_hh_l0": torch.zeros_like(b_ih),
        }
    if wy in params:  # a layer-only call may leave out the head
        _shape_check(by, params[by], (params[wy].shape[0], 1))
        sd["head.weight"], sd["head.bias"] = params[wy], params[by].reshape(-1)
    return sd


def torch_to_course(state_dict: Mapping[str, torch.Tensor], cell: str) -> dict[str, torch.Tensor]:
    """:class:`SequenceModel` state_dict -> course parameters (tensors); biases ``b_ih + b_hh``."""
    wy, by = HEAD[_check_cell(cell)]
    W_ih, W_hh = state_dict["rnn.weight_ih_l0"], state_dict["rnn.weight_hh_l0"]
    b = (state_dict["rnn.bias_ih_l0"] + state_dict["rnn.bias_hh_l0"]).reshape(-1, 1)
    if cell == "rnn":
        out = {"Wax": W_ih, "Waa": W_hh, "ba": b}
    else:
        n_a = W_hh.shape[1]
        out = {}
        for k, g in enumerate(TORCH_GATE_ORDER):
            rows = slice(k * n_a, (k + 1) * n_a)
            out[f"W{g}"] = torch.cat([W_hh[rows], W_ih[rows]], dim=1)  # [W·a | W·x]
            out[f"b{g}"] = b[rows]
    out[wy], out[by] = state_dict["head.weight"], state_dict["head.bias"].reshape(-1, 1)
    return out


def course_to_state_dict(params: Mapping[str, np.ndarray], cell: str) -> dict[str, torch.Tensor]:
    """Scratch parameters (NumPy, course layout) -> a :class:`SequenceModel` ``state_dict``."""
    expected = _course_names(cell)
    if set(params) != set(expected):
        raise ValueError(
            f"params: expected keys {sorted(expected)}, got {sorted(params)} (missing "
            f"{sorted(set(expected) - set(params))}, unexpected "
            f"{sorted(set(params) - set(expected))})"
        )
    params = check_param_arrays(params)
    wy, _ = HEAD[cell]
    weight_shape(params, wy, "(n_y, n_a)")
    if cell == "rnn":
        weight_shape(params, "Wax", "(n_a, n_x)")
    else:
        weight_shape(params, "Wf", "(n_a, n_a + n_x)")
    return {
        k: v.contiguous().clone()
        for k, v in course_to_torch(
            {k: torch.from_numpy(np.asarray(v)) for k, v in params.items()}, cell
        ).items()
    }


def state_dict_to_course(state_dict: Mapping[str, torch.Tensor], cell: str) -> dict[str, np.ndarray]:
    """A :class:`SequenceModel` ``state_dict`` (any device) -> scratch parameters (NumPy)."""
    return {k: to_numpy(v) for k, v in torch_to_course(state_dict, cell).items()}


class CourseConverter:
    """The course's parameters ⇄ a :class:`SequenceModel` ``state_dict`` for one cell — a
    :class:`~torch_ref.layout.Converter`, since no per-key spec can say it (torch stacks the
    LSTM's gates ``i, f, g, o`` and splits each over ``[a; x]``; two biases per gate). It is
    :attr:`SequenceModel.param_spec`, so ``load_scratch_params``/``scratch_params`` and the
    parity harness's trajectories use it like any spec."""

    def __init__(self, cell: str) -> None:
        self.cell = _check_cell(cell)

    @property
    def names(self) -> tuple[str, ...]:
        """The course's parameter names for this cell (``Wax, Waa, ba, Wya, by`` / ``Wf, bf, …``)."""
        return _course_names(self.cell)

    def to_state_dict(self, params: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
        """Scratch parameters (NumPy, course layout) -> ``state_dict`` (CPU tensors)."""
        return course_to_state_dict(params, self.cell)

    def to_torch(self, params: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Course-layout *tensors* -> ``state_dict`` tensors, differentiably (for
        ``parity_tests.module_function``: gradients come back per course matrix)."""
        expected = self.names
        if set(params) != set(expected):
            raise ValueError(
                f"params: missing {sorted(set(expected) - set(params))}, unexpected "
                f"{sorted(set(params) - set(expected))}; expected {sorted(expected)}"
            )
        return course_to_torch(params, self.cell)

    def to_params(self, state_dict: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
        """``state_dict`` (any device) -> scratch parameters (course layout)."""
        keys = {f"rnn.{w}_l0" for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        keys |= {"head.weight", "head.bias"}
        if set(state_dict) != keys:
            raise ValueError(
                f"state_dict: missing {sorted(keys - set(state_dict))}, unexpected "
                f"{sorted(set(state_dict) - keys)}; a SequenceModel has {sorted(keys)}"
            )
        return state_dict_to_course(state_dict, self.cell)

    def __repr__(self) -> str:
        return f"CourseConverter(cell={self.cell!r})"


def _course_names(cell: str) -> tuple[str, ...]:
    core = (
        ("Wax", "Waa", "ba") if _check_cell(cell) == "rnn" else tuple(f"{k}{g}" for g in GATES for k in "Wb")
    )
    return core + HEAD[cell]


class SequenceModel(FromScratch, nn.Module):
    """A recurrent layer and a linear head: ``a⟨t⟩ = RNN(x⟨t⟩, a⟨t−1⟩)``, ``z⟨t⟩ = a⟨t⟩ Wyᵀ + by``.

    ``cell="rnn"``: ``nn.RNN(nonlinearity="tanh")``; ``cell="lstm"``: ``nn.LSTM``. Train with
    ``nn.CrossEntropyLoss`` on the logits; :meth:`predict_proba` is their softmax.

    Args:
        n_x, n_a, n_y: input size, hidden units, output classes.
        cell: ``"rnn"`` or ``"lstm"``.
        many_to_one: return the last step's logits only (sequence classification).
        course_bias: hold ``bias_hh`` at zero and frozen, so the one trained bias is the course's.
        forget_bias: the LSTM forget gate's initial bias (``bf``).
        generator: the ``torch.Generator`` :meth:`reset_parameters` draws from.
        device, dtype: where and in which float type the parameters live.

    Shape:
        - Input: ``(T_x, m, n_x)`` (time first, ``nn.RNN``'s default).
        - Output: ``(T_x, m, n_y)`` logits, or ``(m, n_y)`` with ``many_to_one``.

    Attributes:
        rnn: the ``nn.RNN``/``nn.LSTM``; weights Xavier-normal per gate (std
            ``√(2 / (n_a + n_a + n_x))`` for the LSTM's ``[a; x]``, ``√(2 / (n_a + n_x))`` and
            ``√(2 / 2n_a)`` for the RNN's ``Wax``, ``Waa``), biases zero (``bf = forget_bias``).
        head: ``nn.Linear(n_a, n_y)``, Xavier-normal weight, zero bias.

    Example:
        >>> model = SequenceModel(3, 4, 2, "rnn", many_to_one=True)
        >>> model(torch.zeros(6, 5, 3)).shape
        torch.Size([5, 2])
    """

    def __init__(
        self,
        n_x: int,
        n_a: int,
        n_y: int,
        cell: str = "rnn",
        many_to_one: bool = False,
        course_bias: bool = True,
        forget_bias: float = 0.0,
        generator: torch.Generator | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_size(n_x=n_x, n_a=n_a, n_y=n_y)
        factory_kwargs = {"device": device, "dtype": dtype}
        self.n_x, self.n_a, self.n_y = n_x, n_a, n_y
        self.cell, self.many_to_one = _check_cell(cell), bool(many_to_one)
        self.course_bias, self.forget_bias = bool(course_bias), float(forget_bias)
        if cell == "rnn":
            self.rnn: nn.RNNBase = nn.RNN(n_x, n_a, nonlinearity="tanh", **factory_kwargs)
        else:
            self.rnn = nn.LSTM(n_x, n_a, **factory_kwargs)
        self.head = nn.Linear(n_a, n_y, **factory_kwargs)
        if self.course_bias:
            self.rnn.bias_hh_l0.requires_grad_(False)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Xavier-normal weights (per course matrix), zero biases, ``bf = forget_bias``."""
        n_a, n_x = self.n_a, self.n_x
        with torch.no_grad():
            if self.cell == "rnn":
                nn.init.normal_(self.rnn.weight_ih_l0, 0.0, math.sqrt(2 / (n_a + n_x)), generator)
                nn.init.normal_(self.rnn.weight_hh_l0, 0.0, math.sqrt(2 / (2 * n_a)), generator)
            else:
                std = math.sqrt(2 / (2 * n_a + n_x))
                nn.init.normal_(self.rnn.weight_ih_l0, 0.0, std, generator)
                nn.init.normal_(self.rnn.weight_hh_l0, 0.0, std, generator)
            self.rnn.bias_ih_l0.zero_()
            self.rnn.bias_hh_l0.zero_()
            if self.cell == "lstm":
                self.rnn.bias_ih_l0[n_a : 2 * n_a] = self.forget_bias  # torch's f block
            nn.init.normal_(self.head.weight, 0.0, math.sqrt(2 / (n_a + self.n_y)), generator)
            self.head.bias.zero_()

    def _check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 3 or x.shape[2] != self.n_x:
            raise ValueError(
                f"x: expected shape (T_x, m, n_x) = (*, *, {self.n_x}), got "
                f"{tuple(x.shape)}; course arrays (n_x, m, T_x) convert with "
                "torch_ref.layout.sequence_to_torch"
            )
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"x: empty sequence or batch (T_x = {x.shape[0]}, m = {x.shape[1]})")

    def forward(self, x: torch.Tensor, state=None) -> torch.Tensor:
        self._check_input(x)
        a, _ = self.rnn(x, state)  # (T_x, m, n_a): a⟨1⟩ … a⟨T_x⟩
        return self.head(a[-1] if self.many_to_one else a)  # logits

    def states(self, x: torch.Tensor, state=None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Run :attr:`rnn` one step at a time; returns the hidden states ``[a⟨t⟩ (m, n_a)]`` and
        (LSTM) the cell states ``[c⟨t⟩ (m, n_a)]`` of every step. Each ``a⟨t⟩`` is the tensor
        the next step consumes, so ``a⟨t⟩.retain_grad()`` yields ``∂J/∂a⟨t⟩`` through time."""
        self._check_input(x)
        lstm = self.cell == "lstm"
        h, c = (state if lstm else (state, None)) if state is not None else (None, None)
        h, c = (h[0] if h is not None else None), (c[0] if c is not None else None)
        hs, cs = [], []
        for t in range(x.shape[0]):
            prev = None if h is None else (h[None], c[None]) if lstm else h[None]
            _, new = self.rnn(x[t : t + 1], prev)
            h, c = (new[0][0], new[1][0]) if lstm else (new[0], None)
            hs.append(h)
            if lstm:
                cs.append(c)
        return hs, cs

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """``softmax(z)`` over the classes."""
        return torch.softmax(self(x), dim=-1)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Class indices: ``(m,)`` with ``many_to_one``, else ``(T_x, m)``."""
        return self(x).argmax(dim=-1)

    @torch.no_grad()
    def sample(self, first: int, uniforms: torch.Tensor) -> torch.Tensor:
        """``len(uniforms)`` symbols after ``first`` (inputs one-hot over ``n_x`` symbols): the next
        symbol is the first ``k`` with ``cdf_k > u⟨t⟩``, as in ``scratch.rnn.sample``."""
        if not 0 <= int(first) < self.n_x:
            raise ValueError(f"first: expected a symbol index in [0, {self.n_x - 1}], got {first!r}")
        p0 = self.head.weight
        x = torch.zeros(1, 1, self.n_x, device=p0.device, dtype=p0.dtype)
        uniforms = uniforms.to(device=p0.device, dtype=p0.dtype)
        state, symbol, out = None, int(first), []
        for u in uniforms:
            x.zero_()
            x[0, 0, symbol] = 1
            a, state = self.rnn(x, state)
            cdf = torch.cumsum(torch.softmax(self.head(a[0, 0]), dim=-1), dim=0)
            symbol = min(int(torch.searchsorted(cdf, u.reshape(1), right=True)), self.n_x - 1)
            out.append(symbol)
        return torch.tensor(out, dtype=torch.long)

    @property
    def param_spec(self) -> CourseConverter:
        """How scratch parameters map to this model's ``state_dict`` (see :class:`CourseConverter`)."""
        return CourseConverter(self.cell)

    def extra_repr(self) -> str:
        return (
            f"n_x={self.n_x}, n_a={self.n_a}, n_y={self.n_y}, cell={self.cell!r}, "
            f"many_to_one={self.many_to_one}, course_bias={self.course_bias}"
        )

    @classmethod
    def from_scratch(
        cls,
        params: Mapping[str, np.ndarray],
        cell: str,
        many_to_one: bool = False,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        allow_nonfinite: bool = False,
    ) -> "SequenceModel":
        """A model holding scratch parameters (sizes read from them; dtype theirs unless given).

        The names must be the cell's (``Wax, Waa, ba, Wya, by`` or ``Wf, bf, Wi, bi, Wc, bc, Wo,
        bo, Wy, by``), the arrays floating, of one dtype, and finite unless ``allow_nonfinite``."""
        params = check_param_arrays(params, allow_nonfinite=allow_nonfinite)
        expected = _course_names(cell)
        if set(params) != set(expected):
            raise ValueError(
                f"params: missing keys {sorted(set(expected) - set(params))}, unexpected "
                f"keys {sorted(set(params) - set(expected))} for cell={cell!r}; "
                f"expected {sorted(expected)}"
            )
        wy, _ = HEAD[cell]
        n_y, n_a = weight_shape(params, wy, "(n_y, n_a)")
        if cell == "rnn":
            n_x = weight_shape(params, "Wax", "(n_a, n_x)")[1]
        else:
            n_x = weight_shape(params, "Wf", "(n_a, n_a + n_x)")[1] - n_a
        if n_x < 1:
            raise ValueError(
                f"params['Wf']: expected shape (n_a, n_a + n_x) = ({n_a}, {n_a} + n_x) "
                f"with n_x >= 1, got {np.shape(params['Wf'])}"
            )
        model = cls(n_x, n_a, n_y, cell, many_to_one, device=device, dtype=scratch_dtype(params, dtype))
        load_course_params(model, params)
        return model


def load_course_params(model: SequenceModel, params: Mapping[str, np.ndarray]) -> None:
    """Copy scratch parameters into ``model`` in place through its :class:`CourseConverter`,
    asserting every key and shape before the copy (``torch_ref.layout.load_scratch_params``)."""
    load_scratch_params(model, params)
