"""Course part ``rnn`` (course 5 week 1, *Building a Recurrent Neural Network – Step by Step*):
the RNN and LSTM cells and layers, forward and backward, checked against ``nn.RNN``/``nn.LSTM``
(:class:`torch_ref.rnn.SequenceModel`, loaded through its :class:`~torch_ref.rnn.CourseConverter`)
and autograd.

The course's contracts: ``x (n_x, m, T_x)``, states ``(n_a, m)``, ``ŷ⟨t⟩ = softmax(Wya a⟨t⟩ + by)``
down each column (axis 0); the LSTM's gates act on ``concat = [a_prev; xt]``. A cell's cache is
``(a_next, a_prev, xt, parameters)`` (LSTM: ``(a_next, c_next, a_prev, c_prev, ft, it, cct, ot,
xt, parameters)``), a layer's ``caches = (list of caches, x)``; each backward runs on the cache
the learner's *own* forward returned. Backwards take ``da = ∂J/∂a`` as the output layer hands
it down (``rnn_cell_backward``: ``dtanh = (1 − a_next²) ⊙ da_next``) and return ``∂J/∂·``, which
is exactly autograd's vector–Jacobian product — no ``1/m``. ``lstm_forward`` starts from
``c0 = 0``; ``rnn_backward``/``lstm_backward`` read ``T_x`` from ``da.shape[2]`` and carry
``da_prev`` (and ``dc_prev``) back through time.

Sizes: ``n_x = 3``, ``n_a = 4``, ``n_y = 2``, ``m = 5``, ``T_x = 6``; weights of scale 0.8 so
``tanh`` and ``σ`` are far from linear; every bias nonzero.

Example:
    >>> p = params(np.random.default_rng(0), "rnn")
    >>> x, a0 = np.zeros((N_X, M, 2)), np.zeros((N_A, M))
    >>> ref = reference("rnn", x, a0, p)
    >>> ref["a"].shape, ref["y"].shape
    ((4, 5, 2), (2, 5, 2))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.func import functional_call

from parity_tests.course.common import (
    ContractError,
    FunctionResult,
    Learner,
    array,
    entry,
    kind,
    name_slip,
    not_implemented,
    records,
    unpack,
)
from parity_tests.devices import parity_mode
from parity_tests.registry import seed_for
from torch_ref import rnn as T
from torch_ref.layout import SEQUENCE, STATE, to_numpy

N_X, N_A, N_Y, M, T_X = 3, 4, 2, 5, 6
GATES = T.GATES  # f, i, c, o
Params = Mapping[str, np.ndarray]


def core(cell: str) -> tuple[str, ...]:
    """The recurrent layer's parameter names: ``Wax, Waa, ba`` or ``Wf, bf, …, Wo, bo``."""
    return ("Wax", "Waa", "ba") if cell == "rnn" else tuple(f"{k}{g}" for g in GATES for k in "Wb")


def params(
    rng: np.random.Generator, cell: str, n_x: int = N_X, n_a: int = N_A, n_y: int = N_Y, scale: float = 0.8
) -> dict[str, np.ndarray]:
    """The course's parameters with weights ``N(0, scale²)`` and biases ``N(0, 0.25)``."""
    shapes = (
        {"Wax": (n_a, n_x), "Waa": (n_a, n_a), "ba": (n_a, 1), "Wya": (n_y, n_a)}
        if cell == "rnn"
        else {
            **{f"{k}{g}": (n_a, n_a + n_x) if k == "W" else (n_a, 1) for g in GATES for k in "Wb"},
            "Wy": (n_y, n_a),
        }
    )
    shapes["by"] = (n_y, 1)
    return {k: rng.normal(0.0, scale if k.startswith("W") else 0.5, s) for k, s in shapes.items()}


def swapped_gates(p: Params) -> dict[str, np.ndarray]:
    """``p`` with the forget and update gates' parameters exchanged: the LSTM then computes
    ``c⟨t⟩ = Γi ⊙ c⟨t−1⟩ + Γf ⊙ c̃⟨t⟩`` — the gates swapped."""
    return {**p, "Wf": p["Wi"], "bf": p["bi"], "Wi": p["Wf"], "bi": p["bf"]}


def _t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


