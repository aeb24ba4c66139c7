"""Say what a mismatch looks like, so a learner reads the cause and not just a number.

:func:`diagnose` looks at one quantity (scratch ``actual`` vs reference ``expected``);
:func:`diagnose_group` at all the gradients of one check together ("only the bias is wrong").
Each returns a sentence, or ``None`` when it finds no pattern worth naming; :func:`diagnosis_of`
returns the same finding as a :class:`Diagnosis` (its kind and numbers as data) for code to read.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from parity_tests.tolerances import Tolerance


@dataclass(frozen=True)
class Diagnosis:
    """A diagnosis as data: what kind of mismatch, its numbers, and the sentence that says it.

    Code reads the fields (``kind``, ``factor``, ...); only a report shows ``text``.

    Attributes:
        kind: ``"shape"``, ``"nonfinite"``, ``"factor"`` (``actual ≈ factor · expected``),
            ``"axis"`` (a factor that is a ratio of an input's sides: ``m`` from the wrong axis),
            ``"transposed"``, ``"offset"``, ``"region"``, ``"rows"`` or ``"columns"``.
        text: the sentence for the learner.
        factor: the least-squares factor ``c`` for ``"factor"`` and ``"axis"``.
        named: the name of a typical slip's factor (``"m (m=5)"``, ``"−1"``, ``"α (α=0.1)"``);
            ``None`` for an unnamed factor ("every entry scaled alike").
        offset: the constant difference for ``"offset"``.
        lines: the differing row or column indices for ``"rows"`` / ``"columns"``.
    """

    kind: str
    text: str
    factor: float | None = None
    named: str | None = None
    offset: float | None = None
    lines: tuple[int, ...] = ()

    def __str__(self) -> str:
        return self.text


_HINT_MISSING_1_OVER_M = "the 1/m of the cost J = 1/m Σ L is missing"
_HINT_EXTRA_1_OVER_M = "divided by m once too often (or the upstream gradient already had the 1/m)"
_HINT_SIGN = "the sign is flipped (e.g. y − a instead of a − y, or w += instead of w −=)"


FACTOR_MATCH = 1e-3
"""A least-squares factor ``c`` is named (m, 1/m, 2, ...) when it is within this *relative*
distance of the candidate. The fit itself is exact up to the check's tolerance (see
:func:`diagnose`), so 1e-3 only absorbs that residue; candidates that differ by less than
0.1% from each other never occur (m > 2, so m, 2 and ½ stay apart)."""
FACTOR_GAIN = 10.0
"""An unnamed factor ``c`` is reported only when scaling by it shrinks the largest error at least
this many times. Without that, noise at a few times the tolerance (a less accurate kernel, a
different summation order) fits some ``c ≈ 1`` as well as anything and read as "off by a constant
factor of 0.99998"; a real unnamed factor (a wrong scale) leaves a residual far below the error."""
MIN_REGION = 3
"""A mismatch is said to be confined to a region of the input (negative, zero, positive) only
when the region and the rest each hold at least this many entries: one odd entry is no pattern."""
MAX_NAMED_LINES = 3
"""Name rows/columns individually only when at most this many differ (more reads as noise,
and "only 7 of 8 rows differ" points nowhere)."""


