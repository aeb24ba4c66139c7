"""scratch sets no traps for course learners: a scratch function that shares a name with a
function of the course's assignments (the course checker's catalogue) takes the course's
arguments in the course's order — and the course's own checker passes it. The one extra
argument allowed after them is the explicit random generator ``rng`` (STYLE: no global seeds)."""

from __future__ import annotations

import inspect

import pytest

from parity_tests.course.catalogue import CATALOGUE
from scratch import anomaly, deep, kmeans, logreg, shallow

MODULES = {"logreg": logreg, "shallow": shallow, "deep": deep, "kmeans": kmeans, "anomaly": anomaly}
SAME_MEANING = {"parameters": "params"}  # the one spelling scratch uses for the course's dict


def _shared():
    for part, entries in CATALOGUE.items():
        for e in entries:
            fn = getattr(MODULES.get(part), e.name, None)  # a part without a scratch module: none
            if callable(fn) and getattr(fn, "__module__", "").startswith("scratch"):
                yield pytest.param(part, e, fn, id=f"{part}.{e.name}")


@pytest.mark.parametrize("part, entry, fn", list(_shared()))
def test_shared_names_take_the_course_arguments(part, entry, fn) -> None:
    params = [p for p in inspect.signature(fn).parameters.values() if p.default is p.empty]
    names = [SAME_MEANING.get(p.name, p.name).lower() for p in params]
    want = [SAME_MEANING.get(p, p).lower() for p in entry.params if p not in ("print_cost",)]
    extra = names[len(want) :]
    assert names[: len(want)] == want[: len(names)] and extra in ([], ["rng"]), (
        f"scratch.{part}.{entry.name}{inspect.signature(fn)} shares the course's name but not its "
        f"signature {entry.name}({', '.join(entry.params)})"
    )


def test_the_course_checker_passes_scratch_logreg_under_the_course_names() -> None:
    from parity_tests.course import check_course

    text = str(check_course(logreg, part="logreg"))
    assert "FAIL" not in text and text.count("PASS") == 3, text
    for name in ("initialize_with_zeros", "propagate", "predict"):
        assert f"PASS  {name}" in text