# --- the torch reference -----------------------------------------------------------------------------
def reference(
    cell: str,
    x: np.ndarray,
    a0: np.ndarray,
    p: Params,
    c0: np.ndarray | None = None,
    da: np.ndarray | None = None,
    dc_last: np.ndarray | None = None,
    carry: Sequence[str] = ("a", "c"),
) -> dict[str, np.ndarray]:
    """The layer on ``x (n_x, m, T_x)`` from ``a0`` (``c0``, default 0) by ``nn.RNN``/``nn.LSTM``,
    one step at a time: ``a, y, z (logits)`` and (LSTM) ``c``, course layout ``(n, m, T_x)``.

    With ``da (n_a, m, T_x)`` (and ``dc_last = ∂J/∂c⟨T_x⟩``) also autograd's ``dx, da0, dc0`` and
    ``d<name>`` of the layer's parameters — the course's backward. ``carry`` names the states
    whose gradient flows from a step into the one before (``()``: each step's state is a
    separate leaf, as a backward that does not carry ``da_prev``/``dc_prev`` computes).
    """
    lstm = cell == "lstm"
    n_x, m, steps = np.shape(x)
    n_a = np.shape(a0)[0]
    wy, by = T.HEAD[cell]
    model = T.SequenceModel(n_x, n_a, np.shape(p[wy])[0], cell, device="meta")
    pt = {k: _t(p[k], da is not None and k in core(cell)) for k in (*core(cell), wy, by)}
    sd = T.course_to_torch(pt, cell)
    rnn_sd = {k.removeprefix("rnn."): v for k, v in sd.items() if k.startswith("rnn.")}
    head_sd = {"weight": sd["head.weight"], "bias": sd["head.bias"]}
    grad = da is not None
    xs = _t(SEQUENCE.to_torch(np.asarray(x, dtype=np.float64)), grad)  # (T_x, m, n_x)
    h0 = _t(STATE.to_torch(a0), grad)  # (1, m, n_a)
    c_init = _t(STATE.to_torch(np.zeros((n_a, m)) if c0 is None else c0), grad)
    hs, cs, zs = [], [], []
    with parity_mode():
        h, c = h0, c_init
        for t in range(steps):
            if t and "a" not in carry:
                h = h.detach()
            if t and lstm and "c" not in carry:
                c = c.detach()
            out, state = functional_call(model.rnn, rnn_sd, (xs[t : t + 1], (h, c) if lstm else h))
            h, c = state if lstm else (state, None)
            hs.append(out[0])
            cs.append(c[0] if lstm else None)
            zs.append(functional_call(model.head, head_sd, (out[0],)))  # (m, n_y) logits
        res = {"a": _steps(hs), "z": _steps(zs), "y": _steps([torch.softmax(z, dim=1) for z in zs])}
        if lstm:
            res["c"] = _steps(cs)
        if grad:
            outs = [*hs] + ([cs[-1]] if dc_last is not None else [])
            ups = [_t(np.asarray(da)[:, :, t].T) for t in range(steps)]
            ups += [_t(np.asarray(dc_last).T)] if dc_last is not None else []
            names = ["x", "a0", *(["c0"] if lstm else []), *core(cell)]
            leaves = [xs, h0, *([c_init] if lstm else []), *(pt[k] for k in core(cell))]
            grads = torch.autograd.grad(outs, leaves, ups, allow_unused=True)
            for k, g in zip(names, grads):
                g = torch.zeros_like(leaves[names.index(k)]) if g is None else g
                res["d" + k] = (
                    SEQUENCE.to_course(to_numpy(g))
                    if k == "x"
                    else STATE.to_course(to_numpy(g))
                    if k in ("a0", "c0")
                    else to_numpy(g)
                )
    return res


def _steps(ts: list[torch.Tensor]) -> np.ndarray:
    """``[(m, n)] * T_x`` tensors -> the course's ``(n, m, T_x)``."""
    return np.ascontiguousarray(to_numpy(torch.stack([t.detach() for t in ts])).transpose(2, 1, 0))