def _factor_name(c: float, m: int | None, learning_rate: float | None = None) -> tuple[str, str] | None:
    """Name a constant factor ``c`` (``actual = c · expected``) if it is one of the typical slips.

    ``learning_rate`` is given when ``actual`` and ``expected`` are parameter *updates*: then a
    factor of α or 1/α names a learning rate applied twice or not at all.
    """
    candidates: list[tuple[float, str, str]] = [
        (-1.0, "−1", _HINT_SIGN),
        (2.0, "2", "a factor 2 too many (the ½ of the squared error dropped?)"),
        (0.5, "½", "half the expected value (a ½ too many?)"),
        (-2.0, "−2", _HINT_SIGN + ", and a factor 2"),
        (-0.5, "−½", _HINT_SIGN + ", and a factor ½"),
    ]
    # m = 1 and m = 2 would collide with the sign and the factor 2 of the squared error, which
    # are the likelier slips at those sizes: the m-candidates are offered only for m > 2.
    if m is not None and m > 2:
        candidates = [
            (float(m), f"m (m={m})", _HINT_MISSING_1_OVER_M),
            (1.0 / m, f"1/m (m={m})", _HINT_EXTRA_1_OVER_M),
            (-float(m), f"−m (m={m})", _HINT_SIGN + ", and " + _HINT_MISSING_1_OVER_M),
            (-1.0 / m, f"−1/m (m={m})", _HINT_SIGN + ", and " + _HINT_EXTRA_1_OVER_M),
        ] + candidates
    if learning_rate is not None and learning_rate not in (0.0, 1.0):
        a = float(learning_rate)
        candidates = [
            (a, f"α (α={a:g})", f"the update is {a:g} × the reference's — is α = {a:g} applied twice?"),
            (
                1.0 / a,
                f"1/α (α={a:g})",
                f"the update is 1/α × the reference's — the learning rate α = {a:g} is not applied?",
            ),
        ] + candidates
    for value, name, hint in candidates:
        if abs(c - value) <= FACTOR_MATCH * abs(value):
            return name, hint
    return None


ROW_NAMES = {
    "X": "n_x",
    "Y": "n_y",
    "A_prev": "n[l−1]",
    "A": "n[l−1]",
    "dZ": "n[l]",
    "dA": "n[l]",
    "AL": "n[L]",
    "A1": "n_h",
    "A2": "n_y",
    "Z1": "n_h",
    "Z2": "n_y",
}
"""The course's name of the first axis of an ``(n, m)`` input (examples are columns)."""


def _axis_factor(c: float, m: int | None, inputs: Mapping[str, Sequence[int]]) -> str | None:
    """Name a factor ``c`` that is a ratio of two sides of an input in the ``(n, m)`` layout: ``m``
    taken from the wrong axis (``m = X.shape[0]``) scales every ``1/m`` by ``m/n``.

    ``inputs`` maps an input's name to its shape, in the order to try; ``m`` (the examples, the
    last axis) defaults to each input's last side. A ratio of 1 (``n == m``) names nothing.

    Example:
        >>> _axis_factor(1.4, 7, {"X": (5, 7)})
        'm is taken from the wrong axis: the factor 1.4 = 7/5 is m/n_x — m = X.shape[1]'
    """
    for name, shape in inputs.items():
        if len(shape) != 2 or shape[0] == shape[1] or 0 in shape:
            continue
        n, cols = int(shape[0]), int(shape[1])
        if m is not None and cols != m:
            continue
        row = ROW_NAMES.get(name, f"{name}.shape[0]")
        for value, ratio, what in (
            (cols / n, f"{cols}/{n}", f"m/{row}"),
            (n / cols, f"{n}/{cols}", f"{row}/m"),
        ):
            if n != 1 and abs(c - value) <= FACTOR_MATCH * value:
                return (
                    f"m is taken from the wrong axis: the factor {_factor_str(c)} = {ratio} is "
                    f"{what} — m = {name}.shape[1]"
                )
    return None


def _factor_str(c: float) -> str:
    """``c`` with enough digits to tell it from 1 (1.000001, not "1")."""
    digits = 6 if abs(c - 1) >= 1e-4 else min(15, 2 + int(np.ceil(-np.log10(abs(c - 1)))))
    return f"{c:.{digits}g}"


def diagnose(
    actual: np.ndarray,
    expected: np.ndarray,
    tol: Tolerance,
    *,
    m: int | None = None,
    x: np.ndarray | None = None,
    learning_rate: float | None = None,
    inputs: Mapping[str, Sequence[int]] | None = None,
) -> str | None:
    """The text of :func:`diagnosis_of` (same arguments), or ``None`` when it finds no pattern."""
    found = diagnosis_of(actual, expected, tol, m=m, x=x, learning_rate=learning_rate, inputs=inputs)
    return found.text if found else None


