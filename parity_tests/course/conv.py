"""Course part ``conv`` (course 4, week 1: "Convolution model – Step by Step"): ``zero_pad``,
``conv_single_step``, ``conv_forward``, ``pool_forward``, ``conv_backward``,
``create_mask_from_window``, ``distribute_value`` and ``pool_backward``, in the course's layout
(channels last): images ``(m, n_H, n_W, n_C)``, filters ``W (f, f, n_C_prev, n_C)``, bias
``b (1, 1, 1, n_C)``, ``hparameters = {"stride", "pad"}`` (convolution) or ``{"stride", "f"}``
(pooling); caches ``(A_prev, W, b, hparameters)`` and ``(A_prev, hparameters)``.

The references are torch's (``nn.Conv2d`` loaded through :data:`torch_ref.cnn.CONV_SPEC`,
:func:`torch_ref.cnn.make_pool`, autograd), converted with :mod:`torch_ref.layout`'s
``IMAGES``/``CONV_WEIGHT``/``CONV_BIAS``. Sizes are non-square and pairwise distinct, with a
stride-2, pad-1 case (whose last column no window reaches) and a pad-0 case. The backward
functions (:mod:`parity_tests.course.conv_backward`) run on the learner's own forward caches.

**Max-pool ties.** The course's ``pool_backward`` sends ``dA`` to *every* tied maximum of a
window (``mask = (x == np.max(x))``); torch and dlparity's own pooling (:mod:`scratch.cnn`) send
it to the first one only. The learner is checked against the course's rule (a torch
``unfold``/``fold`` of that mask, :func:`course_max_pool_backward`) on a case built with ties,
and the report says so in a note.

Example:
    >>> import numpy as np
    >>> np.random.seed(1)
    >>> a, W, b = np.random.randn(4, 4, 3), np.random.randn(4, 4, 3), np.random.randn(1, 1, 1)
    >>> round(single_step_ref(a, W, b), 8)  # the course's published Z, to 8 digits
    -6.99908945
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from parity_tests.course.common import (
    FunctionResult,
    Learner,
    LearnerError,
    array,
    kind,
    matches,
    name_slip,
    records,
    unpack,
)
from parity_tests.devices import parity_mode
from parity_tests.registry import seed_for
from torch_ref.cnn import CONV_SPEC, make_pool
from torch_ref.layout import IMAGES, load_scratch_params, state_dict_to_params, to_numpy

MODES = {"max": "max", "average": "avg"}  # the course's mode -> torch_ref's
CONV_CASES: dict[str, tuple[tuple[int, int, int, int], int, int, int, int]] = {
    # case: (A_prev (m, n_H_prev, n_W_prev, n_C_prev), f, n_C, stride, pad)
    "stride 1, pad 0": ((3, 5, 7, 2), 3, 4, 1, 0),  # Z (3, 3, 5, 4)
    "stride 2, pad 1": ((2, 7, 10, 4), 3, 6, 2, 1),  # Z (2, 4, 5, 6); no window reaches the last column
}
POOL_CASES: dict[str, tuple[tuple[int, int, int, int], int, int]] = {
    # case: (A_prev (m, n_H_prev, n_W_prev, n_C), f, stride)
    "f 2, stride 1": ((3, 5, 7, 2), 2, 1),  # A (3, 4, 6, 2), overlapping windows
    "f 3, stride 2": ((2, 7, 10, 5), 3, 2),  # A (2, 3, 4, 5), overlapping, last column unreached
}
TIES_CASE = ((2, 6, 5, 3), 2, 2)  # integer-valued A_prev: windows with tied maxima
TIES_NOTE = (
    "max-pool ties checked with the course's rule: dA goes to every tied maximum of a window "
    "(mask = (x == np.max(x))); torch and dlparity's own pooling send it to the first maximum "
    "only"
)


# --- the torch references ---------------------------------------------------------------------------
def _t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def _images(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    """Course images ``(m, n_H, n_W, n_C)`` as a torch ``(m, C, H, W)`` tensor."""
    return _t(IMAGES.to_torch(np.asarray(a, dtype=np.float64)), grad)


def _course(t: torch.Tensor) -> np.ndarray:
    return IMAGES.to_course(to_numpy(t.detach()))


def pad_ref(X: np.ndarray, pad: int) -> np.ndarray:
    """``F.pad`` of the height and width by ``pad`` zeros on each side."""
    with torch.no_grad():
        return _course(F.pad(_images(X), (pad, pad, pad, pad)))


def conv_ref(
    A_prev: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
    stride: int | tuple[int, int],
    pad: int,
    dZ: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """``Z`` of ``nn.Conv2d`` holding ``W, b``; with ``dZ`` also ``dA_prev, dW, db`` by autograd
    (sums over the examples, no ``1/m``: the course's ``conv_backward``)."""
    f, _, n_C_prev, n_C = np.shape(W)
    conv = nn.Conv2d(n_C_prev, n_C, f, stride, pad, dtype=torch.float64)
    load_scratch_params(
        conv,
        {"W": np.asarray(W, dtype=np.float64), "b": np.asarray(b, dtype=np.float64).reshape(1, 1, 1, n_C)},
        CONV_SPEC,
    )
    x = _images(A_prev, grad=True)
    with parity_mode():
        z = conv(x)
        out = {"Z": _course(z)}
        if dZ is not None:
            dx, dweight, dbias = torch.autograd.grad(z, (x, conv.weight, conv.bias), _images(dZ))
            grads = state_dict_to_params({"weight": dweight, "bias": dbias}, CONV_SPEC)
            out.update(dA_prev=_course(dx), dW=grads["W"], db=grads["b"])
    return out


def single_step_ref(a_slice_prev: np.ndarray, W: np.ndarray, b: np.ndarray) -> float:
    """``Σ a_slice_prev ⊙ W + b``: ``F.conv2d`` of one ``(f, f, n_C_prev)`` window with one filter."""
    Z = conv_ref(
        np.asarray(a_slice_prev)[np.newaxis],
        np.asarray(W)[..., np.newaxis],
        np.asarray(b).reshape(1, 1, 1, 1),
        1,
        0,
    )["Z"]
    return float(Z.reshape(()))


def has_ties(A_prev: np.ndarray, f: int, stride: int) -> bool:
    """Whether some pooling window holds its maximum more than once."""
    cols = F.unfold(_images(A_prev), f, stride=stride)  # (m, C·f·f, L)
    m, C = np.shape(A_prev)[0], np.shape(A_prev)[3]
    cols = cols.view(m, C, f * f, -1)
    return bool(((cols == cols.amax(dim=2, keepdim=True)).sum(dim=2) > 1).any())


def course_max_pool_backward(
    A_prev: np.ndarray, dA: np.ndarray, f: int, strides: tuple[int, int]
) -> np.ndarray:
    """The course's max-pool backward with torch's ``unfold``/``fold``: every window's ``dA`` goes
    to each entry equal to the window's maximum; overlapping windows add up. ``strides`` may
    differ per axis, and ``dA`` may cover only the first windows (the slips' hypotheses)."""
    x = _images(A_prev)
    m, C, H, W = x.shape
    n_H, n_W = (H - f) // strides[0] + 1, (W - f) // strides[1] + 1
    g = torch.zeros(m, C, n_H, n_W, dtype=torch.float64)
    d = _images(dA)
    g[:, :, : d.shape[2], : d.shape[3]] = d[:, :, :n_H, :n_W]
    cols = F.unfold(x, f, stride=strides).view(m, C, f * f, n_H * n_W)
    mask = (cols == cols.amax(dim=2, keepdim=True)).to(torch.float64)
    dx = F.fold((mask * g.view(m, C, 1, n_H * n_W)).view(m, C * f * f, n_H * n_W), (H, W), f, stride=strides)
    return _course(dx)


def pool_ref(
    A_prev: np.ndarray, f: int, stride: int, mode: str, dA: np.ndarray | None = None, ties: str = "all"
) -> dict[str, np.ndarray]:
    """``A`` of :func:`torch_ref.cnn.make_pool`; with ``dA`` also ``dA_prev`` by autograd — except
    a max pool whose windows hold ties, which follows the course's rule (``ties="all"``,
    :func:`course_max_pool_backward`) unless ``ties="first"`` (torch's)."""
    pool = make_pool(MODES[mode], f, stride)
    x = _images(A_prev, grad=True)
    with parity_mode():
        a = pool(x)
        out = {"A": _course(a)}
        if dA is not None:
            if mode == "max" and ties == "all" and has_ties(A_prev, f, stride):
                out["dA_prev"] = course_max_pool_backward(A_prev, dA, f, (stride, stride))
            else:
                (dx,) = torch.autograd.grad(a, x, _images(dA))
                out["dA_prev"] = _course(dx)
    return out


def distribute_ref(dz: float, shape: tuple[int, int]) -> np.ndarray:
    """``dz`` spread over an ``(n_H, n_W)`` window: autograd of ``F.avg_pool2d`` over the window."""
    x = torch.zeros((1, 1, *shape), dtype=torch.float64, requires_grad=True)
    with parity_mode():
        (dx,) = torch.autograd.grad(
            F.avg_pool2d(x, shape), x, torch.full((1, 1, 1, 1), float(dz), dtype=torch.float64)
        )
    return to_numpy(dx).reshape(shape)


# --- data ---------------------------------------------------------------------------------------------
def conv_data(case: str, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """``(A_prev, W, b, stride, pad)`` of a :data:`CONV_CASES` case."""
    shape, f, n_C, stride, pad = CONV_CASES[case]
    rng = np.random.default_rng(seed_for("conv", name, case))
    return (
        rng.normal(0.0, 1.0, shape),
        rng.normal(0.0, 0.5, (f, f, shape[3], n_C)),
        rng.normal(0.0, 0.5, (1, 1, 1, n_C)),
        stride,
        pad,
    )


def pool_data(case: str, name: str) -> tuple[np.ndarray, int, int]:
    """``(A_prev, f, stride)`` of a :data:`POOL_CASES` case (``"ties"``: integer values, ties)."""
    shape, f, stride = TIES_CASE if case == "ties" else POOL_CASES[case]
    rng = np.random.default_rng(seed_for("conv", name, case))
    A_prev = rng.integers(0, 3, shape).astype(np.float64) if case == "ties" else rng.normal(0.0, 1.0, shape)
    return A_prev, f, stride


def _out(n: int, f: int, stride: int, pad: int = 0) -> int:
    return (n + 2 * pad - f) // stride + 1


# --- zero_pad, conv_single_step ---------------------------------------------------------------------
def check_zero_pad(learner: Learner, result: FunctionResult) -> None:
    X = np.random.default_rng(seed_for("conv", "zero_pad")).normal(0.0, 1.0, (3, 4, 5, 2))
    actual, expected = {}, {}
    for pad in (2, 0):
        key = f"X_pad (pad={pad})"
        actual[key] = array(learner.call_course("zero_pad", ["X", "pad"], [X, pad]), "X_pad")
        expected[key] = pad_ref(X, pad)
    result.add("X_pad", "forward", records(actual, expected, "forward"))

    def padded(widths: Callable[[int], tuple]) -> dict[str, np.ndarray]:
        return {f"X_pad (pad={p})": np.pad(X, widths(p)) for p in (2, 0)}

    name_slip(
        result,
        actual,
        [
            (
                "every axis is padded (np.pad(X, pad)): pad only n_H and n_W — "
                "np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode='constant', "
                "constant_values=(0, 0))",
                lambda: padded(lambda p: p),
            ),
            (
                "the channels are padded instead of the width: the axes are (m, n_H, n_W, n_C) — "
                "((0, 0), (pad, pad), (pad, pad), (0, 0))",
                lambda: padded(lambda p: ((0, 0), (p, p), (0, 0), (p, p))),
            ),
            (
                "the examples are padded instead of the width: the axes are (m, n_H, n_W, n_C) — "
                "((0, 0), (pad, pad), (pad, pad), (0, 0))",
                lambda: padded(lambda p: ((p, p), (p, p), (0, 0), (0, 0))),
            ),
        ],
        "forward",
    )


def check_conv_single_step(learner: Learner, result: FunctionResult) -> None:
    rng = np.random.default_rng(seed_for("conv", "conv_single_step"))
    a, W = rng.normal(0.0, 1.0, (3, 3, 4)), rng.normal(0.0, 1.0, (3, 3, 4))  # (f, f, n_C_prev)
    b = rng.normal(0.0, 1.0, (1, 1, 1))
    Z = learner.call_course("conv_single_step", ["a_slice_prev", "W", "b"], [a, W, b])
    z = array(Z, "Z")
    if z.size == 1 and z.ndim > 0:
        result.problems.append(
            f"Z is {kind(Z)}, not a number: conv_forward stores it in one entry "
            "Z[i, h, w, c] (NumPy 2 refuses a (1, 1, 1) array there) — add the bias as a "
            "number: Z = np.sum(s) + b.item() (or np.squeeze(b))"
        )
        z = z.reshape(())
    actual = {"Z": z}
    result.add("Z", "forward", records(actual, {"Z": np.asarray(single_step_ref(a, W, b))}, "forward"))
    s, n = float(np.sum(a * W)), a.size
    name_slip(
        result,
        actual,
        [
            ("Z = Σ a_slice_prev ⊙ W without + b", lambda: {"Z": np.asarray(s)}),
            (
                f"the bias is added to every element before the sum (counted f·f·n_C_prev = {n} times): add "
                "b once, after np.sum — Z = np.sum(a_slice_prev * W) + b.item()",
                lambda: {"Z": np.asarray(s + n * float(b.reshape(())))},
            ),
            ("the bias is subtracted", lambda: {"Z": np.asarray(s - float(b.reshape(())))}),
            (
                "the kernel is flipped (W[::-1, ::-1], a true convolution): the course's (and torch's) "
                "convolution is a cross-correlation, Σ a_slice_prev ⊙ W with no flip",
                lambda: {"Z": np.asarray(single_step_ref(a, W[::-1, ::-1], b))},
            ),
        ],
        "forward",
    )


# --- conv_forward --------------------------------------------------------------------------------
def _conv_call(
    learner: Learner, A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int, pad: int
) -> object:
    return learner.call_course(
        "conv_forward", ["A_prev", "W", "b", "hparameters"], [A_prev, W, b, {"stride": stride, "pad": pad}]
    )


def _strided_twice(
    A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int, pad: int, rows: bool, cols: bool
) -> np.ndarray:
    """``Z`` when the loop over rows (``rows``) and/or columns steps by the stride *and* the window
    start multiplies by it (``for h in range(0, n_H, stride)``, ``vert_start = h * stride``): only
    every ``s``-th position ``h`` is computed, from the window at ``s·h`` (``s²`` windows apart); the
    others stay 0."""
    Z = conv_ref(A_prev, W, b, stride, pad)["Z"]
    Z1 = conv_ref(A_prev, W, b, 1, pad)["Z"]  # every window start
    out = np.zeros_like(Z)
    hs = range(0, Z.shape[1], stride) if rows else range(Z.shape[1])
    ws = range(0, Z.shape[2], stride) if cols else range(Z.shape[2])
    for h in hs:
        for w in ws:
            out[:, h, w] = Z1[:, h * stride, w * stride]  # the window at (h·s, w·s), h itself a multiple of s
    return out


def conv_cache_problem(cache: object, A_prev: np.ndarray, W: np.ndarray) -> str | None:
    """What is wrong with ``conv_forward``'s cache against the course's ``(A_prev, W, b,
    hparameters)`` (which ``conv_backward`` unpacks); ``None`` when it is that."""
    if (
        isinstance(cache, (tuple, list))
        and len(cache) == 4
        and matches(cache[0], A_prev, "forward")
        and matches(cache[1], W, "forward")
        and isinstance(cache[3], Mapping)
    ):
        return None
    return (
        f"its cache is {kind(cache)}"
        + (f" of {len(cache)} values" if isinstance(cache, (tuple, list)) else "")
        + "; the course's is (A_prev, W, b, hparameters) — A_prev unpadded — which conv_backward "
        "unpacks"
    )


def check_conv_forward(learner: Learner, result: FunctionResult) -> None:
    actual, hyp = {}, []
    data = {case: conv_data(case, "conv_forward") for case in CONV_CASES}
    for case, (A_prev, W, b, stride, pad) in data.items():
        try:
            out = _conv_call(learner, A_prev, W, b, stride, pad)
        except LearnerError as exc:
            ran = [c for c in actual if c.startswith("Z (stride 1")]
            if stride > 1 and ran and re.search(r"could not be broadcast|setting an array element", str(exc)):
                raise LearnerError(
                    f"{exc} — it runs with stride 1 but not with stride {stride}: a window a_slice_prev "
                    "runs past the padded input (is the stride applied twice, e.g. h in range(0, n_H, "
                    "stride) and vert_start = h * stride?) — vert_start = h * stride for h in "
                    "range(n_H)"
                ) from exc
            raise
        Z, cache = unpack(out, ("Z", "cache"), "conv_forward")
        key = f"Z ({case})"
        actual[key] = array(Z, "Z")
        ref = conv_ref(A_prev, W, b, stride, pad)["Z"]
        result.add(case, "forward", records({key: actual[key]}, {key: ref}, "forward"))
        if result.passed and (problem := conv_cache_problem(cache, A_prev, W)):
            result.problems.append(problem)

    def each(fn: Callable[..., np.ndarray]) -> Callable[[], dict[str, np.ndarray]]:
        return lambda: {f"Z ({case})": fn(*d) for case, d in data.items()}

    def unstrided(rows: bool, cols: bool) -> Callable[[], dict[str, np.ndarray]]:
        def fn(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
            Z = conv_ref(A_prev, W, b, stride, pad)["Z"]
            strides = (1 if rows else stride, 1 if cols else stride)
            return conv_ref(A_prev, W, b, strides, pad)["Z"][:, : Z.shape[1], : Z.shape[2]]

        return each(fn)

    twice = [
        (
            "the stride is applied twice (the loop steps by it, e.g. range(0, n_H, stride), and the "
            "window starts at h * stride): loop over every h in range(n_H), vert_start = h * stride",
            each(lambda *d, r=r, c=c: _strided_twice(*d, r, c)),
        )
        for r, c in ((True, True), (True, False), (False, True))
    ]
    hyp = [
        (
            "the kernel is flipped (W[::-1, ::-1], a true convolution): the course's (and torch's) "
            "convolution "
            "is a cross-correlation, Σ a_slice_prev ⊙ W[:, :, :, c] with no flip",
            each(lambda A, W, b, s, p: conv_ref(A, W[::-1, ::-1], b, s, p)["Z"]),
        ),
        ("Z = Σ a_slice_prev ⊙ W without + b", each(lambda A, W, b, s, p: conv_ref(A, W, 0 * b, s, p)["Z"])),
        (
            "the bias is added to every element before the sum (counted f·f·n_C_prev times): "
            "add b[:, :, :, c] once per window, after the sum",
            each(lambda A, W, b, s, p: conv_ref(A, W, b * W.shape[0] * W.shape[1] * W.shape[2], s, p)["Z"]),
        ),
        *[
            ("the stride is not applied: the window starts at h (vert_start = h * stride)", unstrided(r, c))
            for r, c in ((True, True), (True, False), (False, True))
        ],
        *twice,
    ]
    name_slip(result, actual, hyp, "forward")


# --- pooling ----------------------------------------------------------------------------------------
def _pool_call(learner: Learner, A_prev: np.ndarray, f: int, stride: int, mode: str) -> object:
    return learner.call_course(
        "pool_forward", ["A_prev", "hparameters", "mode"], [A_prev, {"stride": stride, "f": f}, mode]
    )


def pool_cache_problem(cache: object, A_prev: np.ndarray) -> str | None:
    """What is wrong with ``pool_forward``'s cache against the course's ``(A_prev, hparameters)``."""
    if (
        isinstance(cache, (tuple, list))
        and len(cache) == 2
        and matches(cache[0], A_prev, "forward")
        and isinstance(cache[1], Mapping)
    ):
        return None
    return f"its cache is {kind(cache)}; the course's is (A_prev, hparameters), which pool_backward unpacks"


def _mode_cases() -> list[tuple[str, str]]:
    return [(case, mode) for case in POOL_CASES for mode in MODES]


def check_pool_forward(learner: Learner, result: FunctionResult) -> None:
    actual, data = {}, {case: pool_data(case, "pool_forward") for case in POOL_CASES}
    for case, mode in _mode_cases():
        A_prev, f, stride = data[case]
        A, cache = unpack(_pool_call(learner, A_prev, f, stride, mode), ("A", "cache"), "pool_forward")
        key = f"A ({mode}, {case})"
        actual[key] = array(A, "A")
        result.add(
            f"{mode}, {case}",
            "forward",
            records({key: actual[key]}, {key: pool_ref(A_prev, f, stride, mode)["A"]}, "forward"),
        )
        if result.passed and (problem := pool_cache_problem(cache, A_prev)):
            result.problems.append(problem)

    def each(fn: Callable[[np.ndarray, int, int, str], np.ndarray]) -> Callable[[], dict[str, np.ndarray]]:
        return lambda: {f"A ({mode}, {case})": fn(*data[case], mode) for case, mode in _mode_cases()}

    def unstrided(A: np.ndarray, f: int, s: int, mode: str) -> np.ndarray:
        n_H, n_W = _out(A.shape[1], f, s), _out(A.shape[2], f, s)
        return pool_ref(A, f, 1, mode)["A"][:, :n_H, :n_W]

    avg = "average"
    name_slip(
        result,
        actual,
        [
            (
                'mode=\'average\' computes the max: test mode == "average" (the course\'s name, not "avg")',
                each(lambda A, f, s, mode: pool_ref(A, f, s, "max")["A"]),
            ),
            ("mode='max' computes the average", each(lambda A, f, s, mode: pool_ref(A, f, s, avg)["A"])),
            (
                'mode=\'average\' leaves A at 0: test mode == "average" (the course\'s name, not "avg")',
                each(lambda A, f, s, mode: pool_ref(A, f, s, mode)["A"] * (mode != avg)),
            ),
            (
                "the average pool sums the window: divide by f·f (np.mean)",
                each(lambda A, f, s, mode: pool_ref(A, f, s, mode)["A"] * (f * f if mode == avg else 1)),
            ),
            (
                "the average pool divides by f instead of f·f (the window holds f·f values): np.mean",
                each(lambda A, f, s, mode: pool_ref(A, f, s, mode)["A"] * (f if mode == avg else 1)),
            ),
            ("the stride is not applied: the window starts at h (vert_start = h * stride)", each(unstrided)),
        ],
        "forward",
    )


__all__ = [
    "CONV_CASES",
    "POOL_CASES",
    "TIES_NOTE",
    "pad_ref",
    "conv_ref",
    "single_step_ref",
    "pool_ref",
    "course_max_pool_backward",
    "distribute_ref",
    "check_zero_pad",
    "check_conv_single_step",
    "check_conv_forward",
    "check_pool_forward",
]
