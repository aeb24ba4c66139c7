"""What every course-function check shares: calling the learner's code safely, reading what it
returned against the course's contract, comparing against torch, and naming typical slips.

A check procedure gets a :class:`Learner` (the learner's functions) and fills a
:class:`FunctionResult`: :class:`~parity_tests.compare.CheckResult` groups of records from
:func:`~parity_tests.compare.compare` (so the diagnoses are dlparity's usual ones), contract
*problems* (a cost returned as a ``(1, 1)`` array, a missing key) and notes.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import re
import signal
import threading
import traceback
import types
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from parity_tests.compare import CheckResult, Comparison, compare, group_result
from parity_tests.course.blame import explain, kind
from parity_tests.diagnose import diagnose
from parity_tests.tolerances import Tolerance, tolerance

DTYPE = "float64"
CONCEPT = "course"


def tol(level: str, step: int = 0) -> Tolerance:
    """The policy's float64 tolerance at ``level`` (the course checks all run in float64)."""
    return tolerance(DTYPE, level, step)


class ContractError(Exception):
    """What the learner's function returned cannot be read as the course's result."""


class LearnerError(Exception):
    """The learner's function raised; the message names the exception and where."""


class NotCheckable(LearnerError):
    """The learner's function needs a name the loaded file leaves undefined (an import of an absent
    module, a top-level statement that is not run): it cannot be checked, which is not a FAIL."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"needs {name} ({why})")
        self.name, self.why = name, why


@dataclass
class FunctionResult:
    """The verdict on one learner function."""

    name: str
    part: str
    signature: str
    checks: list[CheckResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    slip: str | None = None  # a typical mistake recognised in the learner's values
    depends_on: list[str] = field(default_factory=list)  # failing functions it uses
    needs: list[str] = field(default_factory=list)  # undefined names it cannot run without
    output: str = ""  # what the learner's code printed during the check (contained runs)

    @property
    def passed(self) -> bool:
        return (
            self.error is None
            and not self.problems
            and bool(self.checks)
            and all(c.passed for c in self.checks)
        )

    @property
    def checkable(self) -> bool:
        """It could run: nothing it needs is missing from the file (see :class:`NotCheckable`)."""
        return not self.needs

    @property
    def status(self) -> str:
        if not self.checkable:
            return "NOT CHECKABLE"
        return "PASS" if self.passed else "FAIL"

    @property
    def records(self) -> list[Comparison]:
        return [r for c in self.checks for r in c.records]

    @property
    def worst(self) -> Comparison | None:
        """The failing record that comes first in the computation, else the closest call."""
        failing = [r for r in self.records if not r.passed]
        if failing:
            return failing[0]
        return max(self.records, key=lambda r: r.tol_ratio, default=None)

    @property
    def own_diagnosis(self) -> str | None:
        if self.error:
            return self.error
        if self.problems:
            return self.problems[0]
        if self.slip:
            return self.slip
        for c in self.checks:
            if not c.passed:
                first = next((r for r in c.records if not r.passed and r.diagnosis), None)
                if c.level == "trajectory" and c.diagnosis:
                    return c.diagnosis
                if first is not None:
                    return f"{first.name}: {first.diagnosis}"
                if c.diagnosis:
                    return c.diagnosis
        return None

    @property
    def diagnosis(self) -> str | None:
        if self.passed:
            return None
        if not self.checkable:
            return self.error
        if self.depends_on:
            names = ", ".join(self.depends_on)
            return f"uses {names}, which fail{'s' if len(self.depends_on) == 1 else ''}: fix that first"
        return self.own_diagnosis

    def add(
        self,
        case: str,
        level: str,
        records: Sequence[Comparison],
        diagnosis: str | None = None,
        extra: dict | None = None,
    ) -> CheckResult:
        result = group_result(
            CONCEPT, f"{self.name}/{case}", level, "cpu", DTYPE, records, extra=extra, diagnosis=diagnosis
        )
        self.checks.append(result)
        return result

    def to_dict(self) -> dict[str, Any]:
        worst = self.worst
        return {
            "function": self.name,
            "part": self.part,
            "signature": self.signature,
            "status": self.status,
            "diagnosis": self.diagnosis,
            "own_diagnosis": self.own_diagnosis,
            "depends_on": self.depends_on,
            "error": self.error,
            "problems": self.problems,
            "slip": self.slip,
            "notes": self.notes,
            "output": self.output,
            "worst": worst.to_dict() if worst else None,
            "checks": [c.to_dict() for c in self.checks],
        }


def _where(exc: BaseException, fn: Callable) -> str:
    """``file line N: source`` of the deepest frame in the learner's own file."""
    own = getattr(getattr(fn, "__code__", None), "co_filename", None)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == own]
    if not frames:
        return ""
    f = frames[-1]
    line = f": `{f.line.strip()}`" if f.line else ""
    return f" (in {f.name}, line {f.lineno}{line})"


