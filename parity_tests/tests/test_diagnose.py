"""Each typical mistake gets its name from the diagnosis."""

from __future__ import annotations

import numpy as np
import pytest

from parity_tests.compare import compare, tolerance_ratio
from parity_tests.diagnose import diagnose, diagnose_group
from parity_tests.tolerances import Tolerance, tolerance

TOL = tolerance("float64", "gradient")
RNG = np.random.default_rng(0)
E = RNG.standard_normal((4, 3))


@pytest.mark.parametrize(
    "factor, phrase",
    [
        (5.0, "factor of m (m=5): the 1/m of the cost"),
        (1 / 5, "factor of 1/m (m=5): divided by m once too often"),
        (-1.0, "factor of −1: the sign is flipped"),
        (2.0, "factor of 2"),
        (0.5, "factor of ½"),
        (3.7, "constant factor of 3.7"),
    ],
)
def test_constant_factors_are_named(factor: float, phrase: str) -> None:
    rec = compare("dW", E * factor, E, TOL, m=5)
    assert not rec.passed and phrase in rec.diagnosis


def test_noise_a_few_times_the_tolerance_is_not_called_a_factor() -> None:
    """Rounding-level noise (as from a less accurate kernel) fits some c ≈ 1 as well as anything:
    that fit explains nothing and must not read as "off by a constant factor of 0.99998"."""
    tol = tolerance("float32", "gradient")
    big = RNG.standard_normal((40, 30))
    noisy = big * (1 + 5 * tol.rtol * RNG.standard_normal(big.shape))
    rec = compare("dW", noisy, big, tol)
    assert not rec.passed
    assert rec.diagnosis is None or "constant factor" not in rec.diagnosis


def test_a_real_factor_close_to_one_is_still_named() -> None:
    rec = compare("dW", E * 1.01, E, TOL)
    assert "constant factor of 1.01" in rec.diagnosis


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
    Z = np.array([[-1.0, 0.0, 2.0, 0.0], [0.0, 3.0, -4.0, 5.0], [1.0, -2.0, 0.0, -3.0]])
    rec = compare("dZ", (Z >= 0).astype(float), (Z > 0).astype(float), TOL, x=Z)
    assert "inputs at exactly 0" in rec.diagnosis


