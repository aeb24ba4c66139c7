"""The generic parity suite: every registered check × device × dtype.

A concept plugs in by registering in ``parity_tests/concepts/<id>.py``; nothing here names one.
"""

from __future__ import annotations

import pytest

from parity_tests.compare import assert_parity
from parity_tests.registry import CheckUnavailable, all_checks
from parity_tests.tests.conftest import device_params

CASES = []
for check in all_checks():
    for dev in device_params():
        name, dev_marks = (dev, []) if isinstance(dev, str) else (dev.values[0], list(dev.marks))
        if not check.runs_on(name):
            continue
        marks = dev_marks + ([pytest.mark.slow] if check.slow else [])
        for dt in check.dtypes:
            CASES.append(pytest.param(check, name, dt, id=f"{check.id}-{name}-{dt}", marks=marks))


@pytest.mark.parametrize("check, device, dtype", CASES)
def test_parity(check, device: str, dtype: str) -> None:
    try:
        result = check.run(device, dtype)
    except CheckUnavailable as exc:  # an optional dependency (the test extra installs them all)
        pytest.skip(f"unavailable: {exc}")
    assert_parity(result)


def test_every_check_is_at_a_level_of_the_one_list() -> None:
    """One definition of the levels: the registry's sort order is the tolerance policy's list."""
    from parity_tests import registry, tolerances

    assert registry.LEVEL_ORDER is tolerances.LEVELS
    assert set(tolerances.TOLERANCE_LEVELS) < set(tolerances.LEVELS)
    stray = sorted({c.id for c in all_checks() if c.level not in tolerances.LEVELS})
    assert not stray, f"checks at levels outside tolerances.LEVELS {tolerances.LEVELS}: {stray}"