# --- reading what the learner returned ----------------------------------------------------------------
def gradients(out: Any, keys: Sequence[str], fn: str) -> dict[str, np.ndarray]:
    """The course's gradients dict ``{key: array}``."""
    if out is None:
        raise ContractError(not_implemented(fn, "a gradients dict {" + ", ".join(keys) + "}"))
    return {k: array(entry(out, k, "gradients"), f"gradients[{k!r}]") for k in keys}


def _softmax_slips(z: np.ndarray, names: Sequence[str]) -> list[tuple[str, Callable[[], dict]]]:
    """``ŷ`` from the logits ``z (n_y, m[, T_x])`` over the wrong axis."""

    def over(axis: int | None) -> dict[str, np.ndarray]:
        e = np.exp(z - z.max(axis=axis, keepdims=True))
        if axis is None and z.ndim == 3:  # one normalisation per step, over the whole (n_y, m) slice
            e = np.exp(z - z.max(axis=(0, 1), keepdims=True))
            return {n: e / e.sum(axis=(0, 1), keepdims=True) for n in names}
        return {n: e / e.sum(axis=axis, keepdims=True) for n in names}

    return [
        (
            "softmax over the wrong axis: over the examples (axis 1); the course's ŷ = softmax(z) sums "
            "to 1 down each column (axis 0)",
            lambda: over(1),
        ),
        (
            "softmax normalised over every entry at once; the course's sums to 1 down each column (axis 0)",
            lambda: over(None),
        ),
    ]


def _cache_note(result: FunctionResult, cache: Any, size: int, what: str) -> None:
    if not (isinstance(cache, (tuple, list)) and len(cache) == size):
        result.notes.append(
            f"its cache is {kind(cache)}, not the course's {what}: its own backward reads "
            "it, other code written for the course's cache may not"
        )


# --- forwards -------------------------------------------------------------------------------------------
def _data(name: str, cell: str, steps: int = 1) -> tuple[np.random.Generator, dict, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed_for("rnn", name))
    p = params(rng, cell)
    return rng, p, rng.normal(0.0, 1.0, (N_X, M, steps)), rng.normal(0.0, 0.7, (N_A, M))


def check_rnn_cell_forward(learner: Learner, result: FunctionResult) -> None:
    rng, p, x, a_prev = _data("rnn_cell_forward", "rnn")
    xt = x[:, :, 0]
    out = learner.call_course("rnn_cell_forward", ["xt", "a_prev", "parameters"], [xt, a_prev, p])
    a_next, yt_pred, cache = unpack(out, ("a_next", "yt_pred", "cache"), "rnn_cell_forward")
    ref = reference("rnn", x, a_prev, p)
    actual = {"a_next": array(a_next, "a_next"), "yt_pred": array(yt_pred, "yt_pred")}
    result.add(
        "step",
        "forward",
        records(actual, {"a_next": ref["a"][:, :, 0], "yt_pred": ref["y"][:, :, 0]}, "forward", m=M),
    )
    _cache_note(result, cache, 4, "(a_next, a_prev, xt, parameters)")
    name_slip(result, actual, _softmax_slips(ref["z"][:, :, 0], ["yt_pred"]), "forward")


def check_rnn_forward(learner: Learner, result: FunctionResult) -> None:
    rng, p, x, a0 = _data("rnn_forward", "rnn", T_X)
    out = learner.call_course("rnn_forward", ["x", "a0", "parameters"], [x, a0, p])
    a, y_pred, caches = unpack(out, ("a", "y_pred", "caches"), "rnn_forward")
    ref = reference("rnn", x, a0, p)
    actual = {"a": array(a, "a"), "y_pred": array(y_pred, "y_pred")}
    result.add("layer", "forward", records(actual, {"a": ref["a"], "y_pred": ref["y"]}, "forward", m=M))
    _cache_note(result, caches, 2, "(caches, x)")
    zero = reference("rnn", x, np.zeros_like(a0), p)
    name_slip(
        result,
        actual,
        [
            *_softmax_slips(ref["z"], ["y_pred"]),
            (
                "the first step starts from zeros instead of a0 (a_next = a0 before the loop)",
                lambda: {"a": zero["a"], "y_pred": zero["y"]},
            ),
        ],
        "forward",
    )


