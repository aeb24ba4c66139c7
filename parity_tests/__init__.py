"""dlparity's verification harness and public API.

Point it at your own NumPy code::

    from parity_tests import check_forward, check_gradients, check_training, assert_parity

Each check returns a :class:`CheckResult` of :class:`Comparison` records with errors, the
worst element, the tolerance from :mod:`parity_tests.tolerances` and a diagnosis of typical
mistakes (a missing ``1/m``, a flipped sign, a transpose, a wrong bias, NaN).
"""

from parity_tests.api import (
    check_finite_differences,
    check_forward,
    check_gradients,
    numerical_gradients,
)
from parity_tests.compare import CheckResult, Comparison, assert_close, assert_parity, compare
from parity_tests.course import check_course
from parity_tests.tolerances import Tolerance, tolerance
from parity_tests.torch_functional import module_function
from parity_tests.trajectory import check_training

__all__ = [
    "check_forward", "check_gradients", "check_finite_differences", "check_training",
    "numerical_gradients", "assert_parity", "assert_close", "compare", "CheckResult", "Comparison",
    "Tolerance", "tolerance", "module_function", "check_course",
]
