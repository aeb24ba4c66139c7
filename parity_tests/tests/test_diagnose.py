"""Each typical mistake gets its name from the diagnosis."""

from __future__ import annotations

import numpy as np
import pytest

from parity_tests.compare import compare
from parity_tests.diagnose import diagnose_group
from parity_tests.tolerances import tolerance

TOL = tolerance("float64", "gradient")
RNG = np.random.default_rng(0)
E = RNG.standard_normal((4, 3))


@pytest.mark.parametrize("factor, phrase", [
    (5.0, "factor of m (m=5): the 1/m of the cost"),
    (1 / 5, "factor of 1/m (m=5): divided by m once too often"),
    (-1.0, "factor of −1: the sign is flipped"),
    (2.0, "factor of 2"),
    (0.5, "factor of ½"),
    (3.7, "constant factor of 3.7"),
])
def test_constant_factors_are_named(factor: float, phrase: str) -> None:
    rec = compare("dW", E * factor, E, TOL, m=5)
    assert not rec.passed and phrase in rec.diagnosis


def test_transposed_shape() -> None:
    rec = compare("dW", np.ascontiguousarray(E.T), E, TOL)
    assert not rec.passed and rec.diagnosis.startswith("transposed")


def test_transposed_values_of_a_square_matrix() -> None:
    S = RNG.standard_normal((3, 3))
    rec = compare("dW", np.ascontiguousarray(S.T), S, TOL)
    assert "transposed" in rec.diagnosis


def test_bias_kept_in_torch_layout() -> None:
    rec = compare("db", np.zeros(4), np.zeros((4, 1)), TOL)
    assert "(n,) instead of (n, 1)" in rec.diagnosis


def test_sum_over_every_axis() -> None:
    rec = compare("db", np.float64(1.0), np.ones((4, 1)), TOL)
    assert "keepdims=True" in rec.diagnosis


def test_broadcasting_shapes_are_flagged() -> None:
    rec = compare("db", np.ones((1, 3)), np.ones((4, 3)), TOL)
    assert "broadcast" in rec.diagnosis


def test_nan_is_named() -> None:
    a = E.copy()
    a[1, 2] = np.nan
    rec = compare("A", a, E, TOL)
    assert not rec.passed and rec.diagnosis.startswith("NaN present in 1 of 12 entries (first at (1, 2))")


def test_wrong_only_for_negative_inputs() -> None:
    Z = RNG.standard_normal((4, 3))
    good = (Z > 0).astype(float)
    bad = np.where(Z > 0, 1.0, 0.3)  # a leaky slope where there should be none
    rec = compare("dZ", bad, good, TOL, x=Z)
    assert "wrong only for negative inputs" in rec.diagnosis


def test_wrong_only_at_zero() -> None:
    Z = np.array([[-1.0, 0.0, 2.0], [0.0, 3.0, -4.0]])
    rec = compare("dZ", (Z >= 0).astype(float), (Z > 0).astype(float), TOL, x=Z)
    assert "inputs at exactly 0" in rec.diagnosis


def test_constant_offset() -> None:
    rec = compare("Z", E + 0.25, E, TOL)
    assert "constant offset of 0.25" in rec.diagnosis


def test_bias_only_group_diagnosis() -> None:
    msg = diagnose_group(["dA_prev", "dW", "db"], [True, True, False])
    assert msg.startswith("wrong only in the bias (db; dA_prev, dW match)")
    assert diagnose_group(["dW1", "db1", "dW2", "db2"], [True, False, True, False]).startswith(
        "wrong only in the bias (db1, db2")


def test_records_carry_both_values_of_the_worst_element() -> None:
    a = E.copy()
    a[2, 1] += 1.0
    rec = compare("dW", a, E, TOL)
    assert rec.worst_index == (2, 1)
    assert rec.worst_actual == pytest.approx(E[2, 1] + 1.0) and rec.worst_expected == E[2, 1]
    assert "worst at (2, 1)" in str(rec) and "only row(s) [2] differ" in rec.diagnosis


def test_passing_record_has_no_diagnosis() -> None:
    rec = compare("dW", E * (1 + 1e-13), E, TOL)
    assert rec.passed and rec.diagnosis is None and rec.max_rel_err < 1e-12


def test_matching_infinities_and_nans_compare_equal_without_warnings() -> None:
    a = np.array([np.inf, -np.inf, np.nan, 1.0])
    assert compare("x", a, a.copy(), TOL).passed
    rec = compare("x", a, np.array([np.inf, np.inf, np.nan, 1.0]), TOL)
    assert not rec.passed and rec.worst_index == (1,)