def check_lstm_cell_forward(learner: Learner, result: FunctionResult) -> None:
    rng, p, x, a_prev = _data("lstm_cell_forward", "lstm")
    c_prev = rng.normal(0.0, 0.7, (N_A, M))
    out = learner.call_course(
        "lstm_cell_forward", ["xt", "a_prev", "c_prev", "parameters"], [x[:, :, 0], a_prev, c_prev, p]
    )
    a_next, c_next, yt_pred, cache = unpack(
        out, ("a_next", "c_next", "yt_pred", "cache"), "lstm_cell_forward"
    )
    ref = reference("lstm", x, a_prev, p, c0=c_prev)
    actual = {
        "c_next": array(c_next, "c_next"),
        "a_next": array(a_next, "a_next"),
        "yt_pred": array(yt_pred, "yt_pred"),
    }
    expected = {"c_next": ref["c"][:, :, 0], "a_next": ref["a"][:, :, 0], "yt_pred": ref["y"][:, :, 0]}
    result.add("step", "forward", records(actual, expected, "forward", m=M))
    _cache_note(result, cache, 10, "(a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)")
    swapped = reference("lstm", x, a_prev, swapped_gates(p), c0=c_prev)
    name_slip(
        result,
        actual,
        [
            (
                "the forget and update gates are swapped: c_next = ft ⊙ c_prev + it ⊙ cct (the forget gate "
                "keeps the old memory, the update gate admits the candidate)",
                lambda: {
                    "c_next": swapped["c"][:, :, 0],
                    "a_next": swapped["a"][:, :, 0],
                    "yt_pred": swapped["y"][:, :, 0],
                },
            ),
            *_softmax_slips(ref["z"][:, :, 0], ["yt_pred"]),
        ],
        "forward",
    )


def check_lstm_forward(learner: Learner, result: FunctionResult) -> None:
    rng, p, x, a0 = _data("lstm_forward", "lstm", T_X)
    out = learner.call_course("lstm_forward", ["x", "a0", "parameters"], [x, a0, p])
    a, y, c, caches = unpack(out, ("a", "y", "c", "caches"), "lstm_forward")
    ref = reference("lstm", x, a0, p)
    actual = {"c": array(c, "c"), "a": array(a, "a"), "y": array(y, "y")}
    result.add(
        "layer", "forward", records(actual, {"c": ref["c"], "a": ref["a"], "y": ref["y"]}, "forward", m=M)
    )
    _cache_note(result, caches, 2, "(caches, x)")
    swapped = reference("lstm", x, a0, swapped_gates(p))
    from_a0 = reference("lstm", x, a0, p, c0=a0)
    name_slip(
        result,
        actual,
        [
            (
                "the forget and update gates are swapped: c_next = ft ⊙ c_prev + it ⊙ cct",
                lambda: {"c": swapped["c"], "a": swapped["a"], "y": swapped["y"]},
            ),
            (
                "c starts from a0; the course's lstm_forward starts the memory at zeros (c_next = np.zeros)",
                lambda: {"c": from_a0["c"], "a": from_a0["a"], "y": from_a0["y"]},
            ),
            *_softmax_slips(ref["z"], ["y"]),
        ],
        "forward",
    )


# --- backwards, on the learner's own caches -------------------------------------------------------------
def _own(
    learner: Learner,
    fn: str,
    names: list[str],
    values: list,
    index: int,
    size: int,
    result: FunctionResult,
    course: Callable[[], Any] | None,
) -> Any:
    """The cache (``index`` of the ``size``-tuple) the learner's forward ``fn`` returns, else the
    course's (``course()``); a :class:`ContractError` when there is neither."""
    if learner.has(fn):
        try:
            out = learner.call_course(fn, names, values)
            if isinstance(out, (tuple, list)) and len(out) == size:
                return out[index]
        except Exception:  # their forward is reported on its own line
            pass
    if course is None:
        raise ContractError(f"needs a working {fn}: the cache it returns is what this backward reads")
    result.notes.append(f"run on the course's cache (no working {fn})")
    return course()


RNN_CELL_GRADS = ("dxt", "da_prev", "dWax", "dWaa", "dba")
RNN_GRADS = ("dx", "da0", "dWax", "dWaa", "dba")
LSTM_PARAM_GRADS = tuple(f"d{k}{g}" for g in GATES for k in "Wb")
LSTM_CELL_GRADS = ("dxt", "da_prev", "dc_prev", *LSTM_PARAM_GRADS)
LSTM_GRADS = ("dx", "da0", *LSTM_PARAM_GRADS)


