"""Who broke the contract when the learner's code raises inside a course helper.

A backward that unpacks its cache in the wrong order hands ``sigmoid_backward`` a tuple, and
the exception comes from a correct line (``s = 1 / (1 + np.exp(-Z))``). :func:`explain` walks
the traceback from the innermost frame out, finds the first course function that was *called*
with an argument outside the course's contract (:data:`CONTRACTS`), and says so in the words of
the course: which function passed what to which, what that argument should be, and where the
order usually goes wrong. An ``assert`` of the learner's own that fails is named as theirs,
with the course's contract for the function it sits in.

Example:
    >>> import numpy as np
    >>> def sigmoid_backward(dA, cache):
    ...     Z = cache
    ...     return dA * -Z
    >>> def linear_activation_backward(dA, cache, activation):
    ...     activation_cache, linear_cache = cache
    ...     return sigmoid_backward(dA, activation_cache)
    >>> A, W, b, Z = np.ones((5, 7)), np.ones((4, 5)), np.ones((4, 1)), np.ones((4, 7))
    >>> try:
    ...     linear_activation_backward(Z, ((A, W, b), Z), "sigmoid")
    ... except TypeError as exc:
    ...     print(explain(exc, "linear_activation_backward", linear_activation_backward))
    linear_activation_backward passed sigmoid_backward a tuple as its cache; sigmoid_backward's \
cache is Z, the (n[l], m) = (4, 7) array sigmoid(Z) returned — check the order of linear_cache, \
activation_cache = cache in linear_activation_backward (TypeError: bad operand type for unary -: \
'tuple', in sigmoid_backward, line 3)
"""

from __future__ import annotations

import traceback
import types
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

SIGNATURES: dict[str, list[str]] = {}
"""Each course function's signatures (``"sigmoid(z) -> s"``), by name: filled by
:mod:`~parity_tests.course.catalogue` when it is imported (it imports this module's users, so
this module never imports it)."""


def kind(v: Any) -> str:
    """``a (1, 1) array``, ``an int``, ``a tuple``."""
    if isinstance(v, np.ndarray):
        return f"a {v.shape} array"
    name = type(v).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _is_array(v: Any, args: Mapping[str, Any]) -> bool:
    return isinstance(v, np.ndarray) and v.dtype.kind in "fiub"


def _is_linear_cache(v: Any, args: Mapping[str, Any] | None = None) -> bool:
    return isinstance(v, (tuple, list)) and len(v) == 3 and all(isinstance(x, np.ndarray) for x in v)


def _is_z(v: Any, args: Mapping[str, Any]) -> bool:
    dA = args.get("dA")
    return _is_array(v, args) and (not isinstance(dA, np.ndarray) or v.shape == dA.shape)


def is_course_cache(v: Any) -> bool:
    """``((A_prev, W, b), Z)``: the cache ``linear_activation_forward`` returns in the course."""
    return (
        isinstance(v, (tuple, list))
        and len(v) == 2
        and _is_linear_cache(v[0])
        and isinstance(v[1], np.ndarray)
    )


def is_swapped_cache(v: Any) -> bool:
    """``(Z, (A_prev, W, b))``: the course's two caches in the swapped order."""
    return (
        isinstance(v, (tuple, list))
        and len(v) == 2
        and isinstance(v[0], np.ndarray)
        and _is_linear_cache(v[1])
    )


def _is_activation(v: Any, args: Mapping[str, Any]) -> bool:
    return v in ("sigmoid", "relu")


def _z_shape(args: Mapping[str, Any]) -> str:
    dA = args.get("dA")
    return f"(n[l], m) = {tuple(dA.shape)}" if isinstance(dA, np.ndarray) else "(n[l], m)"


Contract = tuple[Callable[[Any, Mapping[str, Any]], bool], Callable[[Mapping[str, Any]], str]]
_ARRAY: Contract = (_is_array, lambda a: "an array")
_LINEAR_CACHE = "(A_prev, W, b), the tuple linear_forward(A_prev, W, b) returned"
CONTRACTS: dict[str, dict[str, Contract]] = {
    "sigmoid": {"Z": _ARRAY},
    "relu": {"Z": _ARRAY},
    "sigmoid_backward": {
        "dA": _ARRAY,
        "cache": (_is_z, lambda a: f"Z, the {_z_shape(a)} array sigmoid(Z) returned"),
    },
    "relu_backward": {
        "dA": _ARRAY,
        "cache": (_is_z, lambda a: f"Z, the {_z_shape(a)} array relu(Z) returned"),
    },
    "linear_forward": {"A": _ARRAY, "W": _ARRAY, "b": _ARRAY},
    "linear_backward": {"dZ": _ARRAY, "cache": (_is_linear_cache, lambda a: _LINEAR_CACHE)},
    "linear_activation_forward": {
        "A_prev": _ARRAY,
        "W": _ARRAY,
        "b": _ARRAY,
        "activation": (_is_activation, lambda a: "'sigmoid' or 'relu'"),
    },
    "linear_activation_backward": {
        "dA": _ARRAY,
        "activation": (_is_activation, lambda a: "'sigmoid' or 'relu'"),
        "cache": (
            lambda v, a: is_course_cache(v),
            lambda a: (
                "(linear_cache, activation_cache) = ((A_prev, W, b), Z), the cache "
                "linear_activation_forward returned"
            ),
        ),
    },
}
"""Per course function: each argument's test and its description in the course's words."""

