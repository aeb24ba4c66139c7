"""Shared fixtures: devices (CUDA skipped with a reason when absent), dtypes, one thread per
worker (NumPy's BLAS and torch's OpenMP pools busy-wait against each other otherwise)."""

from __future__ import annotations

import signal

import pytest
import torch

from parity_tests.devices import DTYPES, parity_mode

# A suite started with Ctrl-C ignored (a background job of a non-interactive shell, nohup) hands
# that on to every process it starts, and the Ctrl-C tests would test nothing: restore Python's
# own handler (exec'd children then start with the default and install theirs).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl is in the test extra
    threadpool_limits = None

NO_CUDA = "no CUDA GPU present: CUDA parity cases run on a machine with one (see README)"


def _pin_threads() -> None:
    torch.set_num_threads(1)
    if threadpool_limits is not None:
        threadpool_limits(1)


_pin_threads()


def device_params() -> list:
    """``cpu`` always; ``cuda`` marked, and skipped with a clear reason when there is no GPU."""
    return [
        "cpu",
        pytest.param(
            "cuda",
            marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)],
        ),
    ]


@pytest.fixture(params=device_params())
def device(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=DTYPES)
def dtype(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(autouse=True)
def _parity_numerics():
    """Every test runs with TF32 off and deterministic algorithms on (restored afterwards), so a
    test that calls torch directly on CUDA gets the same numerics as the harness's checks."""
    with parity_mode():
        yield