def _renamed(ref: Mapping[str, np.ndarray], keys: Sequence[str], step: bool) -> dict[str, np.ndarray]:
    """The reference under the course's keys (a cell's ``dxt``, ``da_prev``, ``dc_prev``)."""
    alias = {"dxt": "dx", "da_prev": "da0", "dc_prev": "dc0"}
    out = {}
    for k in keys:
        v = ref[alias.get(k, k)]
        out[k] = v[:, :, 0] if step and k == "dxt" else v
    return out


def check_rnn_cell_backward(learner: Learner, result: FunctionResult) -> None:
    rng, p, x, a_prev = _data("rnn_cell_backward", "rnn")
    xt = x[:, :, 0]
    da_next = rng.normal(0.0, 1.0, (N_A, M))
    ref = reference("rnn", x, a_prev, p, da=da_next[:, :, None])
    cache = _own(
        learner,
        "rnn_cell_forward",
        ["xt", "a_prev", "parameters"],
        [xt, a_prev, p],
        2,
        3,
        result,
        lambda: (ref["a"][:, :, 0], a_prev, xt, p),
    )
    out = learner.call_course("rnn_cell_backward", ["da_next", "cache"], [da_next, cache])
    actual = gradients(out, RNN_CELL_GRADS, "rnn_cell_backward")
    result.add("gradients", "gradient", records(actual, _renamed(ref, RNN_CELL_GRADS, True), "gradient", m=M))
    a_next = ref["a"][:, :, 0]
    z = p["Waa"] @ a_prev + p["Wax"] @ xt + p["ba"]

    def local(dtanh: np.ndarray) -> dict[str, np.ndarray]:  # the cell's backward from dtanh (a hypothesis)
        return {
            "dxt": p["Wax"].T @ dtanh,
            "da_prev": p["Waa"].T @ dtanh,
            "dWax": dtanh @ xt.T,
            "dWaa": dtanh @ a_prev.T,
            "dba": dtanh.sum(axis=1, keepdims=True),
        }

    name_slip(
        result,
        actual,
        [
            (
                "tanh′ from the wrong array: 1 − a_prev²; it is the step's own output, "
                "dtanh = (1 − a_next²) ⊙ da_next",
                lambda: local((1 - a_prev**2) * da_next),
            ),
            (
                "tanh′ from the wrong array: 1 − z² of the pre-activation; tanh′ = 1 − a_next² "
                "(a_next = tanh(z))",
                lambda: local((1 - z**2) * da_next),
            ),
            (
                "tanh′ from the wrong array: 1 − tanh(a_next)² applies tanh twice; dtanh = (1 − "
                "a_next²) ⊙ da_next",
                lambda: local((1 - np.tanh(a_next) ** 2) * da_next),
            ),
            (
                "tanh′ written as 1 − a_next; it is 1 − a_next² (a_next ** 2)",
                lambda: local((1 - a_next) * da_next),
            ),
            (
                "dtanh = 1 − a_next² without ⊙ da_next: the gradient arriving from later is dropped",
                lambda: local(1 - a_next**2),
            ),
        ],
        "gradient",
    )


def _rnn_caches(x: np.ndarray, a0: np.ndarray, p: Params, a: np.ndarray) -> tuple[list, np.ndarray]:
    """The course's ``caches = ([(a⟨t⟩, a⟨t−1⟩, x⟨t⟩, parameters)], x)`` from the reference's ``a``."""
    prev = [a0, *(a[:, :, t] for t in range(a.shape[2] - 1))]
    return [(a[:, :, t], prev[t], x[:, :, t], p) for t in range(a.shape[2])], x


