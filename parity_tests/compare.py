"""Comparison records: every comparison yields one, used by pytest messages and the report.

Compare shape first, then dtype-appropriate values (tinygrad's ``helper_test_op`` order), and
keep everything a reader needs: both shapes, the worst element's index and both of its values,
the errors, the tolerance, the verdict and — when it fails — a diagnosis.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from parity_tests.diagnose import diagnose, diagnose_group
from parity_tests.tolerances import Tolerance, tolerance


@dataclass
class Comparison:
    """One quantity compared: scratch (``actual``) against the reference (``expected``)."""

    name: str
    shape_actual: tuple[int, ...]
    shape_expected: tuple[int, ...]
    max_abs_err: float
    max_rel_err: float
    worst_index: tuple[int, ...] | None
    worst_actual: float | None
    worst_expected: float | None
    rtol: float
    atol: float
    passed: bool
    diagnosis: str | None = None
    step: int | None = None  # for trajectories: the step this record describes
    ratio: float = 0.0  # max over elements of |a − e| / (atol + rtol·|e|)
    note: str | None = None  # e.g. that a non-finite value was declared the expected answer
    inconclusive: bool = False  # the check could not have failed here (see :func:`insensitive`)

    @property
    def tol_ratio(self) -> float:
        """How close to its tolerance the worst element is: ``max |a − e| / (atol + rtol·|e|)``
        over the elements (> 1 means failing; ``inf`` for a shape mismatch)."""
        if self.shape_actual != self.shape_expected:
            return float("inf")
        if not self.passed and self.ratio <= 1:  # a hand-built record that states only a verdict
            return float("inf")
        return self.ratio

    def __str__(self) -> str:
        verdict = "ok  " if self.passed else "INCONCLUSIVE" if self.inconclusive else "FAIL"
        at = f" at step {self.step}" if self.step is not None else ""
        if self.inconclusive:
            return f"{verdict} {self.name}{at}: {self.diagnosis}"
        if self.shape_actual != self.shape_expected:
            s = (
                f"{verdict} {self.name}{at}: shape {self.shape_actual} (scratch) vs "
                f"{self.shape_expected} (reference)"
            )
        else:
            s = (
                f"{verdict} {self.name}{at}: max abs err {self.max_abs_err:.3g}, max rel err "
                f"{self.max_rel_err:.3g} (rtol={self.rtol:.1e}, atol={self.atol:.1e})"
            )
            if not self.passed and self.worst_index is not None:
                s += (
                    f"; worst at {self.worst_index}: scratch {_fmt(self.worst_actual)} vs "
                    f"reference {_fmt(self.worst_expected)}"
                )
        if self.note:
            s += f" [{self.note}]"
        if self.diagnosis:
            s += f"\n       -> {self.diagnosis}"
        return s

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


SIGNIFICANT_DIGITS = 7
"""Printed values carry 7 significant digits: enough to see a mismatch at float32's tolerance,
and never the trailing digits that the CPU and BLAS decide (JSON keeps full precision)."""


def _fmt(v: float | None) -> str:
    return "None" if v is None else f"{v:.{SIGNIFICANT_DIGITS}g}"


def _errors(
    a64: np.ndarray, e64: np.ndarray, tol: Tolerance, allow_nonfinite: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Per element: ``|a − e|`` and its ratio to the bound ``atol + rtol·|e|`` (> 1 fails).

    The one implementation behind :func:`compare` and :func:`tolerance_ratio`. A non-finite
    value on either side is an infinite error (NaN equal to NaN is not parity), except where
    ``allow_nonfinite`` declares that identical non-finite values on both sides are the answer.
    """
    both_finite = np.isfinite(a64) & np.isfinite(e64)
    same_nonfinite = (
        ~both_finite & ((a64 == e64) | (np.isnan(a64) & np.isnan(e64)))
        if allow_nonfinite
        else np.zeros_like(both_finite)
    )
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # inf − inf is masked out
        abs_err = np.where(both_finite, np.abs(a64 - e64), np.where(same_nonfinite, 0.0, np.inf))
        bound = tol.atol + tol.rtol * np.where(both_finite, np.abs(e64), 0.0)
        ratio = np.where(abs_err == 0, 0.0, abs_err / bound)  # x/0 -> inf: an exact check failed
    return abs_err, ratio