def diagnosis_of(
    actual: np.ndarray,
    expected: np.ndarray,
    tol: Tolerance,
    *,
    m: int | None = None,
    x: np.ndarray | None = None,
    learning_rate: float | None = None,
    inputs: Mapping[str, Sequence[int]] | None = None,
) -> Diagnosis | None:
    """Describe how ``actual`` differs from ``expected``, as a :class:`Diagnosis`.

    Args:
        actual: the scratch value.  expected: the reference value (torch or finite differences).
        tol: the tolerance that was applied.
        m: the batch size, so a factor of ``m`` or ``1/m`` can be named.
        x: the input this quantity is elementwise in (same shape), so a mismatch confined to
            negative, zero or positive inputs can be named. Pass it only when the quantity *is*
            elementwise in ``x`` (an activation and its derivative), never ``W`` for ``dW``.
        learning_rate: set when the two values are parameter updates (see :func:`_factor_name`).
        inputs: the shapes of the inputs in the ``(n, m)`` layout, by name (``{"X": (3, 5)}``), so a
            factor ``m/n`` names ``m`` taken from the wrong axis (see :func:`_axis_factor`), and a
            factor ``m`` with an input of one row adds that ``m = Y.shape[0]`` is 1.

    Checks in order: shape (transposed, layout kept, summed over the wrong axis, an accidental
    broadcast), NaN/Inf, a constant factor, transposed values, a constant offset, a mismatch
    confined by the sign of ``x``, a mismatch confined to some rows or columns.
    """
    a, e = np.asarray(actual), np.asarray(expected)
    if a.shape != e.shape:
        return Diagnosis("shape", _diagnose_shape(a, e))
    a64, e64 = a.astype(np.float64), e.astype(np.float64)
    nonfinite = _nonfinite(a64, e64)
    if nonfinite is not None:
        return nonfinite
    finite = np.isfinite(a64) & np.isfinite(e64)
    a64, e64 = np.where(finite, a64, 0), np.where(finite, e64, 0)
    close = np.abs(a64 - e64) <= tol.atol + tol.rtol * np.abs(e64)
    if close.all():
        return None
    return (
        _factor(a64, e64, tol, m, learning_rate, inputs)
        or _permuted(a64, e64, tol)
        or _offset(a64, e64, tol)
        or _region(close, x)
        or _lines(close)
    )


def _nonfinite(a: np.ndarray, e: np.ndarray) -> Diagnosis | None:
    """NaN/Inf on one side only, or on both (equal non-finite values are not parity)."""
    bad_a = ~np.isfinite(a) & np.isfinite(e)
    if bad_a.any():
        idx = tuple(int(i) for i in np.argwhere(bad_a)[0])
        kinds = "NaN" if np.isnan(a[bad_a]).any() else "Inf"
        return Diagnosis(
            "nonfinite",
            f"{kinds} present in {int(bad_a.sum())} of {a.size} entries (first at "
            f"{idx}) where the reference is finite: overflow in exp, log(0), or 0/0 — use a "
            "stable form",
        )
    if (~np.isfinite(e) & np.isfinite(a)).any():
        return Diagnosis("nonfinite", "the reference has NaN/Inf where this value is finite")
    both = ~np.isfinite(a) & ~np.isfinite(e)
    if both.any():
        idx = tuple(int(i) for i in np.argwhere(both)[0])
        return Diagnosis(
            "nonfinite",
            f"NaN/Inf on both sides in {int(both.sum())} of {a.size} entries "
            f"(first at {idx}): equal non-finite values are not parity — find where they "
            "first appear (a NaN input, an overflow, log(0))",
        )
    return None


