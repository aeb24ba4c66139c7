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
        verdict = "ok  " if self.passed else "FAIL"
        at = f" at step {self.step}" if self.step is not None else ""
        if self.shape_actual != self.shape_expected:
            s = (f"{verdict} {self.name}{at}: shape {self.shape_actual} (scratch) vs "
                 f"{self.shape_expected} (reference)")
        else:
            s = (f"{verdict} {self.name}{at}: max abs err {self.max_abs_err:.3g}, max rel err "
                 f"{self.max_rel_err:.3g} (rtol={self.rtol:.1e}, atol={self.atol:.1e})")
            if not self.passed and self.worst_index is not None:
                s += (f"; worst at {self.worst_index}: scratch {self.worst_actual!r} vs "
                      f"reference {self.worst_expected!r}")
        if self.diagnosis:
            s += f"\n       -> {self.diagnosis}"
        return s

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tolerance_ratio(actual: Any, expected: Any, tol: Tolerance) -> float:
    """``max |a − e| / (atol + rtol·|e|)`` — a cheap pass test (``<= 1``) for hot loops; ``inf``
    for a shape mismatch or a non-finite value the other side does not share."""
    a, e = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    with np.errstate(invalid="ignore"):
        ratio = np.abs(a - e) / (tol.atol + tol.rtol * np.abs(e))
    if np.isnan(ratio).any():  # inf − inf or NaN somewhere: equal only if identical
        same = (a == e) | (np.isnan(a) & np.isnan(e))
        ratio = np.where(same, 0.0, np.where(np.isnan(ratio), np.inf, ratio))
    return float(ratio.max())


def compare(name: str, actual: Any, expected: Any, tol: Tolerance, *, m: int | None = None,
            x: np.ndarray | None = None, step: int | None = None) -> Comparison:
    """Compare ``actual`` (scratch) with ``expected`` (reference) elementwise under ``tol``.

    NaN/Inf count as equal only where both sides hold the same non-finite value.
    ``m`` and ``x`` feed the diagnosis (see :func:`parity_tests.diagnose.diagnose`).
    """
    a = np.asarray(actual)
    e = np.asarray(expected)
    if a.dtype.kind not in "fiub" or e.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected real numeric arrays, got {a.dtype} and {e.dtype}")
    if a.shape != e.shape:
        return Comparison(name, a.shape, e.shape, float("inf"), float("inf"), None, None, None,
                          tol.rtol, tol.atol, False, diagnose(a, e, tol, m=m, x=x), step)
    a64, e64 = a.astype(np.float64), e.astype(np.float64)
    both_finite = np.isfinite(a64) & np.isfinite(e64)
    same_nonfinite = ~both_finite & ((a64 == e64) | (np.isnan(a64) & np.isnan(e64)))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # inf − inf is masked out
        abs_err = np.where(both_finite, np.abs(a64 - e64), np.where(same_nonfinite, 0.0, np.inf))
        rel_err = np.where(abs_err == 0, 0.0, abs_err / np.abs(e64))
        bound = tol.atol + tol.rtol * np.where(both_finite, np.abs(e64), 0.0)
        ratio = np.where(abs_err == 0, 0.0, abs_err / bound)  # x/0 -> inf: an exact check failed
    passed = bool(np.all(ratio <= 1)) if a.size else True
    if a.size:
        worst = np.unravel_index(int(np.argmax(ratio)), a.shape)
        worst_index = tuple(int(i) for i in worst)
        wa, we = float(a64[worst]), float(e64[worst])
        max_abs, max_rel = float(abs_err.max()), float(np.nan_to_num(rel_err, nan=np.inf).max())
    else:
        worst_index, wa, we, max_abs, max_rel = None, None, None, 0.0, 0.0
    diagnosis = None if passed else diagnose(a, e, tol, m=m, x=x)
    return Comparison(name, a.shape, e.shape, max_abs, max_rel, worst_index, wa, we,
                      tol.rtol, tol.atol, passed, diagnosis, step,
                      float(ratio.max()) if a.size else 0.0)


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
        return all(r.passed for r in self.records)

    @property
    def worst(self) -> Comparison | None:
        """The record closest to (or furthest past) its tolerance."""
        return max(self.records, key=lambda r: r.tol_ratio, default=None)

    @property
    def label(self) -> str:
        return f"{self.concept}/{self.case} [{self.level}, {self.device}, {self.dtype}]"

    def __str__(self) -> str:
        head = f"{'PASS' if self.passed else 'FAIL'} {self.label}"
        lines = [head] + ["  " + str(r).replace("\n", "\n  ") for r in self.records]
        if self.diagnosis:
            lines.append(f"  diagnosis: {self.diagnosis}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("concept", "case", "level", "device", "dtype", "diagnosis")}
        d["passed"] = self.passed
        d["records"] = [r.to_dict() for r in self.records]
        return json.loads(json.dumps(d, default=_jsonable))


def _jsonable(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, float):
        return o
    return str(o)


def group_result(concept: str, case: str, level: str, device: str, dtype: str,
                 records: Sequence[Comparison], extra: dict[str, Any] | None = None,
                 diagnosis: str | None = None) -> CheckResult:
    """Bundle records into a :class:`CheckResult` with a cross-quantity diagnosis."""
    records = list(records)
    if diagnosis is None:
        diagnosis = diagnose_group([r.name for r in records], [r.passed for r in records])
    return CheckResult(concept, case, level, device, dtype, records, diagnosis, extra or {})


def assert_close(actual: Any, expected: Any, *, level: str = "forward", dtype: str | None = None,
                 name: str = "value", step: int = 0, m: int | None = None) -> Comparison:
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
    results = [result] if isinstance(result, CheckResult) else list(result)
    failed = [r for r in results if not r.passed]
    if failed:
        raise AssertionError("parity failed:\n" + "\n".join(str(r) for r in failed))