def tolerance_ratio(actual: Any, expected: Any, tol: Tolerance, allow_nonfinite: bool = False) -> float:
    """``max |a − e| / (atol + rtol·|e|)`` — the pass test of :func:`compare` (``<= 1``) without
    building a record, for hot loops; ``inf`` for a shape mismatch, a non-finite value or an
    empty comparison."""
    a, e = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape or a.size == 0:
        return float("inf")
    return float(_errors(a, e, tol, allow_nonfinite)[1].max())


def _without_values(
    name: str, why: str, step: int | None, tol: Tolerance | None, inconclusive: bool
) -> Comparison:
    """A record with no values to show (no shapes, NaN errors) that never passes."""
    rtol, atol = (tol.rtol, tol.atol) if tol else (0.0, 0.0)
    nan = float("nan")
    return Comparison(
        name,
        (),
        (),
        nan,
        nan,
        None,
        None,
        None,
        rtol,
        atol,
        False,
        why,
        step,
        float("inf") if inconclusive else 0.0,
        None,
        inconclusive,
    )


def insensitive(name: str, why: str, step: int | None = None, tol: Tolerance | None = None) -> Comparison:
    """A record saying that a check *could not have failed* for ``name`` (an update below the
    tolerance, an input that neither side reads), ``why`` saying so with the numbers: it never
    passes, and it makes the check's :attr:`CheckResult.status` ``INCONCLUSIVE`` unless another
    record fails outright."""
    return _without_values(name, why, step, tol, inconclusive=True)


def not_compared(name: str, why: str, step: int | None = None) -> Comparison:
    """A failing record for ``name`` when there was nothing to compare (no update happened, a
    run stopped early), ``why`` saying so: a check that compared nothing never passes."""
    return _without_values(name, why, step, None, inconclusive=False)


def compare(
    name: str,
    actual: Any,
    expected: Any,
    tol: Tolerance,
    *,
    m: int | None = None,
    x: np.ndarray | None = None,
    step: int | None = None,
    allow_nonfinite: bool = False,
) -> Comparison:
    """Compare ``actual`` (scratch) with ``expected`` (reference) elementwise under ``tol``.

    Every compared value must be finite on both sides: NaN or Inf fails, even when both sides
    hold the same one — unless ``allow_nonfinite`` declares that identical non-finite values are
    the expected answer (the record then says so). Empty arrays compare nothing and fail.
    ``m`` and ``x`` feed the diagnosis (see :func:`parity_tests.diagnose.diagnose`); pass ``x``
    only for a quantity that is elementwise in ``x``.
    """
    a = np.asarray(actual)
    e = np.asarray(expected)
    for side, arr in (("scratch", a), ("reference", e)):
        if arr.dtype.kind not in "fiub":
            raise TypeError(
                f"{name}: expected a real numeric array from the {side} side, got "
                f"dtype {arr.dtype} ({type(actual if side == 'scratch' else expected).__name__})"
            )
    if a.shape != e.shape:
        return Comparison(
            name,
            a.shape,
            e.shape,
            float("inf"),
            float("inf"),
            None,
            None,
            None,
            tol.rtol,
            tol.atol,
            False,
            diagnose(a, e, tol, m=m, x=x),
            step,
        )
    if a.size == 0:
        return Comparison(
            name,
            a.shape,
            e.shape,
            float("nan"),
            float("nan"),
            None,
            None,
            None,
            tol.rtol,
            tol.atol,
            False,
            "nothing compared: both arrays are empty",
            step,
            float("inf"),
        )
    a64, e64 = a.astype(np.float64), e.astype(np.float64)
    abs_err, ratio = _errors(a64, e64, tol, allow_nonfinite)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_err = np.where(abs_err == 0, 0.0, abs_err / np.abs(e64))
    passed = bool(np.all(ratio <= 1))
    worst = np.unravel_index(int(np.argmax(ratio)), a.shape)
    note = None
    if allow_nonfinite and not np.isfinite(e64).all():
        note = (
            f"{int((~np.isfinite(e64)).sum())} non-finite value(s) declared the expected answer "
            "and matched exactly"
        )
    return Comparison(
        name,
        a.shape,
        e.shape,
        float(abs_err.max()),
        float(np.nan_to_num(rel_err, nan=np.inf).max()),
        tuple(int(i) for i in worst),
        float(a64[worst]),
        float(e64[worst]),
        tol.rtol,
        tol.atol,
        passed,
        None if passed else diagnose(a, e, tol, m=m, x=x),
        step,
        float(ratio.max()),
        note,
    )


