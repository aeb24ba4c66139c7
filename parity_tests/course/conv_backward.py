"""Course part ``conv``, backward half: ``conv_backward``, ``create_mask_from_window``,
``distribute_value`` and ``pool_backward`` — each backward run on the learner's *own* forward
caches (``conv_forward``'s ``(A_prev, W, b, hparameters)``, ``pool_forward``'s ``(A_prev,
hparameters)``; the course's when theirs does not work) and compared with autograd; a max pool's
ties follow the course's rule (see :mod:`parity_tests.course.conv`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from torch.nn import functional as F

from parity_tests.course.common import (
    FunctionResult,
    Learner,
    LearnerError,
    array,
    name_slip,
    records,
    unpack,
)
from parity_tests.course.conv import (
    CONV_CASES,
    TIES_NOTE,
    _course,
    _images,
    _mode_cases,
    _t,
    conv_cache_problem,
    conv_data,
    conv_ref,
    course_max_pool_backward,
    distribute_ref,
    pad_ref,
    pool_cache_problem,
    pool_data,
    pool_ref,
)
from parity_tests.devices import parity_mode
from parity_tests.registry import seed_for
from torch_ref.layout import to_numpy

GRADS = ("dA_prev", "dW", "db")


def _own_cache(
    learner: Learner,
    fn: str,
    params: list[str],
    values: list,
    course: object,
    problem_of: Callable[[object], str | None],
    result: FunctionResult,
) -> object:
    """The cache the learner's own forward ``fn`` returns, else the course's ``course`` (with a
    note); ``problem_of(cache)`` says when theirs is not the course's (blamed on ``fn``'s line)."""
    cache = None
    if learner.has(fn):
        try:
            cache = unpack(learner.call_course(fn, params, values), ("out", "cache"), fn)[1]
        except Exception:  # their forward is reported on its own line
            cache = None
    if cache is not None and problem_of(cache) is None:
        return cache
    note = (
        f"run on the course's cache: {fn}'s is not (see its line)"
        if cache is not None
        else f"run on the course's cache (no working {fn})"
    )
    if note not in result.notes:
        result.notes.append(note)
    return course


PAD_CROP = re.compile(r"pad\s*:\s*-\s*pad")  # the learner's line crops with [pad:-pad]
EMPTY_CROP = re.compile(r"from shape \(\d+, ?0, ?0, ?\d+\)|from shape \(0, ?0, ?\d+\)")  # an empty crop


def check_conv_backward(learner: Learner, result: FunctionResult) -> None:
    actual, expected, data, dZs = {}, {}, {}, {}
    for case in CONV_CASES:
        A_prev, W, b, stride, pad = data[case] = conv_data(case, "conv_backward")
        hparameters = {"stride": stride, "pad": pad}
        ref = conv_ref(A_prev, W, b, stride, pad)
        dZ = dZs[case] = np.random.default_rng(seed_for("conv", "dZ", case)).normal(0.0, 1.0, ref["Z"].shape)
        ref = conv_ref(A_prev, W, b, stride, pad, dZ)
        cache = _own_cache(
            learner,
            "conv_forward",
            ["A_prev", "W", "b", "hparameters"],
            [A_prev, W, b, hparameters],
            (A_prev, W, b, hparameters),
            partial(conv_cache_problem, A_prev=A_prev, W=W),
            result,
        )
        try:
            out = learner.call_course("conv_backward", ["dZ", "cache"], [dZ, cache])
        except LearnerError as exc:
            if pad == 0 and (PAD_CROP.search(str(exc)) or EMPTY_CROP.search(str(exc))):
                raise LearnerError(
                    f"{exc} — [pad:-pad] keeps nothing when pad = 0 (-0 is 0, so [0:-0] is "
                    "empty): crop with da_prev_pad[pad:pad + n_H_prev, pad:pad + n_W_prev, :]"
                ) from exc
            raise
        grads = unpack(out, GRADS, "conv_backward")
        for k, v in zip(GRADS, grads):
            actual[f"{k} ({case})"], expected[f"{k} ({case})"] = array(v, k), ref[k]
        keys = [f"{k} ({case})" for k in GRADS]
        result.add(
            case,
            "gradient",
            records(
                {k: actual[k] for k in keys}, {k: expected[k] for k in keys}, "gradient", m=A_prev.shape[0]
            ),
        )

    def each(fn: Callable[..., dict[str, np.ndarray]]) -> Callable[[], dict[str, np.ndarray]]:
        return lambda: {f"{k} ({case})": v for case, d in data.items() for k, v in fn(*d, dZs[case]).items()}

    def cropped_empty(A: np.ndarray, W: np.ndarray, b: np.ndarray, s: int, p: int, dZ: np.ndarray) -> dict:
        ref = conv_ref(A, W, b, s, p, dZ)
        if p == 0:
            ref["dA_prev"] = np.zeros((A.shape[0], 0, 0, A.shape[3]))
        return ref

    def per_example(A: np.ndarray, W: np.ndarray, b: np.ndarray, s: int, p: int, dZ: np.ndarray) -> dict:
        ref = conv_ref(A, W, b, s, p, dZ)
        return {**ref, "dW": ref["dW"] / A.shape[0], "db": ref["db"] / A.shape[0]}

    def uncropped(A: np.ndarray, W: np.ndarray, b: np.ndarray, s: int, p: int, dZ: np.ndarray) -> dict:
        return {**conv_ref(A, W, b, s, p, dZ), "dA_prev": conv_ref(pad_ref(A, p), W, b, s, 0, dZ)["dA_prev"]}

    name_slip(
        result,
        actual,
        [
            (
                "[pad:-pad] keeps nothing when pad = 0 (-0 is 0, so [0:-0] is empty): crop with "
                "[pad:pad + n_H_prev, pad:pad + n_W_prev]",
                each(cropped_empty),
            ),
            (
                "dW and db are divided by m: the course's conv_backward sums over the examples (no 1/m)",
                each(per_example),
            ),
            (
                "dA_prev still holds the padding: crop da_prev_pad to [pad:pad + n_H_prev, pad:pad + "
                "n_W_prev]",
                each(uncropped),
            ),
            (
                "dA_prev is built with the kernel flipped (W[::-1, ::-1]): da_prev_pad[window] += "
                "W[:, :, :, c] * dZ[i, h, w, c], no flip",
                each(
                    lambda A, W, b, s, p, dZ: {
                        **conv_ref(A, W, b, s, p, dZ),
                        "dA_prev": conv_ref(A, W[::-1, ::-1], b, s, p, dZ)["dA_prev"],
                    }
                ),
            ),
        ],
        "gradient",
    )


# --- pooling -----------------------------------------------------------------------------------------
def check_create_mask_from_window(learner: Learner, result: FunctionResult) -> None:
    xs = {
        "x": np.random.default_rng(seed_for("conv", "mask")).normal(0.0, 1.0, (2, 3)),
        "x with ties": np.array([[1.0, 3.0, 0.5], [3.0, -2.0, 3.0]]),
    }
    actual, expected = {}, {}
    for key, x in xs.items():
        mask = array(learner.call("create_mask_from_window", x), "mask")
        actual[f"mask ({key})"] = mask.astype(np.float64) if mask.dtype.kind == "b" else mask
        t = _t(x)
        expected[f"mask ({key})"] = to_numpy((t == t.max()).to(torch.float64))
    result.add("mask", "forward", records(actual, expected, "forward"))
    result.notes.append(TIES_NOTE)

    def first(x: np.ndarray) -> np.ndarray:
        m = np.zeros(x.shape)
        m[np.unravel_index(np.argmax(x), x.shape)] = 1.0
        return m

    name_slip(
        result,
        actual,
        [
            (
                "ties routed to one maximum (np.argmax): the course's mask = (x == np.max(x)) is "
                "True at every "
                "tied maximum",
                lambda: {f"mask ({k})": first(x) for k, x in xs.items()},
            ),
            (
                "the mask marks the minimum: x == np.max(x)",
                lambda: {f"mask ({k})": (x == x.min()).astype(np.float64) for k, x in xs.items()},
            ),
        ],
        "forward",
    )


DISTRIBUTE = [(2.0, (2, 2)), (1.7, (3, 5))]  # (dz, shape): the course's example, and a non-square window


def check_distribute_value(learner: Learner, result: FunctionResult) -> None:
    actual, expected = {}, {}
    for dz, shape in DISTRIBUTE:
        key = f"a (dz={dz}, shape={shape})"
        actual[key] = array(learner.call_course("distribute_value", ["dz", "shape"], [dz, shape]), "a")
        expected[key] = distribute_ref(dz, shape)
    result.add("a", "gradient", records(actual, expected, "gradient"))

    def divided(by: Callable[[int, int], float]) -> Callable[[], dict[str, np.ndarray]]:
        return lambda: {f"a (dz={dz}, shape={s})": np.full(s, dz / by(*s)) for dz, s in DISTRIBUTE}

    name_slip(
        result,
        actual,
        [
            (
                "dz is divided by n_H + n_W; the average pool's divisor is the window's size n_H · n_W: "
                "average = dz / (n_H * n_W)",
                divided(lambda h, w: h + w),
            ),
            ("dz is divided by n_H only; the average pool's divisor is n_H · n_W", divided(lambda h, w: h)),
            ("dz is divided by n_W only; the average pool's divisor is n_H · n_W", divided(lambda h, w: w)),
            ("dz is not divided: every entry gets dz / (n_H · n_W)", divided(lambda h, w: 1)),
            ("dz is multiplied by n_H · n_W instead of divided", divided(lambda h, w: 1 / (h * w))),
        ],
        "gradient",
    )


def _backward_cases() -> list[tuple[str, str]]:
    return [*_mode_cases(), ("ties", "max")]


def check_pool_backward(learner: Learner, result: FunctionResult) -> None:
    actual, data, dAs = {}, {}, {}
    for case, mode in _backward_cases():
        A_prev, f, stride = data[case] = pool_data(case, "pool_backward")
        hparameters = {"stride": stride, "f": f}
        shape = pool_ref(A_prev, f, stride, mode)["A"].shape
        rng = np.random.default_rng(seed_for("conv", "dA", case, mode))
        dA = dAs[case, mode] = rng.normal(0.0, 1.0, shape)
        cache = _own_cache(
            learner,
            "pool_forward",
            ["A_prev", "hparameters", "mode"],
            [A_prev, hparameters, mode],
            (A_prev, hparameters),
            partial(pool_cache_problem, A_prev=A_prev),
            result,
        )
        dA_prev = learner.call_course("pool_backward", ["dA", "cache", "mode"], [dA, cache, mode])
        key = f"dA_prev ({mode}, {case})"
        actual[key] = array(dA_prev, "dA_prev")
        result.add(
            f"{mode}, {case}",
            "gradient",
            records({key: actual[key]}, {key: pool_ref(A_prev, f, stride, mode, dA)["dA_prev"]}, "gradient"),
        )
    result.notes.append(TIES_NOTE)

    def each(
        fn: Callable[[np.ndarray, int, int, str, np.ndarray], np.ndarray],
    ) -> Callable[[], dict[str, np.ndarray]]:
        return lambda: {
            f"dA_prev ({mode}, {case})": fn(*data[case], mode, dAs[case, mode])
            for case, mode in _backward_cases()
        }

    def unstrided(rows: bool, cols: bool) -> Callable[[], dict[str, np.ndarray]]:
        def fn(A: np.ndarray, f: int, s: int, mode: str, dA: np.ndarray) -> np.ndarray:
            if mode == "max":
                return course_max_pool_backward(A, dA, f, (1 if rows else s, 1 if cols else s))
            x = _images(A, grad=True)  # the average pool at the strides it used, dA on its first windows
            strides = (1 if rows else s, 1 if cols else s)
            with parity_mode():
                a = F.avg_pool2d(x, f, stride=strides)
                g = torch.zeros_like(a)
                d = _images(dA)
                g[:, :, : d.shape[2], : d.shape[3]] = d
                (dx,) = torch.autograd.grad(a, x, g)
            return _course(dx)

        return each(fn)

    stride = (
        "pool_backward ignores the stride: the window of dA[i, h, w, c] starts at h * stride "
        "(vert_start = h * stride, horiz_start = w * stride)"
    )
    name_slip(
        result,
        actual,
        [
            (
                "ties routed to one maximum: the course's mask = (x == np.max(x)) sends dA to every "
                "tied maximum "
                "of the window (torch's and dlparity's own pooling keep the first only)",
                each(lambda A, f, s, mode, dA: pool_ref(A, f, s, mode, dA, ties="first")["dA_prev"]),
            ),
            *[(stride, unstrided(r, c)) for r, c in ((True, True), (True, False), (False, True))],
            (
                "mode='average' routes dA to the maximum: test mode == \"average\"",
                each(lambda A, f, s, mode, dA: pool_ref(A, f, s, "max", dA)["dA_prev"]),
            ),
            (
                "mode='max' spreads dA evenly (distribute_value): the max pool's gradient goes to "
                "the maximum",
                each(lambda A, f, s, mode, dA: pool_ref(A, f, s, "average", dA)["dA_prev"]),
            ),
        ],
        "gradient",
    )