def _factor(
    a: np.ndarray,
    e: np.ndarray,
    tol: Tolerance,
    m: int | None,
    learning_rate: float | None,
    inputs: Mapping[str, Sequence[int]] | None,
) -> Diagnosis | None:
    """``a ≈ c·e`` for the least-squares ``c``: a named factor (``m``, ``1/m``, ``α``…), ``m`` taken
    from the wrong axis, or an unnamed factor when the scaling explains the error."""
    ee = float(np.sum(e * e))
    if ee <= 0:
        return None
    c = float(np.sum(a * e) / ee)  # least-squares factor: actual ≈ c · expected
    residual = np.abs(a - c * e)
    if c == 0 or not np.all(residual <= 10 * (tol.atol + tol.rtol * np.abs(c * e))):
        return None
    named = _factor_name(c, m, learning_rate)
    if named:
        one_row = [k for k, s in (inputs or {}).items() if len(s) == 2 and s[0] == 1 and s[1] == m]
        also = (
            f" — or m = {one_row[0]}.shape[0] = 1 where m = {one_row[0]}.shape[1]"
            if one_row and m is not None and m > 2 and abs(c - m) <= FACTOR_MATCH * m
            else ""
        )
        return Diagnosis(
            "factor", f"off by a constant factor of {named[0]}: {named[1]}{also}", factor=c, named=named[0]
        )
    axis = _axis_factor(c, m, inputs) if inputs else None
    if axis:
        return Diagnosis("axis", axis, factor=c)
    if a.size > 1 and FACTOR_GAIN * residual.max() <= np.abs(a - e).max():
        return Diagnosis(
            "factor", f"off by a constant factor of {_factor_str(c)} (every entry scaled alike)", factor=c
        )
    return None


def _permuted(a: np.ndarray, e: np.ndarray, tol: Tolerance) -> Diagnosis | None:
    """``a`` equals ``e`` with its axes permuted (a missing ``.T``, NHWC vs NCHW)."""
    axes = _explaining_permutation(a, e, tol)
    if axes is None:
        return None
    if a.ndim == 2:
        return Diagnosis("transposed", "transposed: equals the reference's transpose (a missing or extra .T)")
    return Diagnosis(
        "transposed",
        f"equals the reference with axes {axes} (np.transpose(reference, "
        f"{axes})): a layout mix-up, e.g. channels last vs first or time vs batch first",
    )


def _offset(a: np.ndarray, e: np.ndarray, tol: Tolerance) -> Diagnosis | None:
    """``a − e`` is one constant everywhere."""
    if a.size <= 1:
        return None
    d = a - e
    if np.all(np.abs(d - d.flat[0]) <= tol.atol + tol.rtol * np.abs(e)):
        return Diagnosis(
            "offset",
            f"off by a constant offset of {d.flat[0]:.6g} everywhere (a bias added twice or missing?)",
            offset=float(d.flat[0]),
        )
    return None


def _region(close: np.ndarray, x: np.ndarray | None) -> Diagnosis | None:
    """The mismatch is confined to negative, zero or positive entries of the input ``x``."""
    if x is None or np.shape(x) != close.shape:
        return None
    xv = np.asarray(x, dtype=np.float64)
    wrong = ~close
    for region, mask in (
        ("negative inputs (x < 0)", xv < 0),
        ("inputs at exactly 0", xv == 0),
        ("positive inputs (x > 0)", xv > 0),
    ):
        if mask.sum() < MIN_REGION or (~mask).sum() < MIN_REGION:
            continue
        if wrong[mask].all() and not wrong[~mask].any():
            return Diagnosis(
                "region",
                f"wrong only for {region}: {int(wrong.sum())} entries, every "
                "other one matches — check that branch of the derivative",
            )
        if wrong.any() and not wrong[~mask].any():
            return Diagnosis(
                "region",
                f"wrong only for {region} ({int(wrong.sum())} of "
                f"{int(mask.sum())} such entries) — check that branch of the function",
            )
    return None


def _lines(close: np.ndarray) -> Diagnosis | None:
    """The mismatch is confined to a few rows or columns of a matrix."""
    if close.ndim != 2 or close.size <= 1:
        return None
    wrong = ~close
    rows = np.flatnonzero(wrong.any(axis=1))
    cols = np.flatnonzero(wrong.any(axis=0))
    if len(rows) < close.shape[0] and len(rows) <= MAX_NAMED_LINES:
        return Diagnosis(
            "rows",
            f"only row(s) {rows.tolist()} differ; the other {close.shape[0] - len(rows)} rows match",
            lines=tuple(rows.tolist()),
        )
    if len(cols) < close.shape[1] and len(cols) <= MAX_NAMED_LINES:
        return Diagnosis(
            "columns",
            f"only column(s) {cols.tolist()} differ; the other {close.shape[1] - len(cols)} columns match",
            lines=tuple(cols.tolist()),
        )
    return None


