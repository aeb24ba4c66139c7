"""dlparity's verification harness and public API.

Point it at your own NumPy code::

    from parity_tests import check_forward, check_gradients, check_training, assert_parity

Each check returns a :class:`CheckResult` of :class:`Comparison` records with errors, the
worst element, the tolerance from :mod:`parity_tests.tolerances` and a diagnosis of typical
mistakes (a missing ``1/m``, a flipped sign, a transpose, a wrong bias, NaN).

The names are loaded on first use (PEP 562 ``__getattr__``): ``import parity_tests`` alone
imports neither torch nor the course checker, so ``dlparity --help`` and the report's worker
processes start without paying for what they do not use. :mod:`parity_tests.compare` (NumPy
only) is imported at once: its function ``compare`` shares the submodule's name, and binding it
here keeps ``parity_tests.compare`` the function, as it always was.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from parity_tests.compare import CheckResult, Comparison, assert_close, assert_parity, compare

_SOURCES = {
    "check_forward": "parity_tests.api",
    "check_gradients": "parity_tests.api",
    "check_finite_differences": "parity_tests.api",
    "numerical_gradients": "parity_tests.api",
    "check_course": "parity_tests.course",
    "Tolerance": "parity_tests.tolerances",
    "tolerance": "parity_tests.tolerances",
    "module_function": "parity_tests.torch_functional",
    "check_training": "parity_tests.trajectory",
}
"""Each public name and the module that defines it."""

__all__ = [
    "check_forward",
    "check_gradients",
    "check_finite_differences",
    "check_training",
    "numerical_gradients",
    "assert_parity",
    "assert_close",
    "compare",
    "CheckResult",
    "Comparison",
    "Tolerance",
    "tolerance",
    "module_function",
    "check_course",
]

if TYPE_CHECKING:  # what type checkers and IDEs see: the eager imports of before
    from parity_tests.api import (
        check_finite_differences,
        check_forward,
        check_gradients,
        numerical_gradients,
    )
    from parity_tests.course import check_course
    from parity_tests.tolerances import Tolerance, tolerance
    from parity_tests.torch_functional import module_function
    from parity_tests.trajectory import check_training


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use and cache the name in this package."""
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module 'parity_tests' has no attribute {name!r}")
    value = getattr(importlib.import_module(source), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