def _hint(exc: BaseException, fn: Callable) -> str:
    """The fix of an error whose cause is known from its message and the learner's line: NumPy 2
    converts only 0-d arrays to a number (``float(b)`` of the course's ``(1, 1, 1)`` bias fails);
    the template's ``… = None`` placeholder left in."""
    where = _where(exc, fn)
    if re.search(r"only (0-dimensional|length-1|size-1) arrays can be converted", str(exc)):
        arg = re.search(r"float\((\w+)\)", where)
        x = arg.group(1) if arg else "x"
        return (
            f" — NumPy 2 converts only 0-d arrays to a number: float({x}) of an array of shape "
            f"(1, 1, 1) fails; use np.squeeze({x}) or {x}.item()"
        )
    if "NoneType" in str(exc) or re.search(r"=\s*None`\)$", where):
        return (
            " — a None where a value is expected: the template's `… = None` placeholder, or a "
            "function that returns nothing (not implemented yet?)"
        )
    return ""


_USER_INTERRUPT = threading.Event()


@contextlib.contextmanager
def user_interrupts() -> Iterator[None]:
    """While checking in-process (``check_course(globals())``), tell the user's Ctrl-C (SIGINT:
    it stops the check, as Ctrl-C always does) from a ``KeyboardInterrupt`` the learner's code
    raises (a FAIL of that function). Off the main thread, where no handler can be installed,
    every ``KeyboardInterrupt`` counts as the learner's."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupted(signum: int, frame: Any) -> None:
        _USER_INTERRUPT.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _USER_INTERRUPT.clear()


class Learner:
    """The learner's functions, called one safe way: on copies of the inputs, with their prints
    captured, warnings recorded, and NumPy's global random state restored afterwards."""

    def __init__(
        self, functions: Mapping[str, Callable[..., Any]], unbound: Mapping[str, str] | None = None
    ) -> None:
        self.functions = dict(functions)
        self.unbound = dict(unbound or {})  # names the file binds where dlparity does not run: why
        self.warnings: list[str] = []
        self.stdout: Any = None  # where their prints go; None: discarded (a contained run sets it)

    def has(self, name: str) -> bool:
        return name in self.functions

    def call(
        self, name: str, *args: Any, seed: int | None = None, shared: bool = False, **kwargs: Any
    ) -> Any:
        """``name(*args, **kwargs)``; raises :class:`LearnerError` naming the exception and the
        learner's line. ``seed`` seeds NumPy's global generator first (restored after).
        ``shared``: hand over the arguments themselves, not copies (a check of what the function
        does to its inputs in place, as the course's ``clip`` and ``update_parameters`` do)."""
        fn = self.functions[name]
        if not shared:
            args, kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
        state = np.random.get_state()
        try:
            if seed is not None:
                np.random.seed(seed)
            with (
                contextlib.redirect_stdout(self.stdout or io.StringIO()),
                warnings.catch_warnings(record=True) as w,
            ):
                warnings.simplefilter("always")
                try:
                    return fn(*args, **kwargs)
                finally:
                    self.warnings += [
                        f"{x.category.__name__}: {x.message}"
                        for x in w
                        if f"{x.category.__name__}: {x.message}" not in self.warnings
                    ]
        except SystemExit as exc:  # sys.exit() in their code must not end the check
            raise LearnerError(f"{name} called sys.exit({exc.code!r}){_where(exc, fn)}") from None
        except KeyboardInterrupt as exc:  # raised by their code (Ctrl-C never reaches a contained run)
            if _USER_INTERRUPT.is_set():  # the user's own Ctrl-C, in an in-process check
                raise
            raise LearnerError(f"{name} raised KeyboardInterrupt{_where(exc, fn)}") from None
        except MemoryError as exc:
            raise LearnerError(f"{name} ran out of memory (MemoryError){_where(exc, fn)}") from None
        except NameError as exc:
            missing = getattr(exc, "name", None)
            if missing in self.unbound:
                raise NotCheckable(missing, self.unbound[missing]) from exc
            raise LearnerError(f"{name} raised NameError: {exc}{_where(exc, fn)}") from exc
        except Exception as exc:
            blamed = explain(exc, name, fn)  # a course helper called outside its contract, their own assert
            if blamed:
                raise LearnerError(blamed) from exc
            msg = str(exc).splitlines()[0] if str(exc) else ""
            raise LearnerError(
                f"{name} raised {type(exc).__name__}"
                f"{': ' + msg if msg else ''}{_where(exc, fn)}{_hint(exc, fn)}"
            ) from exc
        finally:
            np.random.set_state(state)

    def call_course(
        self,
        name: str,
        course_params: Sequence[str],
        values: Sequence[Any],
        seed: int | None = None,
        shared: bool = False,
    ) -> Any:
        """Call with the course's arguments: by keyword when the learner's parameters carry the
        course's names, else positionally (as many as the learner's function takes)."""
        fn = self.functions[name]
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            return self.call(name, *values, seed=seed, shared=shared)
        if all(p in params for p in course_params):
            return self.call(name, seed=seed, shared=shared, **dict(zip(course_params, values)))
        positional = [p for p in params.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if any(p.kind is p.VAR_POSITIONAL for p in params.values()):
            return self.call(name, *values, seed=seed, shared=shared)
        return self.call(name, *values[: len(positional)], seed=seed, shared=shared)


def names_used(code: types.CodeType) -> set[str]:
    """The global names a function's code (and the code nested in it) reads: the functions a
    learner's function calls, for "fails because a function it uses fails"."""
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= names_used(c)
    return names


# --- reading the learner's results against the course's contract ------------------------------
def not_implemented(fn: str, want: str) -> str:
    """What to say when ``fn`` returned ``None``: the course's untouched template, or a missing
    ``return``."""
    return f"{fn} returns None — not implemented yet? (the course's returns {want})"


def returned(value: Any, fn: str, want: str) -> Any:
    """``value`` — one returned value, as :func:`unpack` takes a tuple — unless it is ``None``
    (:func:`not_implemented`)."""
    if value is None:
        raise ContractError(not_implemented(fn, want))
    return value


def unpack(value: Any, names: Sequence[str], fn: str) -> tuple:
    """``value`` as the course's tuple ``names`` (e.g. ``("grads", "cost")``)."""
    want = f"({', '.join(names)})"
    if value is None:
        raise ContractError(not_implemented(fn, want))
    if not isinstance(value, (tuple, list)):
        raise ContractError(f"{fn} returned {kind(value)}; the course returns {want}")
    if len(value) != len(names):
        got = ", ".join(kind(v) for v in value)
        raise ContractError(f"{fn} returned {len(value)} values ({got}); the course returns {want}")
    return tuple(value)


def entry(d: Any, key: str, what: str) -> Any:
    """``d[key]`` of a dict the course keys by name, or a :class:`ContractError` listing its keys."""
    if not isinstance(d, Mapping):
        raise ContractError(f"{what} is {kind(d)}; the course's is a dict with key {key!r}")
    if key not in d:
        hint = (
            ": the course's keys are W1, b1, …, dW1, db1, …, dA0, …"
            if re.fullmatch(r"d?[WbA]\d+", key)
            else ""
        )
        raise ContractError(f"{what} has no key {key!r} (it has {sorted(map(str, d))}){hint}")
    return d[key]


def array(v: Any, what: str) -> np.ndarray:
    """A real numeric array, or a :class:`ContractError` saying what ``v`` is."""
    if v is None:
        raise ContractError(f"{what} is None — not implemented yet? (or a missing return)")
    a = np.asarray(v) if not isinstance(v, Mapping) else None
    if a is None or a.dtype.kind not in "fiub":
        raise ContractError(f"{what} is {kind(v)}; expected an array of numbers")
    return a


def number(v: Any, what: str, result: FunctionResult) -> float:
    """A cost: one number. A ``(1, 1)`` array is a contract problem (the course squeezes it)."""
    a = array(v, what)
    if a.size != 1:
        raise ContractError(f"{what} has shape {a.shape}; expected one number")
    if a.ndim > 0:
        result.problems.append(
            f"{what} is a {a.shape} array, not a number: the course returns "
            f"np.squeeze({what.split()[-1]}) (or float(...))"
        )
    return float(a.reshape(()))


def float_dtype(a: np.ndarray, what: str, result: FunctionResult, course: str) -> None:
    if a.dtype.kind != "f":
        result.problems.append(f"{what} has dtype {a.dtype}; the course's is float ({course})")


# --- comparing and naming slips ------------------------------------------------------------------
def records(
    actual: Mapping[str, Any],
    expected: Mapping[str, np.ndarray],
    level: str,
    *,
    m: int | None = None,
    x: Mapping[str, np.ndarray] | None = None,
    inputs: Mapping[str, Sequence[int]] | None = None,
) -> list[Comparison]:
    """One :func:`compare` record per expected quantity, in ``expected``'s order. ``inputs`` (the
    shapes of the function's ``(n, m)`` inputs by name) lets a factor ``m/n`` name ``m`` taken from
    the wrong axis (:func:`~parity_tests.diagnose.diagnose`)."""
    out = [
        compare(k, np.asarray(actual[k]), e, tol(level), m=m, x=(x or {}).get(k)) for k, e in expected.items()
    ]
    for r, (k, e) in zip(out, expected.items()):
        if inputs and not r.passed and np.shape(actual[k]) == np.shape(e):
            r.diagnosis = (
                diagnose(np.asarray(actual[k]), e, tol(level), m=m, x=(x or {}).get(k), inputs=inputs)
                or r.diagnosis
            )
    return out


def matches(actual: Any, expected: Any, level: str) -> bool:
    a, e = np.asarray(actual), np.asarray(expected)
    if a.shape != e.shape or a.dtype.kind not in "fiub" or a.size == 0:
        return False
    return compare("slip", a, e, tol(level)).passed


Slip = tuple[str, Callable[[], Mapping[str, np.ndarray]]]


def name_slip(result: FunctionResult, actual: Mapping[str, Any], slips: Sequence[Slip], level: str) -> None:
    """If the learner's failing quantities equal what a typical slip computes, name it.

    Each slip is ``(description, what it computes {quantity: value})``; it explains the result
    when every quantity it lists that failed equals the slip's value (and it lists at least one
    failed quantity)."""
    failed = {r.name for r in result.records if not r.passed}
    if not failed or result.slip:
        return
    for description, compute in slips:
        try:
            values = compute()
        except Exception:  # a slip that cannot even be computed on these inputs explains nothing
            continue
        named = [k for k in values if k in failed and k in actual]
        if named and all(matches(actual[k], values[k], level) for k in named) and failed <= set(values):
            result.slip = description
            return


def shape_str(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"
