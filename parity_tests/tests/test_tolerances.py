"""The tolerance policy's shape: float64 is tight, trajectories widen by the stated rule."""

from __future__ import annotations

import math

import pytest

from parity_tests.tolerances import kernel_tolerance, tolerance, trajectory_scale


def test_float64_is_far_tighter_than_assert_close_defaults() -> None:
    assert tolerance("float64", "forward").rtol <= 1e-10
    assert tolerance("float64", "gradient").rtol <= 1e-9


@pytest.mark.parametrize("level", ["forward", "gradient"])
def test_precision_ordering(level: str) -> None:
    rtols = [tolerance(d, level).rtol for d in ("float64", "float32", "float16", "bfloat16")]
    assert rtols == sorted(rtols)


def test_trajectory_widens_as_sqrt_of_steps() -> None:
    base = tolerance("float32", "gradient")
    assert tolerance("float32", "trajectory", step=0) == base
    assert tolerance("float32", "trajectory", step=99).rtol == pytest.approx(base.rtol * 10)
    assert trajectory_scale(999) == pytest.approx(math.sqrt(1000))


def test_unknown_dtype_or_level_is_refused() -> None:
    with pytest.raises(ValueError, match="no tolerance for 'int32'"):
        tolerance("int32", "forward")
    with pytest.raises(ValueError, match="level: expected one of"):
        tolerance("float32", "sideways")
    with pytest.raises(ValueError, match="float64 only"):
        tolerance("float32", "finite-difference")


def test_kernel_tolerance_is_wider_only_where_measured() -> None:
    for level in ("forward", "gradient"):
        wide = kernel_tolerance("cudnn-rnn", "float32", level)
        strict = tolerance("float32", level)
        assert wide.rtol > strict.rtol and wide.atol > strict.atol
        assert wide.rtol <= 2e-3  # still far below a real mistake (1e-1 relative)
        assert kernel_tolerance("cudnn-rnn", "float64", level) == tolerance("float64", level)
    with pytest.raises(ValueError, match="kernel"):
        kernel_tolerance("cublas", "float32", "forward")
    with pytest.raises(ValueError, match="level"):
        kernel_tolerance("cudnn-rnn", "float32", "trajectory")


def test_update_tolerance_narrows_to_the_measured_rounding_and_never_widens() -> None:
    """A step's update: the lockstep tolerance, its ``atol`` narrowed to what the reference's own
    measured rounding allows — never wider (see "updates" in the policy)."""
    import numpy as np

    from parity_tests.tolerances import NOISE_FACTOR, lockstep_tolerance, update_tolerance

    lock = lockstep_tolerance("float32", 0.05)
    tiny_update = np.full((5, 1), 6e-8)  # deep's vanishing b1: ~6e-8 per step, rounding ~1.5e-10
    narrow = update_tolerance("float32", 0.05, tiny_update, np.full((5, 1), 4e-7), noise=1.5e-10)
    assert narrow.rtol == lock.rtol and narrow.atol < tiny_update.max() / 30 < lock.atol
    assert narrow.atol >= NOISE_FACTOR * 1.5e-10
    noisy = update_tolerance("float32", 0.05, tiny_update, np.ones((5, 1)), noise=1.0)
    assert noisy == lock  # never wider than lockstep, however large the measured rounding
    assert update_tolerance("float64", 0.3, tiny_update, 1.0) == lockstep_tolerance("float64", 0.3)