@dataclass
class CheckResult:
    """All comparisons of one check (one concept case at one level, device and dtype)."""

    concept: str
    case: str
    level: str
    device: str
    dtype: str
    records: list[Comparison]
    diagnosis: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Every record passed — and there is at least one: a check that compared nothing fails."""
        return bool(self.records) and all(r.passed for r in self.records)

    @property
    def status(self) -> str:
        """``PASS``; ``INCONCLUSIVE`` when the only records that did not pass say the check could
        not have failed (see :func:`insensitive`) — which is never a pass; else ``FAIL``."""
        if self.passed:
            return "PASS"
        failing = [r for r in self.records if not r.passed]
        return "INCONCLUSIVE" if failing and all(r.inconclusive for r in failing) else "FAIL"

    @property
    def worst(self) -> Comparison | None:
        """The record closest to (or furthest past) its tolerance."""
        return max(self.records, key=lambda r: r.tol_ratio, default=None)

    @property
    def label(self) -> str:
        return f"{self.concept}/{self.case} [{self.level}, {self.device}, {self.dtype}]"

    def __str__(self) -> str:
        head = f"{self.status} {self.label}"
        lines = [head] + ["  " + str(r).replace("\n", "\n  ") for r in self.records]
        if not self.records:
            lines.append("  nothing was compared: no records (an empty check never passes)")
        if self.diagnosis:
            lines.append(f"  diagnosis: {self.diagnosis}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("concept", "case", "level", "device", "dtype", "diagnosis")}
        d["passed"] = self.passed
        d["status"] = self.status
        d["records"] = [r.to_dict() for r in self.records]
        return json.loads(json.dumps(d, default=_jsonable))


def _jsonable(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, float):
        return o
    return str(o)


def group_result(
    concept: str,
    case: str,
    level: str,
    device: str,
    dtype: str,
    records: Sequence[Comparison],
    extra: dict[str, Any] | None = None,
    diagnosis: str | None = None,
) -> CheckResult:
    """Bundle records into a :class:`CheckResult` with a cross-quantity diagnosis."""
    records = list(records)
    if not records and diagnosis is None:
        diagnosis = "nothing was compared: the check produced no records"
    if diagnosis is None:
        diagnosis = diagnose_group([r.name for r in records], [r.passed for r in records])
    return CheckResult(concept, case, level, device, dtype, records, diagnosis, extra or {})


def assert_close(
    actual: Any,
    expected: Any,
    *,
    level: str = "forward",
    dtype: str | None = None,
    name: str = "value",
    step: int = 0,
    m: int | None = None,
) -> Comparison:
    """pytest helper: compare one quantity under the policy's tolerance for ``dtype`` (default:
    ``actual``'s own) and ``level``; raise ``AssertionError`` showing the record and diagnosis.

    Tests use this instead of ad-hoc ``rtol``/``atol`` so that every tolerance in the suite
    comes from :mod:`parity_tests.tolerances`.
    """
    a = np.asarray(actual)
    dtype = dtype or (a.dtype.name if a.dtype.kind == "f" else "float64")
    rec = compare(name, actual, expected, tolerance(dtype, level, step), m=m)
    if not rec.passed:
        raise AssertionError(str(rec))
    return rec


def assert_parity(result: CheckResult | Sequence[CheckResult]) -> None:
    """pytest helper: raise ``AssertionError`` showing every record and diagnosis on failure."""
    results = [result] if isinstance(result, CheckResult) else result
    if (
        isinstance(results, (str, bytes))
        or not isinstance(results, Sequence)
        or not all(isinstance(r, CheckResult) for r in results)
    ):
        raise TypeError(
            "result: expected a CheckResult (from check_forward, check_gradients, "
            "check_finite_differences or check_training) or a list of them, got "
            f"{type(result).__name__}"
        )
    if not results:
        raise ValueError("result: an empty list of results — nothing was checked")
    failed = [r for r in results if not r.passed]
    if failed:
        raise AssertionError("parity failed:\n" + "\n".join(str(r) for r in failed))