def check_rnn_backward(learner: Learner, result: FunctionResult) -> None:
    rng, p, x, a0 = _data("rnn_backward", "rnn", T_X)
    da = rng.normal(0.0, 1.0, (N_A, M, T_X))
    ref = reference("rnn", x, a0, p, da=da)
    caches = _own(
        learner,
        "rnn_forward",
        ["x", "a0", "parameters"],
        [x, a0, p],
        2,
        3,
        result,
        lambda: _rnn_caches(x, a0, p, ref["a"]),
    )
    out = learner.call_course("rnn_backward", ["da", "caches"], [da, caches])
    actual = gradients(out, RNN_GRADS, "rnn_backward")
    result.add("gradients", "gradient", records(actual, _renamed(ref, RNN_GRADS, False), "gradient", m=M))
    loose = reference("rnn", x, a0, p, da=da, carry=())
    name_slip(
        result,
        actual,
        [
            (
                "da_prev is not carried back through time: each step gets only da[:, :, t]; the course's "
                "rnn_cell_backward(da[:, :, t] + da_prevt, caches[t]) adds the gradient from step t + 1",
                lambda: _renamed(loose, RNN_GRADS, False),
            )
        ],
        "gradient",
    )


def check_lstm_cell_backward(learner: Learner, result: FunctionResult) -> None:
    rng, p, x, a_prev = _data("lstm_cell_backward", "lstm")
    c_prev = rng.normal(0.0, 0.7, (N_A, M))
    da_next, dc_next = rng.normal(0.0, 1.0, (N_A, M)), rng.normal(0.0, 1.0, (N_A, M))
    cache = _own(
        learner,
        "lstm_cell_forward",
        ["xt", "a_prev", "c_prev", "parameters"],
        [x[:, :, 0], a_prev, c_prev, p],
        3,
        4,
        result,
        None,
    )
    out = learner.call_course(
        "lstm_cell_backward", ["da_next", "dc_next", "cache"], [da_next, dc_next, cache]
    )
    actual = gradients(out, LSTM_CELL_GRADS, "lstm_cell_backward")
    ref = reference("lstm", x, a_prev, p, c0=c_prev, da=da_next[:, :, None], dc_last=dc_next)
    expected = _renamed(ref, LSTM_CELL_GRADS, True)
    result.add("gradients", "gradient", records(actual, expected, "gradient", m=M))
    no_dc = reference("lstm", x, a_prev, p, c0=c_prev, da=da_next[:, :, None])
    name_slip(
        result,
        actual,
        [
            (
                "dc_next is dropped: the memory's gradient is only what reaches it through a_next; "
                "the course "
                "adds dc_next (dc_prev = dc_next ⊙ ft + ot ⊙ (1 − tanh²(c_next)) ⊙ ft ⊙ da_next)",
                lambda: _renamed(no_dc, LSTM_CELL_GRADS, True),
            )
        ],
        "gradient",
    )


def check_lstm_backward(learner: Learner, result: FunctionResult) -> None:
    rng, p, x, a0 = _data("lstm_backward", "lstm", T_X)
    da = rng.normal(0.0, 1.0, (N_A, M, T_X))
    caches = _own(learner, "lstm_forward", ["x", "a0", "parameters"], [x, a0, p], 3, 4, result, None)
    out = learner.call_course("lstm_backward", ["da", "caches"], [da, caches])
    actual = gradients(out, LSTM_GRADS, "lstm_backward")
    ref = reference("lstm", x, a0, p, da=da)
    result.add("gradients", "gradient", records(actual, _renamed(ref, LSTM_GRADS, False), "gradient", m=M))

    def loose(carry: tuple[str, ...]) -> Callable[[], dict]:
        return lambda: _renamed(reference("lstm", x, a0, p, da=da, carry=carry), LSTM_GRADS, False)

    name_slip(
        result,
        actual,
        [
            (
                "neither da_prev nor dc_prev is carried back through time: each step gets da[:, :, "
                "t] and a zero "
                "dc_next; the course passes da[:, :, t] + da_prevt and dc_prevt from step t + 1",
                loose(()),
            ),
            (
                "da_prev is not carried back through time: each step gets only da[:, :, t]; the course's "
                "lstm_cell_backward(da[:, :, t] + da_prevt, dc_prevt, caches[t]) adds step t + 1's",
                loose(("c",)),
            ),
            (
                "dc_prev is not carried back through time: each step gets a zero dc_next; the course passes "
                "dc_prevt = gradients['dc_prev'] of step t + 1",
                loose(("a",)),
            ),
        ],
        "gradient",
    )