def _explaining_permutation(a: np.ndarray, e: np.ndarray, tol: Tolerance) -> tuple[int, ...] | None:
    """The axis permutation ``p`` (not the identity) with ``a ≈ np.transpose(e, p)``, if any.

    Only for arrays of up to 4 axes with at least two equal sides (else the shapes differ and
    :func:`_diagnose_shape` names it); at most 4! = 24 candidates.
    """
    if a.ndim < 2 or a.ndim > 4 or a.size < 2:
        return None
    for p in itertools.permutations(range(a.ndim)):
        if p == tuple(range(a.ndim)):
            continue
        t = np.transpose(e, p)
        if t.shape == a.shape and np.all(np.abs(a - t) <= tol.atol + tol.rtol * np.abs(t)):
            return p
    return None


def _shape_permutation(a: np.ndarray, e: np.ndarray) -> tuple[int, ...] | None:
    """The axis permutation ``p`` with ``np.transpose(e, p).shape == a.shape`` if exactly one
    exists (sides all distinct), else ``None``."""
    if a.ndim != e.ndim or a.ndim < 2 or sorted(a.shape) != sorted(e.shape):
        return None
    found = [
        p
        for p in itertools.permutations(range(a.ndim))
        if tuple(e.shape[i] for i in p) == a.shape and p != tuple(range(a.ndim))
    ]
    return found[0] if len(found) == 1 else None


def _diagnose_shape(a: np.ndarray, e: np.ndarray) -> str:
    if a.ndim == 2 and a.shape == e.shape[::-1]:
        return (
            f"transposed: shape {a.shape}, expected {e.shape} — course layout is (n, m) with "
            "examples as columns; W[l] is (n[l], n[l-1])"
        )
    perm = _shape_permutation(a, e)
    if perm is not None:
        return (
            f"shape {a.shape} is the reference's {e.shape} with axes {perm} "
            f"(np.transpose(reference, {perm})): a layout mix-up — the course's images are "
            "(m, n_H, n_W, n_C), its sequences (n_x, m, T_x)"
        )
    if a.size == 1 and a.ndim < e.ndim:
        return (
            f"a {a.ndim}-d scalar where shape {e.shape} was expected: keep the dimensions "
            "(np.sum(..., axis=1, keepdims=True))"
        )
    if a.size == e.size:
        return (
            f"same number of entries but shape {a.shape} instead of {e.shape} (a bias kept as "
            "(n,) instead of (n, 1), or the other way round?)"
        )
    if a.size == 1 and e.size > 1:
        return (
            f"a single number where {e.shape} was expected: summed over every axis "
            "(np.sum without axis=1, keepdims=True?)"
        )
    try:
        np.broadcast_shapes(a.shape, e.shape)
        return (
            f"shape {a.shape} instead of {e.shape}: the two broadcast against each other, so "
            "NumPy would have hidden this — check the axis of each sum"
        )
    except ValueError:
        return f"shape {a.shape} instead of {e.shape}"


def _is_bias(name: str) -> bool:
    n = name.lower().lstrip("d")
    return n == "b" or n.startswith("b[") or (n.startswith("b") and n[1:].isdigit()) or n == "bias"


def diagnose_group(names: Sequence[str], passed: Sequence[bool]) -> str | None:
    """A diagnosis across the quantities of one check (e.g. ``dW``, ``db``, ``dA_prev``)."""
    failed = [n for n, p in zip(names, passed) if not p]
    if not failed or len(failed) == len(names):
        return None
    if all(_is_bias(n) for n in failed):
        ok = [n for n in names if n not in failed]
        return (
            f"wrong only in the bias ({', '.join(failed)}; {', '.join(ok)} match): check its sum "
            "over the examples (axis=1, keepdims=True) and its 1/m"
        )
    if len(failed) == 1:
        others = len(names) - 1
        rest = "the other quantity matches" if others == 1 else f"the other {others} quantities match"
        return f"only {failed[0]} is wrong; {rest}"
    return None