_ORDER_HINTS = {
    "forward": " — check the order of cache = (linear_cache, activation_cache) in linear_activation_forward",
    "backward": " — check the order of linear_cache, activation_cache = cache in linear_activation_backward",
}


def _frames(exc: BaseException, fn: Callable[..., Any]) -> list[tuple[types.FrameType, int]]:
    """The traceback's frames and lines, outermost first, from ``fn``'s own frame on (the harness
    that called it is no party to the contract)."""
    out, tb = [], exc.__traceback__
    while tb is not None:
        out.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    code = getattr(fn, "__code__", None)
    start = next((i for i, (f, _) in enumerate(out) if f.f_code is code), 0)
    return out[start:]


def _arguments(frame: types.FrameType) -> dict[str, Any]:
    code = frame.f_code
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    return {n: frame.f_locals[n] for n in names if n in frame.f_locals}


def _hint(helper: str, caller: types.FrameType) -> str:
    """Where a misplaced cache usually comes from, read off the caller's own cache."""
    if (
        helper not in ("sigmoid_backward", "relu_backward", "linear_backward")
        or caller.f_code.co_name != "linear_activation_backward"
    ):
        return ""
    cache = _arguments(caller).get("cache")
    if is_swapped_cache(cache):
        return _ORDER_HINTS["forward"]
    if is_course_cache(cache):
        return _ORDER_HINTS["backward"]
    return ""


def _raised(exc: BaseException, where: str, line: int) -> str:
    msg = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}{': ' + msg if msg else ''}, in {where}, line {line}"


def _broken_contract(exc: BaseException, frames: list[tuple[types.FrameType, int]]) -> str | None:
    """The innermost course function called with an argument outside its contract, as a sentence."""
    for i in range(len(frames) - 1, 0, -1):
        frame, line = frames[i]
        helper = frame.f_code.co_name
        caller = frames[i - 1][0]
        if helper not in CONTRACTS or caller.f_code.co_name == helper:
            continue
        args = _arguments(frame)
        for param, (ok, what) in CONTRACTS[helper].items():
            if param in args and not ok(args[param], args):
                inner, inner_line = frames[-1]
                return (
                    f"{caller.f_code.co_name} passed {helper} {kind(args[param])} as its {param}; "
                    f"{helper}'s {param} is {what(args)}{_hint(helper, caller)} "
                    f"({_raised(exc, inner.f_code.co_name, inner_line)})"
                )
    return None


def _contract_of(function: str, args: Mapping[str, Any]) -> str:
    """What the course's ``function`` returns, in its own words where we know them."""
    if function == "linear_backward":
        cache = args.get("cache")
        b = f" = {tuple(cache[2].shape)}" if _is_linear_cache(cache) else ""
        return (
            f"the course's linear_backward returns dA_prev shaped like A_prev, dW like W and db "
            f"like b, (n[l], 1){b}: db = 1/m · np.sum(dZ, axis=1, keepdims=True)"
        )
    signatures = SIGNATURES.get(function)
    if signatures:
        return "the course's contract is " + " or ".join(signatures)
    return "the check's inputs follow the course's contract"


def _own_assert(
    exc: BaseException, name: str, fn: Callable[..., Any], frames: list[tuple[types.FrameType, int]]
) -> str | None:
    """An ``AssertionError`` raised in the learner's own code (their ``assert``), not in a library."""
    own = getattr(getattr(fn, "__code__", None), "co_filename", None)
    if not isinstance(exc, AssertionError) or own is None or not frames:
        return None
    if frames[-1][0].f_code.co_filename != own:
        return None
    frame, line = frames[-1]
    source = (traceback.extract_tb(exc.__traceback__)[-1].line or "").strip()
    shown = f": `{source}`" if source.startswith("assert") else ""
    where = frame.f_code.co_name
    whose = (
        f"{name}'s own assert failed"
        if where == name
        else f"{name} raised AssertionError at an assert of your own in {where}"
    )
    return (
        f"{whose} (line {line}{shown}): that assert is yours, not the course's, and it fails on the "
        f"course's arguments — {_contract_of(where, _arguments(frame))}"
    )


def explain(exc: BaseException, name: str, fn: Callable[..., Any]) -> str | None:
    """A sentence for an exception ``fn`` (the learner's ``name``) raised, when it comes from a
    course function called outside its contract or from an ``assert`` of the learner's own;
    ``None`` when neither (the caller then reports the exception as it is)."""
    try:
        frames = _frames(exc, fn)
        return _broken_contract(exc, frames) or _own_assert(exc, name, fn, frames)
    except Exception:  # naming the culprit must never hide the exception itself
        return None
