"""``dlparity check``: check a learner's course code — the functions of the assignments whose
concepts dlparity implements (course 1's three, initialization, convolution, RNN/LSTM, the
character-level language model, k-means, anomaly detection), by their well-known names and
signatures — against torch, each file's code contained in a child process.

    dlparity check my_solution.py            # or my_assignment.ipynb; --part, --json FILE, --timeout
    dlparity check submissions/ --csv grades.csv    # a whole class (:mod:`~parity_tests.course.classroom`)

or, in a notebook or script::

    from parity_tests import check_course
    check_course(globals())

See :mod:`parity_tests.course.loader` for exactly what of a file is run,
:mod:`parity_tests.course.catalogue` for the functions known, and the part modules
(:mod:`~parity_tests.course.logreg`, :mod:`~parity_tests.course.shallow`,
:mod:`~parity_tests.course.deep`, :mod:`~parity_tests.course.deep_backward`) for how each is
checked.
"""

from typing import Any

from parity_tests.course.cli import add_check_parser, cmd_check
from parity_tests.course.loader import CourseFileError, load_course_file
from parity_tests.course.report import CourseReport


def __getattr__(name: str) -> Any:
    """``check_course`` loads the checks (and torch) when first asked for: ``dlparity check FILE``
    never needs them in its own process, only in the child that checks the file."""
    if name == "check_course":
        from parity_tests.course.runner import check_course

        return check_course
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "check_course",
    "CourseReport",
    "add_check_parser",
    "cmd_check",
    "load_course_file",
    "CourseFileError",
]