def test_region_rules_need_enough_entries_and_an_elementwise_quantity() -> None:
    """A scalar db off by 40% is not "wrong for negative inputs"; neither is one odd entry."""
    rec = compare("db", np.array([[1.4]]), np.array([[1.0]]), TOL, x=np.array([[-0.3]]))
    assert "inputs" not in (rec.diagnosis or "")
    Z = np.array([[-1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])  # one negative entry only
    rec = compare("dZ", np.where(Z > 0, 1.0, 0.5), (Z > 0).astype(float), TOL, x=Z)
    assert "negative inputs" not in (rec.diagnosis or "")


def test_region_rule_is_applied_only_to_checks_declared_elementwise() -> None:
    """dW against W is not elementwise: check_gradients passes x only with elementwise=True."""
    from torch.nn import functional as F

    from parity_tests.api import check_gradients

    rng = np.random.default_rng(1)
    inputs = {
        "A_prev": rng.standard_normal((3, 5)),
        "W": rng.standard_normal((4, 3)),
        "b": rng.standard_normal((4, 1)),
    }

    def wrong_db(dZ, A_prev, W, b):
        return {"dW": dZ @ A_prev.T, "db": np.where(b < 0, 1.4, 1.0) * dZ.sum(axis=1, keepdims=True)}

    from torch_ref.layout import BIAS, COLUMNS

    result = check_gradients(
        wrong_db,
        F.linear,
        inputs,
        ["W", "b"],
        vjp=True,
        output_layout=COLUMNS,
        layouts={"A_prev": COLUMNS, "b": BIAS},
    )
    assert not result.passed
    assert "branch of the derivative" not in str(result) and "negative inputs" not in str(result)


def test_constant_offset() -> None:
    rec = compare("Z", E + 0.25, E, TOL)
    assert "constant offset of 0.25" in rec.diagnosis


def test_bias_only_group_diagnosis() -> None:
    msg = diagnose_group(["dA_prev", "dW", "db"], [True, True, False])
    assert msg.startswith("wrong only in the bias (db; dA_prev, dW match)")
    assert diagnose_group(["dW1", "db1", "dW2", "db2"], [True, False, True, False]).startswith(
        "wrong only in the bias (db1, db2"
    )


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


def test_nan_equal_to_nan_is_not_parity() -> None:
    a = np.array([np.inf, -np.inf, np.nan, 1.0])
    rec = compare("x", a, a.copy(), TOL)
    assert not rec.passed and "not parity" in rec.diagnosis
    assert np.isinf(tolerance_ratio(a, a.copy(), TOL))


def test_declared_nonfinite_answers_match_without_warnings_and_say_so() -> None:
    a = np.array([np.inf, -np.inf, np.nan, 1.0])
    rec = compare("x", a, a.copy(), TOL, allow_nonfinite=True)
    assert rec.passed and "3 non-finite value(s) declared the expected answer" in str(rec)
    rec = compare("x", a, np.array([np.inf, np.inf, np.nan, 1.0]), TOL, allow_nonfinite=True)
    assert not rec.passed and rec.worst_index == (1,)


def test_compare_and_tolerance_ratio_agree_at_a_zero_tolerance() -> None:
    """One implementation: an exact check (rtol = atol = 0) passes on equal values with ratio 0
    and fails with ratio inf on different ones, without a RuntimeWarning (errors in this suite)."""
    zero = Tolerance(0.0, 0.0)
    for a, e in (
        (np.array([1.0, 0.0]), np.array([1.0, 0.0])),
        (np.array([1.0, 0.0]), np.array([1.0, 1e-300])),
    ):
        rec = compare("x", a, e, zero)
        assert rec.ratio == tolerance_ratio(a, e, zero)
        assert rec.passed == (tolerance_ratio(a, e, zero) <= 1)


def test_empty_arrays_compare_nothing_and_fail() -> None:
    rec = compare("x", np.zeros((0, 3)), np.zeros((0, 3)), TOL)
    assert not rec.passed and "nothing compared" in rec.diagnosis


def test_an_nd_layout_mixup_is_named_as_its_permutation() -> None:
    """Images in NCHW where NHWC was expected: the shape names the axes; equal-sided arrays
    (where the shape cannot tell) are named from the values."""
    e = RNG.standard_normal((2, 5, 6, 3))  # (m, n_H, n_W, n_C), distinct sides
    assert "with axes (0, 3, 1, 2)" in diagnose(e.transpose(0, 3, 1, 2), e, TOL)
    sq = RNG.standard_normal((2, 4, 4, 3))  # n_H = n_W: the shape cannot tell H from W
    assert "equals the reference with axes (0, 2, 1, 3)" in diagnose(sq.transpose(0, 2, 1, 3), sq, TOL)
    seq = RNG.standard_normal((3, 4, 4))  # (n_x, m, T_x) with m = T_x
    assert "axes (0, 2, 1)" in diagnose(seq.transpose(0, 2, 1), seq, TOL)


def test_an_update_off_by_the_learning_rate_names_it() -> None:
    msg = diagnose(0.1 * E, E, TOL, learning_rate=0.1)
    assert "the update is 0.1 × the reference's — is α = 0.1 applied twice?" in msg
    assert "learning rate α = 0.1 is not applied" in diagnose(E / 0.1, E, TOL, learning_rate=0.1)


def test_a_tiny_real_factor_prints_digits_that_tell_it_from_one() -> None:
    rec = compare("dW", E * (1 + 2e-6), E, TOL)
    assert "constant factor of 1.000002" in rec.diagnosis
